"""Accounts, the owner of every record, and the access log.

* ``users``: one row per account (a name, a role ``clinician`` or ``admin``, an argon2 hash of the
  password; never the password itself).
* ``user_tokens``: the SHA-256 of each browser session and API token a user holds, with its kind
  and expiry; deleted with the user.
* ``owner`` on ``assessments`` and ``interview_sessions``: the id of the user a record belongs to.
  Rows saved before this revision belong to the one local owner (``local``), the owner of every
  record when no account is configured; once accounts exist they are visible to admins only.
* ``access_log``: who created, read, updated or deleted which record, shaped as a FHIR
  ``AuditEvent`` (recorded time, action, agent, entity, outcome). It holds ids, never a finding.

The migration runs inside the one transaction of :func:`pinchpoint.service.store.upgrade`.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_LOCAL_OWNER = "local"


def upgrade() -> None:
    """Create the accounts and the access log; give every saved record its owner."""
    op.create_table(
        "users",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "user_tokens",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.String(32), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_user_tokens_user_id", "user_tokens", ["user_id"])
    op.create_table(
        "access_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("recorded", sa.DateTime(timezone=True), nullable=False),
        sa.Column("action", sa.String(1), nullable=False),
        sa.Column("agent_id", sa.String(64), nullable=False),
        sa.Column("agent_name", sa.String(200), nullable=False),
        sa.Column("address", sa.String(64), nullable=True),
        sa.Column("entity_type", sa.String(32), nullable=False),
        sa.Column("entity_id", sa.String(64), nullable=True),
        sa.Column("outcome", sa.String(2), nullable=False),
    )
    op.create_index("ix_access_log_recorded", "access_log", ["recorded"])
    for table in ("assessments", "interview_sessions"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("owner", sa.String(32), nullable=False, server_default=_LOCAL_OWNER))
        op.create_index(f"ix_{table}_owner", table, ["owner"])


def downgrade() -> None:
    """Drop the owners, the access log and the accounts."""
    for table in ("interview_sessions", "assessments"):
        op.drop_index(f"ix_{table}_owner", table_name=table)
        with op.batch_alter_table(table) as batch:
            batch.drop_column("owner")
    op.drop_index("ix_access_log_recorded", table_name="access_log")
    op.drop_table("access_log")
    op.drop_index("ix_user_tokens_user_id", table_name="user_tokens")
    op.drop_table("user_tokens")
    op.drop_table("users")
