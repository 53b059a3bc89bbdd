"""A redirect is never followed: the API key stays with the source's own host, and the run stops naming where the
redirect pointed (fix the base URL, exit 2). A second HTTP server on 127.0.0.1 plays the other host."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import pytest

from pmsync.cli.common import EXIT_CONFIGURATION, listed_exit_code
from pmsync.source import SourceRequestUnsendable
from sandbox import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET
from sandbox.faults import redirect_fault
from schemas.records import UnitRecord
from tests.flows.test_cli import run_pmsync
from tests.unit.test_client import all_ids, make_client


class OtherHost(http.server.ThreadingHTTPServer):
    """An HTTP server that answers every request with an empty JSON list and keeps each request's headers."""

    def __init__(self) -> None:
        self.received: list[dict[str, str]] = []
        super().__init__(("127.0.0.1", 0), _Recorder)

    @property
    def root_url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}"


class _Recorder(http.server.BaseHTTPRequestHandler):
    server: OtherHost

    def _answer(self) -> None:
        self.server.received.append(dict(self.headers))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Total-Count", "0")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"[]")

    do_GET = do_POST = do_PUT = _answer

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def other_host() -> Iterator[OtherHost]:
    server = OtherHost()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    thread.join()
    server.server_close()


def nothing_of_the_key_reached(host: OtherHost) -> bool:
    sent = " ".join(f"{name}: {value}" for headers in host.received for name, value in headers.items())
    return host.received == [] and SANDBOX_CLIENT_SECRET not in sent and SANDBOX_CLIENT_ID not in sent


READS_AND_WRITES = {
    "a listing, one request at a time": lambda client: all_ids(client),
    "a listing with pages in flight (per-thread sessions)": lambda client: all_ids(concurrent(client)),
    "one record": lambda client: client.get_one("/units/1", UnitRecord, entity="units"),
    "a write": lambda client: client.send_write("POST", "/workorders", {"buildingID": 1}, entity="work order"),
}


def concurrent(client):
    client.concurrency = 3
    return client


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize("send", list(READS_AND_WRITES.values()), ids=list(READS_AND_WRITES))
def test_a_redirect_to_another_host_stops_the_request_naming_that_host_and_the_key_never_reaches_it(
    sandbox, other_host, send, status
):
    target = other_host.root_url + "/pw/api/rest/v1/units?offset=0"
    sandbox.store.inject(redirect_fault(None, target, status, times=10))
    with pytest.raises(SourceRequestUnsendable) as refused:
        send(make_client(sandbox))
    message = str(refused.value)
    assert f"the source answered {status}, redirecting to 127.0.0.1:{other_host.server_port}" in message
    assert "fix the base URL (PMSYNC_PW_BASE_URL or the block's base_url)" in message
    assert not refused.value.retriable and listed_exit_code(refused.value) == EXIT_CONFIGURATION
    assert nothing_of_the_key_reached(other_host)


def test_a_redirect_without_a_location_is_refused_as_well(sandbox, other_host):
    sandbox.store.inject(redirect_fault("/units", "", 302))
    with pytest.raises(SourceRequestUnsendable, match=r"the source answered 302, redirecting without a Location"):
        all_ids(make_client(sandbox))


def test_a_sync_redirected_to_another_host_ends_in_one_line_with_exit_2_and_the_host_gets_nothing(
    integration_env, sandbox, other_host
):
    sandbox.store.inject(redirect_fault(None, other_host.root_url + "/pw/api/rest/v1/buildings", 302, times=100))
    done = run_pmsync("sync", "initial", env=integration_env)
    assert done.returncode == EXIT_CONFIGURATION, done.stderr[-2000:]
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: the source answered 302, redirecting to 127.0.0.1:{other_host.server_port}; ")
    assert "fix the base URL" in last and SANDBOX_CLIENT_SECRET not in done.stdout + done.stderr
    assert nothing_of_the_key_reached(other_host)

