"""Buildium's account settings: base URL, client id and secret, the staff user and the default vendor; which are secret."""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import SecretStr

DEFAULT_BASE_URL = "https://api.buildium.com"


@dataclass(frozen=True)
class BuildiumCredentials:
    """One Buildium account: its API base URL, the client id and secret that sign every request (headers), the staff
    user the integration's work orders are assigned to, and the vendor a pushed work order names when the platform
    gave none. A Buildium API key belongs to one account, so the client id names it."""

    base_url: str
    client_id: str
    client_secret: SecretStr = field(repr=False)
    staff_user_id: int
    vendor_id: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.client_secret, SecretStr):
            object.__setattr__(self, "client_secret", SecretStr(self.client_secret))

    @property
    def account(self) -> str:
        return self.client_id

    def secrets(self) -> list[str]:
        """The client secret and id: the scrubber removes both from run errors."""
        return [self.client_secret.get_secret_value(), self.client_id]
