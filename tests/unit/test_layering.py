"""The layers stay apart: tasks/ and flows/ hold no SQL, HTTP or pandas code; the library pmsync/ imports no Prefect.

Allowed to import Prefect inside pmsync/: pmsync/blocks.py (the integration block) and, for now, the command line that
starts flows — pmsync/cli/* (R2 is moving the CLI there), the current pmsync/cli.py and pmsync/cli_*.py, and
pmsync/preflight.py. The lead tightens this list after the merge.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHELL_FORBIDDEN = {"sqlalchemy", "requests", "httpx", "urllib3", "pandas"}
LIBRARY_FORBIDDEN = {"prefect"}
PREFECT_ALLOWED = ("pmsync/blocks.py", "pmsync/cli/*", "pmsync/cli.py", "pmsync/cli_*.py", "pmsync/preflight.py")


def imported_packages(path: Path) -> set[str]:
    """The top-level package of every import in the module, wherever it is (module level, function, TYPE_CHECKING)."""
    packages = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            packages |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            packages.add(node.module.split(".")[0])
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) == "import_module":
            if node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                packages.add(node.args[0].value.split(".")[0])
    return packages


def modules(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


def relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


@pytest.mark.parametrize("folder", ["tasks", "flows"])
def test_tasks_and_flows_hold_no_sql_http_or_pandas_code(folder):
    found = {relative(path): sorted(imported_packages(path) & SHELL_FORBIDDEN) for path in modules(folder)}
    offenders = {path: names for path, names in found.items() if names}
    assert modules(folder) and offenders == {}, f"move this code into a pmsync/ module and call it from a task: {offenders}"


def test_the_library_imports_no_prefect():
    checked = [path for path in modules("pmsync") if not any(Path(relative(path)).match(p) for p in PREFECT_ALLOWED)]
    offenders = [relative(path) for path in checked if imported_packages(path) & LIBRARY_FORBIDDEN]
    assert checked and offenders == [], f"the engine must run without Prefect: move the Prefect part to tasks/: {offenders}"


def test_the_scan_sees_imports_inside_functions(tmp_path):
    module = tmp_path / "sample.py"
    module.write_text("def later():\n    import sqlalchemy.orm\n    from prefect.artifacts import create_table_artifact\n")
    assert imported_packages(module) == {"sqlalchemy", "prefect"}
