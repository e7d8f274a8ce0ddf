"""Write transactions: one place that decides how a state change is committed.

Every state transition happens inside ``writing(engine)`` and commits or rolls back as a
whole. Writers are serialised, on every store, so that what a transition read is still
true when it commits (no lost update, no double dispatch):

- on SQLite the write lock is taken at BEGIN (``BEGIN IMMEDIATE``), so concurrent writers
  queue on the busy timeout instead of failing;
- on PostgreSQL the transaction runs at READ COMMITTED and first takes one
  transaction-scoped advisory lock (``WRITE_LOCK``), held until commit or rollback. Each
  statement after it sees every write committed before the lock was granted, as a
  SQLite writer does. (REPEATABLE READ would fix the snapshot at the lock's own
  statement, before the wait, and so miss what the previous writer committed.) Readers
  outside these transactions read at the engine's REPEATABLE READ: one snapshot per read.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, CursorResult, Engine, RootTransaction
from sqlalchemy.orm import Session

WRITE_LOCK = 0x6F70736365  # "opsce": the advisory lock key every PostgreSQL writer takes


@contextmanager
def write_transaction(connection: Connection) -> Iterator[tuple[Connection, RootTransaction]]:
    """Begin a transaction holding the store's write lock (see the module's docstring)."""
    postgres = connection.dialect.name == "postgresql"
    if postgres:
        connection = connection.execution_options(isolation_level="READ COMMITTED")
    else:
        connection = connection.execution_options(sqlite_immediate=True)
    with connection.begin() as transaction:
        if postgres:
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({WRITE_LOCK})")
        yield connection, transaction


@contextmanager
def writing(engine: Engine) -> Iterator[Connection]:
    with engine.connect() as connection, write_transaction(connection) as (locked, _):
        yield locked


@contextmanager
def previewing(engine: Engine) -> Iterator[Connection]:
    """A write transaction that is always rolled back: an action run to see exactly what it
    would do. It takes the write lock like ``writing``, or a read before its writes would
    fail at once ("database is locked") when another process wrote in between."""
    with engine.connect() as connection, write_transaction(connection) as (locked, transaction):
        try:
            yield locked
        finally:
            transaction.rollback()


@contextmanager
def writing_session(engine: Engine) -> Iterator[Session]:
    """The same, for cold paths that use ORM objects."""
    with writing(engine) as connection, Session(bind=connection) as session:
        yield session
        session.flush()


def inserted_id(result: CursorResult) -> int:
    """The id an INSERT of one row gave it."""
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])
