"""PostgreSQL pool sizes come from the settings: a fleet of replicas sized against the
server's max_connections fails this if PARZEN_DB_POOL_SIZE / PARZEN_DB_MAX_OVERFLOW are lost."""

from __future__ import annotations

from sqlalchemy.pool import QueuePool

from parzen.service.config import Settings
from parzen.service.main import create_app
from tests.conftest import POSTGRES_URL


def test_the_app_sizes_its_pool_from_the_settings(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("PARZEN_DB_POOL_SIZE", "3")
    monkeypatch.setenv("PARZEN_DB_MAX_OVERFLOW", "4")
    settings = Settings(database_url=POSTGRES_URL)
    pool = create_app(settings).state.storage.engine.pool
    assert isinstance(pool, QueuePool)
    assert (pool.size(), pool._max_overflow) == (3, 4)


def test_default_pool_sizes_are_unchanged() -> None:
    pool = create_app(Settings(database_url=POSTGRES_URL)).state.storage.engine.pool
    assert isinstance(pool, QueuePool) and (pool.size(), pool._max_overflow) == (10, 20)
