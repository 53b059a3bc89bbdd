"""Credentials that cannot go into an HTTP header are refused at configuration, and never echoed by any error: not even
when the source itself echoes them back (an error body, a record's value, a redirect)."""

from __future__ import annotations

import pydantic
import pytest
from pydantic import SecretStr

from pmsync.integrations.blocks import PropertywareIntegration
from pmsync.integrations.integration import Integration, IntegrationNotConfigured, integration_from_environment
from pmsync.runs.bookkeeping import scrub_credentials
from pmsync.settings import IntegrationSettings
from pmsync.source import (SourceAuthError, SourceDataError, SourceOutcomeUnknown, SourceRequestRejected,
                           SourceRequestUnsendable)
from pmsync.source.answers import USER_MESSAGE_CHARS
from sandbox import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, SANDBOX_INTEGRATION_USER, SANDBOX_SYSTEM_ID
from sandbox.faults import echo_credentials_fault, redirect_fault, wrong_type_fault
from tests.unit.test_client import UnitRecord as Unit, all_ids, make_client

LEAKY = {
    "line feed": "Leaky-Part-One\nLeaky-Part-Two",
    "carriage return and line feed": "Leaky-Part-One\r\nX-Injected: Leaky-Part-Two",
    "leading space": " Leaky-Part-One",
    "inner space": "Leaky-Part-One Leaky-Part-Two",
    "trailing tab": "Leaky-Part-One\t",
}
VARIABLES = ("PMSYNC_PW_CLIENT_ID", "PMSYNC_PW_CLIENT_SECRET", "PMSYNC_PW_SYSTEM_ID")


def shows_nothing_of_it(text: str) -> bool:
    return "Leaky-Part-One" not in text and "Leaky-Part-Two" not in text


@pytest.fixture
def valid_environment(monkeypatch):
    for name, value in zip(VARIABLES, (SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, SANDBOX_SYSTEM_ID)):
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("PMSYNC_INTEGRATION_USER", SANDBOX_INTEGRATION_USER)


@pytest.mark.parametrize("variable", VARIABLES)
@pytest.mark.parametrize("value", list(LEAKY.values()), ids=list(LEAKY))
def test_a_credential_with_whitespace_is_refused_naming_the_variable_not_the_value(valid_environment, monkeypatch, variable, value):
    monkeypatch.setenv(variable, value)
    with pytest.raises(pydantic.ValidationError) as invalid:
        IntegrationSettings()
    assert variable in str(invalid.value) and shows_nothing_of_it(str(invalid.value))
    with pytest.raises(IntegrationNotConfigured, match=rf"^{variable} contains (whitespace|a line break)") as refused:
        integration_from_environment()
    assert shows_nothing_of_it(str(refused.value)) and refused.value.__cause__ is None


@pytest.mark.parametrize("page_size", ["0", "501", "-3"])
def test_a_page_size_outside_1_to_500_is_refused_at_configuration(valid_environment, monkeypatch, page_size):
    monkeypatch.setenv("PMSYNC_PW_PAGE_SIZE", page_size)
    with pytest.raises(IntegrationNotConfigured, match=rf"PMSYNC_PW_PAGE_SIZE must be a whole number from 1 to 500.*got {page_size}"):
        integration_from_environment()


@pytest.mark.parametrize("field", ["client_id", "client_secret", "system_id"])
@pytest.mark.parametrize("value", list(LEAKY.values()), ids=list(LEAKY))
def test_the_integration_block_refuses_a_credential_with_whitespace_without_echoing_it(field, value):
    fields = {"base_url": "https://api.example/pw/api/rest/v1", "client_id": SANDBOX_CLIENT_ID,
              "client_secret": SANDBOX_CLIENT_SECRET, "system_id": SANDBOX_SYSTEM_ID,
              "integration_user": SANDBOX_INTEGRATION_USER, field: value}
    with pytest.raises(pydantic.ValidationError) as invalid:
        PropertywareIntegration(**fields)
    assert f"{field} contains" in str(invalid.value) and shows_nothing_of_it(str(invalid.value))


@pytest.mark.parametrize("secret", [LEAKY["carriage return and line feed"], LEAKY["leading space"], "Leaky-Part-One\u20ac"])
def test_a_client_given_an_unsendable_secret_fails_without_showing_it(sandbox, secret):
    sandbox.store.clear_requests_log()
    with pytest.raises(SourceAuthError, match=r"could not be sent \(\w+\): a credential holds characters") as refused:
        all_ids(make_client(sandbox, secret=secret))
    assert shows_nothing_of_it(str(refused.value)) and shows_nothing_of_it(repr(refused.value.args))
    assert refused.value.__cause__ is None and refused.value.__suppress_context__
    assert sandbox.store.requests_log == []


def test_a_run_error_is_scrubbed_of_the_credentials_however_they_are_quoted():
    secret = LEAKY["carriage return and line feed"]
    integration = Integration("default", "http://127.0.0.1:9", "client-Leaky-Part-Two", SecretStr(secret), "1001", "u@x.y")
    texts = [f"failed: {secret}", f"header value {secret!r}", '{"secret": "Leaky-Part-One\\r\\nX-Injected: x"}',
             "only client-Leaky-Part-Two here", "pieces Leaky-Part-One and X-Injected: Leaky-Part-Two"]
    for text in texts:
        scrubbed = scrub_credentials(text, integration)
        assert shows_nothing_of_it(scrubbed) and "[credential removed]" in scrubbed, text
    assert scrub_credentials("HTTP 503 [GET /units?limit=500&offset=0]", integration) == "HTTP 503 [GET /units?limit=500&offset=0]"
    assert scrub_credentials(None, integration) is None


KEY = (SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET)


def texts_of(error: BaseException) -> str:
    """Everything an error carries that a log line, a state message or an alert could print."""
    return " ".join([str(error), repr(error), *map(str, error.args), *map(str, vars(error).values())])


@pytest.mark.parametrize("status, kind", [(401, SourceAuthError), (400, SourceRequestRejected)])
def test_a_key_the_source_echoes_in_a_read_error_leaves_the_client_scrubbed(sandbox, status, kind):
    sandbox.store.inject(echo_credentials_fault("/units", status))
    with pytest.raises(kind, match=rf"\({status}: Request refused for the API key sent \(client id '\[credential "
                                   r"removed\]', secret '\[credential removed\]'\)") as refused:
        all_ids(make_client(sandbox))
    assert not any(part in texts_of(refused.value) for part in KEY)


def test_a_key_echoed_where_the_quoted_message_is_cut_leaves_no_part_of_it(sandbox):
    secret_starts = len("Details: ") + 106 + len(" Request refused for the API key sent (client id 'sandbox-client', secret '")
    assert secret_starts < USER_MESSAGE_CHARS < secret_starts + len(SANDBOX_CLIENT_SECRET), "the cut falls in the key"
    sandbox.store.inject(echo_credentials_fault("/units", 400, after=106))
    with pytest.raises(SourceRequestRejected, match=r"\(400: Details: \.+ Request refused") as refused:
        all_ids(make_client(sandbox))
    shown = texts_of(refused.value)
    assert not any(SANDBOX_CLIENT_SECRET[:length] in shown for length in range(len("sandbox-s"), len(SANDBOX_CLIENT_SECRET)))


@pytest.mark.parametrize("status, kind", [(401, SourceAuthError), (400, SourceRequestRejected),
                                          (503, SourceOutcomeUnknown)])
def test_a_key_the_source_echoes_in_a_write_error_leaves_the_client_scrubbed(sandbox, status, kind):
    building = next(b for b in sandbox.store.records("buildings") if b["active"])
    sandbox.store.inject(echo_credentials_fault("/workorders", status, method="POST"))
    with pytest.raises(kind, match=r"Request refused for the API key sent \(client id '\[credential removed\]'") as refused:
        make_client(sandbox).send_write("POST", "/workorders", {"buildingID": building["id"]}, entity="work order")
    assert not any(part in texts_of(refused.value) for part in KEY)


def test_a_record_id_quoting_the_key_is_refused_under_a_scrubbed_key(sandbox):
    """A listed record whose id quotes the key is refused (quarantined under its id as sent), and that key, shown by
    `pmsync quality` and in run summaries, leaves the client scrubbed, even where a long id is cut to fit."""
    for value in (SANDBOX_CLIENT_SECRET, SANDBOX_CLIENT_SECRET * 3):
        sandbox.store.inject(wrong_type_fault("/units", record_index=2, field="id", value=value))
        refused = [r for page in make_client(sandbox).iter_pages("/units", Unit, entity="unit") for r in page.refused]
        assert len(refused) == 1 and refused[0].key.startswith("[credential removed]"), refused
        assert not any(part in repr((r.key, r.problems)) for r in refused for part in KEY)


def test_a_record_quoting_the_key_read_alone_leaves_the_client_scrubbed(sandbox):
    unit = sandbox.store.records("units")[0]
    sandbox.store.inject(wrong_type_fault(f"/units/{unit['id']}", field="id", value=SANDBOX_CLIENT_SECRET * 3))
    with pytest.raises(SourceDataError, match=r"unit id=\[credential removed\]") as unreadable:
        make_client(sandbox).get_one(f"/units/{unit['id']}", Unit, entity="unit")
    assert not any(part in texts_of(unreadable.value) for part in KEY)


def test_a_redirect_whose_host_quotes_the_key_leaves_the_client_scrubbed(sandbox):
    sandbox.store.inject(redirect_fault("/units", f"https://{SANDBOX_CLIENT_SECRET}.example/pw/api/rest/v1/units"))
    with pytest.raises(SourceRequestUnsendable, match=r"redirecting to \[credential removed\]\.example") as refused:
        all_ids(make_client(sandbox))
    assert not any(part in texts_of(refused.value) for part in KEY)


REFUSED_BASE_URLS = {
    "plain http to another host": ("http://api.propertyware.com/pw/api/rest/v1", "must use https"),
    "plain http to a name that only starts like loopback": ("http://127.0.0.1.example.com/pw", "must use https"),
    "another scheme": ("ftp://api.propertyware.com/pw/api/rest/v1", "must be an https URL"),
    "no scheme": ("api.propertyware.com/pw/api/rest/v1", "must be an https URL"),
    "user and password": ("https://someone:Leaky-Part-One@api.propertyware.com/pw", "must not carry a user or password"),
    "a query": ("https://api.propertyware.com/pw/api/rest/v1?key=1", "must not have a query or fragment"),
}
ALLOWED_BASE_URLS = ["https://api.propertyware.com/pw/api/rest/v1", "http://127.0.0.1:8765/pw/api/rest/v1",
                     "http://127.9.9.9/pw", "http://localhost:8765/pw", "http://[::1]:8765/pw"]


@pytest.mark.parametrize("url, problem", list(REFUSED_BASE_URLS.values()), ids=list(REFUSED_BASE_URLS))
def test_a_base_url_the_key_must_not_go_to_is_refused_naming_the_variable_or_field(valid_environment, monkeypatch, url,
                                                                                   problem):
    monkeypatch.setenv("PMSYNC_PW_BASE_URL", url)
    with pytest.raises(IntegrationNotConfigured, match=rf"^PMSYNC_PW_BASE_URL {problem}") as refused:
        integration_from_environment()
    fields = {"base_url": url, "client_id": SANDBOX_CLIENT_ID, "client_secret": SANDBOX_CLIENT_SECRET,
              "system_id": SANDBOX_SYSTEM_ID, "integration_user": SANDBOX_INTEGRATION_USER}
    with pytest.raises(pydantic.ValidationError, match=rf"base_url {problem}") as invalid:
        PropertywareIntegration(**fields)
    with pytest.raises(ValueError, match=rf"base_url {problem}"):
        make_client_at(url)
    assert shows_nothing_of_it(str(refused.value) + str(invalid.value))


@pytest.mark.parametrize("url", ALLOWED_BASE_URLS)
def test_an_https_or_loopback_base_url_is_taken(valid_environment, monkeypatch, url):
    monkeypatch.setenv("PMSYNC_PW_BASE_URL", url)
    assert integration_from_environment().base_url == url
    fields = {"base_url": url, "client_id": SANDBOX_CLIENT_ID, "client_secret": SANDBOX_CLIENT_SECRET,
              "system_id": SANDBOX_SYSTEM_ID, "integration_user": SANDBOX_INTEGRATION_USER}
    assert PropertywareIntegration(**fields).base_url == url
    assert make_client_at(url).base_url == url.rstrip("/")


def make_client_at(url: str):
    from pmsync.source import PropertywareClient

    return PropertywareClient(url, SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, SANDBOX_SYSTEM_ID)


def test_integration_add_refuses_a_plain_http_base_url_before_anything_else(tmp_path):
    from pmsync.cli.common import EXIT_CONFIGURATION
    from tests.unit.test_cli_integration import SETTINGS, run

    settings = [*SETTINGS[2:], "--base-url", "http://api.propertyware.com/pw/api/rest/v1"]
    refused = run("integration", "add", "dune", *settings, env={"PMSYNC_ADD_CLIENT_SECRET": SANDBOX_CLIENT_SECRET},
                  home=tmp_path / "prefect-home")
    assert refused.returncode == EXIT_CONFIGURATION and refused.stdout == ""
    assert refused.stderr.startswith("error: the integration's settings are not valid: base_url: ")
    assert "base_url must use https" in refused.stderr and SANDBOX_CLIENT_SECRET not in refused.stderr
