"""The upload's size cap over a real socket (uvicorn on 127.0.0.1): a declared Content-Length over the cap is answered
413 at once, a chunked body is cut off with 413 as soon as it passes the cap, an understated Content-Length ends the
form early; each time the server stops reading (the client cannot send the rest) and the app took no more than the cap
plus a bounded margin. A chunked upload under the cap is read whole."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import uvicorn

from reports.app import create_app
from tests.e2e.test_deployments import free_port

MAX_BYTES = 1000
BOUNDARY = "pmsync-test-boundary"
BLOCK = b"5" * 65536
BODY_BYTES = 64 * 1024 * 1024
"""What the client tries to send: far more than a server that stops reading lets through its socket buffers."""
SERVER_MARGIN = 512 * 1024
"""What the app may take beyond the cap: the form's overhead and one read of uvicorn's (its buffer pauses at 64 KiB,
asyncio reads 256 KiB at a time)."""
SOCKET_BUFFER = 64 * 1024


@dataclass
class Counted:
    """An ASGI app wrapped to count the request body bytes the app took (what uvicorn handed it)."""

    app: object
    received: int = 0

    async def __call__(self, scope, receive, send):
        async def counted_receive():
            message = await receive()
            self.received += len(message.get("body", b""))
            return message

        await self.app(scope, counted_receive, send)


@dataclass
class Sender:
    """Sends a request and then as much of its body as the server lets through, in a thread."""

    connection: socket.socket
    head: bytes
    blocks: Iterator[bytes]
    sent: int = 0
    finished: bool = False
    error: str = ""
    thread: threading.Thread = field(init=False)

    def __post_init__(self) -> None:
        self.thread = threading.Thread(target=self._send, daemon=True)
        self.thread.start()

    def _send(self) -> None:
        try:
            self.connection.sendall(self.head)
            for block in self.blocks:
                self.connection.sendall(block)
                self.sent += len(block)
            self.finished = True
        except OSError as stopped:
            self.error = type(stopped).__name__


@pytest.fixture
def import_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "imports"
    folder.mkdir()
    monkeypatch.setenv("PMSYNC_IMPORT_DIR", str(folder))
    monkeypatch.setenv("PMSYNC_IMPORT_MAX_BYTES", str(MAX_BYTES))
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "prefect-home"))
    monkeypatch.setenv("PREFECT_API_URL", f"http://127.0.0.1:{free_port()}/api")
    return folder


@contextmanager
def serving(app: Counted) -> Iterator[int]:
    """uvicorn on 127.0.0.1 with small socket buffers (so what the client sent tells what the server read)."""
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SOCKET_BUFFER)
    listener.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive(), "the upload page's server stopped while starting (see its log above)"
        assert time.monotonic() < deadline, "the upload page's server did not start within 30 s"
        time.sleep(0.02)
    try:
        yield listener.getsockname()[1]
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        listener.close()


def form_start() -> bytes:
    return (
        f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"kind\"\r\n\r\nowners\r\n"
        f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"owners.csv\"\r\n"
        "Content-Type: text/csv\r\n\r\nowner_id\n"
    ).encode()


def chunked(blocks: Iterator[bytes]) -> Iterator[bytes]:
    for block in blocks:
        yield f"{len(block):x}\r\n".encode() + block + b"\r\n"


def file_blocks() -> Iterator[bytes]:
    yield form_start()
    for _ in range(BODY_BYTES // len(BLOCK)):
        yield BLOCK


def read_response(connection: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """The status, headers and body of the first response (up to the connection's end or the body's length)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(65536)
        assert chunk, f"the server closed the connection before answering: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}
    while len(body) < int(headers.get("content-length", "0")):
        chunk = connection.recv(65536)
        if not chunk:
            break
        body += chunk
    return int(status_line.split()[1]), headers, body


def request_head(port: int, framing: str) -> bytes:
    return (
        f"POST /integrations/default/uploads HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nOrigin: http://127.0.0.1:{port}\r\n"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n{framing}\r\n\r\n"
    ).encode()


FRAMINGS = {
    "chunked": (lambda: chunked(file_blocks()), "Transfer-Encoding: chunked"),
    "content-length": (file_blocks, f"Content-Length: {BODY_BYTES + len(form_start())}"),
    "understated-content-length": (file_blocks, "Content-Length: 300"),
}
"""How the client frames its 64 MiB body: chunked (no length known), with its true length (over the cap), or with a
Content-Length far below what it sends (the rest is not a request: the server refuses it and closes)."""


@pytest.mark.parametrize("framing", FRAMINGS)
def test_an_upload_over_the_cap_is_refused_and_the_server_stops_reading_it(framing, import_dir, tmp_path, report_measurement):
    app = Counted(create_app(f"sqlite:///{tmp_path / 'unused.db'}", integration="default"))
    blocks, header = FRAMINGS[framing]
    with serving(app) as port:
        connection = socket.create_connection(("127.0.0.1", port), timeout=60)
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SOCKET_BUFFER)
        with connection:
            sender = Sender(connection, request_head(port, header), blocks())
            status, headers, body = read_response(connection)
            sender.thread.join(timeout=60)

    report_measurement(f"upload over the cap ({framing}): the app took {app.received:,} bytes, the client sent "
                       f"{sender.sent:,} of {BODY_BYTES:,} before the server closed ({sender.error or 'not closed'})")
    if framing == "understated-content-length":
        assert status == 400 and b"the upload ended before the form did" in body and app.received == 300
    else:
        assert status == 413 and b"larger than 0.000954 MB (PMSYNC_IMPORT_MAX_BYTES)" in body
        assert headers.get("connection") == "close"
    assert not sender.finished, "the server stopped reading: the client could not send the rest of the body"
    assert sender.sent < 4 * 1024 * 1024
    assert app.received <= MAX_BYTES + SERVER_MARGIN
    assert list(import_dir.iterdir()) == [], "nothing of a refused upload stays in the import directory"


def test_a_chunked_upload_under_the_cap_is_read_whole_and_goes_on_to_start_the_import(import_dir, tmp_path):
    body = form_start() + b"5001\n" + f"\r\n--{BOUNDARY}--\r\n".encode()
    with serving(Counted(create_app(f"sqlite:///{tmp_path / 'unused.db'}", integration="default"))) as port:
        with socket.create_connection(("127.0.0.1", port), timeout=60) as connection:
            in_two_chunks = b"".join(chunked(iter([body[:50], body[50:]]))) + b"0\r\n\r\n"
            connection.sendall(request_head(port, "Transfer-Encoding: chunked") + in_two_chunks)
            status, headers, answer = read_response(connection)

    assert status == 502 and b"did not take the import (ConnectError)" in answer, "stored, then no Prefect server answered"
    assert headers.get("connection") != "close"
    assert list(import_dir.iterdir()) == [], "an upload the Prefect server did not take is not kept"
