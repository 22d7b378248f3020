"""The security register: incidents at facilities, depots and routes, and depot posture.

Separate tables: the reserve ledger's events and hash chain are untouched.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "security_incidents",
        sa.Column("incident_id", sa.String(32), primary_key=True),
        sa.Column("site_kind", sa.String(20), nullable=False),
        sa.Column("site", sa.String(64), nullable=False),
        sa.Column("country", sa.String(3), nullable=False),
        sa.Column("stage", sa.String(20), nullable=False),
        sa.Column("mineral", sa.String(64), nullable=True),
        sa.Column("threat", sa.String(30), nullable=False),
        sa.Column("date", sa.String(10), nullable=False),
        sa.Column("severity", sa.Float, nullable=True),
        sa.Column("duration_days", sa.Float, nullable=True),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("recorded_by", sa.String(100), nullable=False),
        sa.Column("recorded_at", sa.String(40), nullable=False),
    )
    op.create_index("ix_security_incidents_node", "security_incidents", ["country", "stage"])
    op.create_table(
        "depot_security",
        sa.Column("location", sa.String(64), primary_key=True),
        sa.Column("posture", sa.String(20), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("recorded_by", sa.String(100), nullable=False),
        sa.Column("recorded_at", sa.String(40), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("depot_security")
    op.drop_index("ix_security_incidents_node", "security_incidents")
    op.drop_table("security_incidents")
