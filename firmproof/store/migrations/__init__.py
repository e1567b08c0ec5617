"""Alembic migrations of the results store, run by `firmproof.store.open_store` (no alembic.ini)."""
