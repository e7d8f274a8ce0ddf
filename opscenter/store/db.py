"""Opening the state store: where it lives, SQLite settings, read-only stores, and bringing
its schema to this opscenter's (``schema``)."""

from __future__ import annotations

import os
import pwd
import re
import sqlite3
import stat
import sys
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import URL, Engine, NullPool, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DatabaseError, OperationalError

from opscenter.store import schema
from opscenter.store.audit import os_user
from opscenter.store.basics import LARGEST_ID as LARGEST_ID  # where the store's users look
from opscenter.store.basics import StoreError as StoreError
from opscenter.store.basics import storable as storable
from opscenter.store.files import FILE_MODE, make_private_dirs
from opscenter.store.schema import SchemaError

BUSY_TIMEOUT_MS = 10_000
_UNWRITABLE = "opscenter_unwritable"  # an engine's execution option: why it is read-only
_WORKSPACE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


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


def _say(text: str) -> None:
    print(f"opscenter: {text}", file=sys.stderr)


def open_store(url: str, *, say: Callable[[str], None] = _say) -> Engine:
    """Open the store at ``url``: created at the newest schema revision if new, upgraded in
    place if older (after a copy; ``say`` tells what was done, on stderr unless given).

    SQLite files and their folder are created owner-only: the store holds who did what,
    and logs may hold data. A store this process cannot write (its file, or the folder
    where SQLite makes its -wal and -shm files) is opened read-only: reads work, and
    ``unwritable`` says why nothing can be written.
    """
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StoreError(f"{url!r} is not a database URL (hint: sqlite:///path/state.db)") from None
    path: Path | None = None
    reason: str | None = None
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        path = Path(str(parsed.database)).expanduser()
        try:
            make_private_dirs(path.parent)
            if not path.exists():
                path.touch(mode=FILE_MODE)
        except OSError as exc:
            raise StoreError(f"cannot create {path}: {exc.strerror or exc}") from None
        reason = _why_unwritable(path)
    where = parsed.render_as_string(hide_password=True)
    try:
        engine = _engine(parsed, path, reason)
    except Exception as exc:  # a missing driver, a bad option
        raise StoreError(f"cannot open {where}: {exc}") from None
    try:
        done = schema.bring_to_head(engine, where, path, reason)
    except SchemaError as exc:
        engine.dispose()
        raise StoreError(str(exc)) from None
    except (OperationalError, DatabaseError) as exc:
        engine.dispose()
        raise StoreError(f"cannot use the database {where}: {exc.orig}") from None
    if done:
        say(done)
    return engine


def unwritable(engine: Engine) -> str | None:
    """Why the store cannot be written by this process (it was opened read-only), or None."""
    return engine.get_execution_options().get(_UNWRITABLE)


def _engine(parsed: URL, path: Path | None, reason: str | None) -> Engine:
    if parsed.get_backend_name() == "postgresql":
        # reads see one snapshot each; writers serialise on a lock at READ COMMITTED (tx)
        return create_engine(parsed, isolation_level="REPEATABLE READ", pool_pre_ping=True)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(parsed)
    if path is not None and reason is not None:
        # no pool: each connection chooses how to read afresh (see _read_only)
        engine = create_engine(parsed, creator=lambda: _read_only(path), poolclass=NullPool)
        event.listen(engine, "begin", _sqlite_begin)
        return engine.execution_options(**{_UNWRITABLE: reason})
    engine = create_engine(parsed, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})
    event.listen(engine, "connect", _sqlite_pragmas)
    event.listen(engine, "begin", _sqlite_begin)
    return engine


def _why_unwritable(path: Path) -> str | None:
    """Why this process cannot write the SQLite store at ``path``, or None if it can: its
    file, or its folder (where SQLite makes the -wal and -shm files), is not writable."""
    blocked = [
        (what, item)
        for what, item, need in (
            ("its file", path, os.W_OK),
            (f"its folder {path.parent}", path.parent, os.W_OK | os.X_OK),
        )
        if not os.access(item, need)
    ]
    if not blocked:
        return None
    if os.statvfs(path.parent).f_flag & os.ST_RDONLY:
        cause = "it is on a read-only file system"
    else:
        cause = " and ".join(f"{what} {_permission(item)}" for what, item in blocked)
    return f"the store {path} is read-only for {os_user()}: {cause}"


def _permission(item: Path) -> str:
    info = item.stat()
    try:
        owner = pwd.getpwuid(info.st_uid).pw_name
    except KeyError:
        owner = f"uid:{info.st_uid}"
    return f"has mode {stat.S_IMODE(info.st_mode):04o} (owner {owner})"


def _read_only(path: Path) -> sqlite3.Connection:
    """A read-only connection to a store this process cannot write. SQLite reads a WAL
    store read-only (``mode=ro``) when its -wal and -shm files exist (a writer has it open,
    or left them) or can be made beside it. Where neither holds (closed cleanly, in a
    folder this process cannot write), the store has no WAL, so its file holds everything:
    it is read as ``immutable``, without the locks SQLite could not take there. A writer
    that opens it later makes a -wal, and the next connection then reads with mode=ro."""
    wal = path.with_name(path.name + "-wal")
    writable_folder = os.access(path.parent, os.W_OK | os.X_OK)
    mode = "mode=ro" if wal.exists() or writable_folder else "mode=ro&immutable=1"
    connection = sqlite3.connect(
        f"{path.absolute().as_uri()}?{mode}",
        uri=True,
        timeout=BUSY_TIMEOUT_MS / 1000,
        check_same_thread=False,
    )
    connection.isolation_level = None  # transactions are begun by _sqlite_begin
    return connection
