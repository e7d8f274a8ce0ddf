"""5 Baselines: each promise for the business date, and one baseline's key path and events.

The list shows the prediction against the committed time and the slack; Enter
opens a baseline: its key path as a text Gantt (solid what ran, shaded what is
predicted, the committed and alert times marked) and its events, which an
operator takes on (`m` fixing), closes (`v` recovered) or dismisses (`i` ignore).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.widgets import OptionList, Static

from opscenter.domain.commitment import finished_words, late_or_early
from opscenter.domain.records import (
    ActionRefused,
    BaselineDetail,
    BaselineStatus,
    EventInfo,
    KeyPathStep,
    blocked_text,
    counted,
)
from opscenter.domain.rules import minutes_text
from opscenter.domain.times import to_store
from opscenter.tui import format as fmt
from opscenter.tui.actions.base import Target
from opscenter.tui.actions.registry import actions_on, keys
from opscenter.tui.screens.base import OpsScreen, TableScreen
from opscenter.tui.widgets.gantt import gantt
from opscenter.tui.widgets.rowlist import RowList
from opscenter.tui.widgets.table import Column, VirtualTable, WholeList

# status word -> (glyph, ASCII glyph, component class); the word always goes with it
BASELINE_STATES = {
    "SAFE": ("✓", "+", "status--success"),
    "WARNING": ("!", "!", "warn"),
    "OVER": ("✗", "x", "status--failure"),
    "ERROR": ("?", "?", "status--failure"),  # no prediction: its outputs are missing or frozen
}
EVENT_CLASSES = {"NEW": "bad", "FIXING": "warn", "RECOVER": "good", "IGNORE": "muted"}


def baseline_word(status: str) -> str:
    """``! WARNING``: glyph and word, readable without colour."""
    glyph, ascii_glyph, _ = BASELINE_STATES.get(status, ("?", "?", ""))
    return f"{glyph if fmt.UNICODE else ascii_glyph} {status}"


def baseline_class(status: str) -> str:
    return BASELINE_STATES.get(status, ("", "", "muted"))[2]


def slack(b: BaselineStatus) -> str:
    """``-18m`` late or ``+1h20m`` to spare before the committed time."""
    minutes = b.slack_minutes
    return "-" if minutes is None else minutes_text(minutes, signed=True)


def against_commitment(b: BaselineStatus) -> str:
    """The list's SLACK: what a prediction leaves before the commitment (``-18m``), and once
    the baseline finished, how it kept it (``1m late``, ``20m early``: words, not a sign,
    which also say that it is done)."""
    return late_or_early(b) if b.finished else slack(b)


# -- the list ----------------------------------------------------------------------------


def _order(b: BaselineStatus) -> tuple[int, str, float]:
    return (-b.priority, b.name, b.cycle)


def baseline_rows(backend: Any, bizdate: date) -> WholeList:
    """One row per baseline and cycle of the business date, highest priority first."""
    return WholeList(_order, lambda: sorted(backend.list_baselines(bizdate), key=_order))


def _key_instance(b: BaselineStatus) -> str:
    if b.key_instance is None:
        return "-"
    key = b.key_instance
    return f"{fmt.glyph(key.status, key.dry_run)} {key.node}"


class BaselinesScreen(TableScreen):
    MODE = "baselines"
    BINDINGS = [Binding("enter", "noop", "open key path", id="open")]
    DEFAULT_CSS = """
    BaselinesScreen #baseline-detail {
        height: 2;
        padding: 0 1;
        color: $foreground-muted;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    """

    def body(self) -> ComposeResult:
        yield Static(id="chips")
        yield VirtualTable(
            self.columns(),
            empty="no baseline for this business date",
            selectable=False,
            id="list",
        )
        yield Static(id="baseline-detail")

    def columns(self) -> list[Column]:
        local = self.console.zone
        return [
            Column(
                "STATUS", 9, lambda b: baseline_word(b.status), lambda b: baseline_class(b.status)
            ),
            Column("BASELINE", 0, lambda b: b.name + (f" c{b.cycle}" if b.cycle > 1 else "")),
            Column("PRIO", 4, lambda b: str(b.priority), right=True),
            Column("FINISH", 6, lambda b: fmt.local(b.predicted_finish, local)),
            Column("COMMIT", 6, lambda b: fmt.local(b.committed_at, local)),
            Column("SLACK", 11, against_commitment, right=True),
            Column("KEY INSTANCE", 18, _key_instance),
        ]

    @property
    def table(self) -> VirtualTable:
        return self.query_one("#list", VirtualTable)

    def on_mount(self) -> None:
        self.table.focus()
        self.table.set_source(baseline_rows(self.console.backend, self.console.day_in_view()))

    def bizdate_changed(self) -> None:
        if self.is_mounted:
            self.table.set_source(baseline_rows(self.console.backend, self.console.day_in_view()))

    @on(VirtualTable.Changed)
    def _show_chips(self) -> None:
        table = self.table
        left = f" Baselines  bizdate {self.console.day_in_view()}"
        right = f"{table.position}/{table.total}"
        self.show_heading(left, right)
        self._describe()

    @on(VirtualTable.CursorMoved)
    def _describe(self) -> None:
        """The cursor row's other facts: how it finishes against the commitment, the alert
        time, owner, what it protects."""
        b: BaselineStatus | None = self.table.current
        text = Text(no_wrap=True, overflow="ellipsis")
        if b is not None:
            zone = self.console.zone
            if b.blocked:
                when = blocked_text(b, zone)
            elif b.finished and b.predicted_finish is not None:
                when = finished_words(b, zone)
            else:
                when = f"predicted {fmt.local(b.predicted_finish, zone)}"
            text.append(
                f"{when} · committed {fmt.local(b.committed_at, zone)} · "
                f"alert {fmt.local(b.alert_at, zone)}\n"
                f"owner {b.owner} · {b.type} · "
                f"protects {counted(b.protected, 'instance')} of "
                f"{counted(len(b.nodes), 'node')}: {', '.join(b.nodes)}"
            )
        self.query_one("#baseline-detail", Static).update(text)

    @on(VirtualTable.Failed)
    def _failed(self, event: VirtualTable.Failed) -> None:
        self.failed(event.error)

    @on(VirtualTable.Opened)
    def _open(self, event: VirtualTable.Opened) -> None:
        self.console.open_baseline(event.row.name, event.row.cycle)

    def action_noop(self) -> None:
        """Enter acts in the table; this binding only names it in the hints."""


# -- one baseline --------------------------------------------------------------------------


class BaselineScreen(OpsScreen):
    """One baseline on the header's business date: the promise, the key path, the events."""

    MODE = "baselines"
    BINDINGS = [
        Binding("enter", "open", "open instance", id="open"),
        *keys(Target.EVENT),
        Binding("tab", "app.focus_next", "pane", id="next-pane"),
        Binding("escape", "app.back", "back", id="back"),
    ]
    DEFAULT_CSS = """
    BaselineScreen #baseline-head { text-style: bold; }
    BaselineScreen #baseline-head, BaselineScreen #baseline-state {
        height: 1;
        padding: 0 1;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    BaselineScreen #baseline-body { height: 1fr; scrollbar-size-vertical: 1; }
    BaselineScreen #keypath { max-height: 20; }
    BaselineScreen #events { max-height: 12; }
    BaselineScreen .gantt-note {
        color: $foreground-muted;
        height: 1;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    """

    def __init__(self, name: str, cycle: int = 1) -> None:
        super().__init__()
        self.baseline = name
        self.cycle = cycle
        self.detail: BaselineDetail | None = None
        self.now: datetime | None = None

    def body(self) -> ComposeResult:
        yield Static(id="baseline-head")
        yield Static(id="baseline-state")
        with VerticalScroll(id="baseline-body", can_focus=False):
            with Vertical(id="keypath-panel", classes="panel") as panel:
                panel.border_title = "Key path"  # the clock is added once read
                yield Static(id="gantt-axis", classes="gantt-note")
                yield RowList(empty="no key path yet: nothing predicted", id="keypath")
                yield Static(id="gantt-legend", classes="gantt-note")
            with Vertical(id="events-panel", classes="panel") as panel:
                panel.border_title = "Events"
                yield RowList(empty="no events", id="events")

    def on_mount(self) -> None:
        self.query_one("#keypath", RowList).focus()
        events = self.query_one("#events-panel")
        if not self.console.readonly:
            moves = "  ".join(f"{a.key} {a.hint}" for a in actions_on(Target.EVENT))
            events.border_title = f"Events · {moves}"

    def bizdate_changed(self) -> None:
        self.detail = None
        super().bizdate_changed()

    def load(self) -> None:
        backend = self.console.backend
        bizdate = self.console.day_in_view()

        def call() -> tuple[BaselineDetail | ActionRefused, datetime]:
            now = to_store(backend.now())
            try:
                return backend.get_baseline(self.baseline, bizdate, self.cycle), now
            except ActionRefused as refused:  # no such baseline that day: say so, not stale
                return refused, now

        self.read(call, self._show)

    def _show(self, answer: tuple[BaselineDetail | ActionRefused, datetime]) -> None:
        found, self.now = answer
        if isinstance(found, ActionRefused):
            self.detail = None
            self._head_missing(found.reason)
        else:
            self.detail = found
            self._draw()
        self.loaded()

    def on_resize(self) -> None:
        if self.detail is not None:
            self._draw()

    # -- drawing ------------------------------------------------------------------------

    def _head_missing(self, reason: str) -> None:
        self.query_one("#baseline-head", Static).update(
            Text(f"{self.baseline} · bizdate {self.console.day_in_view()}", no_wrap=True)
        )
        self.query_one("#baseline-state", Static).update(Text(reason, no_wrap=True))
        self.query_one("#keypath", RowList).show([])
        self.query_one("#events", RowList).show([])
        for note in ("#gantt-axis", "#gantt-legend"):
            self.query_one(note, Static).update("")

    def _draw(self) -> None:
        assert self.detail is not None and self.now is not None
        b = self.detail.status
        zone = self.console.zone
        self.query_one("#baseline-head", Static).update(
            Text(self._head(b), no_wrap=True, overflow="ellipsis")
        )
        keys = self.query_one("#keypath", RowList)
        state = Text(no_wrap=True, overflow="ellipsis")
        state.append(baseline_word(b.status), keys.style(baseline_class(b.status)))
        if b.blocked:  # at risk until an operator acts: what holds it, and if they act now
            state.append(f"  {blocked_text(b, zone)}")
        elif b.predicted_finish is None:
            state.append("  no prediction: its output instances are missing or frozen")
        elif b.finished:
            state.append(f"  {finished_words(b, zone)}")
        else:
            state.append(f"  predicted {fmt.local(b.predicted_finish, zone)} ({slack(b)})")
        if b.key_instance is not None:  # (a finished one has none: its words say it is done)
            state.append(f"   current key instance: {b.key_instance.node}")
        self.query_one("#baseline-state", Static).update(state)
        self._draw_gantt(keys)
        self._draw_events()

    def _head(self, b: BaselineStatus) -> str:
        """The promise's facts in one line: where they do not fit (80 columns), the labels
        are shortened before any fact is cut."""
        committed = fmt.local(b.committed_at, self.console.zone)
        margin = minutes_text(int((b.committed_at - b.alert_at).total_seconds() // 60))
        name = b.name + (f" · cycle {b.cycle}" if b.cycle > 1 else "")
        wide = (
            f"{name} · prio {b.priority} · committed {committed} · margin {margin} · "
            f"bizdate {b.bizdate:%Y%m%d} · owner {b.owner}"
        )
        room = self.query_one("#baseline-head", Static).content_size.width or self.size.width
        if len(wide) <= room:
            return wide
        return (
            f"{name} · commit {committed} · margin {margin} · {b.bizdate:%Y%m%d} · "
            f"prio {b.priority} · owner {b.owner}"
        )

    def _draw_gantt(self, keys: RowList) -> None:
        assert self.detail is not None and self.now is not None
        b = self.detail.status
        steps = self.detail.key_path
        zone = self.console.zone
        panel = self.query_one("#keypath-panel", Vertical)
        width = max(30, (panel.content_size.width or self.size.width - 4) - 1)
        drawn = gantt(
            steps,
            now=self.now,
            committed=b.committed_at,
            alert=b.alert_at,
            width=width,
            zone=zone,
            unicode=fmt.UNICODE,
        )
        rows: list[tuple[int, Text, KeyPathStep]] = []
        for step, line in zip(steps, drawn.rows, strict=True):
            text = Text(line, no_wrap=True, overflow="ellipsis")
            at = drawn.name_width + 1
            text.stylize(keys.style(fmt.status_class(step.instance.status)), at, at + 1)
            rows.append((step.instance.id, text, step))
        keys.show(rows)
        now = fmt.local(self.now, zone)
        panel.border_title = f"Key path · {len(steps)} instances · now {now}"
        self.query_one("#gantt-axis", Static).update(Text(drawn.axis if steps else ""))
        self.query_one("#gantt-legend", Static).update(
            Text(drawn.legend if steps else "", no_wrap=True, overflow="ellipsis")
        )

    def _draw_events(self) -> None:
        assert self.detail is not None
        zone = self.console.zone
        events = self.query_one("#events", RowList)
        rows: list[tuple[int, Text, EventInfo]] = []
        for e in self.detail.events:
            text = Text(no_wrap=True, overflow="ellipsis")
            text.append(f"#{e.id:<3} {e.kind:<5} ")
            text.append(f"{e.status:<7}", events.style(EVENT_CLASSES.get(e.status, "muted")))
            text.append(f" {fmt.local(e.created_at, zone)} {e.node}")
            if e.status != "NEW":  # who took it on, and when
                text.append(f" ({e.updated_by} {fmt.local(e.updated_at, zone)})")
            text.append(f"  {e.message}")
            rows.append((e.id, text, e))
        events.show(rows, empty=f"no events for {self.baseline} on this business date")

    # -- keys ------------------------------------------------------------------------

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.action_open()

    def action_open(self) -> None:
        focused = self.focused
        if isinstance(focused, RowList) and focused.id == "events" and focused.current:
            self.console.open_instance(focused.current.instance_id)
            return
        step = self.query_one("#keypath", RowList).current
        if step is not None:
            self.console.open_instance(step.instance.id)

    def event_target(self) -> EventInfo | None:
        event: EventInfo | None = self.query_one("#events", RowList).current
        return event

    def event_words(self, event: EventInfo, status: str) -> tuple[str, str]:
        """This screen is the event's baseline: the confirm names its move and its message."""
        return (
            f"1 event of baseline {event.baseline} will go from {event.status} to {status}:",
            f"#{event.id} {event.kind} {event.node}: {event.message}",
        )
