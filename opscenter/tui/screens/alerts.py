"""6 Alerts & events: baseline events to take on, and the alerts the rules sent.

Both lists are short (the newest few hundred), so each is read whole in one
backend call per refresh and served to a ``VirtualTable`` from memory; the
table keeps the cursor on the same row as rows change. Events move
NEW -> FIXING -> RECOVER (or IGNORE) with `m`, `v` and `i`, behind the confirm.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Static

from opscenter.domain.model import EVENT_MOVES
from opscenter.domain.records import AlertInfo, EventInfo
from opscenter.tui import format as fmt
from opscenter.tui.actions.base import Target
from opscenter.tui.actions.registry import keys
from opscenter.tui.screens.base import OpsScreen
from opscenter.tui.widgets.table import Column, VirtualTable, WholeList

EVENT_LIMIT = 500
ALERT_LIMIT = 200
MOMENT = "%m-%d %H:%M"

# event status -> (glyph, ascii glyph, table class): readable without colour
EVENT_LOOK = {
    "NEW": ("!", "!", "status--failure"),
    "FIXING": ("●", "*", "status--running"),
    "RECOVER": ("✓", "+", "status--success"),
    "IGNORE": ("–", "-", "muted"),
}


def event_status(event: EventInfo) -> str:
    glyph, ascii_glyph, _ = EVENT_LOOK.get(event.status, ("?", "?", ""))
    return f"{glyph if fmt.UNICODE else ascii_glyph} {event.status}"


def alert_state(alert: AlertInfo) -> str:
    if alert.resolved_at is not None:
        return f"{'✓' if fmt.UNICODE else '+'} resolved"
    return "! open"


def event_columns(zone: Any) -> list[Column]:
    return [
        Column("STATUS", 9, event_status, lambda e: EVENT_LOOK.get(e.status, ("", "", None))[2]),
        Column("KIND", 5, lambda e: e.kind, lambda e: "warn" if e.kind == "SLOW" else None),
        Column("BIZ", 5, lambda e: f"{e.bizdate:%m-%d}"),
        Column("BASELINE", 0, lambda e: e.baseline),
        Column("NODE", 0, lambda e: e.node),
        Column("UPDATED", 11, lambda e: fmt.local(e.updated_at, zone, MOMENT)),
        Column("BY", 9, lambda e: e.updated_by),
    ]


def alert_columns(zone: Any) -> list[Column]:
    return [
        Column(
            "STATE", 10, alert_state, lambda a: "muted" if a.resolved_at is not None else "warn"
        ),
        Column("RULE", 0, lambda a: a.rule),
        Column("KIND", 15, lambda a: a.kind),
        Column("FIRST", 11, lambda a: fmt.local(a.first_at, zone, MOMENT)),
        Column("LAST SENT", 11, lambda a: fmt.local(a.last_sent_at, zone, MOMENT)),
        Column(
            "SENT",
            5,
            lambda a: f"{a.sent_count}" + (" ✗" if a.last_error else ""),
            lambda a: "status--failure" if a.last_error else None,
            right=True,
        ),
    ]


class AlertsScreen(OpsScreen):
    MODE = "alerts"
    BINDINGS = [
        *keys(Target.EVENT),
        Binding("o", "toggle_open", "open only", id="open-only", tooltip="open events or all"),
        Binding("tab", "switch_pane", "pane", id="pane", tooltip="events or alerts"),
    ]
    DEFAULT_CSS = """
    AlertsScreen .pane-title { height: 1; text-style: bold; background: $boost; }
    AlertsScreen #detail { height: 2; color: $foreground-muted; padding: 0 1; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.open_only = False
        self.events: list[EventInfo] = []
        self.alerts: list[AlertInfo] = []

    def body(self) -> ComposeResult:
        zone = self.console.zone
        yield Static(id="events-title", classes="pane-title")
        yield VirtualTable(
            event_columns(zone), empty="no baseline event", selectable=False, id="events"
        )
        yield Static(id="alerts-title", classes="pane-title")
        yield VirtualTable(
            alert_columns(zone), empty="no alert sent", selectable=False, id="alerts"
        )
        yield Static(id="detail")

    def on_mount(self) -> None:
        self.events_table.focus()
        self.show_titles()

    @property
    def events_table(self) -> VirtualTable:
        return self.query_one("#events", VirtualTable)

    @property
    def alerts_table(self) -> VirtualTable:
        return self.query_one("#alerts", VirtualTable)

    # -- reading ------------------------------------------------------------------------

    def load(self) -> None:
        backend = self.console.backend
        open_only = self.open_only
        self.read(
            lambda: (backend.list_events(EVENT_LIMIT, open_only), backend.list_alerts(ALERT_LIMIT)),
            self._show,
        )

    def _show(self, result: tuple[list[EventInfo], list[AlertInfo]]) -> None:
        self.events, self.alerts = result
        self._fill(self.events_table, self.events)
        self._fill(self.alerts_table, self.alerts)
        self.show_titles()
        self.loaded()

    def _fill(self, table: VirtualTable, items: list[Any]) -> None:
        """New rows, same cursor row: the table re-reads its window from the new list."""
        source = table.source
        if isinstance(source, WholeList):
            source.replace(items)
            self._redraw(table)
        else:
            source = WholeList(lambda item: -item.id)  # newest first
            source.replace(items)
            table.set_source(source)

    def _redraw(self, table: VirtualTable) -> None:
        if not table.refresh_rows():  # a page is being read: redraw once it landed
            self.set_timer(0.1, lambda: self._redraw(table))

    def show_titles(self) -> None:
        opened = sum(e.status in EVENT_MOVES for e in self.events)
        shown = "open only" if self.open_only else "all"
        self.query_one("#events-title", Static).update(
            Text(
                f" Baseline events · {shown} (o) · {len(self.events)} shown, {opened} open",
                no_wrap=True,
                overflow="ellipsis",
            )
        )
        unresolved = sum(a.resolved_at is None for a in self.alerts)
        self.query_one("#alerts-title", Static).update(
            Text(
                f" Alerts sent · {len(self.alerts)} · {unresolved} unresolved",
                no_wrap=True,
                overflow="ellipsis",
            )
        )
        self.show_detail()

    @on(VirtualTable.CursorMoved)
    @on(VirtualTable.Changed)
    def show_detail(self) -> None:
        """The row under the cursor of the pane in use, in full (the columns cut it)."""
        zone = self.console.zone
        line = Text(no_wrap=False, overflow="ellipsis")
        if self.alerts_table.has_focus:
            alert = self.alerts_table.current
            if alert is not None:
                line.append(f"#{alert.id} {alert.rule} → {alert.target}")
                if alert.resolved_at is not None:
                    line.append(f" · resolved {fmt.local(alert.resolved_at, zone, MOMENT)}")
                if alert.last_error:
                    line.append(f" · last send failed: {alert.last_error}", style="bold")
                line.append(f"\n{alert.message}")
        else:
            event = self.events_table.current
            if event is not None:
                line.append(
                    f"#{event.id} instance #{event.instance_id} · created "
                    f"{fmt.local(event.created_at, zone, MOMENT)} · updated "
                    f"{fmt.local(event.updated_at, zone, MOMENT)} by {event.updated_by}"
                )
                line.append(f"\n{event.message}")
        self.query_one("#detail", Static).update(line)

    def on_descendant_focus(self) -> None:
        self.show_detail()

    # -- keys -----------------------------------------------------------------------------

    def action_switch_pane(self) -> None:
        other = self.alerts_table if self.events_table.has_focus else self.events_table
        other.focus()

    def action_toggle_open(self) -> None:
        self.open_only = not self.open_only
        self.show_titles()
        self.refresh_now()

    @on(VirtualTable.Opened)
    def _open(self, event: VirtualTable.Opened) -> None:
        """An event opens its instance; an alert opens the instance it is about, if one."""
        if event.table is self.events_table:
            self.console.open_instance(event.row.instance_id)
            return
        kind, _, rest = event.row.target.partition(":")
        if kind == "instance" and rest.isdigit():
            self.console.open_instance(int(rest))
        else:
            self.notify(f"this alert is about {event.row.target}: nothing to open here")

    def event_target(self) -> EventInfo | None:
        event: EventInfo | None = self.events_table.current
        return event
