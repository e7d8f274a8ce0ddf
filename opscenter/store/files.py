"""Owner-only files and folders: the store, the logs, the warehouse, the run history and
the DataWorks audit hold who did what and the data itself, so none is made by the umask."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb

FILE_MODE = 0o600
DIR_MODE = 0o700
PRIVATE_UMASK = 0o077


def make_private_dirs(folder: Path) -> None:
    """Create ``folder`` and every missing parent owner-only (``mkdir(parents=True)`` would
    leave the parents, such as ``~/.local/state/opscenter``, open to everyone); existing
    folders are left as they are."""
    missing: list[Path] = []
    current = folder
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for item in reversed(missing):
        with contextlib.suppress(FileExistsError):
            item.mkdir(mode=DIR_MODE)


def open_for_append(path: Path, *, readable: bool = False) -> int:
    """A descriptor appending to ``path``, created owner-only; ``readable`` lets the writer
    also look at what is there (``os.pread``) without a second open."""
    access = os.O_RDWR if readable else os.O_WRONLY
    return os.open(path, access | os.O_CREAT | os.O_APPEND, FILE_MODE)


def connect_duckdb(path: Path, **options: Any) -> duckdb.DuckDBPyConnection:
    """DuckDB creates its file, and its .wal at the first write after each checkpoint, by
    the umask: the process keeps an owner-only one from here on (see ``keep_files_private``)."""
    import duckdb  # only where a warehouse or run history is opened, not for every log

    make_private_dirs(path.parent)
    keep_files_private()
    return duckdb.connect(str(path), **options)


def keep_files_private() -> None:
    """Add 077 to this process's umask, for good. DuckDB makes its files on whichever thread
    writes, whenever it writes, as long as a connection lives: a umask set only around the
    connect would miss the .wal, and one restored later would race with those writes. What
    else the process makes is owner-only by choice already; this never loosens a umask."""
    os.umask(os.umask(PRIVATE_UMASK) | PRIVATE_UMASK)
