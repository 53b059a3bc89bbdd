"""`pmsync integration add --source-system buildium` before any server is asked: the Buildium block's own options,
another vendor's refused, a missing one named before the secret is asked for, bad values named (exit 2) and the
secret never shown; PMSYNC_BUILDIUM_MAX_ATTEMPTS/CONCURRENCY tune Buildium integrations only."""

from __future__ import annotations

import pytest

from pmsync.cli.common import EXIT_CONFIGURATION
from pmsync.integrations.integration import integration_from_environment
from tests.unit.test_buildium_settings import VALID, configured, refusal
from tests.unit.test_cli_integration import home, run  # noqa: F401  (home is a fixture)

SECRET = "Buildium-s3cret-value-5521"
BUILDIUM = ["--source-system", "buildium", "--client-id", "client-4711", "--staff-user-id", "900001"]


def add(*args: str, home, secret: str | None = SECRET):
    return run("integration", "add", "lakeside", *args, home=home,
               env={"PMSYNC_ADD_CLIENT_SECRET": secret} if secret is not None else None)


def test_help_names_the_buildium_options(home):
    shown = run("integration", "add", "--help", home=home)

    assert shown.returncode == 0
    for option in ("--staff-user-id", "--vendor-id", "--concurrency", "--max-requests-per-second", "buildium"):
        assert option in shown.stdout, option


def test_valid_buildium_settings_go_on_to_need_a_prefect_server_and_the_secret_stays_unshown(home):
    defaults = add(*BUILDIUM, home=home)
    everything = add(*BUILDIUM, "--vendor-id", "12", "--base-url", "https://api.buildium.com", "--concurrency", "2",
                     "--max-requests-per-second", "8", home=home)

    for done in (defaults, everything):
        assert done.returncode == EXIT_CONFIGURATION and "no Prefect server configured" in done.stderr, done.stderr
        assert SECRET not in done.stdout + done.stderr


@pytest.mark.parametrize("extra, named", [
    (["--system-id", "42"], "--system-id"),
    (["--integration-user", "sync@example.com"], "--integration-user"),
])
def test_an_option_of_another_vendors_block_is_refused_naming_it(extra, named, home):
    refused = add(*BUILDIUM, *extra, home=home)

    assert refused.returncode == EXIT_CONFIGURATION and refused.stdout == ""
    assert refused.stderr.startswith(f"error: {named} is not a setting of a Buildium Integration block"), refused.stderr
    assert "--staff-user-id" in refused.stderr and SECRET not in refused.stderr


def test_buildium_options_are_refused_for_a_propertyware_rule_table(home):
    refused = add("--base-url", "https://api.propertyware.com/pw/api/rest/v1", "--client-id", "c", "--system-id", "1",
                  "--integration-user", "sync@example.com", "--staff-user-id", "7", home=home)

    assert refused.returncode == EXIT_CONFIGURATION
    assert refused.stderr.startswith("error: --staff-user-id is not a setting of a Propertyware Integration block")


@pytest.mark.parametrize("dropped", ["--client-id", "--staff-user-id"])
def test_a_missing_buildium_option_is_named_before_the_secret_is_asked_for(dropped, home):
    given = [part for index, part in enumerate(BUILDIUM)
             if part != dropped and (index == 0 or BUILDIUM[index - 1] != dropped)]

    refused = add(*given, home=home, secret=None)  # no secret and no terminal: the missing option is said first

    assert refused.returncode == EXIT_CONFIGURATION
    assert refused.stderr.strip() == (f"error: missing {dropped}: a Buildium Integration block needs them "
                                      "(--source-system buildium)")


@pytest.mark.parametrize("extra, problem", [
    (["--base-url", "http://api.buildium.com"], "base_url must use https"),
    (["--base-url", "ftp://api.buildium.com"], "base_url must be an https URL such as https://api.buildium.com"),
    (["--base-url", "https://user:pw@api.buildium.com"], "must not carry a user or password"),
    (["--staff-user-id", "0"], "staff_user_id: Input should be greater than 0"),
    (["--staff-user-id", str(2**31)], "staff_user_id: Input should be less than or equal to 2147483647"),
    (["--vendor-id", "-3"], "vendor_id: Input should be greater than 0"),
    (["--concurrency", "9"], "concurrency must be a whole number from 1 to 4"),
    (["--max-requests-per-second", "0"], "max_requests_per_second must be a number above 0"),
    (["--client-id", "two words"], "client_id contains whitespace"),
])
def test_a_value_buildium_cannot_take_is_named_with_exit_2(extra, problem, home):
    refused = add(*BUILDIUM, *extra, home=home)

    assert refused.returncode == EXIT_CONFIGURATION, refused.stderr
    assert refused.stderr.startswith("error: the integration's settings are not valid: ") and problem in refused.stderr
    assert SECRET not in refused.stdout + refused.stderr


@pytest.mark.parametrize("secret", [f"{SECRET} tail", f"{SECRET}\r\nX-Injected: 1"])
def test_a_buildium_secret_the_block_refuses_is_named_never_echoed(secret, home):
    for given in (["--client-secret", secret], []):
        refused = run("integration", "add", "lakeside", *BUILDIUM, *given, home=home,
                      env=None if given else {"PMSYNC_ADD_CLIENT_SECRET": secret})

        assert refused.returncode == EXIT_CONFIGURATION, refused.stderr
        assert refused.stderr.startswith("error: the integration's settings are not valid: client_secret: ")
        assert SECRET not in refused.stdout + refused.stderr and "Injected" not in refused.stderr


def test_without_a_secret_or_a_terminal_a_buildium_add_says_where_to_give_it(home):
    refused = add(*BUILDIUM, home=home, secret=None)

    assert refused.returncode == EXIT_CONFIGURATION
    assert refused.stderr.strip() == ("error: no client secret: set PMSYNC_ADD_CLIENT_SECRET (or pass --client-secret); "
                                      "there is no terminal to ask in")


def test_an_unknown_rule_table_names_every_vendors(home):
    refused = add("--source-system", "yardi", "--client-id", "c", home=home)

    assert refused.returncode == EXIT_CONFIGURATION
    assert refused.stderr.strip() == ("error: --source-system 'yardi' is unknown; use one of: propertyware, "
                                      "propertyware-contact-updates, buildium")


def test_buildium_has_its_own_retries_and_pages_in_flight(monkeypatch):
    configured(monkeypatch, **VALID, PMSYNC_PW_MAX_ATTEMPTS="3", PMSYNC_PW_CONCURRENCY="4")
    defaults = integration_from_environment()
    configured(monkeypatch, **VALID, PMSYNC_BUILDIUM_MAX_ATTEMPTS="11", PMSYNC_BUILDIUM_CONCURRENCY="3")
    tuned = integration_from_environment()

    assert (defaults.max_attempts, defaults.concurrency) == (8, 2)
    assert (tuned.max_attempts, tuned.concurrency) == (11, 3)
    client = tuned.open_source()
    try:
        assert client.retry.max_attempts == 11
    finally:
        client.close()


@pytest.mark.parametrize("variable, value", [("PMSYNC_BUILDIUM_MAX_ATTEMPTS", "0"), ("PMSYNC_BUILDIUM_MAX_ATTEMPTS", "21"),
                                             ("PMSYNC_BUILDIUM_CONCURRENCY", "0"), ("PMSYNC_BUILDIUM_CONCURRENCY", "5")])
def test_buildium_retries_and_pages_in_flight_outside_their_bounds_are_refused_by_name(monkeypatch, variable, value):
    message = refusal(monkeypatch, **{**VALID, variable: value})

    assert variable in message and "PMSYNC_PW_" not in message


@pytest.mark.parametrize("blank", ["PMSYNC_BUILDIUM_CLIENT_ID", "PMSYNC_BUILDIUM_CLIENT_SECRET",
                                   "PMSYNC_BUILDIUM_STAFF_USER_ID"])
def test_a_blank_buildium_credential_exits_2_with_propertywares_line_and_never_the_secret(blank, tmp_path, home):
    variables = {**VALID, "PMSYNC_BUILDIUM_CLIENT_SECRET": SECRET, blank: "",
                 "PMSYNC_DATABASE_URL": f"sqlite:///{tmp_path}/platform.db"}

    failed = run("sync", "initial", env=variables, home=home)

    assert failed.returncode == EXIT_CONFIGURATION, failed.stderr[-2000:]
    assert failed.stdout == ""
    assert failed.stderr.strip() == f"error: set {blank} (the default integration needs them)"
    assert SECRET not in failed.stderr
