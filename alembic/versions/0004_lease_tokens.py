"""lease tokens: every attempt knows its holder, every worker the token that registered it

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 23:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Attempts started before this revision have no token: no write can name them, so their
    # trials finish by lease expiry and are handed out again with a token.
    with op.batch_alter_table("trial_attempts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lease_token_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("token_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("artifact", sa.String(length=500), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_trial_attempts_lease_token_hash"), ["lease_token_hash"], unique=True
        )
    with op.batch_alter_table("workers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("token_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("workers", schema=None) as batch_op:
        batch_op.drop_column("token_id")
    with op.batch_alter_table("trial_attempts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_trial_attempts_lease_token_hash"))
        batch_op.drop_column("artifact")
        batch_op.drop_column("token_id")
        batch_op.drop_column("lease_token_hash")
