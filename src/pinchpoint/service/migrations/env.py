"""Alembic environment: run the migrations on the connection :func:`pinchpoint.service.store.upgrade` passes.

pinchpoint runs its migrations from code, never from an ``alembic.ini``: the store opens
a connection and hands it over in ``config.attributes["connection"]``. Offline (SQL
script) mode is not supported, because there is no URL to render it for.
"""

from __future__ import annotations

from alembic import context

connection = context.config.attributes.get("connection")
if connection is None or context.is_offline_mode():
    raise RuntimeError(
        "pinchpoint's migrations run through pinchpoint.service.store.upgrade(engine), "
        "which passes an open connection; they cannot run from the alembic command line"
    )
# Every pending migration and its version stamp run in the caller's one transaction (DDL is
# transactional on SQLite and PostgreSQL alike; store.upgrade opens SQLite's explicitly).
context.configure(
    connection=connection, render_as_batch=connection.dialect.name == "sqlite", transactional_ddl=True
)
with context.begin_transaction():
    context.run_migrations()
