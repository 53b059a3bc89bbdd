"""The `pmsync` command line (`pmsync.cli:app`): one module per command group, shared helpers in `pmsync.cli.common`."""

from pmsync.cli.app import app

__all__ = ["app"]
