"""What `make demo` runs with and prints last: the lines that keep using the CLI against the demo's sandbox and database.

`python -m pmsync.cli.demo_next_steps --dir .demo --port 8765 --exports` prints the demo's environment as `export`
lines (the Makefile evaluates them); without `--exports`, the next steps to paste into a shell. `--source buildium`
(`make demo SOURCE=buildium`): the same against the bundled Buildium sandbox.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

SANDBOX_SEED = 7
SOURCES = ("propertyware", "buildium")
"""`pmsync sandbox serve`'s default seed, which the demo uses: the same seed and size give the same portfolio."""
COMMANDS = [
    ("pmsync runs", "the demo's initial sync: its counts per entity"),
    ("pmsync sync delta", "what changed in the source since"),
    ("pmsync quality", "records kept out or loaded with a warning, and why"),
]


def demo_environment(demo_dir: Path, port: int, source: str = "propertyware") -> dict[str, str]:
    """The variables the demo's commands run with: its SQLite file, the sandbox's credentials, a Prefect home of its
    own (a Prefect profile of yours pointing at a server does not apply)."""
    home = demo_dir.absolute()
    return {
        "PMSYNC_DATABASE_URL": f"sqlite:///{home / 'platform.db'}",
        **sandbox_settings(source, port),
        "PREFECT_HOME": str(home / "prefect"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_LOGGING_LEVEL": "CRITICAL",
        "PREFECT_LOGGING_LEVEL": "WARNING",
    }


def sandbox_settings(source: str, port: int) -> dict[str, str]:
    """The settings that point pmsync at the bundled sandbox of `source` on this port (what its banner prints)."""
    if source == "buildium":
        from sandbox.buildium import buildium_sandbox_settings

        return buildium_sandbox_settings(f"http://127.0.0.1:{port}")
    from sandbox.constants import BASE_PATH
    from sandbox.runner import sandbox_credentials

    return sandbox_credentials(f"http://127.0.0.1:{port}{BASE_PATH}")


def export_lines(environment: dict[str, str]) -> list[str]:
    return [f"export {name}={shlex.quote(value)}" for name, value in environment.items()]


def next_steps(demo_dir: Path, port: int, units: int, bin_dir: Path, source: str = "propertyware") -> str:
    """The sandbox's restart line (the demo stops its own), then the lines to paste: PATH, the environment and
    commands to try."""
    pmsync = shlex.quote(str(bin_dir / "pmsync"))
    dialect = " --source buildium" if source == "buildium" else ""
    lines = [
        "== next: keep using the CLI against the demo",
        f"The demo stopped its sandbox; start it again in another terminal (the same {units} units, seed {SANDBOX_SEED}):",
        f"  {pmsync} sandbox serve{dialect} --port {port} --size {units} --seed {SANDBOX_SEED}",
        "Then paste these lines here:",
        f"  export PATH={shlex.quote(str(bin_dir) + ':')}\"$PATH\"",
        *(f"  {line}" for line in export_lines(demo_environment(demo_dir, port, source))),
    ]
    width = max(len(command) for command, _ in COMMANDS)
    lines += [f"  {command.ljust(width)}   # {what}" for command, what in COMMANDS]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, required=True, help="The demo's directory (its database, its Prefect home).")
    parser.add_argument("--port", type=int, required=True, help="The sandbox's port.")
    parser.add_argument("--units", type=int, default=300, help="The sandbox's size.")
    parser.add_argument("--exports", action="store_true", help="Print only the environment, as export lines.")
    parser.add_argument("--source", choices=SOURCES, default="propertyware", help="The sandbox's dialect.")
    arguments = parser.parse_args(argv)
    if arguments.exports:
        print("\n".join(export_lines(demo_environment(arguments.dir, arguments.port, arguments.source))))
    else:
        print(next_steps(arguments.dir, arguments.port, arguments.units, Path(sys.executable).absolute().parent,
                         arguments.source))


if __name__ == "__main__":
    main()
