"""A cursor over a window of lines, for the widgets that hold only part of a long list.

The virtual table (rows of a keyset-paged query) and the log view (lines of a file read in
byte pages) move a cursor the same way: keep it in view, page by a screenful, clamp at the
lines held, and read on when it nears an edge of what is held. ``LineWindow`` is that
arithmetic alone, so it can be tested without a terminal; ``Windowed`` is the widget part
(keys, mouse, resize) and leaves fetching, messages and drawing to each widget.
"""

from __future__ import annotations

from textual import events
from textual.binding import Binding
from textual.widget import Widget


def moving(first: str, last: str) -> list[Binding]:
    """The keys that move a cursor through lines: arrows and pages, with vim's aliases."""
    return [
        Binding("up,k", "cursor(-1)", "up", show=False),
        Binding("down,j", "cursor(1)", "down", show=False),
        Binding("pageup,ctrl+b", "page(-1)", "page up", show=False),
        Binding("pagedown,ctrl+f", "page(1)", "page down", show=False),
        Binding("home,g", "head", first, show=False),
        Binding("end,G", "tail", last, show=False),
    ]


class LineWindow:
    """The cursor line and the first line shown (``top``), both indexes into the lines held.

    A subclass says how many lines it holds and how many fit on screen. The cursor is near
    an edge within ``EDGE_SCREENS`` screenfuls or ``EDGE_LINES`` lines of it, whichever is
    more: far enough ahead that the next page lands before the cursor gets there.
    """

    EDGE_SCREENS = 1
    EDGE_LINES = 10

    cursor = 0
    top = 0

    def _count(self) -> int:
        raise NotImplementedError

    def _visible(self) -> int:
        raise NotImplementedError

    def clamp(self, index: int) -> int:
        """``index`` as a line held (0 when none is)."""
        return max(0, min(index, self._count() - 1))

    def shows(self, index: int) -> bool:
        return self.top <= index < self.top + self._visible()

    def _scroll_to_cursor(self, center: bool = False) -> None:
        """Scroll the least that brings the cursor into view (``center``: a third of the way
        down, so the lines after a found line show), never past the last line."""
        visible = self._visible()
        if center:
            self.top = self.cursor - visible // 3
        elif self.cursor < self.top:
            self.top = self.cursor
        elif self.cursor >= self.top + visible:
            self.top = self.cursor - visible + 1
        self.top = max(0, min(self.top, max(0, self._count() - visible)))

    def place(self, index: int, *, center: bool = False) -> None:
        """The cursor on line ``index`` (clamped) and in view; ``center`` only scrolls a line
        that was out of view, so a match already on screen does not jump."""
        index = self.clamp(index)
        self.cursor = index
        self._scroll_to_cursor(center and not self.shows(index))

    def paged(self, direction: int) -> int:
        """The line a screenful up (-1) or down (1) from the cursor, before clamping."""
        return self.cursor + direction * self._visible()

    def _margin(self) -> int:
        return max(self._visible() * self.EDGE_SCREENS, self.EDGE_LINES)

    def near_head(self) -> bool:
        return self.cursor < self._margin()

    def near_tail(self) -> bool:
        return self.cursor >= self._count() - self._margin()

    def shift(self, lines: int) -> None:
        """Lines were added (positive) or dropped (negative) above the window: the cursor and
        the view stay on the lines they were on."""
        self.cursor = max(0, self.cursor + lines)
        self.top = max(0, self.top + lines)


class Windowed(LineWindow, Widget):
    """A widget showing a window of lines under a cursor: moving, paging, the mouse wheel.

    ``HEADER`` lines at the top (a table's titles) are not lines of the window. Each widget
    says what a move means (``_moved``: its messages) and reads on near an edge
    (``_near_edges``).
    """

    HEADER = 0

    def _visible(self) -> int:
        return max(1, self.size.height - self.HEADER)

    def _moved(self, before: int) -> None:
        """The cursor was placed (it was on line ``before``)."""

    def _near_edges(self, toward: int) -> None:
        """Read more lines if the cursor nears an edge; ``toward`` is the move's direction."""

    def move_to(self, index: int, *, center: bool = False, fetch: bool = True) -> None:
        """The cursor to line ``index``, clamped to the lines held and scrolled into view;
        then, unless not ``fetch``, more lines are read if it nears an edge."""
        if not self._count():
            self.refresh()
            return
        before = self.cursor
        self.place(index, center=center)
        self.refresh()
        self._moved(before)
        if fetch:
            self._near_edges(index - before)

    def action_cursor(self, step: int) -> None:
        self.move_to(self.cursor + step)

    def action_page(self, direction: int) -> None:
        self.move_to(self.paged(direction))

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        event.stop()
        self.move_to(self.cursor + 3)

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        event.stop()
        self.move_to(self.cursor - 3)

    def on_resize(self) -> None:
        self._scroll_to_cursor()
        self.refresh()
