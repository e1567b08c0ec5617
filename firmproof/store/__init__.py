"""The results store: every scan of every image in one database, queried with SQL.

    store = open_store()                           # SQLite in the user's data folder
    store = open_store("postgresql://user@host/db")
    scan_id = add_report(store, report, ImageInfo(vendor="Acme", product="R1"), components)

`open_store` brings the schema up to date (Alembic migrations in `migrations/`) before it
returns. `add_report` is the one place a report becomes rows (`ingest.py`). Tables: `schema.py`.
"""

from __future__ import annotations

from firmproof.store.ingest import ImageInfo, add_error, add_report, evidence_key, rules_version
from firmproof.store.open import Store, StoreError, default_url, open_store

__all__ = ["ImageInfo", "Store", "StoreError", "add_error", "add_report", "default_url", "evidence_key",
           "open_store", "rules_version"]
