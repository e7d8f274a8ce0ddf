"""Owner-only files and folders: the store, the logs, the warehouse, the run history and
the DataWorks audit hold who did what and the data itself, so none is made by the umask."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

import duckdb

FILE_MODE = 0o600
DIR_MODE = 0o700


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


def open_for_append(path: Path) -> int:
    """A descriptor appending to ``path``, created owner-only."""
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, FILE_MODE)


def connect_duckdb(path: Path, **options: Any) -> duckdb.DuckDBPyConnection:
    """DuckDB creates its file by the umask: a new one is made owner-only at once."""
    make_private_dirs(path.parent)
    new = not path.exists()
    connection = duckdb.connect(str(path), **options)
    if new:
        with contextlib.suppress(OSError):
            path.chmod(FILE_MODE)
    return connection
