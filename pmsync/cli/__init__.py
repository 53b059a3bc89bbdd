"""The `pmsync` command line (`pmsync.cli:app`); its commands live in one module per group, shared helpers in
`pmsync.cli.common`."""

from pmsync.cli.app import app

__all__ = ["app"]
