"""Which integrations a Reports server shows, and where each one's pages live: `/integrations/{name}/…`."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from urllib.parse import quote

from fastapi import Path
from sqlalchemy import Engine, select

from schemas.tables import integrations

PREFIX = "/integrations/{integration}"
"""Every page of one integration hangs under this path; a section's router is included with it as its prefix."""
INTEGRATION = Path(description="The integration's name on the platform (the picker at / lists them).")


def integration_url(name: str, rest: str = "") -> str:
    """The path of one of the integration's pages (`rest` is the part after its prefix, e.g. `snapshots/4`)."""
    return f"/integrations/{quote(name, safe='')}/{rest}"


class UnknownIntegration(LookupError):
    """A URL names an integration this server does not show; `known` are the ones it does."""

    def __init__(self, known: list[str]) -> None:
        super().__init__("no such integration")
        self.known = known


@dataclass(frozen=True)
class IntegrationScope:
    """The integrations of one Reports server: every one on the platform, or only the operator's `only`
    (`pmsync reports serve --integration NAME`), whose pages are served even before a sync has registered it."""

    engine: Engine
    only: str | None = None

    def names(self) -> list[str]:
        """The integrations this server shows, by name."""
        if self.only is not None:
            return [self.only]
        with self.engine.connect() as connection:
            return list(connection.execute(select(integrations.c.name).order_by(integrations.c.name)).scalars())

    def resolve(self, name: str) -> str:
        """The integration a URL names, when this server shows it (a bound parameter: the name reaches no SQL text);
        UnknownIntegration otherwise."""
        if self.only is not None:
            if name == self.only:
                return name
            raise UnknownIntegration([self.only])
        with self.engine.connect() as connection:
            found = connection.execute(select(integrations.c.name).where(integrations.c.name == name)).scalar()
        if found is None:
            raise UnknownIntegration(self.names())
        return found

    def dependency(self):
        """A FastAPI dependency giving the `{integration}` of the path, resolved (a 404 page when unknown)."""

        def integration_of(integration: str = INTEGRATION) -> str:
            return self.resolve(integration)

        return integration_of


def integration_links(names: list[str], rest: str = "", link_id: str = "integrations") -> str:
    """A list linking each integration's page (`rest` after its prefix), names escaped; a sentence when none."""
    if not names:
        return (f'<p id="{link_id}-none">No integration is on the platform yet: add one with <code>pmsync integration '
                "add NAME</code> (its first sync registers it).</p>")
    items = "".join(
        f'<li><a class="integration" href="{escape(integration_url(name, rest), quote=True)}">{escape(name)}</a></li>'
        for name in names
    )
    return f'<ul id="{link_id}">{items}</ul>'
