"""How a run log reads: the header that opens it, and which lines are error output.

The scheduler writes one log per attempt (``scheduler.logfile``): a header block (what
ran, for which cycle, with which values) closed by ``HEADER_RULE``; then the node's stdout
and stderr, merged as the process wrote them (nothing marks a stderr line, so error
output is known by how programs word it); and the executor's own lines, each stamped
``HH:MM:SS``. A failed attempt ends with the executor's summary (``failed: exit code 1
after 0.1 s``): it says *that* the run failed. Why is in the first error line before it
(``mkdir: cannot create directory …``), which is what an operator looks for first.

Written once here: the console's log view marks the ``is_error`` lines and its ``e`` goes to
the first cause of the ``error_spans``; a second copy would drift and the two would disagree.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, Protocol

HEADER_RULE = "-" * 60

# The header's own lines ("triggered by: rerun after a failed load" is not error output):
# its fields and its "  name=value" parameter lines.
_HEADER = (
    r"(?:node|instance id|cyctime|started|bizdate|attempt|triggered by|parameters):"
    r"|  [A-Za-z_][\w.-]*="
)
# The executor's closing summary of a failed attempt (scheduler.executors), after its stamp.
_SUMMARY = r"(?:\d\d:\d\d:\d\d )?(?:failed: |process group ended \()"
# Error output as programs word it. Case-sensitive, so "0 errors" and "no failures" are not
# errors while "ValueError", "error: …" and "quality check failed" are: exceptions and
# tracebacks, ERROR/FATAL log levels, "prog: error:", a command's "cannot …" / "Permission
# denied" / "No such file", bash's "line 3: …: command not found", a kill, a non-zero exit.
_WORDS = (
    r"Traceback|Exception|exception|ERROR|Error|error:|FATAL|Fatal|fatal:|FAILED|failed"
    r"|\b[Cc]annot\b|\b[Cc]an't\b|\b[Uu]nable to\b|[Pp]ermission denied|No such file"
    r"|command not found|: line \d+: |\bkilled: |\bKilled\b|terminated by SIG"
    r"|Segmentation fault|Aborted|exit (?:code|status) [1-9]|non-zero exit"
)

_WORD = re.compile(_WORDS)
_HEADER_LINE = re.compile(_HEADER)
_SUMMARY_LINE = re.compile(_SUMMARY)


def is_error(line: str) -> bool:
    """Whether one line (no newline) is error output, the closing summary included."""
    return _HEADER_LINE.match(line) is None and _WORD.search(line) is not None


def is_cause(line: str) -> bool:
    """Whether one line is error output other than the closing summary: the first such
    line of a log is the cause an operator reads first."""
    return is_error(line) and _SUMMARY_LINE.match(line) is None


# A literal piece of each error word: a page is searched for these with str.find (a log
# file with grep -F), many times faster than with one regex of the words (their many first
# letters defeat the regex engine's skip-ahead), and each line found is then checked
# against the words themselves.
ERROR_PIECES = (
    "Traceback", "xception", "ERROR", "rror", "FATAL", "atal", "FAILED", "failed", "annot",
    "an't", "nable to", "ermission denied", "No such file", "command not found", ": line ",
    "illed", "terminated by SIG", "Segmentation fault", "Aborted", "exit code ",
    "exit status ", "non-zero exit",
)  # fmt: skip
_BYTE_PIECES = tuple(piece.encode() for piece in ERROR_PIECES)
_CHUNK = 1 << 20  # the pieces are looked for a chunk of whole lines at a time
LONGEST_JUDGED = 1 << 20  # a longer line is judged by its first MiB


class Searchable(Protocol):
    """Text or bytes searched in place: a str, bytes, or a log file's mmap."""

    def find(self, sub: Any, start: int = ..., end: int = ..., /) -> int: ...

    def rfind(self, sub: Any, start: int = ..., end: int = ..., /) -> int: ...


def _candidate_lines(data: Searchable, start: int, end: int) -> Iterator[tuple[int, int]]:
    """Where each line of ``data[start:end]`` holding a piece starts and ends (its newline),
    in order. ``start`` is a line's start. A chunk without a piece costs one find per piece,
    and an early hit does not pay for the rest of a large log."""
    at = start
    while at < end:
        cut = data.find(b"\n", min(at + _CHUNK, end), end)
        chunk_end = end if cut < 0 else cut + 1
        found = [data.find(piece, at, chunk_end) for piece in _BYTE_PIECES]
        while True:
            hits = [position for position in found if position >= 0]
            if not hits:
                break
            hit = min(hits)
            line_start = data.rfind(b"\n", at, hit) + 1 or at
            line_end = data.find(b"\n", hit, chunk_end)
            line_end = chunk_end if line_end < 0 else line_end
            yield line_start, line_end
            at = line_end + 1
            for i, position in enumerate(found):
                if 0 <= position < at:
                    found[i] = data.find(_BYTE_PIECES[i], at, chunk_end)
        at = chunk_end


def error_spans(data: Searchable, start: int, end: int) -> Iterator[tuple[int, int, bool]]:
    """Each error line of UTF-8 ``data[start:end]`` (bytes, or a log file's mmap) in order:
    where it starts, where it ends (its newline), and whether it is a cause (not the
    closing summary). ``start`` is a line's start."""
    for line_start, line_end in _candidate_lines(data, start, end):
        kind = error_kind(data, line_start, line_end)
        if kind is not None:
            yield line_start, line_end, kind


def error_kind(data: Any, start: int, end: int) -> bool | None:
    """Whether the UTF-8 line ``data[start:end]`` is a cause (True), the closing summary
    (False) or no error output (None)."""
    raw: bytes = data[start : min(end, start + LONGEST_JUDGED)]
    line = raw.decode("utf-8", errors="replace").rstrip("\r")
    if not is_error(line):
        return None
    return _SUMMARY_LINE.match(line) is None


def find_error_line(data: bytes, offset: int, *, forward: bool, cause: bool) -> int | None:
    """Where the first error line at or after byte ``offset`` of a whole log held in
    memory starts (the last one starting before it when not ``forward``); ``cause``
    passes over the closing summary. ``offset`` is a line's start."""
    if forward:
        return next(
            (start for start, _, kind in error_spans(data, offset, len(data)) if kind or not cause),
            None,
        )
    last = None
    for start, _, kind in error_spans(data, 0, min(offset, len(data))):
        if kind or not cause:
            last = start
    return last


def final_words(text: str) -> str:
    """Why a failed run failed, in one line of its log: the last error line other than the
    closing summary, else the last line (a process's final words). Both backends give
    this as a failure's reason, so the dashboard reads the same over either."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    causes = [line for line in lines if is_cause(line)]
    said = [line for line in lines if _SUMMARY_LINE.match(line) is None]
    return (causes or said or [""])[-1]
