"""Propertyware's account settings: base URL, client id, secret and system id (the account), and which are secret."""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import SecretStr

EXAMPLE_BASE_URL = "https://api.propertyware.com/pw/api/rest/v1"


@dataclass(frozen=True)
class PropertywareCredentials:
    """One Propertyware account: its API base URL, the client id and secret that sign every request (headers), and
    the system id that names the account."""

    base_url: str
    client_id: str
    client_secret: SecretStr = field(repr=False)
    system_id: str

    def __post_init__(self) -> None:
        if not isinstance(self.client_secret, SecretStr):
            object.__setattr__(self, "client_secret", SecretStr(self.client_secret))

    @property
    def account(self) -> str:
        return self.system_id

    def secrets(self) -> list[str]:
        """The client secret and id: the scrubber removes both from run errors."""
        return [self.client_secret.get_secret_value(), self.client_id]
