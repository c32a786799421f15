"""The state columns (service/db/models.py), over SQLite and PostgreSQL: a state outside its
enum is refused by the database's CHECK constraint (migration 0006), not stored to puzzle a
sampler or the dashboard later."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, StatementError

from parzen.service.db.models import Study, Trial, TrialState
from parzen.service.proposals import SamplerPool
from parzen.service.storage import Storage
from tests.service.factories import study_spec

STATE_COLUMNS = [
    ("studies", "state"),
    ("trials", "state"),
    ("trial_attempts", "outcome"),
    ("workers", "state"),
]


def _one_of_each(storage: Storage) -> None:
    storage.create_study(spec=study_spec())
    worker = storage.register_worker(host="h", pid=1, gpu=None, builders=[], datasets=[])
    assert storage.ask(study_name="study", worker_id=worker.id, proposer=SamplerPool()).trial


@pytest.mark.parametrize(("table", "column"), STATE_COLUMNS)
def test_the_database_refuses_a_state_outside_its_enum(
    storage: Storage, table: str, column: str
) -> None:
    """Without the CHECK constraint a raw write (a script, a bad migration) could store
    'runing', and no query by state would ever find that row again."""
    _one_of_each(storage)
    with pytest.raises(IntegrityError, match=r"(?i)check"), storage.engine.begin() as conn:
        conn.execute(text(f"UPDATE {table} SET {column} = 'bogus'"))
    with storage.engine.connect() as conn:  # nothing was applied
        assert "bogus" not in conn.execute(text(f"SELECT {column} FROM {table}")).scalars().all()


def test_the_database_refuses_a_finalization_in_an_unknown_state(storage: Storage) -> None:
    """The finalizations table has the same constraint (its rows are made by request only)."""
    storage.create_study(spec=study_spec())
    insert = text(
        "INSERT INTO finalizations (study_id, state, top_k, mode, rescore, candidates,"
        " requested_by, override, attempt, created_at)"
        " SELECT id, 'bogus', 1, 'checkpoint', 'auto', '[]', 'me', false, 0, CURRENT_TIMESTAMP"
        " FROM studies"
    )
    with pytest.raises(IntegrityError, match=r"(?i)check"), storage.engine.begin() as conn:
        conn.execute(insert)


def test_states_load_as_their_enum_and_a_bad_one_is_refused_before_sql(storage: Storage) -> None:
    """The ORM hands out TrialState members (so no cast is needed), and refuses an unknown
    string itself (validate_strings), before the database is asked."""
    _one_of_each(storage)
    with storage.session() as session:
        trial = session.query(Trial).one()
        assert trial.state is TrialState.RUNNING
        assert session.query(Study).one().state == "running"
    with pytest.raises(StatementError), storage.session() as session:
        session.query(Trial).one().state = "bogus"  # type: ignore[assignment]
        session.flush()
