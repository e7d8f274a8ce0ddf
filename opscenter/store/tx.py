"""Write transactions: one place that decides how a state change is committed.

Every state transition happens inside ``writing(engine)``: on SQLite it takes
the write lock at BEGIN (so concurrent writers queue on the busy timeout
instead of failing), and commits or rolls back as a whole.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, CursorResult, Engine
from sqlalchemy.orm import Session


@contextmanager
def writing(engine: Engine) -> Iterator[Connection]:
    with engine.connect() as connection:
        connection = connection.execution_options(sqlite_immediate=True)
        with connection.begin():
            yield connection


@contextmanager
def previewing(engine: Engine) -> Iterator[Connection]:
    """A write transaction that is always rolled back: an action run to see exactly what it
    would do. It takes the write lock like ``writing``, or a read before its writes would
    fail at once ("database is locked") when another process wrote in between."""
    with engine.connect() as connection:
        connection = connection.execution_options(sqlite_immediate=True)
        with connection.begin() as transaction:
            try:
                yield connection
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
