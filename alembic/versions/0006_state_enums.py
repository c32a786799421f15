"""state enums: CHECK constraints on every state column (studies, trials, attempts, workers,
finalizations), so that a state outside its enum is refused by the database itself

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 11:00:00

The columns stay VARCHAR(16) (native_enum=False in the models): SQLite and PostgreSQL store
the same, and the stored values already conform, so upgrade only adds the constraints.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# table, column, constraint name (as the models' naming convention renders it), states
CHECKS: list[tuple[str, str, str, tuple[str, ...]]] = [
    ("studies", "state", "studystate", ("running", "paused", "stopped", "complete")),
    ("trials", "state", "trialstate", ("queued", "running", "complete", "pruned", "failed")),
    (
        "trial_attempts",
        "outcome",
        "attemptoutcome",
        ("running", "complete", "pruned", "failed", "expired", "released", "superseded"),
    ),
    ("workers", "state", "workerstate", ("idle", "busy", "lost", "exited")),
    ("finalizations", "state", "finalizationstate", ("queued", "running", "complete", "failed")),
]


@contextmanager
def _foreign_keys_off() -> Iterator[None]:
    """SQLite adds a CHECK only by rebuilding the table (batch mode): copy, DROP, rename. With
    foreign keys on, that DROP would cascade and delete every trial of the studies table (and
    the attempts of the trials table). The pragma is ignored inside a transaction, so the
    revisions applied before this one are committed first, as they would be one by one."""
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        yield
        return
    dbapi = bind.connection.dbapi_connection
    assert dbapi is not None
    dbapi.commit()
    dbapi.execute("PRAGMA foreign_keys=OFF")
    try:
        yield
    finally:
        dbapi.commit()
        dbapi.execute("PRAGMA foreign_keys=ON")


def upgrade() -> None:
    with _foreign_keys_off():
        for table, column, name, states in CHECKS:
            allowed = ", ".join(f"'{s}'" for s in states)
            with op.batch_alter_table(table, schema=None) as batch_op:
                batch_op.create_check_constraint(
                    op.f(f"ck_{table}_{name}"), f"{column} IN ({allowed})"
                )


def downgrade() -> None:
    with _foreign_keys_off():
        for table, _column, name, _states in reversed(CHECKS):
            with op.batch_alter_table(table, schema=None) as batch_op:
                batch_op.drop_constraint(op.f(f"ck_{table}_{name}"), type_="check")
