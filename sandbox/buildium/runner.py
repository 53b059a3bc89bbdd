"""Runs the Buildium sandbox with uvicorn: in a background thread for tests, or in the foreground for the CLI."""

from __future__ import annotations

import gc
import signal
from types import FrameType

from ..runner import LAST_BANNER_LINE, SandboxServer
from .constants import (CONTROL_PATH, RATE_LIMIT_PER_SECOND, SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET,
                        SANDBOX_STAFF_USER_ID, SANDBOX_VENDOR_ID)
from .server import create_buildium_app
from .store import BuildiumStore


class BuildiumSandboxServer(SandboxServer):
    """Context manager serving a BuildiumStore over HTTP on 127.0.0.1. Its base URL is the host root (the API's
    paths begin with /v1, as under https://api.buildium.com)."""

    def __init__(self, units: int = 50, seed: int = 7, *, store: BuildiumStore | None = None,
                 host: str = "127.0.0.1", port: int = 0, rate_limit: int | None = RATE_LIMIT_PER_SECOND):
        store = store if store is not None else BuildiumStore(units=units, seed=seed, rate_limit=rate_limit)
        super().__init__(store=store, host=host, port=port)  # type: ignore[arg-type]

    def create_app(self, emit_nulls: bool):
        return create_buildium_app(self.store)

    @property
    def base_url(self) -> str:
        return self.root_url

    @property
    def control_url(self) -> str:
        return self.root_url + CONTROL_PATH


def buildium_sandbox_settings(base_url: str) -> dict[str, str]:
    """The settings pmsync needs to read this sandbox, by variable: sandbox-only values, which open nothing else."""
    return {
        "PMSYNC_SOURCE_SYSTEM": "buildium",
        "PMSYNC_BUILDIUM_BASE_URL": base_url,
        "PMSYNC_BUILDIUM_CLIENT_ID": SANDBOX_CLIENT_ID,
        "PMSYNC_BUILDIUM_CLIENT_SECRET": SANDBOX_CLIENT_SECRET,
        "PMSYNC_BUILDIUM_STAFF_USER_ID": str(SANDBOX_STAFF_USER_ID),
        "PMSYNC_BUILDIUM_VENDOR_ID": str(SANDBOX_VENDOR_ID),
    }


def buildium_banner(base_url: str, units: int, seed: int, rate_limit: int | None) -> str:
    limit = f"{rate_limit} requests/s per client id" if rate_limit else "no rate limit"
    lines = [f"Buildium sandbox ready at {base_url} ({units} units, seed {seed}, {limit})",
             "Its credentials (sandbox-only: they open this sandbox and nothing else); to point pmsync at it:"]
    lines += [f"  export {variable}={value}" for variable, value in buildium_sandbox_settings(base_url).items()]
    lines.append(LAST_BANNER_LINE)
    return "\n".join(lines)


def serve_buildium(host: str = "127.0.0.1", port: int = 8766, units: int = 1000, seed: int = 7,
                   rate_limit: int | None = RATE_LIMIT_PER_SECOND) -> None:
    """Runs a Buildium sandbox in the foreground until interrupted; prints the banner when it is ready."""
    server = BuildiumSandboxServer(host=host, port=port, store=BuildiumStore(units=units, seed=seed,
                                                                            rate_limit=rate_limit))
    gc.freeze()
    server.start()

    def stop(signum: int, frame: FrameType | None) -> None:
        server._server.should_exit = True

    previous = signal.signal(signal.SIGTERM, stop)
    print(buildium_banner(server.base_url, units, seed, rate_limit), flush=True)
    try:
        server.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        signal.signal(signal.SIGTERM, previous)
