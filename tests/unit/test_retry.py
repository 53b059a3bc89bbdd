"""Retry-After in every form HTTP allows, garbage falling back to the backoff, and a 429 obeyed over real HTTP."""

from __future__ import annotations

import email.utils
from datetime import datetime, timedelta, timezone

import pytest

from pmsync.source.retry import RetryPolicy, retry_after_seconds
from sandbox.faults import status_fault
from tests.unit.test_client import all_ids, make_client

NOW = datetime(1994, 11, 6, 8, 49, 7, tzinfo=timezone.utc)
"""30 seconds before the moment every date below names (RFC 9110's example date)."""


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("120", 120.0),
        (" 7 ", 7.0),
        ("0", 0.0),
        ("Sun, 06 Nov 1994 08:49:37 GMT", 30.0),  # IMF-fixdate
        ("Sunday, 06-Nov-94 08:49:37 GMT", 30.0),  # RFC 850
        ("Sun Nov  6 08:49:37 1994", 30.0),  # asctime
        ("Sun, 06 Nov 1994 08:49:37 -0000", 30.0),  # numeric zone "unknown", read as GMT
        ("Sun, 06 Nov 1994 09:49:37 +0100", 30.0),
        ("Sun, 06 Nov 1994 08:00:00 GMT", 0.0),  # in the past: retry now
    ],
)
def test_every_http_form_of_retry_after_is_read(header, seconds):
    assert retry_after_seconds(header, now=NOW) == seconds


@pytest.mark.parametrize(
    "header", [None, "", "soon", "-5", "1.5", "３", "Sun, 32 Nov 1994 08:49:37 GMT", "Sun, 06 Nov 1994", "1e3"]
)
def test_garbage_retry_after_is_ignored(header):
    assert retry_after_seconds(header, now=NOW) is None


def test_an_ignored_retry_after_falls_back_to_the_jittered_backoff_and_a_long_one_is_capped():
    policy = RetryPolicy(backoff_base=1.0, retry_after_cap=300.0)
    waits = [policy.delay(2, retry_after_seconds("garbage")) for _ in range(8)]
    assert all(1.0 <= wait <= 2.0 for wait in waits) and len(set(waits)) > 1
    assert policy.delay(2, retry_after_seconds("86400")) == 300.0


IN_TWO_MINUTES = (
    pytest.param(lambda moment: email.utils.format_datetime(moment, usegmt=True), id="IMF-fixdate"),
    pytest.param(lambda moment: moment.strftime("%A, %d-%b-%y %H:%M:%S GMT"), id="RFC-850"),
    pytest.param(lambda moment: moment.strftime("%a %b %e %H:%M:%S %Y"), id="asctime"),
    pytest.param(lambda moment: moment.strftime("%a, %d %b %Y %H:%M:%S -0000"), id="unknown-zone"),
)


@pytest.mark.parametrize("form", IN_TWO_MINUTES)
def test_a_429_with_a_retry_after_date_is_waited_out_exactly_then_succeeds(sandbox, form):
    """The wait is the time to the date the source named (120 s less the moments the request took), never the
    backoff (0.005–0.01 s here) nor nothing."""
    sleeps: list[float] = []
    header = form((datetime.now(timezone.utc) + timedelta(seconds=120)).replace(microsecond=0))
    sandbox.store.inject(status_fault("/units", 429, times=1, retry_after=header))
    ids = all_ids(make_client(sandbox, sleeps=sleeps))
    assert len(ids) == len([u for u in sandbox.store.records("units") if u["active"]])
    assert len(sleeps) == 1 and 115 <= sleeps[0] <= 120, (header, sleeps)


@pytest.mark.parametrize("header", ["Sun, 06 Nov 1994 08:49:37 -0000", "Sun Nov  6 08:49:37 1994", "0"])
def test_a_429_with_a_retry_after_in_the_past_is_retried_at_once(sandbox, header):
    """A date in the past (or 0) means now: no wait at all, not the backoff the client would use without it."""
    sleeps: list[float] = []
    sandbox.store.inject(status_fault("/units", 429, times=1, retry_after=header))
    ids = all_ids(make_client(sandbox, sleeps=sleeps))
    assert len(ids) == len([u for u in sandbox.store.records("units") if u["active"]])
    assert sleeps == [0.0], sleeps
