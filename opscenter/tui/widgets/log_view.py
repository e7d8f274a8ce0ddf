"""A run log read in byte pages: a 100 MB log opens as fast as a small one (toolong's shape).

Only a window of lines is held (at most ``MAX_LINES``, each cut at ``MAX_LINE_CHARS``).
Pages come through the Backend (``read_log`` by byte offset) in a worker thread when
the cursor nears either end of the window, and the far end is dropped. A finished
attempt opens at its end, where the error is. Follow reads from the last offset every
half second, the next read armed only once the last has landed, and jumps to the end
rather than replay a backlog (k9s's drift). Search looks in the window first, then
scans the file in bounded pages (``SCAN_BYTES`` each) in a worker, holding one at a time;
error lines (``e``, and ``n`` after it) are found by the backend (``find_error``, over an
index of the log's error lines), so a 60 MB walk to the first error reads no page.
How a page becomes lines, and the scan itself, are log_pages'; this is the window on them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.message import Message
from textual.strip import Strip
from textual.timer import Timer

from opscenter.domain.records import ActionRefused
from opscenter.tui.widgets.log_pages import (
    CAUSES,
    ERRORS,
    MAX_LINE_CHARS,
    ErrorFinder,
    LogLine,
    Reader,
    Reporting,
    Stretch,
    Wanted,
    clean,
    read_backward,
    read_before,
    read_forward,
    read_tail,
    scan_file,
    searched,
    split_lines,
)
from opscenter.tui.widgets.windowed import Windowed, moving

# the line rules live in log_pages; what callers and tests know as the log view's stays here
__all__ = [
    "MAX_LINE_CHARS",
    "MAX_LINES",
    "LogLine",
    "LogView",
    "clean",
    "read_before",
    "split_lines",
]

PAGE_BYTES = 64 * 1024  # one fetch while scrolling
MAX_LINES = 4000  # lines held at most; the far end of the window is dropped
FOLLOW_SECONDS = 0.5
BACKLOG_PAGES = 4  # a follower further behind than this jumps to the end
STEP_COLUMNS = 8


class LogView(Windowed, can_focus=True):
    """One attempt's log: a bounded window over the file, a cursor line, search and follow.

    It reads on within two screens (or 20 lines) of either edge: a page of log lines is
    short, and follow and search land the cursor anywhere in the window.
    """

    EDGE_SCREENS = 2
    EDGE_LINES = 20

    BINDINGS = [
        *moving("start of the log", "end of the log"),
        Binding("left,h", "shift(-1)", "scroll left", show=False),
        Binding("right,l", "shift(1)", "scroll right", show=False),
    ]

    COMPONENT_CLASSES = {"log--cursor", "log--error", "log--match", "log--muted"}

    DEFAULT_CSS = """
    LogView { height: 1fr; background: $background; }
    LogView > .log--cursor { background: $block-cursor-blurred-background; }
    LogView:focus > .log--cursor {
        background: $block-cursor-background;
        color: $block-cursor-foreground;
    }
    LogView > .log--error { color: $error; text-style: bold; }
    LogView > .log--match { text-style: reverse bold; }
    LogView > .log--muted { color: $foreground-muted; }
    """

    class Changed(Message):
        """Position, follow or search state changed (for the pane's title)."""

        def __init__(self, view: LogView) -> None:
            self.view = view
            super().__init__()

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.reader: Reader | None = None
        self.errors: ErrorFinder = lambda offset, forward, causes: None  # no log: none
        self.lines: list[LogLine] = []
        self.top_offset = 0  # byte offset of lines[0]
        self.end_offset = 0  # byte offset after the last line held
        self.file_size = 0  # bytes in the file at the last read
        self.x = 0
        self.following = False
        self.note = "no log"  # shown when there is no line: loading, empty, a refusal
        self.wanted: Wanted | None = None  # what the last search looked for (n repeats it)
        self.searching: float | None = None  # share of the file scanned, while scanning
        self._busy: str | None = None
        self._queued: Callable[[], None] | None = None
        self._generation = 0
        self._timer: Timer | None = None
        self._center_next = False  # context read above a found line: bring the line down
        self.page_bytes = PAGE_BYTES
        # offsets where a read brought nothing (a line without its newline yet, a file
        # that shrank): not asked again until the window moves
        self._dry_top = self._dry_end = -1
        self.max_lines = MAX_LINES

    # -- what the screen asks --------------------------------------------------------------

    def show(self, reader: Reader, errors: ErrorFinder, *, follow: bool) -> None:
        """Show another log, opened at its end (where a failure's error is); ``errors``
        finds its error lines."""
        self._generation += 1
        self.reader, self.errors = reader, errors
        self.lines, self.cursor, self.top, self.x = [], 0, 0, 0
        self.top_offset = self.end_offset = self.file_size = 0
        self.note = "loading…"
        self.following = follow
        self.searching = None
        self._queued = None
        self.refresh()
        self._run("open", self._read_tail, self._replace_at_end, queue=True)

    def set_follow(self, on: bool) -> None:
        """Follow: keep reading what is appended; turning it off reads once more."""
        self.following = on
        if on:
            if self.end_offset < self.file_size:
                self._run("tail", self._read_tail, self._replace_at_end, queue=True)
            else:
                self.move_to(len(self.lines) - 1)
        self._poll()
        self.post_message(self.Changed(self))

    @property
    def current(self) -> LogLine | None:
        return self.lines[self.cursor] if self.lines else None

    def where(self) -> str:
        """Where the cursor is, for a title: ``following``, ``end``, ``42% of 100.0 MB``."""
        if self.searching is not None:
            return f"searching {self.searching:.0%}"
        if self.following:
            return "following"
        if not self.lines:
            return ""
        if self.end_offset >= self.file_size and self.cursor == len(self.lines) - 1:
            return f"end of {_human(self.file_size)}"
        share = self.lines[self.cursor].offset / self.file_size if self.file_size else 0
        return f"{share:.0%} of {_human(self.file_size)}"

    @property
    def pattern_label(self) -> str:
        """What the last search looked for, for the pane's title."""
        return self.wanted.label if self.wanted is not None else ""

    def find(self, pattern: re.Pattern[str], label: str, *, forward: bool = True) -> None:
        """The next line matching ``pattern`` after the cursor (before it when not forward)."""
        self._find(searched(pattern, label), forward)

    def _find(self, wanted: Wanted, forward: bool) -> None:
        self.wanted = wanted
        self.refresh()
        if forward:
            candidates = range(self.cursor + 1, len(self.lines))
        else:
            candidates = range(self.cursor - 1, -1, -1)
        for index in candidates:
            if wanted.matches(self.lines[index].text):
                self.move_to(index, center=True)
                return
        if forward and self.end_offset < self.file_size:
            self._scan(wanted, self.end_offset, forward=True)
        elif not forward and self.top_offset > 0:
            self._scan(wanted, self.top_offset, forward=False)
        else:
            self._not_found()

    def first_error(self) -> None:
        """The first cause in the whole log (``mkdir: cannot …``, not the closing ``failed:
        exit code 1``); the closing line only when nothing before it is error output. ``n``
        and ``N`` then walk every error line."""
        self.wanted = ERRORS
        self.refresh()
        self._first(CAUSES, otherwise=lambda: self._first(ERRORS, otherwise=self._not_found))

    def _first(self, wanted: Wanted, otherwise: Callable[[], None]) -> None:
        """The first line of the whole log that ``wanted`` matches; ``otherwise`` if none."""
        if self.top_offset > 0:
            self._scan(wanted, 0, forward=True, otherwise=otherwise)
            return
        index = next((i for i, line in enumerate(self.lines) if wanted.matches(line.text)), None)
        if index is not None:
            self.move_to(index, center=True)
        elif self.end_offset < self.file_size:
            self._scan(wanted, self.end_offset, forward=True, otherwise=otherwise)
        else:
            otherwise()

    def next_match(self, forward: bool = True) -> None:
        if self.wanted is None:
            self.app.notify("nothing to find yet: / searches, e finds the first error")
            return
        self._find(self.wanted, forward)

    # -- reading in workers ------------------------------------------------------------------

    def _run(
        self,
        kind: str,
        work: Callable[[Reader], Any],
        apply: Callable[[Any], None],
        *,
        queue: bool = False,
    ) -> None:
        """One read at a time; a user's request waits for the one under way, an edge read not."""
        reader = self.reader
        if reader is None:
            return
        if self._busy is not None:
            if queue:
                self._queued = lambda: self._run(kind, work, apply, queue=True)
            return
        self._busy = kind
        generation = self._generation

        def job() -> None:
            try:
                result = work(reader)
            except Exception as exc:  # the backend's refusal or failure is shown in the view
                self.app.call_from_thread(self._landed, generation, None, exc)
                return
            self.app.call_from_thread(self._landed, generation, lambda: apply(result), None)

        self.run_worker(job, thread=True, group="log", exit_on_error=False)

    def _landed(
        self, generation: int, apply: Callable[[], None] | None, error: BaseException | None
    ) -> None:
        self._busy = None
        self.searching = None
        if generation == self._generation:
            if error is not None:
                self._failed(error)
            elif apply is not None:
                apply()
        queued, self._queued = self._queued, None
        if queued is not None:
            queued()
        else:
            self._near_edges()
        self._arm_follow()
        self.post_message(self.Changed(self))

    def _failed(self, error: BaseException) -> None:
        self.following = False  # a log that cannot be read is not polled every half second
        reason = error.reason if isinstance(error, ActionRefused) else str(error)
        if self.lines:
            self.app.notify(f"the log could not be read: {reason}", severity="error")
        else:
            self.note = reason if isinstance(error, ActionRefused) else f"log unreadable: {reason}"
            self.refresh()

    def _read_tail(self, reader: Reader) -> Stretch:
        return read_tail(reader, self.page_bytes)

    def _replace_at_end(self, window: Stretch) -> None:
        self._take(window, keep_end=True)
        self.move_to(len(self.lines) - 1, fetch=False)

    def _replace_at_top(self, window: Stretch) -> None:
        self._take(window, keep_end=False)
        self.move_to(0, fetch=False)

    def _take(self, window: Stretch, *, keep_end: bool) -> None:
        self.lines = window.lines
        self._dry_top = self._dry_end = -1
        self.top_offset, self.end_offset, self.file_size = (
            window.top_offset,
            window.end_offset,
            window.size,
        )
        self.cursor = self.top = 0
        self.note = "(the log is empty)" if window.size == 0 else "(no complete line yet)"
        extra = len(self.lines) - self.max_lines
        if extra > 0 and keep_end:  # a page of very short lines: keep the end wanted
            self.lines = self.lines[extra:]
            self.top_offset = self.lines[0].offset
        elif extra > 0:
            self.end_offset = self.lines[self.max_lines].offset
            del self.lines[self.max_lines :]

    def _append(self, window: Stretch) -> None:
        self.file_size = max(self.file_size, window.size)
        if window.top_offset != self.end_offset:
            return  # the window moved meanwhile
        if not window.lines:
            self._dry_end = self.end_offset  # a line without its newline yet: not again
            return
        at_end = self.cursor >= len(self.lines) - 1
        self.lines.extend(window.lines)
        self.end_offset = window.end_offset
        extra = len(self.lines) - self.max_lines
        if extra > 0:
            del self.lines[:extra]
            self.top_offset = self.lines[0].offset
            self.shift(-extra)
        if self.following and at_end:
            self.move_to(len(self.lines) - 1, fetch=False)
        self.refresh()

    def _prepend(self, window: Stretch) -> None:
        if window.end_offset != self.top_offset:
            return
        if not window.lines:
            self._dry_top = self.top_offset  # the file shrank beneath us: not again
            return
        added = len(window.lines)
        self.lines[:0] = window.lines
        self.top_offset = window.top_offset
        self.shift(added)
        extra = len(self.lines) - self.max_lines
        if extra > 0:
            self.end_offset = self.lines[self.max_lines].offset
            del self.lines[self.max_lines :]
            self.cursor = self.clamp(self.cursor)
        self._scroll_to_cursor(center=self._center_next)
        self._center_next = False
        self.refresh()

    def _near_edges(self, toward: int = 0) -> None:
        """Read a page above or below when the cursor nears that edge, whichever way it went:
        a read that lands (search, follow) has no direction."""
        if self._busy is not None or not self.lines or self.reader is None:
            return
        if self.near_head() and 0 < self.top_offset != self._dry_top:
            end = self.top_offset
            self._run("previous", lambda r: read_backward(r, end, self.page_bytes), self._prepend)
        elif (
            not self.following
            and self.near_tail()
            and self.end_offset < self.file_size
            and self.end_offset != self._dry_end
        ):
            start = self.end_offset
            self._run("next", lambda r: read_forward(r, start, self.page_bytes), self._append)

    # -- follow ------------------------------------------------------------------------------

    def _arm_follow(self) -> None:
        if self.following and self._timer is None and self.reader is not None:
            self._timer = self.set_timer(FOLLOW_SECONDS, self._tick)

    def _tick(self) -> None:
        self._timer = None
        if self.following:
            self._poll()

    def _poll(self) -> None:
        """Read what was appended; a backlog larger than a few pages jumps to the end."""
        if self._busy is not None:
            return  # _landed re-arms the timer
        start = self.end_offset

        def work(reader: Reader) -> Stretch:
            page = reader(start, self.page_bytes)
            if page.size - page.next_offset > BACKLOG_PAGES * self.page_bytes:
                return read_tail(reader, self.page_bytes)
            return Stretch(split_lines(page.text, start), start, page.next_offset, page.size)

        def apply(window: Stretch) -> None:
            if window.top_offset == start:
                self._append(window)
            else:
                self._replace_at_end(window)

        self._run("follow", work, apply)

    # -- searching the file ------------------------------------------------------------------

    def _scan(
        self,
        wanted: Wanted,
        offset: int,
        *,
        forward: bool,
        otherwise: Callable[[], None] | None = None,
    ) -> None:
        """Find the next match in the file (error lines through the backend, a typed search
        in bounded pages), then show the window there; ``otherwise`` runs when there is
        none (else the view says so)."""
        generation = self._generation
        errors, starts = self.errors, wanted.starts
        self.searching = 0.0
        self.post_message(self.Changed(self))

        def alive() -> bool:
            return generation == self._generation

        def report(share: float) -> None:
            self.app.call_from_thread(self._progress, share)

        def work(reader: Reader) -> Stretch | None:
            if starts is not None:
                found = scan_file(Reporting(reader, report), starts, offset, forward, alive)
            else:
                found = errors(offset, forward, wanted.causes)
            if found is None or not alive():
                return None
            return read_forward(reader, found, self.page_bytes)

        def apply(window: Stretch | None) -> None:
            if window is None or not window.lines:
                (otherwise or self._not_found)()
                return
            self.following = False  # the reader went looking elsewhere
            self._replace_at_top(window)
            self._center_next = True

        self._run("scan", work, apply, queue=True)

    def _progress(self, share: float) -> None:
        self.searching = share
        self.post_message(self.Changed(self))

    def _not_found(self) -> None:
        self.app.notify(f"no more matches for {self.pattern_label}", timeout=3)
        self.post_message(self.Changed(self))

    # -- moving ------------------------------------------------------------------------------

    def _count(self) -> int:
        return len(self.lines)

    def _moved(self, before: int) -> None:
        if self.following and self.cursor < before:
            self.following = False  # reading back up: stop pulling the view down
        self.post_message(self.Changed(self))

    def action_head(self) -> None:
        if self.top_offset == 0:
            self.move_to(0)
        else:
            self.following = False
            self._run(
                "head",
                lambda r: read_forward(r, 0, self.page_bytes),
                self._replace_at_top,
                queue=True,
            )

    def action_tail(self) -> None:
        if self.end_offset >= self.file_size and not self.following:
            self.move_to(len(self.lines) - 1)
        else:
            self._run("tail", self._read_tail, self._replace_at_end, queue=True)

    def action_shift(self, direction: int) -> None:
        longest = max((cell_len(line.text) for line in self.lines), default=0)
        width = max(1, self.size.width - 1)
        self.x = max(0, min(self.x + direction * STEP_COLUMNS, max(0, longest - width)))
        self.refresh()

    # -- drawing -------------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        base = self.rich_style
        index = self.top + y
        if index >= len(self.lines):
            if not self.lines and y == 0:
                style = base + self.get_component_rich_style("log--muted")
                return Strip([Segment(f" {self.note}", style)]).crop_extend(0, width, style)
            return Strip.blank(width, base)
        line = self.lines[index]
        style = base
        if line.error:
            style += self.get_component_rich_style("log--error", partial=True)
        if index == self.cursor:
            style += self.get_component_rich_style("log--cursor", partial=True)
        body = Strip(self._segments(line.text, style))
        room = max(0, width - 1)
        more = body.cell_length - self.x > room
        body = body.crop_extend(self.x, self.x + room - (1 if more else 0), style)
        segments = [Segment(">" if index == self.cursor else " ", style), *body]
        if more:
            segments.append(Segment("»", style))
        return Strip(segments).crop_extend(0, width, style)

    def _segments(self, text: str, style: Style) -> list[Segment]:
        marks = self.wanted.marks if self.wanted is not None else None
        if marks is None:  # nothing typed to mark (error lines are marked whole)
            return [Segment(text, style)]
        match_style = style + self.get_component_rich_style("log--match", partial=True)
        segments: list[Segment] = []
        at = 0
        for match in marks.finditer(text):
            if match.end() == match.start():
                continue
            segments.append(Segment(text[at : match.start()], style))
            segments.append(Segment(match.group(), match_style))
            at = match.end()
        segments.append(Segment(text[at:], style))
        return segments


def _human(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size} B"
