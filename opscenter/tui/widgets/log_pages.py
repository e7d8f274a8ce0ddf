"""Reading a run log in byte pages: its lines with their offsets, pages read backwards,
and the scan of a whole file for a typed search, one bounded page at a time (error lines
are not scanned for here: the backend finds them, ``ErrorFinder``).

Kept apart from the log view so the view is about the window on screen; none of this
touches the terminal. Byte offsets are counted from the decoded text: exact for UTF-8
logs; where a log holds undecodable bytes a page seam may skip or repeat part of a line.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from opscenter.domain.records import LogPage
from opscenter.domain.runlog import is_cause, is_error

Reader = Callable[[int, int], LogPage]  # (byte offset, byte limit) -> the page read forward
# (byte offset, forward, causes only) -> where the next error line starts: Backend.find_error
ErrorFinder = Callable[[int, bool, bool], int | None]

SCAN_BYTES = 4 << 20  # one fetch while searching the file (4 MiB: ~1 s per 100 MB here)
MAX_LINE_CHARS = 2000  # a longer line is cut (`o` shows it whole in $PAGER)


_ESCAPE = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class LogLine:
    offset: int  # where the line starts in the file
    text: str  # as shown: escapes removed, controls as ^X, cut at MAX_LINE_CHARS
    error: bool


def clean(raw: str) -> str:
    """A line safe to draw: no terminal escapes (a log must not drive the terminal)."""
    text = raw[: MAX_LINE_CHARS * 2].rstrip("\r")
    if "\x1b" in text:
        text = _ESCAPE.sub("", text)
    if "\t" in text:
        text = text.expandtabs(4)
    text = _CONTROL.sub(lambda m: "^" + chr(ord(m.group()) ^ 0x40), text)
    if len(text) > MAX_LINE_CHARS or len(raw) > MAX_LINE_CHARS * 2:
        text = text[: MAX_LINE_CHARS - 1] + "…"
    return text


def _bytes(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8"))


def split_lines(text: str, offset: int) -> list[LogLine]:
    """The lines of a page read forward from byte ``offset`` (pages end after a newline)."""
    pieces = text.split("\n")
    if pieces and pieces[-1] == "":
        pieces.pop()
    lines = []
    at = offset
    for raw in pieces:
        shown = clean(raw)
        lines.append(LogLine(at, shown, is_error(shown)))
        at += _bytes(raw) + 1
    return lines


def read_before(reader: Reader, end: int, limit: int) -> tuple[str, int, LogPage]:
    """Complete lines ending at byte ``end`` (read backwards): their text and first offset.

    The page is read forward from ``end - limit`` and its first, partial line dropped.
    A line longer than the page comes back as its tail alone, so reading still advances.
    """
    start = max(0, end - limit)
    page = reader(start, end - start)
    text = page.text
    if start == 0:
        return text, 0, page
    cut = text.find("\n") + 1
    if page.next_offset > end or not 0 < cut < len(text):
        return text, start, page
    body = text[cut:]
    return body, page.next_offset - _bytes(body), page


@dataclass(frozen=True)
class Wanted:
    """What ``/``, ``e`` and ``n`` look for: a test of one line (for the lines held), where
    the matching lines of a page of text start (for the file, scanned in pages; None for
    error lines, which the backend finds), and what to mark inside a matching line."""

    label: str
    matches: Callable[[str], bool]
    starts: Callable[[str], Iterator[int]] | None = None
    marks: re.Pattern[str] | None = None
    causes: bool = False  # of the error lines, only causes (not the closing summary)


def searched(pattern: re.Pattern[str], label: str) -> Wanted:
    """A typed search: the lines holding ``pattern``, each match marked."""

    def starts(text: str) -> Iterator[int]:
        for match in pattern.finditer(text):
            yield text.rfind("\n", 0, match.start()) + 1

    return Wanted(label, lambda line: pattern.search(line) is not None, starts, pattern)


# The error rules are domain.runlog's: `e` lands on the first cause, `n` walks every error.
ERRORS = Wanted("errors", is_error)
CAUSES = Wanted("errors", is_cause, causes=True)


@dataclass
class Stretch:
    """The lines one read brings: where they start and end, and the file's size then."""

    lines: list[LogLine]
    top_offset: int
    end_offset: int
    size: int


def read_tail(reader: Reader, limit: int) -> Stretch:
    """The complete lines of the log's last ``limit`` bytes (all of a shorter log)."""
    head = reader(0, limit)
    if head.at_end:
        return Stretch(split_lines(head.text, 0), 0, head.next_offset, head.size)
    body, begin, page = read_before(reader, head.size, limit)
    return Stretch(split_lines(body, begin), begin, max(page.next_offset, begin), page.size)


def read_forward(reader: Reader, offset: int, limit: int) -> Stretch:
    """The lines of a page read forward from byte ``offset``."""
    page = reader(offset, limit)
    return Stretch(split_lines(page.text, offset), offset, page.next_offset, page.size)


def read_backward(reader: Reader, end: int, limit: int) -> Stretch:
    """The complete lines of a page that ends at byte ``end``."""
    body, begin, page = read_before(reader, end, limit)
    return Stretch(split_lines(body, begin), begin, end, page.size)


class Reporting:
    """A reader that reports how far into the file it has read (for "searching 40%")."""

    def __init__(self, reader: Reader, report: Callable[[float], None]) -> None:
        self.reader = reader
        self.report = report

    def __call__(self, offset: int, limit: int) -> LogPage:
        page = self.reader(offset, limit)
        if page.size:
            self.report(page.next_offset / page.size)
        return page


def scan_file(
    reader: Reader,
    starts: Callable[[str], Iterator[int]],
    offset: int,
    forward: bool,
    alive: Callable[[], bool],
) -> int | None:
    """The byte offset of the first matching line from ``offset`` on (or the last before it):
    ``starts`` says where the matching lines of a page start.

    One page of ``SCAN_BYTES`` at a time; ``alive`` turning false (another log shown) stops it.
    """
    if forward:
        while alive():
            page = reader(offset, SCAN_BYTES)
            line_start = next(starts(page.text), None) if page.text else None
            if line_start is not None:
                return offset + _bytes(page.text[:line_start])
            if page.next_offset <= offset:
                return None
            offset = page.next_offset
        return None
    end = offset
    while end > 0 and alive():
        body, begin, _page = read_before(reader, end, SCAN_BYTES)
        line_start = None
        for line_start in starts(body):  # noqa: B007 (the last line is wanted)
            pass
        if line_start is not None:
            return begin + _bytes(body[:line_start])
        if begin >= end:
            return None
        end = begin
    return None
