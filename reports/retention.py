"""Uploaded files and fix-up files leave the import directory after PMSYNC_IMPORT_RETENTION_DAYS; nothing else is touched."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import stat
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from pmsync.settings import ImportSettings

log = logging.getLogger("pmsync.reports")

SWEEP_SECONDS = 60 * 60
"""How often a running Reports server deletes what has expired (it also does at start)."""
PMSYNC_WROTE = re.compile(
    r"upload-[0-9a-f]{32}-(?:owners|service-providers)(?:\.errors)?\.csv"  # the page's uploads and their fix-ups
    r"|upload-run-[0-9]+-(?:owners|service-providers)\.errors\.csv"  # fix-ups of a deployment's uploaded `content`
    r"|\.upload-[0-9a-f]{32}\.partial"  # an upload the page was receiving when it stopped
    r"|\.fixup-[A-Za-z0-9_]+\.csv"  # a fix-up the import was writing when it stopped
)
"""Names only pmsync gives files in the import directory; an operator's own files (and their `….errors.csv` beside
them, in sub-directories) are never deleted."""


def delete_expired(import_dir: Path, retention_days: int, now: float | None = None) -> list[str]:
    """Delete the regular files directly in `import_dir` named as pmsync names them and last written more than
    `retention_days` ago; return their names. Symlinks and sub-directories are never followed nor deleted; a missing
    directory deletes nothing."""
    cutoff = (time.time() if now is None else now) - retention_days * 24 * 60 * 60
    try:
        folder = os.open(import_dir, os.O_RDONLY | os.O_DIRECTORY)
    except FileNotFoundError:
        return []
    deleted = []
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                if not PMSYNC_WROTE.fullmatch(entry.name):
                    continue
                found = entry.stat(follow_symlinks=False)
                if stat.S_ISREG(found.st_mode) and found.st_mtime < cutoff:
                    try:
                        os.unlink(entry.name, dir_fd=folder)
                    except FileNotFoundError:
                        continue  # another server deleted it meanwhile
                    except OSError as failure:
                        log.warning("could not delete %s from PMSYNC_IMPORT_DIR %s (%s); it is retried at the next "
                                    "sweep", entry.name, import_dir, failure.strerror or type(failure).__name__)
                        continue
                    deleted.append(entry.name)
    finally:
        os.close(folder)
    return deleted


def sweep(settings: ImportSettings) -> None:
    """Delete what has expired, logging each file; what cannot be deleted is logged and tried again at the next sweep."""
    try:
        deleted = delete_expired(settings.import_dir, settings.import_retention_days)
    except OSError as failure:
        log.warning("could not read PMSYNC_IMPORT_DIR %s to delete expired uploads (%s); it is retried at the next sweep",
                    settings.import_dir, failure.strerror or type(failure).__name__)
        return
    for name in deleted:
        log.info("deleted %s from PMSYNC_IMPORT_DIR: older than %d days (PMSYNC_IMPORT_RETENTION_DAYS)", name,
                 settings.import_retention_days)


def sweeping(settings: ImportSettings) -> Callable[[object], AsyncIterator[None]]:
    """A lifespan for the app: sweep at start, then every SWEEP_SECONDS until the server stops."""

    @asynccontextmanager
    async def lifespan(app: object) -> AsyncIterator[None]:
        await asyncio.to_thread(sweep, settings)

        async def every_sweep() -> None:
            while True:
                await asyncio.sleep(SWEEP_SECONDS)
                await asyncio.to_thread(sweep, settings)

        task = asyncio.create_task(every_sweep())
        try:
            yield
        finally:
            task.cancel()

    return lifespan
