"""pruning rungs: ASHA's rung entries, a trial's pruning reason, a budget in epochs

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 06:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rung_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("trial_id", sa.Integer(), nullable=False),
        sa.Column("bracket", sa.Integer(), nullable=False),
        sa.Column("epoch", sa.Integer(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("keep", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["study_id"],
            ["studies.id"],
            name=op.f("fk_rung_entries_study_id_studies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["trial_id"],
            ["trials.id"],
            name=op.f("fk_rung_entries_trial_id_trials"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rung_entries")),
        sa.UniqueConstraint("trial_id", "epoch", name=op.f("uq_rung_entries_trial_id")),
    )
    op.create_index("ix_rung_entries_rung", "rung_entries", ["study_id", "bracket", "epoch"])
    with op.batch_alter_table("trials", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pruned_reason", sa.Text(), nullable=True))
    with op.batch_alter_table("studies", schema=None) as batch_op:
        batch_op.add_column(sa.Column("max_epochs_total", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("studies", schema=None) as batch_op:
        batch_op.drop_column("max_epochs_total")
    with op.batch_alter_table("trials", schema=None) as batch_op:
        batch_op.drop_column("pruned_reason")
    op.drop_index("ix_rung_entries_rung", table_name="rung_entries")
    op.drop_table("rung_entries")
