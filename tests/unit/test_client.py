"""The Propertyware client over real HTTP against the sandbox: paging, retries, and errors that say what to do."""

from __future__ import annotations

import time

import pytest

from pmsync.source import (
    PropertywareClient,
    RetryPolicy,
    SourceAuthError,
    SourceDataError,
    SourceRequestRejected,
    SourceUnavailable,
)
from sandbox import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, SANDBOX_SYSTEM_ID
from sandbox.faults import drift_fault, status_fault, truncated_json_fault, wrong_type_fault
from schemas.records import LeaseRecord, UnitRecord


class FakeTime:
    """Waits that only record their seconds, on a clock they move on (as well as real time does): the client's waits
    and its request budget's pause see the same time."""

    def __init__(self, sleeps: list[float]) -> None:
        self.sleeps = sleeps
        self.slept = 0.0

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.slept += seconds

    def clock(self) -> float:
        return time.monotonic() + self.slept


def make_client(sandbox, *, secret=SANDBOX_CLIENT_SECRET, attempts=4, page_size=10, sleeps=None, **options) -> PropertywareClient:
    fake = FakeTime(sleeps if sleeps is not None else [])
    return PropertywareClient(
        sandbox.base_url,
        SANDBOX_CLIENT_ID,
        secret,
        SANDBOX_SYSTEM_ID,
        retry=RetryPolicy(max_attempts=attempts, backoff_base=0.01),
        page_size=page_size,
        sleep=fake.sleep,
        clock=fake.clock,
        **options,
    )


def all_ids(client, path="/units", model=UnitRecord, params=None) -> list[int]:
    return [r.id for page in client.iter_pages(path, model, entity=path.strip("/"), params=params) for r in page.records]


def test_pages_cover_the_listing_once_in_id_order(sandbox):
    expected = [u["id"] for u in sandbox.store.records("units") if u["active"]]
    client = make_client(sandbox)
    ids = all_ids(client)
    assert ids == sorted(expected)
    assert client.requests_made == 1 + -(-(len(expected) - 10) // 9)
    sent = [query for method, path, query in sandbox.store.requests_log if path.endswith("/units")]
    assert all(q["orderby"] == "id asc" and q["limit"] == "10" for q in sent)


def test_the_auth_headers_are_sent_and_a_wrong_secret_is_a_clear_401(sandbox):
    assert all_ids(make_client(sandbox)), "the sandbox answers only a request carrying all three headers"
    headers = make_client(sandbox).new_session().headers
    assert (headers["x-propertyware-client-id"], headers["x-propertyware-client-secret"],
            headers["x-propertyware-system-id"]) == (SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, SANDBOX_SYSTEM_ID)
    for wrong in ({"client_id": "not-the-client"}, {"system_id": "9999"}):
        account = {"client_id": SANDBOX_CLIENT_ID, "system_id": SANDBOX_SYSTEM_ID, **wrong}
        client = PropertywareClient(sandbox.base_url, account["client_id"], SANDBOX_CLIENT_SECRET, account["system_id"],
                                    retry=RetryPolicy(max_attempts=1))
        with pytest.raises(SourceAuthError):
            all_ids(client)
    with pytest.raises(SourceAuthError) as refused:
        all_ids(make_client(sandbox, secret="not-the-secret-123"))
    message = str(refused.value)
    assert "401" in message and "GET /units?" in message and "PMSYNC_PW_CLIENT_SECRET" in message
    assert "not-the-secret-123" not in message and SANDBOX_CLIENT_SECRET not in message
    assert "not-the-secret-123" not in repr(make_client(sandbox, secret="not-the-secret-123"))


def test_429_waits_as_told_by_retry_after_then_succeeds(sandbox):
    sleeps: list[float] = []
    sandbox.store.inject(status_fault("/units", 429, times=2, retry_after=3))
    ids = all_ids(make_client(sandbox, sleeps=sleeps))
    assert len(ids) == len([u for u in sandbox.store.records("units") if u["active"]])
    assert sleeps == [3, 3]


def test_5xx_backs_off_exponentially_and_gives_up_naming_the_request(sandbox):
    sleeps: list[float] = []
    sandbox.store.inject(status_fault("/units", 503, times=10))
    with pytest.raises(SourceUnavailable, match=r"after 4 attempts \(last: HTTP 503\).*GET /units\?") as unavailable:
        all_ids(make_client(sandbox, attempts=4, sleeps=sleeps))
    assert unavailable.value.retriable
    assert len(sleeps) == 3
    for attempt, slept in enumerate(sleeps, start=1):
        backoff = 0.01 * 2 ** (attempt - 1)
        assert backoff / 2 <= slept <= backoff


def test_backoff_is_jittered_so_failing_clients_do_not_return_together(sandbox):
    sleeps: list[float] = []
    sandbox.store.inject(status_fault("/units", 503, times=100))
    for _ in range(4):
        with pytest.raises(SourceUnavailable):
            all_ids(make_client(sandbox, attempts=4, sleeps=sleeps))
    first_waits = sleeps[::3]
    assert len(first_waits) == 4 and len(set(first_waits)) > 1
    assert all(0.005 <= wait <= 0.01 for wait in first_waits)


def test_connection_refused_is_retried_then_reported(sandbox):
    client = PropertywareClient(
        "http://127.0.0.1:9/pw/api/rest/v1", "id", "secret", "1",
        retry=RetryPolicy(max_attempts=2, backoff_base=0.01, connect_timeout=1),
    )
    with pytest.raises(SourceUnavailable, match="ConnectionError"):
        all_ids(client)


def test_400_and_404_fail_at_once(sandbox):
    client = make_client(sandbox)
    with pytest.raises(SourceRequestRejected, match=r"\(400") as rejected:
        all_ids(client, params={"lastModifiedDateTimeStart": "yesterday"})
    assert rejected.value.status == 400 and client.requests_made == 1
    assert client.get_one("/units/999999999", UnitRecord, entity="units") is None


def test_json_truncated_on_every_attempt_fails_as_unavailable_naming_the_request(sandbox):
    sandbox.store.inject(truncated_json_fault("/units", times=10))
    with pytest.raises(SourceUnavailable, match=r"after 4 attempts \(last: HTTP 200 with a body that is not valid JSON.*\[GET /units\?"):
        all_ids(make_client(sandbox))


def test_a_wrong_typed_field_keeps_its_record_apart_by_id_field_and_reason_and_the_page_reads_on(sandbox):
    leases = sandbox.store.records("leases")
    bad = leases[2]["id"]
    sandbox.store.inject(wrong_type_fault("/leases", record_index=2, field="unitID", value="twelve"))
    pages = list(make_client(sandbox).iter_pages("/leases", LeaseRecord, entity="leases"))
    refused = [(r.key, r.source_id, r.problems) for page in pages for r in page.refused]
    assert refused == [(str(bad), bad, (("unitID", "Input should be a valid integer"),))]
    assert [r.id for page in pages for r in page.records] == [lease["id"] for lease in leases if lease["id"] != bad]
    assert pages[-1].complete
    sandbox.store.inject(wrong_type_fault(f"/leases/{bad}", field="unitID", value="twelve"))
    with pytest.raises(SourceDataError, match=rf"^leases id={bad} field=unitID: Input should be a valid integer \[GET /leases/{bad}\]"):
        make_client(sandbox).get_one(f"/leases/{bad}", LeaseRecord, entity="leases")


def test_records_inserted_while_paging_are_neither_missed_nor_duplicated(sandbox):
    before = {u["id"] for u in sandbox.store.records("units") if u["active"]}
    sandbox.store.inject(drift_fault("/units", after_pages=1, insert=7))
    ids = all_ids(make_client(sandbox))
    assert len(ids) == len(set(ids))
    assert before <= set(ids)


def test_deletions_in_front_and_inserts_at_the_end_cancelling_out_skip_nothing(sandbox):
    before = sorted(u["id"] for u in sandbox.store.records("units") if u["active"])
    sandbox.store.inject(drift_fault("/units", after_pages=2, insert=4, delete_front=4))
    ids = all_ids(make_client(sandbox))
    assert len(ids) == len(set(ids))
    assert set(before[4:]) <= set(ids)


def test_records_leaving_the_listing_while_paging_shift_no_record_past_us(sandbox):
    client = make_client(sandbox)
    units = sorted(u["id"] for u in sandbox.store.records("units") if u["active"])
    pages = client.iter_pages("/units", UnitRecord, entity="units")
    first = next(pages)
    for gone in units[:3]:
        sandbox.store.delete("units", gone)
    rest = [r.id for page in pages for r in page.records]
    assert [r.id for r in first.records] + rest == units
