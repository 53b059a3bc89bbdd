"""A Buildium default integration from the PMSYNC_BUILDIUM_* variables: defaults, validation naming each variable and
never its value, the secret kept out of reprs and scrubbed, and the exit code of a command missing a setting."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from pmsync.integrations.integration import IntegrationNotConfigured, integration_from_environment
from pmsync.source.buildium.credentials import BuildiumCredentials
from pmsync.source.registry import package_of

SECRET = "buildium-secret-value-8842"
VALID = {
    "PMSYNC_SOURCE_SYSTEM": "buildium",
    "PMSYNC_BUILDIUM_CLIENT_ID": "client-4711",
    "PMSYNC_BUILDIUM_CLIENT_SECRET": SECRET,
    "PMSYNC_BUILDIUM_STAFF_USER_ID": "900001",
    "PMSYNC_BUILDIUM_VENDOR_ID": "12",
}
PMSYNC = str(Path(sys.executable).with_name("pmsync"))


def configured(monkeypatch: pytest.MonkeyPatch, **variables: str) -> None:
    for name in [name for name in os.environ if name.startswith("PMSYNC_")]:
        monkeypatch.delenv(name)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)


def refusal(monkeypatch: pytest.MonkeyPatch, **variables: str) -> str:
    configured(monkeypatch, **variables)
    with pytest.raises(IntegrationNotConfigured) as refused:
        integration_from_environment()
    return str(refused.value)


def test_a_configured_buildium_integration_has_buildium_defaults_and_its_staff_user(monkeypatch):
    configured(monkeypatch, **VALID)

    integration = integration_from_environment()

    assert isinstance(integration.credentials, BuildiumCredentials)
    assert integration.base_url == "https://api.buildium.com"
    assert integration.credentials.staff_user_id == 900001 and integration.credentials.vendor_id == 12
    assert integration.integration_user == "900001" and integration.account == "client-4711"
    assert integration.max_requests_per_second == 10 and integration.backoff_seconds == 0.2
    assert integration.page_size == 1000 and integration.rules.source_system == "buildium"
    assert SECRET not in repr(integration.credentials) and SECRET not in repr(integration)
    assert set(integration.secrets()) == {SECRET, "client-4711"}
    client = integration.open_source()
    assert client.system == "buildium" and client.retry.backoff_base == 0.2 and SECRET not in repr(client)
    client.close()


def test_missing_settings_name_the_buildium_variables_only(monkeypatch):
    message = refusal(monkeypatch, PMSYNC_SOURCE_SYSTEM="buildium")
    for variable in ("PMSYNC_BUILDIUM_CLIENT_ID", "PMSYNC_BUILDIUM_CLIENT_SECRET", "PMSYNC_BUILDIUM_STAFF_USER_ID"):
        assert variable in message
    assert "PMSYNC_PW_" not in message and "PMSYNC_INTEGRATION_USER" not in message
    only_secret = refusal(monkeypatch, **{**VALID, "PMSYNC_BUILDIUM_CLIENT_SECRET": "  "})
    assert "PMSYNC_BUILDIUM_CLIENT_SECRET" in only_secret and "PMSYNC_BUILDIUM_CLIENT_ID" not in only_secret


@settings(max_examples=40, deadline=None)
@given(bad=st.one_of(st.sampled_from(["0", "-1", "2147483648", "1.5", "1e3", "abc", "９", "12 34"]),
                     st.text(min_size=1).filter(lambda text: not (text.strip().isascii() and text.strip().isdigit())
                                                and text.strip() and "\x00" not in text)))
def test_an_id_that_is_not_a_buildium_int32_is_refused_by_name_without_its_value(bad):
    with pytest.MonkeyPatch.context() as monkeypatch:
        for variable in ("PMSYNC_BUILDIUM_STAFF_USER_ID", "PMSYNC_BUILDIUM_VENDOR_ID"):
            message = refusal(monkeypatch, **{**VALID, variable: bad})
            assert variable in message
            assert f"'{bad}'" not in message and (len(bad.strip()) < 4 or bad.strip() not in message)


@pytest.mark.parametrize("variable", ["PMSYNC_BUILDIUM_CLIENT_ID", "PMSYNC_BUILDIUM_CLIENT_SECRET"])
def test_a_credential_that_cannot_go_in_a_header_is_refused_without_its_value(monkeypatch, variable):
    value = "secret part\r\nX-Injected: yes"
    message = refusal(monkeypatch, **{**VALID, variable: value})
    assert variable in message and "secret part" not in message and "Injected" not in message


@pytest.mark.parametrize("url, problem", [
    ("http://api.buildium.com", "https"),
    ("https://user:pw@api.buildium.com", "user or password"),
    ("not a url", "PMSYNC_BUILDIUM_BASE_URL"),
])
def test_a_base_url_credentials_must_not_go_to_is_refused(monkeypatch, url, problem):
    message = refusal(monkeypatch, **{**VALID, "PMSYNC_BUILDIUM_BASE_URL": url})
    assert "PMSYNC_BUILDIUM_BASE_URL" in message and problem in message


@pytest.mark.parametrize("variable, value", [("PMSYNC_BUILDIUM_PAGE_SIZE", "1001"), ("PMSYNC_BUILDIUM_PAGE_SIZE", "0"),
                                             ("PMSYNC_BUILDIUM_MAX_REQUESTS_PER_SECOND", "0"),
                                             ("PMSYNC_BUILDIUM_BACKOFF_SECONDS", "-1")])
def test_tuning_outside_what_buildium_takes_is_refused_by_name(monkeypatch, variable, value):
    assert variable in refusal(monkeypatch, **{**VALID, variable: value})


def test_credentials_keep_the_secret_a_secret():
    credentials = package_of("buildium").credentials(base_url="https://api.buildium.com", client_id="c",
                                                     client_secret=SECRET, staff_user_id=1)
    assert isinstance(credentials.client_secret, SecretStr) and SECRET not in repr(credentials)
    assert SECRET in credentials.secrets()


def test_a_command_missing_a_buildium_setting_exits_as_configuration_naming_it(tmp_path):
    env = {name: value for name, value in os.environ.items() if not name.startswith(("PMSYNC_", "PREFECT_API_URL"))}
    env.update({**VALID, "PMSYNC_BUILDIUM_STAFF_USER_ID": "", "PMSYNC_DATABASE_URL": f"sqlite:///{tmp_path}/p.db"})

    failed = subprocess.run([PMSYNC, "sync", "initial"], env=env, cwd=tmp_path, capture_output=True, text=True,
                            timeout=300)

    assert failed.returncode == 2, failed.stderr[-2000:]
    assert "PMSYNC_BUILDIUM_STAFF_USER_ID" in failed.stderr and SECRET not in failed.stderr + failed.stdout


def test_integration_add_refuses_propertyware_options_for_a_buildium_rule_table(tmp_path):
    env = {name: value for name, value in os.environ.items() if not name.startswith(("PMSYNC_", "PREFECT_API_URL"))}
    env["PMSYNC_ADD_CLIENT_SECRET"] = SECRET

    refused = subprocess.run([PMSYNC, "integration", "add", "lakeside", "--base-url", "https://api.buildium.com",
                              "--client-id", "c", "--system-id", "s", "--integration-user", "900001",
                              "--source-system", "buildium"], env=env, cwd=tmp_path, capture_output=True, text=True,
                             timeout=300)

    assert refused.returncode == 2, refused.stderr[-2000:]
    assert "Buildium Integration block" in refused.stderr and SECRET not in refused.stderr + refused.stdout
