"""`pmsync sandbox serve`: a bundled source (Propertyware by default, or Buildium) over HTTP."""

from __future__ import annotations

from typing import Optional

import typer

sandbox_app = typer.Typer(no_args_is_help=True, help="The bundled sources: Propertyware (default) or Buildium.")
SOURCES = ("propertyware", "buildium")


@sandbox_app.command("serve")
def sandbox_serve(
    source: str = typer.Option("propertyware", help="Dialect to speak: propertyware or buildium."),
    port: Optional[int] = typer.Option(None, help="Port on 127.0.0.1 (default 8765; 8766 for buildium).",
                                       show_default=False),
    size: int = typer.Option(1000, help="Number of units in the generated portfolio."),
    seed: int = typer.Option(7, help="Seed of the deterministic data."),
    host: str = typer.Option("127.0.0.1", help="Address to bind."),
    ledger: bool = typer.Option(True, "--ledger/--no-ledger", help="Generate lease charges and payments (propertyware)."),
    rate_limit: int = typer.Option(10, help="Requests per second per client id before a 429 (buildium; 0: none)."),
) -> None:
    """Serve a deterministic portfolio in the source's dialect over HTTP until interrupted; when ready, print its
    (sandbox-only) credentials as `export PMSYNC_…` lines that point pmsync at it."""
    if source.lower() not in SOURCES:
        typer.echo(f"Unknown --source {source!r}: use one of {', '.join(SOURCES)}.", err=True)
        raise typer.Exit(2)
    if source.lower() == "buildium":
        from sandbox.buildium.runner import serve_buildium

        serve_buildium(host=host, port=8766 if port is None else port, units=size, seed=seed,
                       rate_limit=rate_limit or None)
        return
    from sandbox.runner import serve

    serve(host=host, port=8765 if port is None else port, units=size, seed=seed, ledger=ledger)
