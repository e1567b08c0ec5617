"""Alembic's entry: migrate the connection `open_store` hands over, inside its transaction."""

from __future__ import annotations

from alembic import context

from firmproof.store.schema import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata,
                  render_as_batch=True,           # SQLite alters a table by copying it
                  compare_type=True)
with context.begin_transaction():
    context.run_migrations()
