"""`pmsync sandbox serve`: the bundled Propertyware-dialect source over HTTP."""

from __future__ import annotations

import typer

sandbox_app = typer.Typer(no_args_is_help=True, help="The bundled Propertyware-dialect source.")


@sandbox_app.command("serve")
def sandbox_serve(
    port: int = typer.Option(8765, help="Port on 127.0.0.1."),
    size: int = typer.Option(1000, help="Number of units in the generated portfolio."),
    seed: int = typer.Option(7, help="Seed of the deterministic data."),
    host: str = typer.Option("127.0.0.1", help="Address to bind."),
    ledger: bool = typer.Option(True, "--ledger/--no-ledger", help="Generate lease charges and payments."),
) -> None:
    """Serve a deterministic Propertyware-dialect portfolio over HTTP until interrupted; when ready, print its
    (sandbox-only) credentials as `export PMSYNC_…` lines that point pmsync at it."""
    from sandbox.runner import serve

    serve(host=host, port=port, units=size, seed=seed, ledger=ledger)
