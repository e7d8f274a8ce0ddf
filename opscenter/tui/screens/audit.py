"""7 Audit: who did what, from where, and whether it was refused; newest first.

The log only grows, so it is paged by id (``Backend.audit_log(limit, before_id)``)
into a ``VirtualTable`` that keeps a bounded window. The backend gives no count,
so the screen says how far it has read ("37 of 200+") instead of a total.
`/` searches action, user, targets and detail by reading older pages until a
page of matches is found; Enter shows an entry in full.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from opscenter.domain.records import AuditEntry, Page
from opscenter.tui import format as fmt
from opscenter.tui.screens.base import TableScreen
from opscenter.tui.widgets.table import Column, VirtualTable

PAGE_SIZE = 100
MAX_ROWS = 200  # the window the table keeps; older or newer pages replace its far end
SCAN_BATCH = 1000  # entries read per backend call while searching
OUTCOMES = ("any", "ok", "refused")
MOMENT = "%m-%d %H:%M:%S"


def targets_text(entry: AuditEntry) -> str:
    return ", ".join(str(t) for t in entry.targets)


def outcome_word(entry: AuditEntry) -> str:
    if entry.outcome == "ok":
        return f"{'✓' if fmt.UNICODE else '+'} ok"
    if entry.outcome == "refused":
        return f"{'✗' if fmt.UNICODE else 'x'} refused"
    return entry.outcome


class AuditRows:
    """The audit log newest first, keyset-paged by id, optionally filtered.

    Forward pages are ``audit_log(before_id=...)``; pages toward the newest end
    (after the table dropped its head) are read as id windows above the keyset.
    A filter is applied while reading, so a page holds only matches.
    """

    def __init__(self, backend: Any, text: str = "", outcome: str = "any") -> None:
        self.backend = backend
        self.text = text.lower()
        self.outcome = outcome
        self.retired = False  # a newer search replaced this one: stop scanning

    @property
    def filtered(self) -> bool:
        return bool(self.text) or self.outcome != "any"

    def matches(self, entry: AuditEntry) -> bool:
        if self.outcome != "any" and entry.outcome != self.outcome:
            return False
        if not self.text:
            return True
        haystack = " ".join((entry.action, entry.user, targets_text(entry), entry.detail))
        return self.text in haystack.lower()

    def fetch(self, after: int | None, descending: bool, limit: int) -> Page:
        if descending:
            if after is None:
                raise ValueError("the audit log has no count: it is read from the newest")
            return self._newer(after, limit)
        return self._older(after, limit)

    def _older(self, before: int | None, limit: int) -> Page:
        found: list[AuditEntry] = []
        while len(found) <= limit and not self.retired:
            size = SCAN_BATCH if self.filtered else limit + 1
            batch = self.backend.audit_log(size, before)
            found += [e for e in batch if self.matches(e)]
            if len(batch) < size:
                break
            before = batch[-1].id
        items = found[:limit]
        more = len(found) > limit
        return Page(items, len(items), items[-1].id if more else None)

    def _newer(self, after: int, limit: int) -> Page:
        newest = self.backend.audit_log(1)
        top = newest[0].id if newest else after
        found: list[AuditEntry] = []
        low = after
        while low < top and len(found) <= limit and not self.retired:
            high = low + SCAN_BATCH
            batch = self.backend.audit_log(SCAN_BATCH, high + 1)  # ids up to high, newest first
            found += [e for e in reversed(batch) if e.id > low and self.matches(e)]
            low = high
        items = found[:limit]
        more = len(found) > limit
        return Page(items, len(items), items[-1].id if more else None)

    def key(self, row: AuditEntry) -> int:
        return row.id

    def after(self, row: AuditEntry) -> int:
        return row.id

    def just_before(self, row: AuditEntry) -> int:
        return row.id + 1


class AuditTable(VirtualTable):
    """`G` goes to the oldest entry read so far and reads on: the log has no count to jump to."""

    def action_tail(self) -> None:
        self.move_to(len(self.rows))


class AuditEntryScreen(ModalScreen[None]):
    """One audit entry in full: every target and the whole detail."""

    BINDINGS = [Binding("escape,enter,q", "close", "close", id="close")]
    DEFAULT_CSS = """
    AuditEntryScreen { align: center middle; background: $background 60%; }
    AuditEntryScreen #entry {
        width: 76; max-width: 100%; height: auto; max-height: 90%;
        border: round $primary; background: $surface; padding: 0 1;
    }
    AuditEntryScreen #entry-body { height: auto; max-height: 18; }
    AuditEntryScreen #entry-keys { color: $foreground-muted; }
    """

    def __init__(self, entry: AuditEntry, zone: Any) -> None:
        super().__init__()
        self.entry = entry
        self.zone = zone

    def compose(self) -> ComposeResult:
        entry = self.entry
        with Vertical(id="entry"):
            yield Static(Text(f"Audit #{entry.id} · {entry.action}", style="bold"))
            with VerticalScroll(id="entry-body"):
                yield Static(self._body())
            yield Static(Text("esc close"), id="entry-keys")

    def _body(self) -> Text:
        entry = self.entry
        at = fmt.local(entry.at, self.zone, "%Y-%m-%d %H:%M:%S")
        text = Text()
        text.append(f"at       {at} ({self.zone})\n")
        wall_at = entry.wall_at
        if wall_at is not None and abs((wall_at - entry.at).total_seconds()) >= 1:  # simulated
            wall = fmt.local(wall_at, self.zone, "%Y-%m-%d %H:%M:%S")
            text.append(f"real     {wall} (wall clock; the world's is simulated)\n")
        text.append(f"user     {entry.user} (from {entry.source})\n")
        text.append(f"outcome  {outcome_word(entry)}\n")
        text.append(f"targets  {len(entry.targets)}\n")
        for target in entry.targets:
            text.append(f"  {target}\n")
        text.append(f"detail   {entry.detail or '-'}")
        return text

    def action_close(self) -> None:
        self.dismiss(None)


class AuditScreen(TableScreen):
    MODE = "audit"
    BINDINGS = [
        Binding(
            "slash",
            "search",
            "search",
            id="search",
            priority=True,
            tooltip="action, user, targets, detail",
        ),
        Binding("t", "next_outcome", "outcome", id="outcome-filter", tooltip="any, ok, refused"),
        Binding("c", "clear_filters", "clear filters", show=False, id="clear-filters"),
    ]
    DEFAULT_CSS = """
    AuditScreen #preview { height: 2; color: $foreground-muted; padding: 0 1; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.text = ""
        self.outcome = 0
        self.rows: AuditRows | None = None

    def body(self) -> ComposeResult:
        zone = self.console.zone
        yield Static(id="chips")
        yield Input(placeholder="/ search action, user, targets, detail", id="search")
        yield AuditTable(
            [
                Column("AT", 14, lambda e: fmt.local(e.at, zone, MOMENT)),
                Column("USER", 8, lambda e: e.user),
                Column("SRC", 3, lambda e: e.source),
                Column("ACTION", 14, lambda e: e.action),
                Column(
                    "OUTCOME",
                    9,
                    outcome_word,
                    lambda e: "status--failure" if e.outcome == "refused" else None,
                ),
                Column("TARGETS", 0, targets_text),
            ],
            empty="no audit entry matches (c clears the filters)",
            page_size=PAGE_SIZE,
            max_rows=MAX_ROWS,
            selectable=False,
            id="audit",
        )
        yield Static(id="preview")

    def on_mount(self) -> None:
        self.table.focus()
        self.refilter()

    @property
    def table(self) -> AuditTable:
        return self.query_one("#audit", AuditTable)

    def refilter(self) -> None:
        if self.rows is not None:
            self.rows.retired = True
        self.rows = AuditRows(self.console.backend, self.text, OUTCOMES[self.outcome])
        self.table.set_source(self.rows)
        self.show_chips()

    # -- the refresh loop drives the table's own window refresh ------------------------------

    @on(VirtualTable.Changed)
    def show_chips(self) -> None:
        table = self.table
        chips = ["Audit log", "newest first", f"outcome {OUTCOMES[self.outcome]}"]
        if self.text:
            chips.append(f"search {self.text!r}")
        read = table.first + len(table.rows)
        right = f"{table.position:,} of {read:,}{'' if table.at_tail else '+'}"
        left = " " + "  ".join(chips)
        self.show_heading(left, right)
        self.show_preview()

    @on(VirtualTable.CursorMoved)
    def show_preview(self) -> None:
        """The detail of the entry under the cursor (the columns have no room for it)."""
        entry: AuditEntry | None = self.table.current
        text = Text(overflow="ellipsis")
        if entry is not None:
            text.append(f"#{entry.id} {entry.user} via {entry.source}: {entry.detail or '-'}")
        self.query_one("#preview", Static).update(text)

    @on(VirtualTable.Opened)
    def _open(self, event: VirtualTable.Opened) -> None:
        self.app.push_screen(AuditEntryScreen(event.row, self.console.zone))

    # -- search and filters -------------------------------------------------------------------

    def action_next_outcome(self) -> None:
        self.outcome = (self.outcome + 1) % len(OUTCOMES)
        self.refilter()

    def action_clear_filters(self) -> None:
        self.outcome = 0
        self.text = ""
        self.query_one("#search", Input).value = ""
        self.refilter()
