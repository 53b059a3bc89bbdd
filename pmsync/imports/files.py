"""Where CSV import files come from and where fix-up files go: deployment parameters stay inside PMSYNC_IMPORT_DIR."""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from pmsync.imports.reading import CsvRefused, CsvSource

IMPORT_SUFFIXES = frozenset({".csv"})
SHOWN_PATH_CHARACTERS = 200


class ImportPathRefused(CsvRefused):
    """A deployment's `path` or `content` the worker will not use; nothing was read or written. The message says what to do."""


def _shown(path: str) -> str:
    return repr(path if len(path) <= SHOWN_PATH_CHARACTERS else path[:SHOWN_PATH_CHARACTERS] + "…")


def _import_root(import_dir: Path) -> Path:
    try:
        root = import_dir.resolve(strict=True)
    except OSError:
        raise ImportPathRefused(
            f"the import directory {import_dir} does not exist on this worker; create it or point PMSYNC_IMPORT_DIR at it"
        ) from None
    if not root.is_dir():
        raise ImportPathRefused(f"PMSYNC_IMPORT_DIR ({import_dir}) is not a directory; point it at the import directory")
    return root


def confined_path(import_dir: Path, path: str) -> Path:
    """`path` (relative to the import directory, or absolute) as a real .csv file inside it, symlinks and `..` resolved.

    Anything that resolves elsewhere is refused before it is opened, with the same words whether it exists or not.
    """
    root = _import_root(import_dir)
    outside = ImportPathRefused(
        f"path {_shown(path)} is not a file inside the import directory; place the file in PMSYNC_IMPORT_DIR on the "
        "worker and pass its name relative to that directory (or upload it as content)"
    )
    if not path.strip() or "\x00" in path:
        raise outside
    try:
        resolved = (root / path).resolve(strict=False)
    except (OSError, RuntimeError):
        raise outside from None
    if resolved == root or not resolved.is_relative_to(root):
        raise outside
    if resolved.suffix.lower() not in IMPORT_SUFFIXES:
        raise ImportPathRefused(
            f"path {_shown(path)} is not a .csv file; save the sheet as 'CSV UTF-8 (Comma delimited)', place it in "
            "PMSYNC_IMPORT_DIR and pass its name"
        )
    if not resolved.is_file():
        raise outside
    return resolved


def capped_content(content: str, max_bytes: int) -> bytes:
    """Uploaded text as UTF-8 bytes, refused above the cap (PMSYNC_IMPORT_MAX_BYTES)."""
    if len(content) > max_bytes:
        raise ImportPathRefused(_too_big(f"at least {len(content)}", max_bytes))
    data = content.encode("utf-8", errors="surrogatepass")
    if len(data) > max_bytes:
        raise ImportPathRefused(_too_big(str(len(data)), max_bytes))
    return data


def _too_big(size: str, max_bytes: int) -> str:
    return (
        f"the uploaded content is {size} bytes, over the cap of {max_bytes} bytes (PMSYNC_IMPORT_MAX_BYTES); place the "
        "file in PMSYNC_IMPORT_DIR on the worker and pass its path instead"
    )


def upload_source(import_dir: Path, max_bytes: int, path: str | None, content: str | None) -> CsvSource:
    """The file a deployment asked for: a `path` inside the import directory, or capped `content` (exactly one)."""
    if (path is None) == (content is None):
        raise CsvRefused("give the file to import as a path or as content, not both and not neither")
    if path is not None:
        return confined_path(import_dir, path)
    return capped_content(content, max_bytes)  # type: ignore[arg-type]


@dataclass(frozen=True)
class FixUpPlace:
    """Where a rejected file's fix-up CSV goes: a file the operator named (CLI), or the import directory (deployments)."""

    operator_file: Path | None = None
    import_dir: Path | None = None

    def destination(self, kind: str, source: CsvSource, run_id: int) -> Path:
        """The operator's file as named; else beside a file in the import directory, or a name of the run's own there."""
        if self.operator_file is not None:
            return self.operator_file
        root = _import_root(self.import_dir or Path("."))
        if isinstance(source, Path) and source.resolve().is_relative_to(root):
            return source.with_name(source.stem + ".errors.csv")
        return root / f"upload-run-{run_id}-{kind}.errors.csv"

    def shown_name(self, destination: Path) -> str:
        """The fix-up file as the user should look for it (relative to the import directory there)."""
        if self.operator_file is not None or self.import_dir is None:
            return str(destination)
        return str(destination.relative_to(_import_root(self.import_dir)))

    @contextmanager
    def open(self, destination: Path) -> Iterator[IO[str]]:
        """Write the fix-up CSV; in the import directory a whole new file replaces the name (a symlink there is not followed)."""
        if self.operator_file is not None:
            with open(destination, "w", encoding="utf-8-sig", newline="") as out:
                yield out
            return
        root = _import_root(self.import_dir or Path("."))
        folder = destination.parent.resolve(strict=True)
        if not folder.is_relative_to(root):
            raise ImportPathRefused(
                f"the fix-up file {destination.name!r} would land outside PMSYNC_IMPORT_DIR; nothing was written"
            )
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=".fixup-", suffix=".csv")
        try:
            with os.fdopen(handle, "w", encoding="utf-8-sig", newline="") as out:
                yield out
            os.chmod(temporary, stat.S_IRUSR | stat.S_IWUSR | stat.S_IRGRP)
            os.replace(temporary, folder / destination.name)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
