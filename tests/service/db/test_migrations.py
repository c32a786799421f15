"""Migrations are the only way the schema is made: head must match the models exactly."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from parzen.service.db.engine import make_engine
from parzen.service.db.models import Base


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
