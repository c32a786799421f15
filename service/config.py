"""Server settings, read once per process from PARZEN_* environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from parzen.service.access import is_loopback

MIN_TOKEN_LENGTH = 16
MAKE_A_TOKEN = "python -c 'import secrets; print(secrets.token_urlsafe(32))'"

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
        description="Require bearer tokens; off (local mode) serves loopback clients only.",
    )
    admin_token: str | None = Field(
        None,
        description=f"A first admin token (at least {MIN_TOKEN_LENGTH} characters), "
        "registered (hashed) at start-up.",
    )
    auth_failures_per_minute: int = Field(
        20,
        ge=1,
        description="Failed tokens a client address may send in a minute before it gets 429.",
    )
    token_cache_seconds: float = Field(
        5.0,
        ge=0,
        description="Seconds a server process trusts a token it authenticated without asking "
        "the database again: a revocation reaches other replicas within this time (0: never "
        "cached).",
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
    artifact_dir: Path = Field(
        Path("artifacts"), description="Directory of the artifact store (when no artifact URL)."
    )
    artifact_url: str | None = Field(
        None,
        description="s3://bucket/prefix: artifacts in an S3-compatible store shared by replicas.",
    )
    s3_endpoint_url: str | None = Field(
        None, description="Endpoint of the object store when it is not AWS S3 (MinIO, ...)."
    )
    max_body_bytes: int = Field(
        2**20,
        ge=1024,
        description="Largest request body accepted (413 beyond); checkpoint uploads are exempt.",
    )
    test_budget: int = Field(
        3, ge=1, description="Uses of a study's test split before finalizing needs an override."
    )
    migrate: bool = Field(
        True,
        description="Migrate the database at start-up (under a lock, so replicas migrate once); "
        "false: refuse to start on an old schema, for deployments where `parzen migrate` runs "
        "once.",
    )
    db_pool_size: int = Field(
        10, ge=1, description="PostgreSQL connections each server process keeps open."
    )
    db_max_overflow: int = Field(
        20, ge=0, description="PostgreSQL connections a process may open beyond the pool."
    )

    @field_validator("admin_token")
    @classmethod
    def _long_enough(cls, token: str | None) -> str | None:
        # a short token can be guessed however slowly failures are let through
        if token is not None and len(token) < MIN_TOKEN_LENGTH:
            raise ValueError(
                f"PARZEN_ADMIN_TOKEN must be at least {MIN_TOKEN_LENGTH} characters, "
                f"not {len(token)}: make one with {MAKE_A_TOKEN}"
            )
        return token

    @field_validator("artifact_url")
    @classmethod
    def _s3_url(cls, url: str | None) -> str | None:
        if url and (not url.startswith("s3://") or not url[5:].split("/")[0]):
            raise ValueError(f"PARZEN_ARTIFACT_URL must look like s3://bucket/prefix, not {url!r}")
        return url or None

    @model_validator(mode="after")
    def _refuse_open_server(self) -> Settings:
        if not self.auth and not is_loopback(self.host):
            raise ValueError(
                f"PARZEN_AUTH=false is only allowed on a loopback host, not {self.host!r}: "
                "set PARZEN_HOST=127.0.0.1 or turn auth back on."
            )
        return self


@lru_cache
def get_settings() -> Settings:
    return Settings()
