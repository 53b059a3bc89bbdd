"""What makes two configurations one source account: the vendor (not the rule table), the base URL's host[:port] (not
its case, default port or path) and the system id; and where it is configured, unless that was never recorded."""

from __future__ import annotations

from dataclasses import replace

import pytest
from pydantic import SecretStr

from pmsync.integrations.identity import IntegrationNeedsRepoint, differences, identity_of, run_remedy, source_host
from pmsync.integrations.integration import CONFIGURED_IN_BLOCK, Integration
from pmsync.sync.rules import CONTACT_UPDATING_RULES, PROPERTYWARE_RULES

ACCOUNT = Integration("acme", "https://api.propertyware.com/pw/api/rest/v1", "client-id-1", SecretStr("s3cret-value"),
                      "1001", "sync@acme.example")


@pytest.mark.parametrize(("url", "host"), [
    ("https://api.propertyware.com/pw/api/rest/v1", "api.propertyware.com"),
    ("HTTPS://API.PropertyWare.com:443/pw/api/rest/v1/", "api.propertyware.com"),
    ("https://api.propertyware.com/other/path", "api.propertyware.com"),
    ("http://127.0.0.1:8765/pw/api/rest/v1", "127.0.0.1:8765"),
    ("http://127.0.0.1:80/pw", "127.0.0.1"),
    ("https://api.propertyware.com:8443/pw", "api.propertyware.com:8443"),
    ("http://user:pw@[::1]:9000/pw", "[::1]:9000"),
])
def test_the_host_is_lowercase_without_the_default_port_path_or_user(url, host):
    assert source_host(url) == host


def test_the_rule_tables_of_one_vendor_are_one_account_and_a_path_or_user_change_is_not_another():
    assert PROPERTYWARE_RULES.vendor == CONTACT_UPDATING_RULES.vendor == "propertyware"
    same = replace(ACCOUNT, source_system="propertyware-contact-updates", integration_user="other@acme.example",
                   base_url="https://API.propertyware.com/pw/api/rest/v2/", client_id="client-id-2",
                   client_secret=SecretStr("other"))

    assert differences(identity_of(ACCOUNT), identity_of(same)) == []


def test_another_host_system_id_or_place_is_another_identity_and_an_unrecorded_place_is_none():
    registered = identity_of(ACCOUNT)

    assert differences(registered, identity_of(replace(ACCOUNT, base_url="https://api.other.example/pw"))) == ["host"]
    assert differences(registered, identity_of(replace(ACCOUNT, system_id="1002"))) == ["system id"]
    assert differences(registered, identity_of(replace(ACCOUNT, configured_in=CONFIGURED_IN_BLOCK))) == [
        "where it is configured"]
    assert differences(replace(registered, configured_in=None), identity_of(replace(ACCOUNT, configured_in="block"))) == []


def test_the_refusal_names_both_identities_and_the_command_never_a_credential():
    other = replace(ACCOUNT, base_url="https://api.other.example/pw", system_id="77", configured_in=CONFIGURED_IN_BLOCK)

    refusal = IntegrationNeedsRepoint("acme", identity_of(ACCOUNT), identity_of(other), run_remedy("acme", "block"))

    assert str(refusal).startswith(
        "integration 'acme' is bound on the platform to propertyware system id 1001 at api.propertyware.com, configured "
        "in the environment, but this configuration names propertyware system id 77 at api.other.example, configured in "
        "the block (host, system id, where it is configured differ); the run read and wrote nothing. If acme is to sync "
        "that account from now on, `pmsync integration repoint acme --to block` binds it")
    assert "client-id" not in str(refusal) and "s3cret" not in str(refusal)
    assert refusal.facts["registered_host"] == "api.propertyware.com" and refusal.facts["configured_in"] == "block"
