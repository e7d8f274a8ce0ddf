"""Where a run log's error lines are, so `e` need not read a log up to its first error.

A node's own output is written to its log by the process itself (``logfile``), not line by
line through this program, so nothing sees an error line go by as it is written. The index
is built when it is first asked for instead, by a scan at C speed of the bytes it has not
scanned yet: GNU grep's fixed-string search for the pieces of the error words (a separate
process, so the console's thread keeps drawing), every candidate line then judged by
``domain.runlog``, the one rule of what error output is. Without a usable grep the same
pieces are found with ``bytes.find`` over an mmap of the file (about twenty passes where
grep makes one). Each index keeps where its scan stopped and goes on from there when the
log has grown, so each byte of a log is scanned once in the life of the process.

Indexes are kept per file, in this process: the same log file is the same whichever
backend object asks. A file replaced or cut short under an index is scanned anew.
"""

from __future__ import annotations

import mmap
import os
import shutil
import subprocess
import threading
from array import array
from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from opscenter.domain.runlog import ERROR_PIECES, error_kind, error_spans

CANDIDATES = 512  # candidate lines taken from one grep run: an error-heavy log goes in steps
KEPT = 64  # indexes held, the least recently asked dropped
_PATTERNS = [argument for piece in ERROR_PIECES for argument in ("-e", piece)]


@dataclass
class _Index:
    identity: tuple[int, int]  # the file's device and inode
    scanned: int = 0  # bytes [0, scanned) have been scanned; it ends after a newline
    errors: array[int] = field(default_factory=lambda: array("q"))  # line starts, ascending
    causes: array[int] = field(default_factory=lambda: array("q"))  # those not the summary


class ErrorIndexes:
    """The error lines of the logs asked about, safe across the console's worker threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._indexes: OrderedDict[str, _Index] = OrderedDict()

    def find(self, path: Path, offset: int, *, forward: bool, cause: bool) -> int | None:
        """Where the first error line at or after byte ``offset`` starts (the last one
        starting before it when not ``forward``); ``cause`` passes over the closing summary.
        Only complete lines count; None when there is none (yet), or no file."""
        with self._lock:
            try:
                handle = path.open("rb")
            except FileNotFoundError:
                return None
            with handle:
                status = os.fstat(handle.fileno())
                if status.st_size == 0:
                    return None  # nothing written yet (and an empty file cannot be mapped)
                key, identity = str(path), (status.st_dev, status.st_ino)
                with _mapped(handle) as data:
                    index = self._index(key, identity, len(data))
                    found = _answer(index, data, handle, offset, forward, cause)
                    if found is None or _is_wanted(data, found, cause):
                        return found
                    del self._indexes[key]  # rewritten in place under the index: anew
                    index = self._index(key, identity, len(data))
                    return _answer(index, data, handle, offset, forward, cause)

    def _index(self, key: str, identity: tuple[int, int], size: int) -> _Index:
        index = self._indexes.get(key)
        if index is None or index.identity != identity or index.scanned > size:
            index = _Index(identity)
            self._indexes[key] = index
        self._indexes.move_to_end(key)
        while len(self._indexes) > KEPT:
            self._indexes.popitem(last=False)
        return index


def _mapped(handle: BinaryIO) -> mmap.mmap:
    return mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)


def _is_wanted(data: mmap.mmap, start: int, cause: bool) -> bool:
    """Whether an error line (a cause, when ``cause``) still starts at ``start``."""
    if start > 0 and data[start - 1] != ord("\n"):
        return False
    kind = error_kind(data, start, _line_end(data, start))
    return kind is True or (kind is False and not cause)


def _line_end(data: mmap.mmap, start: int) -> int:
    end = data.find(b"\n", start)
    return len(data) if end < 0 else end


def _answer(
    index: _Index, data: mmap.mmap, handle: BinaryIO, offset: int, forward: bool, cause: bool
) -> int | None:
    starts = index.causes if cause else index.errors
    end = data.rfind(b"\n") + 1  # complete lines only: the last may be being written
    if forward:

        def found(start: int, kind: bool | None) -> bool:
            return start >= offset and kind is not None and (kind or not cause)

        while (at := bisect_left(starts, offset)) == len(starts) and index.scanned < end:
            _extend(index, data, handle, end, found)
        return starts[at] if at < len(starts) else None
    while index.scanned < min(offset, end):
        _extend(index, data, handle, end, lambda start, _: start >= offset)
    at = bisect_left(starts, offset)
    return starts[at - 1] if at else None


# Whether the scan may stop at a line holding a piece of an error word: (where it starts,
# and whether it is a cause, the closing summary (False) or no error output (None)).
Enough = Callable[[int, bool | None], bool]
Step = tuple[list[tuple[int, bool]], int]  # (error line start, is a cause) ..., scanned to


def _extend(index: _Index, data: mmap.mmap, handle: BinaryIO, end: int, enough: Enough) -> None:
    """Scan on from where the index stopped: to the line ``enough`` holds for, to the end,
    or over ``CANDIDATES`` lines holding a piece of an error word, whichever comes first."""
    step = _grep(handle, data, index.scanned, end, enough)
    lines, index.scanned = step or _scan(data, index.scanned, end, enough)
    for start, kind in lines:
        index.errors.append(start)
        if kind:
            index.causes.append(start)


def _scan(data: mmap.mmap, start: int, end: int, enough: Enough) -> Step:
    """The error lines from ``start`` found in this process, with bytes.find."""
    lines = []
    for line_start, line_end, kind in error_spans(data, start, end):
        lines.append((line_start, kind))
        if enough(line_start, kind) or len(lines) == CANDIDATES:
            return lines, line_end + 1
    return lines, end


def _grep(handle: BinaryIO, data: mmap.mmap, start: int, end: int, enough: Enough) -> Step | None:
    """The error lines from ``start`` among the lines grep -F finds holding a piece of an
    error word, read as grep finds them (it is stopped once ``enough``); None when there is
    no grep, or it answers unlike GNU grep."""
    grep = shutil.which("grep")
    if grep is None:
        return None
    handle.seek(start)  # grep reads its standard input from here on
    command = [grep, "-F", "-a", "-b", "-o", "--line-buffered", "-m", str(CANDIDATES)]
    environment = {"LC_ALL": "C", "PATH": os.environ.get("PATH", "")}
    try:
        process = subprocess.Popen(
            [*command, *_PATTERNS],
            stdin=handle,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=environment,
        )
    except OSError:
        return None
    with process:
        assert process.stdout is not None
        step, whole = _candidates(process.stdout, data, start, end, enough)
        if not whole:
            process.kill()  # what was wanted is found: the rest is not read
        elif process.wait() > 1:
            return None
    return step


def _candidates(
    rows: Iterable[bytes], data: mmap.mmap, start: int, end: int, enough: Enough
) -> tuple[Step | None, bool]:
    """grep's ``offset:piece`` rows as the step they make, and whether all were read."""
    lines: list[tuple[int, bool]] = []
    candidates = 0
    line_end = start - 1
    for row in rows:
        number, _, piece = row.rstrip(b"\n").partition(b":")
        hit = start + int(number) if number.isdigit() else -1
        if hit >= end:
            return (lines, end), False
        if hit < start or data[hit : hit + len(piece)] != piece:
            return None, False  # offsets not counted from where it began reading
        if hit <= line_end:
            continue  # another piece on the line before
        line_start = data.rfind(b"\n", start, hit) + 1 or start
        line_end = _line_end(data, hit)
        candidates += 1
        kind = error_kind(data, line_start, line_end)
        if kind is not None:
            lines.append((line_start, kind))
        if enough(line_start, kind):
            return (lines, line_end + 1), False
    return (lines, line_end + 1 if candidates >= CANDIDATES else end), True


_INDEXES = ErrorIndexes()


def find_error(path: Path, offset: int, *, forward: bool, cause: bool) -> int | None:
    """:meth:`ErrorIndexes.find` over this process's indexes."""
    return _INDEXES.find(path, offset, forward=forward, cause=cause)
