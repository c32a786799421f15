"""rung configuration: each rung entry carries its trial's configuration key, so that a
rung is read as (key, value) pairs, without loading and comparing every trial's `vals`

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 16:00:00

The key is what service/storage/rungs.py's `configuration_key` makes of the trial's vals
(SHA-256 of their sorted JSON); existing entries get theirs from their trials here.
"""

from __future__ import annotations

import hashlib
import json

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_entries = sa.table(
    "rung_entries",
    sa.column("id", sa.Integer()),
    sa.column("trial_id", sa.Integer()),
    sa.column("configuration", sa.String(64)),
)
_trials = sa.table("trials", sa.column("id", sa.Integer()), sa.column("vals", sa.JSON()))


def _key(vals: object) -> str:
    # A copy of rungs.configuration_key as it is today: a migration must not change with it.
    return hashlib.sha256(json.dumps(vals, sort_keys=True).encode()).hexdigest()


def upgrade() -> None:
    with op.batch_alter_table("rung_entries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("configuration", sa.String(64), nullable=True))
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(_entries.c.id, _trials.c.vals).join(_trials, _trials.c.id == _entries.c.trial_id)
    ).all()
    if rows:
        bind.execute(
            sa.update(_entries)
            .where(_entries.c.id == sa.bindparam("entry_id"))
            .values(configuration=sa.bindparam("key")),
            [{"entry_id": entry_id, "key": _key(vals)} for entry_id, vals in rows],
        )
    with op.batch_alter_table("rung_entries", schema=None) as batch_op:
        batch_op.alter_column("configuration", existing_type=sa.String(64), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("rung_entries", schema=None) as batch_op:
        batch_op.drop_column("configuration")
