"""One state format for interview sessions.

Before this revision the ``interview_sessions`` table held two formats with nothing to tell
them apart but their ``format`` key: the web pages' ``{"format": "pinchpoint-web-interview",
"interview": ..., "redo": [...]}`` and the REST API's bare ``Interview.to_dict()``
(``"format": "pinchpoint-interview"``). Every row in either is rewritten to the one format of
:mod:`pinchpoint.service.sessions` by :func:`~pinchpoint.service.sessions.upgrade_state`; a row
in neither (damaged, or not JSON) is left as it is, and the service refuses it with a reason
when it is loaded, as before. The migration runs inside the one transaction of
:func:`pinchpoint.service.store.upgrade`: all rows are converted, or none.

Downgrading writes every converted row back in the web pages' format, which the code before
this revision reads on the web pages (a session the REST API had started is then resumed on
the web pages only).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-07
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from alembic import op

from pinchpoint.service.sessions import STATE_FORMAT, upgrade_state

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_SESSIONS = sa.table("interview_sessions", sa.column("id", sa.String), sa.column("state_json", sa.Text))


def upgrade() -> None:
    """Rewrite every session saved in an older format in the one state format."""
    _rewrite(upgrade_state)


def downgrade() -> None:
    """Rewrite every session in the web pages' format of revision 0001."""

    def older(state: dict[str, Any]) -> dict[str, Any] | None:
        if state.get("format") != STATE_FORMAT or "interview" not in state or "redo" not in state:
            return None
        return {"format": "pinchpoint-web-interview", "interview": state["interview"], "redo": state["redo"]}

    _rewrite(older)


def _rewrite(convert: Callable[[dict[str, Any]], dict[str, Any] | None]) -> None:
    """Rewrite each row that ``convert`` converts; leave the others as they are."""
    connection = op.get_bind()
    for session_id, text in connection.execute(sa.select(_SESSIONS.c.id, _SESSIONS.c.state_json)).all():
        try:
            state = json.loads(text)
        except ValueError:
            continue
        converted = convert(state) if isinstance(state, dict) else None
        if converted is not None:
            connection.execute(
                _SESSIONS.update()
                .where(_SESSIONS.c.id == session_id)
                .values(state_json=json.dumps(converted, sort_keys=True, allow_nan=False))
            )
