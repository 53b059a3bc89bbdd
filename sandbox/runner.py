"""Runs the sandbox app with uvicorn: in a background thread for tests, or in the foreground for the CLI."""

from __future__ import annotations

import gc
import signal
import socket
import threading
import time
import urllib.request
from types import FrameType

import uvicorn

from .constants import (BASE_PATH, CONTROL_PATH, SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, SANDBOX_INTEGRATION_USER,
                        SANDBOX_SYSTEM_ID)
from .server import create_app
from .store import SandboxStore


class SandboxServer:
    """Context manager serving a SandboxStore over HTTP on 127.0.0.1 (a free port unless one is given)."""

    def __init__(self, units: int = 50, seed: int = 7, *, store: SandboxStore | None = None,
                 host: str = "127.0.0.1", port: int = 0, emit_nulls: bool = False):
        self.store = store if store is not None else SandboxStore(units=units, seed=seed)
        self.host = host
        self.app = self.create_app(emit_nulls)
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._socket.bind((host, port))
        self.port: int = self._socket.getsockname()[1]
        config = uvicorn.Config(self.app, log_level="warning", access_log=False, lifespan="off",
                                timeout_graceful_shutdown=3)
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    def create_app(self, emit_nulls: bool):
        """The ASGI app serving `self.store` (a sandbox of another dialect overrides this)."""
        return create_app(self.store, emit_nulls=emit_nulls)

    @property
    def root_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        return self.root_url + BASE_PATH

    @property
    def control_url(self) -> str:
        return self.root_url + CONTROL_PATH

    def start(self, timeout: float = 15.0) -> SandboxServer:
        if self._thread is not None:
            return self
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._socket]},
                                        name=f"sandbox-{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self._thread.is_alive():
                raise RuntimeError("sandbox server stopped during start-up")
            if self._server.started and self._answers():
                return self
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"sandbox server did not answer on {self.root_url} within {timeout}s")

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(self.control_url + "/health", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    def stop(self) -> None:
        if self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
            self._thread = None
        self._socket.close()

    def wait(self) -> None:
        """Blocks until the server thread ends (Ctrl-C or SIGTERM stops it cleanly)."""
        while self._thread is not None and self._thread.is_alive():
            self._thread.join(0.5)

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


LAST_BANNER_LINE = "Stop it with Ctrl-C."


def sandbox_credentials(base_url: str) -> dict[str, str]:
    """The settings pmsync needs to read this sandbox, by variable: sandbox-only values, which open nothing else."""
    return {
        "PMSYNC_PW_BASE_URL": base_url,
        "PMSYNC_PW_CLIENT_ID": SANDBOX_CLIENT_ID,
        "PMSYNC_PW_CLIENT_SECRET": SANDBOX_CLIENT_SECRET,
        "PMSYNC_PW_SYSTEM_ID": SANDBOX_SYSTEM_ID,
        "PMSYNC_INTEGRATION_USER": SANDBOX_INTEGRATION_USER,
    }


def banner(base_url: str, units: int, seed: int) -> str:
    """What `pmsync sandbox serve` prints when ready: where, what data, and its credentials as lines to paste."""
    lines = [f"Propertyware sandbox ready at {base_url} ({units} units, seed {seed})",
             "Its credentials (sandbox-only: they open this sandbox and nothing else); to point pmsync at it:"]
    lines += [f"  export {variable}={value}" for variable, value in sandbox_credentials(base_url).items()]
    lines.append(LAST_BANNER_LINE)
    return "\n".join(lines)


def serve(host: str = "127.0.0.1", port: int = 8765, units: int = 1000, seed: int = 7, ledger: bool = True) -> None:
    """Runs a sandbox in the foreground until interrupted; prints one line when it is ready.

    The generated records are moved out of the garbage collector's reach (gc.freeze) so that a large store does not
    stall requests with full collections.
    """
    server = SandboxServer(host=host, port=port, store=SandboxStore(units=units, seed=seed, ledger=ledger))
    gc.freeze()
    server.start()

    def stop(signum: int, frame: FrameType | None) -> None:
        server._server.should_exit = True

    previous = signal.signal(signal.SIGTERM, stop)
    print(banner(server.base_url, units, seed), flush=True)
    try:
        server.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        signal.signal(signal.SIGTERM, previous)
