"""Whether a Prefect server is configured, read where Prefect reads PREFECT_API_URL, without importing Prefect."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

API_URL = "PREFECT_API_URL"


def configured_api_url(cwd: Path | None = None) -> str | None:
    """PREFECT_API_URL as Prefect resolves it, highest priority first: the environment, `.env` and `prefect.toml`
    in the working directory, then the active profile. None (or empty) means no server is configured."""
    if API_URL in os.environ:
        return os.environ[API_URL] or None
    here = cwd or Path.cwd()
    for found in (_from_dotenv(here / ".env"), _from_prefect_toml(here / "prefect.toml"), _from_profile()):
        if found is not None:
            return found or None
    return None


def _from_dotenv(path: Path) -> str | None:
    if not path.is_file():
        return None
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        name, sep, value = line.strip().removeprefix("export ").partition("=")
        if sep and name.strip() == API_URL:
            return value.strip().strip("'\"")
    return None


def _from_prefect_toml(path: Path) -> str | None:
    if not path.is_file():
        return None
    api = _read_toml(path).get("api", {})
    url = api.get("url") if isinstance(api, dict) else None
    return str(url) if url is not None else None


def _from_profile() -> str | None:
    if os.environ.get("PREFECT_PROFILES_PATH"):
        path = Path(os.environ["PREFECT_PROFILES_PATH"])
    else:
        path = Path(os.environ.get("PREFECT_HOME") or Path.home() / ".prefect") / "profiles.toml"
    if not path.is_file():
        return None
    profiles = _read_toml(path)
    active = os.environ.get("PREFECT_PROFILE") or profiles.get("active")
    profile = profiles.get("profiles", {}).get(active, {}) if active else {}
    url = profile.get(API_URL) if isinstance(profile, dict) else None
    return str(url) if url is not None else None


def _read_toml(path: Path) -> dict:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError:
        return {}  # Prefect warns and ignores a profiles file it cannot read; any unreadable file counts as unset here
