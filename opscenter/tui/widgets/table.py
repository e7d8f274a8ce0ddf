"""A virtual table: a keyset-paged window of rows drawn with the Line API.

Textual's DataTable measures every cell it holds (20-30 s for 100k rows), so a
list that can be long keeps only a window here: a page is fetched when the cursor
nears either end (keyset paging through the Backend, in a worker thread), the
far end is dropped past ``max_rows``, and only the visible lines are rendered.
A refresh re-reads the window from its first row and keeps the cursor on the
same key, so rows update in place while the operator reads them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.reactive import reactive
from textual.strip import Strip
from textual.worker import Worker, WorkerState

from opscenter.domain.records import Page
from opscenter.tui.widgets.windowed import Windowed, moving

STATUS_CLASSES = (
    "status--success",
    "status--running",
    "status--wait-time",
    "status--wait-resource",
    "status--not-run",
    "status--failure",
    "status--frozen",
    "muted",
    "warn",
)


@dataclass(frozen=True)
class Column:
    title: str
    width: int  # 0: takes what the fixed columns leave
    cell: Callable[[Any], str]
    style: Callable[[Any], str | None] | None = None  # a component class for the cell
    right: bool = False
    optional: int = 0  # given up (1 first, then 2...) where the flexible one would be cut


class RowSource(Protocol):
    """Where rows come from: keyset pages in either direction. A source that keeps what it
    read (``WholeList``) also has ``renew()``, which the table calls on every refresh."""

    def fetch(self, after: Any, descending: bool, limit: int) -> Page: ...

    def key(self, row: Any) -> Hashable: ...

    def after(self, row: Any) -> Any:
        """The keyset position of ``row`` (the next page starts after it)."""
        ...

    def just_before(self, row: Any) -> Any:
        """A keyset position just before ``row``, so a page starts with ``row`` itself."""
        ...


class WholeList:
    """A short list a backend returns whole (baselines, backfills, events), served to the
    table in keyset pages.

    It is read once and kept, so paging through it costs no further read; the table's
    refresh renews it. ``order`` places each row in the list's (ascending)
    order: a page after a row is every row ordered after it. Without ``read`` the
    screen hands the rows in itself (``replace``).
    """

    def __init__(
        self, order: Callable[[Any], Any], read: Callable[[], list[Any]] | None = None
    ) -> None:
        self.order = order
        self.read = read
        self.rows: list[Any] | None = None
        self._wanted = self._have = 0  # renewals asked for / the one the rows answer
        self._reading = threading.Lock()  # a reload racing a refresh reads the list once

    def renew(self) -> None:
        """Read again at the next fetch, even if a read is under way now (it may predate
        what changed); a list handed in stays until it is replaced."""
        self._wanted += 1

    def replace(self, rows: list[Any]) -> None:
        self.rows, self._have = rows, self._wanted

    def fetch(self, after: Any, descending: bool, limit: int) -> Page:
        with self._reading:
            stale = self.read is not None and self._have != self._wanted
            if self.rows is None or stale:
                wanted = self._wanted
                self.rows = self.read() if self.read is not None else []
                self._have = wanted
            rows = self.rows
        if descending:
            rest = [r for r in reversed(rows) if after is None or (self.order(r), 1) < after]
        else:
            rest = [r for r in rows if after is None or (self.order(r), 1) > after]
        items = rest[:limit]
        more = len(rest) > limit
        return Page(items, len(rows), self.after(items[-1]) if more else None)

    def key(self, row: Any) -> Hashable:
        return self.order(row)

    def after(self, row: Any) -> tuple[Any, int]:
        return (self.order(row), 1)

    def just_before(self, row: Any) -> tuple[Any, int]:
        return (self.order(row), 0)


@dataclass
class _Fetched:
    kind: str  # reload | tail | next | previous | refresh
    page: Page


class VirtualTable(Windowed, can_focus=True):
    """Rows of a long list, fetched a page at a time, never all at once."""

    HEADER = 1  # the column titles

    BINDINGS = [
        *moving("first", "last"),
        Binding("enter", "open", "open"),
        Binding("space", "toggle_select", "select"),
    ]

    COMPONENT_CLASSES = {
        "table--header",
        "table--cursor",
        "table--selected",
        "table--empty",
        *STATUS_CLASSES,
    }

    DEFAULT_CSS = """
    VirtualTable { height: 1fr; }
    """

    total: reactive[int] = reactive(0, layout=False)

    class CursorMoved(Message):
        def __init__(self, table: VirtualTable, row: Any | None) -> None:
            self.table = table
            self.row = row
            super().__init__()

    class Opened(Message):
        def __init__(self, table: VirtualTable, row: Any) -> None:
            self.table = table
            self.row = row
            super().__init__()

    class Changed(Message):
        """The window, its total or the selection changed (for a count label)."""

        def __init__(self, table: VirtualTable) -> None:
            self.table = table
            super().__init__()

    class Failed(Message):
        def __init__(self, table: VirtualTable, error: BaseException) -> None:
            self.table = table
            self.error = error
            super().__init__()

    def __init__(
        self,
        columns: Sequence[Column],
        *,
        empty: str = "nothing matches",
        page_size: int = 200,
        max_rows: int = 1000,
        selectable: bool = True,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.columns = list(columns)
        self.empty = empty
        self.page_size = page_size
        self.max_rows = max_rows
        self.selectable = selectable
        self.source: RowSource | None = None
        self.rows: list[Any] = []
        self.first = 0  # position of rows[0] in the whole result
        self.at_head = True
        self.at_tail = True
        self.loaded = False
        self.selected: dict[Hashable, Any] = {}
        self._longest = 0  # the flexible columns' longest text in the rows held
        self._pending: str | None = None
        self._worker: Worker[_Fetched] | None = None

    # -- what the screen asks ----------------------------------------------------

    def set_source(self, source: RowSource) -> None:
        """Show another query (a filter changed): back to its first row."""
        self.source = source
        self.reload()

    def reload(self) -> None:
        self._request("reload", None, descending=False, limit=self.page_size)

    def refresh_rows(self) -> bool:
        """Re-read the window in place; False when a fetch is already under way (a whole
        list is renewed all the same, so the next fetch reads what an action changed)."""
        renew = getattr(self.source, "renew", None)  # a source that keeps what it read
        if renew is not None:
            renew()
        if self.source is None or self._pending is not None:
            return False
        after = None if not self.rows or self.at_head else self.source.just_before(self.rows[0])
        limit = max(self.page_size, len(self.rows))
        self._request("refresh", after, descending=False, limit=limit)
        return True

    @property
    def busy(self) -> bool:
        return self._pending is not None

    @property
    def current(self) -> Any | None:
        return self.rows[self.cursor] if self.rows else None

    @property
    def position(self) -> int:
        """1-based position of the cursor row in the whole result (0: none)."""
        return self.first + self.cursor + 1 if self.rows else 0

    def targets(self) -> list[Any]:
        """The selection if there is one, else the row under the cursor."""
        if self.selected:
            return list(self.selected.values())
        return [self.current] if self.current is not None else []

    def clear_selection(self) -> None:
        self.selected.clear()
        self.refresh()
        self.post_message(self.Changed(self))

    # -- fetching ------------------------------------------------------------------

    def _request(self, kind: str, after: Any, *, descending: bool, limit: int) -> None:
        source = self.source
        if source is None:
            return
        self._pending = kind

        def fetch() -> _Fetched:
            return _Fetched(kind, source.fetch(after, descending, limit))

        self._worker = self.run_worker(
            fetch, thread=True, group="table", exclusive=True, exit_on_error=False
        )

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "table":
            return
        event.stop()
        if event.worker is not self._worker:  # a fetch replaced by a newer one
            return
        if event.state == WorkerState.SUCCESS:
            self._pending = None
            fetched = event.worker.result
            assert isinstance(fetched, _Fetched)  # what fetch() returns (the worker is untyped)
            self._apply(fetched)
        elif event.state in (WorkerState.ERROR, WorkerState.CANCELLED):
            self._pending = None
            if event.state == WorkerState.ERROR and event.worker.error is not None:
                self.post_message(self.Failed(self, event.worker.error))

    def _apply(self, fetched: _Fetched) -> None:
        assert self.source is not None
        page = fetched.page
        key = self.source.key
        keep = key(self.current) if self.rows else None
        more = page.next_after is not None
        if fetched.kind == "reload":
            self.rows, self.first, self.cursor, self.top = list(page.items), 0, 0, 0
            self.at_head, self.at_tail = True, not more
        elif fetched.kind == "tail":
            self.rows = list(reversed(page.items))
            self.first = max(0, page.total - len(self.rows))
            self.at_head, self.at_tail = not more, True
            self.cursor = len(self.rows) - 1
        elif fetched.kind == "next":
            self.rows += page.items
            self.at_tail = not more
            self._trim(front=True)
        elif fetched.kind == "previous":
            before = list(reversed(page.items))
            self.rows = before + self.rows
            self.shift(len(before))
            self.first = max(0, self.first - len(before))
            self.at_head = not more
            self._trim(front=False)
        else:  # refresh: same window, rows updated in place
            self.rows = list(page.items)
            self.at_tail = not more
            if self.at_head:
                self.first = 0
            if keep is not None:
                index = next((i for i, row in enumerate(self.rows) if key(row) == keep), None)
                if index is not None:
                    self.shift(index - self.cursor)
            # keep the selected rows current where they are in view
            for row in self.rows:
                if key(row) in self.selected:
                    self.selected[key(row)] = row
        self.total = page.total
        self.loaded = True
        flexible = [c for c in self.columns if not c.width]
        self._longest = max((len(c.cell(r)) for r in self.rows for c in flexible), default=0)
        self.cursor = self.clamp(self.cursor)
        self._scroll_to_cursor()
        self.refresh()
        self.post_message(self.Changed(self))
        now_on = key(self.current) if self.rows else None
        if fetched.kind != "refresh" or now_on != keep:
            self.post_message(self.CursorMoved(self, self.current))

    def _trim(self, *, front: bool) -> None:
        extra = len(self.rows) - self.max_rows
        if extra <= 0:
            return
        if front:
            self.rows = self.rows[extra:]
            self.first += extra
            self.shift(-extra)
            self.at_head = False
        else:
            self.rows = self.rows[:-extra]
            self.at_tail = False

    def _near_edges(self, toward: int) -> None:
        """Fetch the next page in the direction of travel when the cursor nears that edge."""
        if self.source is None or self._pending is not None or not self.rows:
            return
        if toward > 0 and not self.at_tail and self.near_tail():
            after = self.source.after(self.rows[-1])
            self._request("next", after, descending=False, limit=self.page_size)
        elif toward < 0 and not self.at_head and self.near_head():
            after = self.source.after(self.rows[0])
            self._request("previous", after, descending=True, limit=self.page_size)

    # -- moving ----------------------------------------------------------------------

    def _count(self) -> int:
        return len(self.rows)

    def _moved(self, before: int) -> None:
        if self.cursor != before:
            self.post_message(self.CursorMoved(self, self.current))
            self.post_message(self.Changed(self))

    def action_head(self) -> None:
        if self.at_head:
            self.move_to(0)
        else:
            self.reload()

    def action_tail(self) -> None:
        if self.at_tail:
            self.move_to(len(self.rows) - 1)
        else:
            self._request("tail", None, descending=True, limit=self.page_size)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """A list that cannot select does not offer space (nor show it in the hints)."""
        return self.selectable or action != "toggle_select"

    def action_toggle_select(self) -> None:
        if not self.selectable or self.current is None or self.source is None:
            return
        key = self.source.key(self.current)
        if key in self.selected:
            del self.selected[key]
        else:
            self.selected[key] = self.current
        self.post_message(self.Changed(self))
        self.move_to(self.cursor + 1)
        self.refresh()

    def action_open(self) -> None:
        if self.current is not None:
            self.post_message(self.Opened(self, self.current))

    def on_click(self, event: events.Click) -> None:
        if event.y >= 1:
            self.move_to(self.top + event.y - 1)
            if event.chain == 2:
                self.action_open()

    # -- drawing -----------------------------------------------------------------------

    def _layout(self) -> list[tuple[Column, int]]:
        """The columns shown, with their widths: the flexible ones share what the fixed
        ones leave, and the optional ones give theirs up, in their order, while that share
        would cut the longest text (a node's name) in the rows held."""
        columns = list(self.columns)
        while True:
            fixed = sum(c.width + 1 for c in columns if c.width)
            flex = [c for c in columns if not c.width]
            rest = max(4, self.size.width - 2 - fixed - len(flex))  # 2: the mark column
            share = rest // len(flex) if flex else 0
            optional = sorted((c for c in columns if c.optional), key=lambda c: c.optional)
            if share >= self._longest or not optional:
                return [(c, c.width or share) for c in columns]
            columns.remove(optional[0])

    def _cells(
        self, layout: list[tuple[Column, int]], texts: list[str], styles: list[Style]
    ) -> list[Segment]:
        segments: list[Segment] = []
        for (column, width), text, style in zip(layout, texts, styles, strict=True):
            if len(text) > width:
                text = text[: max(0, width - 1)] + "…"
            cell = text.rjust(width) if column.right else text.ljust(width)
            segments.append(Segment(cell, style))
            segments.append(Segment(" ", style))
        return segments

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        base = self.rich_style
        layout = self._layout()
        if y == 0:
            style = base + self.get_component_rich_style("table--header")
            titles = [c.title for c, _ in layout]
            segments = [Segment("  ", style), *self._cells(layout, titles, [style] * len(layout))]
            return Strip(segments).apply_style(style).crop_extend(0, width, style)
        index = self.top + y - 1
        if index >= len(self.rows):
            if not self.rows and y == 1:
                text = "loading…" if not self.loaded else self.empty
                style = base + self.get_component_rich_style("table--empty")
                return Strip([Segment(f"  {text}", style)]).crop_extend(0, width, style)
            return Strip.blank(width, base)
        row = self.rows[index]
        assert self.source is not None
        chosen = self.source.key(row) in self.selected
        line = base
        if chosen:
            line = line + self.get_component_rich_style("table--selected")
        if index == self.cursor:
            line = line + self.get_component_rich_style("table--cursor")
        mark = (">" if index == self.cursor else " ") + ("*" if chosen else " ")
        texts = [c.cell(row) for c, _ in layout]
        styles = []
        for column, _ in layout:
            name = column.style(row) if column.style else None
            cell_style = line
            if name and index != self.cursor:
                cell_style = line + self.get_component_rich_style(name, partial=True)
            styles.append(cell_style)
        segments = [Segment(mark, line), *self._cells(layout, texts, styles)]
        return Strip(segments).crop_extend(0, width, line)
