"""The layers stay apart: the library `pmsync/` imports no Prefect (only the blocks and the CLI modules that start
flows do), tasks/ and flows/ no database, HTTP or pandas, and the CLI package has no import cycle; read from the
source files' imports, nothing is run."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PREFECT_ALLOWED = {
    "pmsync/integrations/blocks.py": "Prefect blocks are Prefect objects",
    "pmsync/cli/running.py": "starts a flow when a Prefect server is configured (or a temporary one)",
    "pmsync/cli/sync.py": "`pmsync sync now` triggers a deployment",
    "pmsync/cli/workorders.py": "`pmsync workorder create|update --no-push` announces the change as a Prefect event",
    "pmsync/cli/prefect_setup.py": "`pmsync deploy` registers the block types and creates the work pool",
    "pmsync/cli/automations.py": "`pmsync automations apply` validates and writes Prefect automations",
    "pmsync/cli/integration.py": "`pmsync integration add|remove|list` saves and deletes blocks, deploys, starts runs",
    "pmsync/integrations/enrollment.py": "adding and removing a company is made of Prefect blocks, deployments and runs",
    "pmsync/runs/sync_slots.py": "an integration's one sync at a time is a Prefect concurrency limit its deployments share",
    "pmsync/runs/prefect_deploy.py": "`pmsync deploy` applies prefect.yaml's deployments by Prefect's own deploy steps",
}
SHELL_PACKAGES = ("prefect", "flows", "tasks")


def imported_modules(path: Path, *, module_level_only: bool = False) -> set[str]:
    """Every module an `import` or `from … import` in the file names (relative imports resolved are not used here)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    nodes = tree.body if module_level_only else list(ast.walk(tree))
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def test_the_library_imports_no_prefect_flows_or_tasks():
    offenders = {}
    for path in sorted((ROOT / "pmsync").rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        shell = {m for m in imported_modules(path) if m.split(".")[0] in SHELL_PACKAGES}
        if shell and relative not in PREFECT_ALLOWED:
            offenders[relative] = sorted(shell)
    assert offenders == {}, "pmsync/ is a plain library: move these imports to tasks/ or flows/"


def test_the_cli_package_has_no_import_cycle():
    package = ROOT / "pmsync" / "cli"
    modules = {f"pmsync.cli.{path.stem}": path for path in package.glob("*.py") if path.stem != "__init__"}
    edges = {
        name: {m for m in imported_modules(path, module_level_only=True) if m in modules}
        for name, path in modules.items()
    }
    for name, path in modules.items():
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.ImportFrom) and node.module == "pmsync.cli":
                names = {f"pmsync.cli.{alias.name}" for alias in node.names}
                assert names <= set(modules), (
                    f"{name} imports {sorted(names - set(modules))} from the package pmsync.cli itself; "
                    "import them from the module that defines them (pmsync.cli.common)"
                )
    assert not edges["pmsync.cli.common"] - {"pmsync.cli.running"}

    visiting: list[str] = []
    done: set[str] = set()

    def visit(name: str) -> None:
        assert name not in visiting, f"import cycle: {' → '.join([*visiting[visiting.index(name):], name])}"
        if name in done:
            return
        visiting.append(name)
        for imported in edges[name]:
            visit(imported)
        visiting.pop()
        done.add(name)

    for name in modules:
        visit(name)


def test_tasks_and_flows_hold_no_sql_http_or_pandas_code():
    engines = ("sqlalchemy", "psycopg", "sqlite3", "requests", "httpx", "urllib3", "pandas")
    offenders = {}
    for path in sorted([*(ROOT / "tasks").glob("*.py"), *(ROOT / "flows").glob("*.py")]):
        found = {m for m in imported_modules(path) if m.split(".")[0] in engines}
        if found:
            offenders[path.relative_to(ROOT).as_posix()] = sorted(found)
    assert offenders == {}, "tasks/ and flows/ are the Prefect shell: move this code into pmsync/"


def test_tasks_and_flows_never_import_the_cli():
    """The Prefect shell wraps the library; the CLI is another shell beside it (deployment logic lives in
    pmsync/runs/deployments.py, not in `pmsync deploy`)."""
    offenders = {}
    for path in sorted([*(ROOT / "tasks").glob("*.py"), *(ROOT / "flows").glob("*.py")]):
        found = {m for m in imported_modules(path) if m == "pmsync.cli" or m.startswith("pmsync.cli.")}
        if found:
            offenders[path.relative_to(ROOT).as_posix()] = sorted(found)
    assert offenders == {}, "tasks/ and flows/ import the library, never pmsync.cli"


CONCERNS = {
    "source": "the source systems: the engine's view of one, the shared offset kit, one package per vendor",
    "sync": "the engine: rule tables, the pipelined loop, quality gate, policy, page apply, run lifecycle",
    "push": "work orders made on the platform and their push to the source",
    "reconcile": "the monthly reconciliation: listings compared, guarded, confirmed, committed",
    "exports": "the analysts' CSV and Excel files",
    "imports": "CSV imports of owners and service providers",
    "platform": "the platform database: engine, migrations, settings",
    "integrations": "one source account each: identity, block, enrollment, re-pointing, retirement",
    "runs": "run bookkeeping, locks, sync slots, schedules, deployments, parameters",
    "jobs": "one function per flow, composing steps",
    "journal": "the change journal",
    "cli": "the command line",
}
TOP_LEVEL_MODULES = {"__init__.py", "settings.py", "hosts.py", "one_line.py"}


def test_the_library_is_grouped_by_concern_one_folder_each():
    library = ROOT / "pmsync"
    packages = {path.name for path in library.iterdir() if (path / "__init__.py").is_file()}
    modules = {path.name for path in library.glob("*.py")}
    assert packages == set(CONCERNS), "a new concern gets its folder here and a line in the README's layout"
    assert modules == TOP_LEVEL_MODULES, "a module belongs in its concern's folder"
