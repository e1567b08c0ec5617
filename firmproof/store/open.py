"""Opening a store: the URL, the engine, the schema brought up to date.

SQLite is made for several writers at once here: WAL (readers never wait for the writer),
a busy timeout, and every write transaction started with BEGIN IMMEDIATE, so that two
processes never both read and then both try to write (SQLite would fail one of them at once
rather than wait). Reading sessions (`Store.sessions`) begin as usual and take no write lock.
PostgreSQL needs nothing of the kind; its schema upgrade is serialized by an advisory lock, so
that two processes opening a new database do not both create it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_SECONDS = 120         # how long a SQLite writer waits for another one
_UPGRADE_LOCK = 0x66_70_73_74     # PostgreSQL advisory lock id of schema upgrades ('fpst')
_WRITE = "firmproof_write"        # the execution option of writing connections
WRITE_TRIES = 8                   # a write that lost a race (a unique key, a lock) is tried again

T = TypeVar("T")


class StoreError(Exception):
    """The store cannot be opened or written: one sentence naming the database."""


@dataclass
class Store:
    url: str                      # as given, password hidden
    engine: Engine
    sessions: sessionmaker[Session]       # for reading
    writers: sessionmaker[Session]        # for writing: BEGIN IMMEDIATE on SQLite

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session in one transaction: committed if the block ends, rolled back if it raises."""
        with self.writers() as session, session.begin():
            yield session

    def write(self, work: Callable[[Session], T]) -> T:
        """`work` in one transaction, tried again when it lost a race to another writer (the
        same image inserted first elsewhere, a deadlock, SQLite still locked after its wait)."""
        for attempt in range(1, WRITE_TRIES + 1):
            try:
                with self.transaction() as session:
                    return work(session)
            except (IntegrityError, OperationalError) as exc:
                if attempt == WRITE_TRIES or not _retryable(exc):
                    raise
                log.debug("store write lost a race (%s), attempt %d", exc.orig, attempt)
                time.sleep(0.05 * attempt)
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.engine.dispose()


def _retryable(exc: DBAPIError) -> bool:
    text = str(exc.orig).lower()
    if isinstance(exc, IntegrityError):               # another writer inserted the same key first
        return getattr(exc.orig, "sqlstate", None) == "23505" or "unique constraint" in text
    return any(word in text for word in ("locked", "busy", "deadlock", "could not serialize"))


def default_url() -> str:
    """SQLite in the user's data folder (platformdirs)."""
    from platformdirs import user_data_path

    return f"sqlite:///{user_data_path('firmproof') / 'store.sqlite'}"


def _normalize(url: str) -> Any:
    """`postgresql://…` (or `postgres://`) goes through psycopg 3; a bare path is a SQLite file."""
    if "://" not in url:
        url = f"sqlite:///{Path(url).expanduser().resolve()}"
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreError(f"{url}: not a database URL ({exc})") from None
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.drivername not in ("sqlite", "sqlite+pysqlite", "postgresql+psycopg"):
        raise StoreError(f"{parsed.render_as_string()}: unsupported database "
                         "(sqlite:///PATH or postgresql://USER@HOST/DB)")
    return parsed


def _sqlite_engine(url: Any) -> Engine:
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_SECONDS})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None    # the driver's own BEGIN off: ours below
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_SECONDS * 1000}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        write = connection.get_execution_options().get(_WRITE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


def open_store(url: str | None = None, *, upgrade: bool = True) -> Store:
    """The store at `url` (default: `default_url()`), its schema brought up to date."""
    parsed = _normalize(url or default_url())
    shown = parsed.render_as_string(hide_password=True)
    try:
        engine = _sqlite_engine(parsed) if parsed.get_backend_name() == "sqlite" else \
            create_engine(parsed, pool_pre_ping=True)
        writer = engine.execution_options(**{_WRITE: True})
        store = Store(url=shown, engine=engine, sessions=sessionmaker(engine, expire_on_commit=False),
                      writers=sessionmaker(writer, expire_on_commit=False))
        if upgrade:
            _upgrade(store)
    except OperationalError as exc:
        raise StoreError(f"{shown}: cannot open the store: {str(exc.orig).strip()}") from None
    return store


def _upgrade(store: Store) -> None:
    """Run the migrations not yet applied, in one transaction (serialized between processes)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with store.engine.execution_options(**{_WRITE: True}).begin() as connection:
        if store.dialect == "postgresql":
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_UPGRADE_LOCK})")
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
