"""Opening the state store: where it lives, SQLite settings, and the schema version."""

from __future__ import annotations

import os
import re
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, inspect, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DatabaseError, OperationalError
from sqlalchemy.orm import Session

from opscenter.store.files import FILE_MODE, make_private_dirs
from opscenter.store.models import SCHEMA_VERSION, Base, Meta

BUSY_TIMEOUT_MS = 10_000
_WORKSPACE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


LARGEST_ID = 2**63 - 1
"""SQLite's largest integer: an id or a limit beyond it cannot even be asked for."""


def storable(number: int) -> bool:
    """Whether ``number`` fits an INTEGER column (so a query for it can be sent at all)."""
    return -LARGEST_ID - 1 <= number <= LARGEST_ID


class StoreError(Exception):
    """The store cannot be opened or used; the message says what to do."""


def state_home() -> Path:
    """$XDG_STATE_HOME/opscenter, falling back to ~/.local/state/opscenter."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "opscenter"


def default_url(workspace: str) -> str:
    """The store of a workspace name; a name that is not one (``../x``) would point the
    store outside the state folder, so it is refused."""
    if not _WORKSPACE_NAME.fullmatch(workspace):
        raise StoreError(
            f"{workspace!r} is neither a workspace folder nor a workspace name "
            "(names are letters, digits and underscores)"
        )
    return f"sqlite:///{state_home() / workspace / 'state.db'}"


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # noqa: ANN001 - DB-API types
    # transactions are begun by _sqlite_begin, so that writers can take the lock up front
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_begin(connection) -> None:  # noqa: ANN001 - SQLAlchemy Connection
    """Writers BEGIN IMMEDIATE: in WAL a deferred reader that later writes can fail at
    once with "database is locked" when another writer got in first; taking the write
    lock at BEGIN makes it wait (busy_timeout) instead."""
    immediate = connection.get_execution_options().get("sqlite_immediate", False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def open_store(url: str) -> Engine:
    """Open (creating if new) the store at ``url`` and check its schema version.

    SQLite files and their folder are created owner-only: the store holds who
    did what, and logs may hold data.
    """
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StoreError(f"{url!r} is not a database URL (hint: sqlite:///path/state.db)") from None
    is_sqlite = parsed.get_backend_name() == "sqlite"
    if is_sqlite and parsed.database and parsed.database != ":memory:":
        path = Path(parsed.database).expanduser()
        try:
            make_private_dirs(path.parent)
            if not path.exists():
                path.touch(mode=FILE_MODE)
        except OSError as exc:
            raise StoreError(f"cannot create {path}: {exc.strerror or exc}") from None
    try:
        engine = create_engine(
            parsed, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000} if is_sqlite else {}
        )
    except Exception as exc:  # a missing driver, a bad option
        raise StoreError(
            f"cannot open {parsed.render_as_string(hide_password=True)}: {exc}"
        ) from None
    if is_sqlite:
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
    try:
        _check_or_create_schema(engine)
    except (OperationalError, DatabaseError) as exc:
        engine.dispose()
        where = parsed.render_as_string(hide_password=True)
        raise StoreError(f"cannot use the database {where}: {exc.orig}") from None
    return engine


def _check_or_create_schema(engine: Engine) -> None:
    tables = set(inspect(engine).get_table_names())
    if not tables:
        Base.metadata.create_all(engine)
        with Session(engine) as session, session.begin():
            session.add(Meta(key="schema_version", value=str(SCHEMA_VERSION)))
        return
    if "meta" not in tables:
        raise StoreError(
            f"{engine.url.render_as_string(hide_password=True)} is not an opscenter database "
            "(it has tables but no schema version); point --db at another file"
        )
    with Session(engine) as session:
        found = session.scalar(select(Meta.value).where(Meta.key == "schema_version"))
    if found != str(SCHEMA_VERSION):
        raise StoreError(
            f"the database {engine.url.render_as_string(hide_password=True)} has schema version "
            f"{found}, this opscenter uses version {SCHEMA_VERSION}; "
            "use a matching opscenter or start a new state file with --db"
        )
    Base.metadata.create_all(engine)  # tables added within this version
    _add_new_columns(engine)


def _add_new_columns(engine: Engine) -> None:
    """Nullable columns added within this version (the audit's wall time) are added to an
    older store in place, so an upgrade keeps its state."""
    found = inspect(engine)
    with engine.begin() as conn:
        for table in Base.metadata.sorted_tables:
            have = {column["name"] for column in found.get_columns(table.name)}
            for column in table.columns:
                if column.name not in have and column.nullable:
                    kind = column.type.compile(dialect=engine.dialect)
                    conn.exec_driver_sql(
                        f'ALTER TABLE "{table.name}" ADD COLUMN "{column.name}" {kind}'
                    )
