"""Migrations are the only way the schema is made: head must match the models exactly, and
a migration that fills a new column fills it as the code would."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from parzen.service.db.base import utcnow
from parzen.service.db.engine import make_engine
from parzen.service.db.migrate import upgrade
from parzen.service.db.models import Base
from parzen.service.storage.rungs import configuration_key
from tests.conftest import own_postgres_database


def test_migrated_database_matches_the_models(database_url: str) -> None:
    engine = make_engine(database_url)  # the fixture's database is migrated to head
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
        assert {
            "studies",
            "trials",
            "trial_attempts",
            "intermediate_values",
            "tokens",
            "workers",
            "alembic_version",
        } <= set(inspect(conn).get_table_names())
    engine.dispose()


def test_sqlite_runs_in_wal_mode(tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000  # short, then 503
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    with own_postgres_database("migrate") as url:
        yield url


def test_rung_entries_stored_before_0007_get_their_trials_configuration(
    empty_database: str,
) -> None:
    """If this fails, a database upgraded past 0007 keeps rung entries without the key (the
    upgrade stops on NOT NULL) or with another key than new entries of the same
    configuration get, so the rung counts one configuration twice after the upgrade."""
    upgrade(empty_database, "0006")
    engine = make_engine(empty_database)
    now = utcnow()
    vals = {"units": 3, "layer": {"index": 1, "width": 0.25}}
    with engine.begin() as conn:
        study = {
            "name": "old", "direction": "minimize", "metric": "val_loss", "space": "{}",
            "algorithm": "tpe", "algorithm_settings": "{}", "pruner": '{"type": "asha"}',
            "objective": "{}", "seed": 1, "max_trials": 10, "max_parallel": 1,
            "lease_seconds": 60.0, "max_attempts": 3, "state": "running", "trial_counter": 1,
            "change_seq": 1, "created_at": now, "updated_at": now,
        }  # fmt: skip
        conn.execute(text(_insert("studies", study)), study)
        trial = {
            "study_id": 1, "number": 1, "state": "pruned", "vals": json.dumps(vals),
            "params": "{}", "metrics": "{}", "attempt": 1, "expirations": 0,
            "change_seq": 1, "created_at": now,
        }  # fmt: skip
        conn.execute(text(_insert("trials", trial)), trial)
        entry = {
            "study_id": 1, "trial_id": 1, "bracket": 0, "epoch": 1, "attempt": 1,
            "value": 0.5, "keep": False, "created_at": now,
        }  # fmt: skip
        conn.execute(text(_insert("rung_entries", entry)), entry)
    upgrade(empty_database)
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT configuration FROM rung_entries")).scalar_one()
    engine.dispose()
    assert stored == configuration_key(vals)


def _insert(table: str, row: dict[str, object]) -> str:
    return f"INSERT INTO {table} ({', '.join(row)}) VALUES ({', '.join(f':{k}' for k in row)})"
