"""Server settings, read once per process from PARZEN_* environment variables."""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Docker and Compose secrets appear as files here: /run/secrets/parzen_admin_token is read as
# PARZEN_ADMIN_TOKEN (pydantic-settings' secrets_dir; the environment still wins). Only named
# when it exists, since pydantic-settings warns about a missing one in every process.
SECRETS_DIR = Path("/run/secrets")


def secrets_dir(path: Path = SECRETS_DIR) -> Path | None:
    return path if path.is_dir() else None


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="PARZEN_", env_file=".env", extra="ignore", secrets_dir=secrets_dir()
    )

    database_url: str = Field(
        "sqlite:///parzen.db",
        description="SQLAlchemy URL: sqlite:///path.db, or postgresql+psycopg://user@host/db.",
    )
    host: str = Field("127.0.0.1", description="Address `parzen server` binds to.")
    port: int = Field(8000, description="Port `parzen server` listens on.")
    auth: bool = Field(
        True,
        description="Require bearer tokens; may be off only on a loopback host (local mode).",
    )
    admin_token: str | None = Field(
        None, description="A first admin token, registered (hashed) at start-up."
    )
    lease_seconds: float = Field(
        60.0, gt=0, description="Default lease of a running trial; reports and heartbeats renew it."
    )
    max_attempts: int = Field(
        3, ge=1, description="Default attempts per trial before a lost trial is failed."
    )
    reaper_interval: float = Field(
        5.0, gt=0, description="Seconds between sweeps that requeue trials with expired leases."
    )
    artifact_dir: Path = Field(Path("artifacts"), description="Directory of the artifact store.")
    test_budget: int = Field(
        3, ge=1, description="Uses of a study's test split before finalizing needs an override."
    )

    @model_validator(mode="after")
    def _refuse_open_server(self) -> Settings:
        if not self.auth and not _is_loopback(self.host):
            raise ValueError(
                f"PARZEN_AUTH=false is only allowed on a loopback host, not {self.host!r}: "
                "set PARZEN_HOST=127.0.0.1 or turn auth back on."
            )
        return self


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@lru_cache
def get_settings() -> Settings:
    return Settings()
