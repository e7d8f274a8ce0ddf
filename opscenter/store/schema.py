"""Bringing a store to this opscenter's schema: a new one is created at the newest
revision, an older one is upgraded in place after a copy of it is kept beside it, and one
newer than this opscenter, or not an opscenter store at all, is refused.

A store made before migrations (``meta`` says ``schema_version`` 1 and there is no
``alembic_version``: every store made until then) has no revision yet; the baseline
migration completes it, so its upgrade starts there. The message says what was done.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, Engine, inspect, select

from opscenter.store import migrations
from opscenter.store.files import FILE_MODE
from opscenter.store.models import SCHEMA_VERSION, Meta
from opscenter.store.tx import write_transaction


class SchemaError(Exception):
    """The store's schema is not one this opscenter can use; the message says why."""


@dataclass(frozen=True)
class Found:
    """What a store is: its revision, and how a message names it."""

    revision: str | None
    name: str
    empty: bool = False


def bring_to_head(engine: Engine, where: str, path: Path | None, unwritable: str | None) -> str:
    """Create or upgrade the store at ``engine`` (``where`` names it; ``path`` is its SQLite
    file, None for another database); what was done, in a line, or "" when nothing was."""
    with engine.connect() as conn:
        if migrations.current(conn) == migrations.HEAD:
            return ""  # the usual case, answered without loading Alembic
        found = _found(conn, where)
    if found.revision == migrations.head():
        return ""
    if unwritable and found.empty:
        raise SchemaError(f"{where} is empty, and no store can be made in it: {unwritable}")
    if unwritable:
        raise SchemaError(
            f"{where} is at {found.name} and this opscenter needs revision "
            f"{migrations.head()}, but {unwritable}, so it cannot be upgraded here; upgrade "
            "it where it can be written, or read it with the opscenter that made it"
        )
    with _migrating(engine) as conn:
        found = _found(conn, where)  # again, under the write lock: another process may
        if found.revision == migrations.head():  # have upgraded it while this one waited
            return ""
        copy = _backup(path, found) if path is not None and not found.empty else None
        migrations.upgrade(conn)
        _check_references(conn, where)
    if found.empty:
        return ""
    done = f"upgraded {where} from {found.name} to revision {migrations.head()}"
    if copy is not None:
        return f"{done}; its copy from before the upgrade: {copy}"
    return (
        f"{done}; no copy of it was made (opscenter copies SQLite stores only): "
        "back the database up before the next upgrade of opscenter"
    )


def _found(conn: Connection, where: str) -> Found:
    revision = migrations.current(conn)
    if revision is not None:
        if not migrations.knows(revision):
            raise SchemaError(
                f"{where} is at schema revision {revision}, which this opscenter does not "
                f"know (its newest is {migrations.head()}): a newer opscenter upgraded it; "
                "use that opscenter, or point --db at another store"
            )
        return Found(revision, f"revision {revision}")
    tables = set(inspect(conn).get_table_names()) - {migrations.VERSION_TABLE}
    if not tables:
        return Found(None, "an empty database", empty=True)
    if "meta" not in tables:
        raise SchemaError(
            f"{where} is not an opscenter database (it has tables but no schema version); "
            "point --db at another file"
        )
    version = conn.scalar(select(Meta.value).where(Meta.key == "schema_version"))
    if version != str(SCHEMA_VERSION):
        raise SchemaError(
            f"{where} has schema version {version}, and this opscenter upgrades stores of "
            f"version {SCHEMA_VERSION} (made before migrations) or of a revision it knows; "
            "use a matching opscenter or start a new state file with --db"
        )
    return Found(None, f"schema version {SCHEMA_VERSION} (made before migrations)")


@contextmanager
def _migrating(engine: Engine) -> Iterator[Connection]:
    """One write transaction that takes the write lock at BEGIN, so a second process
    opening the store meanwhile waits and then finds it upgraded. SQLite's foreign keys
    are off during it (a pragma that only takes effect outside a transaction): a migration
    that rebuilds a table (copy, drop, rename) would otherwise delete, by cascade, every
    row that refers to it. ``_check_references`` checks them before the commit instead."""
    with engine.connect() as conn:
        _foreign_keys(conn, on=False)
        try:
            with write_transaction(conn) as (locked, _):
                yield locked
        finally:
            _foreign_keys(conn, on=True)


def _foreign_keys(conn: Connection, *, on: bool) -> None:
    """Set on the driver's connection, outside any transaction: through SQLAlchemy the
    pragma would begin one first, and SQLite ignores it inside one."""
    if conn.dialect.name == "sqlite":
        raw = conn.connection.driver_connection
        assert raw is not None
        raw.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")


def _check_references(conn: Connection, where: str) -> None:
    if conn.dialect.name != "sqlite":
        return
    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").first()
    if broken is not None:
        raise SchemaError(
            f"the upgrade of {where} was rolled back: it left a row of {broken[0]} that "
            f"refers to a missing row of {broken[2]}"
        )


def _backup(path: Path, found: Found) -> Path:
    """A copy of the store as it is, beside it and never over an earlier copy, made with
    SQLite's backup API: a connection of its own reads the last committed state, whatever
    is still in the WAL, and nothing changes it meanwhile (the upgrade holds the write
    lock). Owner-only, like the store."""
    label = found.revision or f"v{SCHEMA_VERSION}"
    number = 1
    while True:
        suffix = f".bak-{label}" if number == 1 else f".bak-{label}.{number}"
        copy = path.with_name(path.name + suffix)
        try:
            os.close(os.open(copy, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
            break
        except FileExistsError:
            number += 1
    with (
        contextlib.closing(sqlite3.connect(path)) as source,
        contextlib.closing(sqlite3.connect(copy)) as target,
    ):
        source.backup(target)
    return copy
