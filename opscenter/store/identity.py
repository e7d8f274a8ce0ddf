"""Which files a SQLite store is: noticing it deleted or replaced under a running process.

A process goes on working on the files it opened after they are deleted (``rm state.db*``)
or another file is moved over their path, while every process that opens the path from then
on finds another store. A scheduler that went on would run nodes in a world no one else
sees, beside a scheduler started on the new store. The store's files are the database and,
in WAL mode, its ``-wal`` and ``-shm`` beside it: deleting either of those alone also splits
the world (other processes then fail with a disk I/O error, or miss the writes), and SQLite
removes them itself only when the last connection closes, which a pool that keeps its
connections open never does.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine, event

from opscenter.store.db import StoreError

_SIDE_FILES = {"-wal": "write-ahead log", "-shm": "shared-memory index"}

Identity = tuple[int, int]  # (st_dev, st_ino)


class StoreChanged(StoreError):
    """The store's files were deleted or replaced while this process had them open."""


def _identity(path: Path) -> Identity | None:
    """The file at ``path``, or None if there is none; OSError if that cannot be told now
    (its folder was made unsearchable)."""
    try:
        found = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    return found.st_dev, found.st_ino


@dataclass
class StoreFiles:
    """The identity of a store's files as first seen; ``changed()`` says what became of them."""

    path: Path
    seen: dict[str, Identity | None] = field(default_factory=dict)  # suffix -> identity

    def __post_init__(self) -> None:
        for suffix in ("", *_SIDE_FILES):
            try:
                self.seen[suffix] = _identity(Path(f"{self.path}{suffix}"))
            except OSError:
                self.seen[suffix] = None

    def changed(self) -> str | None:
        """What happened to a file of the store since it was seen, or None. A side file
        first seen now (SQLite made it) is adopted as the store's; a file that cannot be
        looked at now is taken as unchanged."""
        for suffix, before in self.seen.items():
            try:
                now = _identity(Path(f"{self.path}{suffix}"))
            except OSError:
                continue
            if before is None:
                self.seen[suffix] = now
                continue
            if now == before:
                continue
            what = f"the store {self.path}"
            if suffix:
                what = f"the store's {_SIDE_FILES[suffix]} {self.path}{suffix}"
            became = "deleted or moved away" if now is None else "replaced by another file"
            return f"{what} was {became}"
        return None


def store_files(db: Engine) -> StoreFiles | None:
    """The files of ``db`` as they are now, guarded: a new connection is refused once they
    changed, so that SQLite does not quietly create a new, empty store at the path. None for
    a store that is not a SQLite file (another database, ``:memory:``)."""
    url = db.url
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    path = Path(url.database).expanduser().absolute()
    files = StoreFiles(path)
    if files.seen[""] is None:
        return None

    @event.listens_for(db, "do_connect")
    def refuse_if_changed(*_args: object) -> None:
        reason = files.changed()
        if reason:
            raise StoreChanged(f"{reason}; not opening a new store in its place")

    return files
