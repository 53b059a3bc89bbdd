"""An integration's identity: the source account it is bound to on the platform and where it is configured; a run, a
new block or an enrollment whose configuration names another one is refused until the integration is re-pointed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.engine import Connection, Row

from pmsync.source.registry import RULE_TABLES
from schemas.tables import integrations

if TYPE_CHECKING:
    from pmsync.integrations.integration import Integration

DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class SourceIdentity:
    """One source account as the platform tells accounts apart — the vendor, the base URL's host[:port] (lowercase;
    its path does not count) and the system id — and where its settings live (environment or block; None: registered
    before that was recorded). Never a credential."""

    vendor: str
    host: str
    system_id: str
    configured_in: str | None

    def __str__(self) -> str:
        where = f"the {self.configured_in}" if self.configured_in else "an unrecorded place"
        return f"{self.vendor} system id {self.system_id} at {self.host}, configured in {where}"


def source_host(base_url: str) -> str:
    """`host[:port]` of a base URL, lowercase, the scheme's default port left out (https://API.x:443/v1 → api.x)."""
    parts = urlsplit(base_url.strip())
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:  # not a number: keep it as written, so two such URLs still compare
        return parts.netloc.rpartition("@")[2].lower()
    return host if port is None or port == DEFAULT_PORTS.get(parts.scheme.lower()) else f"{host}:{port}"


def vendor_of(source_system: str) -> str:
    """The vendor of a rule table (the name itself for one this pmsync does not know)."""
    table = RULE_TABLES.get(source_system)
    return table.vendor if table is not None else source_system


def identity_of(integration: Integration) -> SourceIdentity:
    """The identity a configuration names."""
    return SourceIdentity(vendor_of(integration.source_system), source_host(integration.base_url),
                          integration.account.strip(), integration.configured_in)


def registered_identity(row: Any) -> SourceIdentity:
    """The identity an `integrations` row holds."""
    return SourceIdentity(vendor_of(row.source_system), source_host(row.base_url), row.system_id.strip(), row.configured_in)


def differences(registered: SourceIdentity, configured: SourceIdentity) -> list[str]:
    """What differs, by name; an unrecorded origin (a row registered before it was recorded) differs from none."""
    found = [label for label, field in (("vendor", "vendor"), ("host", "host"), ("system id", "system_id"))
             if getattr(registered, field) != getattr(configured, field)]
    if registered.configured_in is not None and registered.configured_in != configured.configured_in:
        found.append("where it is configured")
    return found


class IntegrationNeedsRepoint(Exception):
    """Fatal: the integration is bound on the platform to another source account, or is configured elsewhere, than
    the configuration at hand names; nothing was read or written. Re-point it (`pmsync integration repoint NAME`) if
    that account is meant, else fix the configuration or use another name."""

    def __init__(self, name: str, registered: SourceIdentity, configured: SourceIdentity, remedy: str):
        differ = differences(registered, configured)
        super().__init__(
            f"integration {name!r} is bound on the platform to {registered}, but this configuration names {configured} "
            f"({', '.join(differ)} differ{'s' if len(differ) == 1 else ''}); {remedy}"
        )
        self.facts = {"integration": name, "registered_host": registered.host, "registered_system_id": registered.system_id,
                      "registered_configured_in": registered.configured_in, "configured_host": configured.host,
                      "configured_system_id": configured.system_id, "configured_in": configured.configured_in}


def run_remedy(name: str, configured_in: str) -> str:
    """What to do when a run is refused: the command that re-points the integration, or what else to fix."""
    return (f"the run read and wrote nothing. If {name} is to sync that account from now on, `pmsync integration repoint "
            f"{name} --to {configured_in}` binds it (its rows are kept; its next sync applies every record again); "
            f"otherwise fix the {configured_in}'s settings or give it another name")


def registered_row(connection: Connection, name: str, *, lock: bool = False) -> Row | None:
    """The integration's row as its identity needs it (locked against a concurrent re-point when `lock`; a no-op on
    SQLite, whose writer holds the whole database)."""
    query = select(
        integrations.c.id, integrations.c.source_system, integrations.c.base_url, integrations.c.system_id,
        integrations.c.configured_in, integrations.c.removed_at,
    ).where(integrations.c.name == name)
    if lock:
        query = query.with_for_update(key_share=True)
    return connection.execute(query).one_or_none()


def refuse_other_identity(row: Row | None, integration: Integration, remedy: str) -> None:
    """Raise IntegrationNeedsRepoint when the registered row (None: not on the platform) names another identity."""
    if row is None:
        return
    registered, configured = registered_identity(row), identity_of(integration)
    if differences(registered, configured):
        raise IntegrationNeedsRepoint(integration.name, registered, configured, remedy)
