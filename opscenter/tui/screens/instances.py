"""3 Instances: every instance of a business date, filtered, searched and acted on in batches.

The list is a keyset-paged window (``VirtualTable``): 100,000 instances cost
one page of rows. Filters are chips on the first line; ``/`` searches node
names as you type; space selects across pages; actions confirm with the list.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Input, Static

from opscenter.domain.model import InstanceKind, Status
from opscenter.domain.records import ActionResult, InstanceFilter, InstanceInfo, Page
from opscenter.domain.times import to_store
from opscenter.tui import format as fmt
from opscenter.tui.actions.base import Target
from opscenter.tui.actions.registry import keys
from opscenter.tui.screens.base import TableScreen
from opscenter.tui.screens.prompt import PromptScreen
from opscenter.tui.widgets.table import Column, VirtualTable

# `t` steps through these: what an operator looks for, in the order they look
STATUS_CHOICES: tuple[tuple[str, tuple[Status, ...]], ...] = (
    ("any", ()),
    ("FAILURE", (Status.FAILURE,)),
    ("RUNNING", (Status.RUNNING,)),
    ("waiting", (Status.NOT_RUN, Status.WAIT_TIME, Status.WAIT_RESOURCE)),
    ("SUCCESS", (Status.SUCCESS,)),
    ("FROZEN", (Status.FROZEN,)),
)
KIND_CHOICES: tuple[InstanceKind | None, ...] = (None, *InstanceKind)


class InstanceRows:
    """Instances through the Backend, a keyset page at a time."""

    def __init__(self, backend: Any, flt: InstanceFilter) -> None:
        self.backend = backend
        self.flt = flt

    def fetch(self, after: Any, descending: bool, limit: int) -> Page:
        return self.backend.list_instances(
            replace(self.flt, after=after, descending=descending, limit=limit)
        )

    def key(self, row: InstanceInfo) -> int:
        return row.id

    def after(self, row: InstanceInfo) -> tuple[datetime, int]:
        return (row.cyctime, row.id)

    def just_before(self, row: InstanceInfo) -> tuple[datetime, int]:
        return (row.cyctime, row.id - 1)


def instance_columns(now_utc: Any) -> list[Column]:
    """Status (glyph + word), node, cyctime, bizdate, attempt, run time against average, owner."""
    return [
        Column(
            "STATUS",
            11,
            lambda i: fmt.instance_status(i, short=True),
            lambda i: fmt.status_class(i.status),
        ),
        Column("NODE", 0, lambda i: i.node),
        Column("CYCTIME", 11, lambda i: fmt.cyctime(i.cyctime)),
        Column("BIZ", 5, lambda i: f"{i.bizdate:%m-%d}", optional=1),  # the chips say it
        Column("ATT", 4, fmt.attempt),
        Column("DURATION", 14, lambda i: fmt.duration_against_average(i, now_utc())),
        Column("OWNER", 8, lambda i: i.owner, optional=2),  # before a node's name is cut
    ]


class InstancesScreen(TableScreen):
    MODE = "instances"
    BINDINGS = [
        *keys(Target.INSTANCES),
        Binding("slash", "search", "search", id="search", priority=True),
        Binding("t", "next_status", "status", show=False, id="status-filter"),
        Binding("i", "next_kind", "kind", show=False, id="kind-filter"),
        Binding("o", "pick_owner", "owner", show=False, id="owner-filter"),
        Binding("n", "pick_node", "node", show=False, id="node-filter"),
        Binding("c", "clear_filters", "clear filters", show=False, id="clear-filters"),
        Binding("y", "copy", "copy id", show=False, id="copy"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.status_choice = 0
        self.kind_choice = 0
        self.owner = ""
        self.node = ""
        self.text = ""
        self.backfill_id: int | None = None

    def body(self) -> ComposeResult:
        yield Static(id="chips")
        yield Input(placeholder="/ search node names", id="search")
        yield VirtualTable(
            instance_columns(lambda: to_store(self.console.backend.now())),
            empty="no instance matches these filters (c clears them)",
            id="instances",
        )

    def on_mount(self) -> None:
        self.table.focus()
        self.table.set_source(InstanceRows(self.console.backend, self.filter()))

    @property
    def table(self) -> VirtualTable:
        return self.query_one("#instances", VirtualTable)

    def filter(self) -> InstanceFilter:
        return InstanceFilter(
            bizdate=self.console.bizdate,
            statuses=STATUS_CHOICES[self.status_choice][1],
            owner=self.owner,
            node=self.node,
            kind=KIND_CHOICES[self.kind_choice],
            backfill_id=self.backfill_id,
            text=self.text,
            limit=200,
        )

    def refilter(self) -> None:
        self.table.set_source(InstanceRows(self.console.backend, self.filter()))
        self.show_chips()

    def bizdate_changed(self) -> None:
        if self.is_mounted:
            self.refilter()

    # -- the refresh loop drives the table's own window refresh ------------------------------

    @on(VirtualTable.Changed)
    def show_chips(self) -> None:
        table = self.table
        bizdate = self.console.bizdate
        kind = KIND_CHOICES[self.kind_choice]
        chips = [
            "Instances",
            f"bizdate {bizdate.isoformat() if bizdate else 'any'}",
            f"status {STATUS_CHOICES[self.status_choice][0]}",
            f"kind {kind.value if kind else 'any'}",
        ]
        if self.owner:
            chips.append(f"owner {self.owner}")
        if self.node:
            chips.append(f"node {self.node}")
        if self.backfill_id is not None:
            chips.append(f"backfill #{self.backfill_id}")
        right = f"{table.position:,}/{table.total:,}"
        if table.selected:
            right = f"{len(table.selected)} selected · " + right
        left = " " + "  ".join(chips)
        self.show_heading(left, right)

    @on(VirtualTable.Opened)
    def _open(self, event: VirtualTable.Opened) -> None:
        self.console.open_instance(event.row.id)

    # -- search and filters -------------------------------------------------------------------

    def action_next_status(self) -> None:
        self.status_choice = (self.status_choice + 1) % len(STATUS_CHOICES)
        self.refilter()

    def action_next_kind(self) -> None:
        self.kind_choice = (self.kind_choice + 1) % len(KIND_CHOICES)
        self.refilter()

    def action_pick_owner(self) -> None:
        self._pick("Owner", "an owner's name; empty for any", self.owner, "owner")

    def action_pick_node(self) -> None:
        self._pick("Node", "an exact node name; empty for any", self.node, "node")

    def _pick(self, question: str, hint: str, value: str, field: str) -> None:
        def chosen(answer: str | None) -> None:
            if answer is not None:
                setattr(self, field, answer)
                self.refilter()

        self.app.push_screen(PromptScreen(question, hint, value), chosen)

    def action_clear_filters(self) -> None:
        self.status_choice = self.kind_choice = 0
        self.owner = self.node = self.text = ""
        self.backfill_id = None
        self.query_one("#search", Input).value = ""
        self.refilter()

    def show_node(self, name: str) -> None:
        """Drill-down from the Nodes screens: that node's instances of the date in view."""
        self.action_clear_filters()
        self.node = name
        self.refilter()

    def show_backfill(self, backfill_id: int) -> None:
        """Drill-down from the Backfills screen: that backfill's instances, every date."""
        self.action_clear_filters()
        self.backfill_id = backfill_id
        self.console.set_bizdate(None)

    # -- actions ----------------------------------------------------------------------------

    def instance_targets(self) -> list[InstanceInfo]:
        return self.table.targets()

    def acted(self, _result: ActionResult) -> None:
        self.table.clear_selection()

    def action_copy(self) -> None:
        if self.table.current is not None:
            self.console.copy(str(self.table.current.id), f"#{self.table.current.id}")
