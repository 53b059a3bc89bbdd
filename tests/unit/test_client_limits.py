"""Source answers are bounded: an overall deadline per request (a body trickling in, or headers that never come, do not
hang a run) and a body-size cap, both settings; past either a read is retried and then fails as SourceUnavailable
naming the request and the limit (exit 3), a write is SourceOutcomeUnknown (look before resending)."""

from __future__ import annotations

import json
import random

import pytest

from pmsync.cli.common import EXIT_SOURCE_UNAVAILABLE, listed_exit_code
from pmsync.integrations.integration import IntegrationNotConfigured, environment_settings, integration_from_environment
from pmsync.source import SourceOutcomeUnknown, SourceUnavailable
from pmsync.source.exchange import DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_REQUEST_DEADLINE_SECONDS, AnswerLimits
from pmsync.source.paging import PageRequest
from sandbox import SandboxServer, SandboxStore
from sandbox.faults import oversized_fault, trickle_fault
from sandbox.slowdowns import Slowdown
from sandbox.variety import long_text
from tests.unit.test_client import all_ids, make_client
from tests.unit.test_client_faults import active_unit_ids

TRICKLE = {"chunk_bytes": 64, "interval": 0.05}
"""About 1.3 KB a second: a page of 10 units (some 6 KB) takes seconds, far past the deadlines below."""


def test_a_body_trickling_in_fails_the_read_at_the_deadline_as_retriable_naming_it(sandbox):
    sandbox.store.inject(trickle_fault("/units", times=10, **TRICKLE))
    client = make_client(sandbox, attempts=2, limits=AnswerLimits(deadline_seconds=0.4))
    with pytest.raises(SourceUnavailable, match=r"after 2 attempts \(last: answer not complete within the 0\.4 s "
                                                r"deadline \(\d+ bytes of the body had arrived; "
                                                r"PMSYNC_PW_REQUEST_DEADLINE_SECONDS\)\); run again later "
                                                r"\[GET /units\?") as failed:
        all_ids(client)
    assert failed.value.retriable and listed_exit_code(failed.value) == EXIT_SOURCE_UNAVAILABLE
    assert client.requests_made == 2


def test_an_answer_whose_headers_do_not_come_within_the_deadline_fails_naming_it(sandbox):
    sandbox.store.slowdowns.add(Slowdown(2.0, "/units", times=2))
    with pytest.raises(SourceUnavailable, match=r"last: answer not complete within the 0\.3 s deadline \(0 bytes"):
        all_ids(make_client(sandbox, attempts=2, limits=AnswerLimits(deadline_seconds=0.3)))


def test_a_trickle_within_the_retry_budget_is_sent_again_and_the_listing_completes(sandbox):
    sandbox.store.inject(trickle_fault("/units", times=1, **TRICKLE))
    sleeps: list[float] = []
    client = make_client(sandbox, attempts=3, sleeps=sleeps, limits=AnswerLimits(deadline_seconds=0.4))
    assert all_ids(client) == active_unit_ids(sandbox)
    assert len(sleeps) == 1 and sandbox.store.faults == []


@pytest.mark.parametrize("announced", [True, False], ids=["Content-Length over the cap", "chunked, no length"])
def test_an_answer_over_the_size_cap_fails_the_read_as_retriable_naming_the_cap(sandbox, announced):
    sandbox.store.inject(oversized_fault("/units", 200_000, times=10, announce_size=announced))
    client = make_client(sandbox, attempts=2, limits=AnswerLimits(max_bytes=16_384))
    seen = "it announced 200000 bytes" if announced else r"\d+ bytes had arrived"
    with pytest.raises(SourceUnavailable, match=rf"last: answer larger than the 16384-byte cap \({seen}; "
                                                r"PMSYNC_PW_MAX_RESPONSE_BYTES\)\); run again later \[GET /units\?") as failed:
        all_ids(client)
    assert failed.value.retriable and listed_exit_code(failed.value) == EXIT_SOURCE_UNAVAILABLE


def test_an_answer_padded_but_within_the_cap_is_read(sandbox):
    sandbox.store.inject(oversized_fault("/units", 200_000, times=3, announce_size=False))
    assert all_ids(make_client(sandbox, limits=AnswerLimits(max_bytes=300_000))) == active_unit_ids(sandbox)


WRITE_LIMITS = {
    "trickling answer": (lambda: trickle_fault("/workorders", chunk_bytes=16, interval=0.1, method="POST"),
                         AnswerLimits(deadline_seconds=0.4), "answer not complete within the 0.4 s deadline"),
    "oversized answer": (lambda: oversized_fault("/workorders", 200_000, method="POST"), AnswerLimits(max_bytes=16_384),
                         "answer larger than the 16384-byte cap"),
}


@pytest.mark.parametrize("fault, limits, named", list(WRITE_LIMITS.values()), ids=list(WRITE_LIMITS))
def test_a_write_whose_answer_passes_a_limit_is_not_resent_and_must_be_looked_for(sandbox, fault, limits, named):
    building = next(b for b in sandbox.store.records("buildings") if b["active"])
    sandbox.store.inject(fault())
    client = make_client(sandbox, limits=limits)
    with pytest.raises(SourceOutcomeUnknown, match=rf"{named} .*; it may have been applied \[POST /workorders\]"):
        client.send_write("POST", "/workorders", {"buildingID": building["id"], "description": "leak"}, entity="work order")
    assert [write["status"] for write in sandbox.store.writes_log] == [201], "applied once, never resent"


def test_the_deadline_and_the_size_cap_are_settings_with_defaults(integration_env, monkeypatch):
    assert integration_from_environment().open_client().limits == AnswerLimits(120.0, 64 * 1024 * 1024)
    assert (DEFAULT_REQUEST_DEADLINE_SECONDS, DEFAULT_MAX_RESPONSE_BYTES) == (120.0, 64 * 1024 * 1024)
    monkeypatch.setenv("PMSYNC_PW_REQUEST_DEADLINE_SECONDS", "30.5")
    monkeypatch.setenv("PMSYNC_PW_MAX_RESPONSE_BYTES", "1048576")
    assert integration_from_environment().open_client().limits == AnswerLimits(30.5, 1_048_576)


@pytest.mark.parametrize("variable, value, message", [
    ("PMSYNC_PW_REQUEST_DEADLINE_SECONDS", "0", "PMSYNC_PW_REQUEST_DEADLINE_SECONDS must be a number of seconds above 0"),
    ("PMSYNC_PW_REQUEST_DEADLINE_SECONDS", "-1", "PMSYNC_PW_REQUEST_DEADLINE_SECONDS must be a number of seconds above 0"),
    ("PMSYNC_PW_REQUEST_DEADLINE_SECONDS", "inf", "PMSYNC_PW_REQUEST_DEADLINE_SECONDS must be a number of seconds above 0"),
    ("PMSYNC_PW_MAX_RESPONSE_BYTES", "100", "PMSYNC_PW_MAX_RESPONSE_BYTES must be a whole number of bytes, at least 1024"),
    ("PMSYNC_PW_MAX_RESPONSE_BYTES", "1e6", "PMSYNC_PW_MAX_RESPONSE_BYTES: Input should be a valid integer"),
])
def test_a_deadline_or_size_cap_out_of_range_is_refused_at_configuration(monkeypatch, variable, value, message):
    monkeypatch.setenv(variable, value)
    with pytest.raises(IntegrationNotConfigured, match=message):
        environment_settings()


def lengthened(value, rng: random.Random):
    """The value with every string in it made LONG_TEXT characters or more, as the longest real values are."""
    if isinstance(value, dict):
        return {key: lengthened(item, rng) for key, item in value.items()}
    if isinstance(value, list):
        return [lengthened(item, rng) for item in value]
    return long_text(rng, value) if isinstance(value, str) else value


def test_the_largest_page_a_real_account_sends_is_read_under_the_default_limits(report_measurement):
    store = SandboxStore(units=520, seed=7, ledger=False)
    rng = random.Random(1)
    with store.lock:
        for lease in store.records("leases")[:500]:
            store.update("leases", lease["id"], **lengthened({k: v for k, v in lease.items() if k != "id"}, rng))
    with SandboxServer(store=store) as server:
        client = make_client(server, page_size=500)
        raw, total, _ = client.fetch_listing_page("/leases", None, PageRequest(0, 500), "leases")
    assert len(raw) == 500 and total >= 500
    size = len(json.dumps(raw, separators=(",", ":")))  # the sandbox's own encoding: the body's size
    report_measurement(f"a page of 500 leases with every string at 500+ characters: {size} bytes, "
                       f"{DEFAULT_MAX_RESPONSE_BYTES / size:.1f}x under the default cap")
