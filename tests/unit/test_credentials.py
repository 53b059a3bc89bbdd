"""Credentials that cannot go into an HTTP header are refused at configuration, and never echoed by any error."""

from __future__ import annotations

import pydantic
import pytest
from pydantic import SecretStr

from pmsync.blocks import PropertywareIntegration
from pmsync.integrations import Integration, IntegrationNotConfigured, integration_from_environment
from pmsync.runs import scrub_credentials
from pmsync.settings import IntegrationSettings
from pmsync.source import SourceAuthError
from sandbox import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, SANDBOX_INTEGRATION_USER, SANDBOX_SYSTEM_ID
from tests.unit.test_client import all_ids, make_client

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
