"""2 Auto-triggered nodes: the deployed pipeline, filtered and searched; one node in detail.

The list is a keyset-paged window by name (``VirtualTable`` over ``node_page``): a
workspace of 10,000 nodes costs a page of rows, and the filters are the backend's
query. The chips' choices are read after the list has shown. Filters are chips
whose key letter is underlined; ``/`` searches names as you type. The node
actions (freeze, unfreeze, backfill, undeploy) are the same on the list and the
detail, and ``i`` shows the node's instances on the Instances screen.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from opscenter.backends.base import Backend
from opscenter.domain.cron import CronError, parse_cron
from opscenter.domain.model import MANUAL_CYCLE, CycleType
from opscenter.domain.records import NodeChoices, NodeFilter, NodeInfo, Page
from opscenter.domain.rules import duration_text, minutes_text
from opscenter.domain.times import TimeView, show_moment
from opscenter.tui import format as fmt
from opscenter.tui.actions.base import Target
from opscenter.tui.actions.registry import keys
from opscenter.tui.screens.base import OpsScreen, TableScreen
from opscenter.tui.screens.prompt import PromptScreen
from opscenter.tui.widgets.table import Column, VirtualTable

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
FROZEN = "❄" if fmt.UNICODE else "#"
SKIP = "↷" if fmt.UNICODE else "-"
NEXT_FIRES = 5
KNOWN_SECONDS = 30.0  # how old the chips' choices may grow before they are read again


def _span(values: tuple[int, ...]) -> str:
    """``00-22/2``: first to last, with the step when it is regular."""
    steps = {b - a for a, b in zip(values, values[1:], strict=False)}
    text = f"{values[0]:02d}-{values[-1]:02d}" if len(values) > 1 else f"{values[0]:02d}"
    return text + (f"/{min(steps)}" if len(steps) == 1 and steps != {1} else "")


def short_schedule(info: NodeInfo) -> str:
    """The cycle and its times in a column's width: ``day 00:30``, ``hour :05 00-07``."""
    if info.manual:
        return MANUAL_CYCLE
    try:
        cron = parse_cron(info.cron)
    except CronError:
        return info.cron
    at = f"{cron.time_of_day:%H:%M}"
    match cron.cycle_type:
        case CycleType.MINUTE:
            return f"every {cron.minutes[1] - cron.minutes[0]}m {_span(cron.hours)}"
        case CycleType.HOUR:
            when = f":{cron.minutes[0]:02d} {_span(cron.hours)}"
        case CycleType.WEEK if not cron.nth_weekdays:
            when = ",".join(WEEKDAYS[d - 1] for d in sorted(cron.weekdays)) + f" {at}"
        case CycleType.MONTH:
            days = ",".join(str(d) for d in sorted(cron.days))
            when = ("L" if cron.last_day else days) + f" {at}"
        case CycleType.YEAR:
            month = ",".join(MONTHS[m - 1] for m in sorted(cron.months))
            when = f"{month} {','.join(str(d) for d in sorted(cron.days))} {at}"
        case CycleType.DAY:
            when = at
        case _:  # a monthly N#k weekday: its words say it best
            return info.schedule
    return f"{info.cycle_type} {when}"


def run_mode(info: NodeInfo) -> str:
    """Undeployed, frozen in Operation Center, or the workspace's run mode."""
    if info.state != "deployed":
        return info.state
    if info.recurrence == "Pause":
        return f"{FROZEN} Pause"
    if info.frozen:
        return f"{FROZEN} frozen"
    if info.recurrence == "Skip":
        return f"{SKIP} Skip"
    return info.recurrence


def _mode_class(info: NodeInfo) -> str | None:
    if info.state != "deployed":
        return "muted"
    return "status--frozen" if info.frozen else None


NODE_COLUMNS = [
    Column("NODE", 0, lambda n: n.name),
    Column("TYPE", 7, lambda n: n.type),
    Column("SCHEDULE", 14, short_schedule),
    Column("OWNER", 7, lambda n: n.owner),
    Column("PR", 2, lambda n: str(n.priority), right=True),
    Column("GROUP", 9, lambda n: n.resource_group, optional=1),  # before a name is cut
    Column("MODE", 10, run_mode, _mode_class),
]

# `m` steps through these; "frozen" also catches Operation Center freezes
MODE_CHOICES = ("any", "Normal", "Skip", "Pause", "frozen")


@dataclass(frozen=True)
class Chip:
    label: str
    key: str  # the letter that edits it, underlined in the label
    value: str


def chips_line(title: str, chips: Sequence[Chip], right: str, width: int) -> Text:
    """`` Nodes  owner any  type sql …  3/32``: the filters with their keys underlined.

    When everything does not fit, the chips still at "any" go first.
    """
    shown = list(chips)
    while True:
        text = Text(f" {title}")
        for chip in shown:
            text.append("  ")
            at = chip.label.find(chip.key)
            text.append(chip.label[:at])
            text.append(chip.key, style="underline")
            text.append(chip.label[at + 1 :] + " ")
            text.append(chip.value, style="bold" if chip.value != "any" else "")
        spare = width - len(text) - len(right) - 1
        unset = [c for c in shown if c.value == "any"]
        if spare >= 1 or not unset:
            text.append(" " * max(1, spare) + right)
            text.no_wrap, text.overflow = True, "ellipsis"
            return text
        shown.remove(unset[-1])


# -- the list ---------------------------------------------------------------------------------


class NodeRows:
    """Nodes through the Backend, a keyset page by name at a time."""

    def __init__(self, backend: Backend, flt: NodeFilter) -> None:
        self.backend = backend
        self.flt = flt

    def fetch(self, after: tuple[str, bool] | None, descending: bool, limit: int) -> Page:
        name, including = after if after is not None else (None, False)
        return self.backend.node_page(
            replace(self.flt, after=name, including=including, descending=descending, limit=limit)
        )

    def key(self, row: NodeInfo) -> str:
        return row.name

    def after(self, row: NodeInfo) -> tuple[str, bool]:
        return (row.name, False)

    def just_before(self, row: NodeInfo) -> tuple[str, bool]:
        return (row.name, True)  # the page starts with the row itself


class NodesScreen(TableScreen):
    MODE = "nodes"
    BINDINGS = [
        Binding("enter", "noop", "open", id="open"),
        *keys(Target.NODE),
        Binding("slash", "search", "search", id="search", priority=True),
        Binding("o", "pick_owner", "owner", show=False, id="owner-filter"),
        Binding("t", "next('type')", "type", show=False, id="type-filter"),
        Binding("e", "next('cycle')", "cycle", show=False, id="cycle-filter"),
        Binding("p", "next('priority')", "priority", show=False, id="priority-filter"),
        Binding("r", "next('group')", "resource group", show=False, id="group-filter"),
        Binding("m", "next('mode')", "run mode", show=False, id="mode-filter"),
        Binding("a", "toggle_undeployed", "undeployed too", show=False, id="undeployed"),
        Binding("c", "clear_filters", "clear filters", show=False, id="clear-filters"),
        Binding("y", "copy", "copy name", show=False, id="copy"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.owner = ""
        self.chosen: dict[str, str] = {}  # type, cycle, priority, group, mode -> value
        self.undeployed = False
        self.known: NodeChoices | None = None  # the values the chips step through
        self._known_at: float | None = None  # when (monotonic) they were read

    def body(self) -> ComposeResult:
        yield Static(id="chips")
        yield Input(placeholder="/ search node names", id="search")
        yield VirtualTable(
            NODE_COLUMNS,
            empty="no node matches these filters (c clears them)",
            selectable=False,
            id="nodes",
        )

    def on_mount(self) -> None:
        self.table.focus()
        self.refilter()

    @property
    def table(self) -> VirtualTable:
        return self.query_one("#nodes", VirtualTable)

    def node_target(self) -> NodeInfo | None:
        return self.table.current

    def filter(self) -> NodeFilter:
        priority = self.chosen.get("priority")
        mode = self.chosen.get("mode", "")
        return NodeFilter(
            text=self.text,
            owner=self.owner,
            type=self.chosen.get("type", ""),
            cycle_type=self.chosen.get("cycle", ""),
            priority=int(priority) if priority else None,
            resource_group=self.chosen.get("group", ""),
            recurrence=mode if mode in ("Normal", "Skip", "Pause") else "",
            include_undeployed=self.undeployed,
            frozen=mode == "frozen",
        )

    def refilter(self) -> None:
        self.table.set_source(NodeRows(self.console.backend, self.filter()))
        self.show_chips()

    def load(self) -> None:
        """The list's window each refresh; the chips' choices at most every KNOWN_SECONDS,
        and only once the list has shown: the list is what the operator came for."""
        stale = self._known_at is None or time.monotonic() - self._known_at >= KNOWN_SECONDS
        if stale and self.table.loaded:
            self.read(self._read_known, self._known)
        else:
            self._refresh_rows()

    def _read_known(self) -> NodeChoices:
        return self.console.backend.node_choices()

    def _remember(self, choices: NodeChoices) -> None:
        self.known, self._known_at = choices, time.monotonic()

    def _known(self, choices: NodeChoices) -> None:
        self._remember(choices)
        self._refresh_rows()

    def _refresh_rows(self) -> None:
        if not self.table.refresh_rows():
            self.loaded()

    def with_known(self, then: Callable[[NodeChoices], None]) -> None:
        """``then`` once the choices are known (a chip key may come before the first read)."""
        if self.known is not None:
            then(self.known)
            return

        def got(choices: NodeChoices) -> None:
            self._remember(choices)
            then(choices)

        self.read(self._read_known, got)

    @on(VirtualTable.Changed)
    def show_chips(self) -> None:
        table = self.table
        chips = [
            Chip("owner", "o", self.owner or "any"),
            Chip("type", "t", self.chosen.get("type", "any")),
            Chip("cycle", "e", self.chosen.get("cycle", "any")),
            Chip("prio", "p", self.chosen.get("priority", "any")),
            Chip("group", "r", self.chosen.get("group", "any")),
            Chip("mode", "m", self.chosen.get("mode", "any")),
        ]
        if self.undeployed:
            chips.append(Chip("state", "a", "all"))
        right = f"{table.position:,}/{table.total:,}"
        self.query_one("#chips", Static).update(chips_line("Nodes", chips, right, self.size.width))

    @on(VirtualTable.Opened)
    def _open(self, event: VirtualTable.Opened) -> None:
        self.console.open_node(event.row.name)

    def action_noop(self) -> None:
        """enter acts in the table; this binding only names it in the hints."""

    # -- search and filters -------------------------------------------------------------------

    @staticmethod
    def choices(known: NodeChoices, chip: str) -> list[str]:
        """What a chip steps through: the values the workspace's nodes have."""
        if chip == "mode":
            return list(MODE_CHOICES)
        if chip == "cycle":
            return ["any", *(c.value for c in CycleType if c.value in known.cycle_types)]
        if chip == "priority":
            return ["any", *(str(p) for p in sorted(known.priorities, reverse=True))]
        found = known.types if chip == "type" else known.resource_groups
        return ["any", *found]

    def action_next(self, chip: str) -> None:
        self.with_known(lambda known: self._step(known, chip))

    def _step(self, known: NodeChoices, chip: str) -> None:
        options = self.choices(known, chip)
        now = self.chosen.get(chip, "any")
        following = options[(options.index(now) + 1) % len(options)] if now in options else "any"
        if following == "any":
            self.chosen.pop(chip, None)
        else:
            self.chosen[chip] = following
        self.refilter()

    def action_pick_owner(self) -> None:
        self.with_known(self._pick_owner)

    def _pick_owner(self, known: NodeChoices) -> None:
        owners = list(known.owners)

        def check(answer: str) -> str | None:
            if answer and owners and answer not in owners:
                return f"no node is owned by {answer!r}; owners: {', '.join(owners)}"
            return None

        def chosen(answer: str | None) -> None:
            if answer is not None:
                self.owner = answer
                self.refilter()

        hint = "an owner's name; empty for any" + (f" ({', '.join(owners)})" if owners else "")
        self.app.push_screen(PromptScreen("Owner", hint, self.owner, check=check), chosen)

    def action_toggle_undeployed(self) -> None:
        self.undeployed = not self.undeployed
        self.refilter()

    def action_clear_filters(self) -> None:
        self.owner = self.text = ""
        self.chosen.clear()
        self.undeployed = False
        self.query_one("#search", Input).value = ""
        self.refilter()

    def action_copy(self) -> None:
        if self.table.current is not None:
            self.console.copy(self.table.current.name, self.table.current.name)


# -- one node ---------------------------------------------------------------------------------


class Relatives(OptionList):
    """Upstream, downstream and cross-cycle nodes; enter opens one."""

    BINDINGS = [
        Binding("j", "cursor_down", "down", show=False),
        Binding("k", "cursor_up", "up", show=False),
        Binding("g", "first", "first", show=False),
        Binding("G", "last", "last", show=False),
    ]


class Pane(VerticalScroll, can_focus=True):
    """A scrollable text pane with vim keys."""

    BINDINGS = [
        Binding("j", "scroll_down", "down", show=False),
        Binding("k", "scroll_up", "up", show=False),
        Binding("g", "scroll_home", "top", show=False),
        Binding("G", "scroll_end", "bottom", show=False),
    ]


@dataclass(frozen=True)
class NodeView:
    info: NodeInfo
    upcoming: tuple[datetime, ...]  # aware, in the workspace zone


CROSS_CYCLE_WORDS = {
    "CrossCycleDependsOnSelf": "its own previous cycle",
    "CrossCycleDependsOnChildren": "its children's previous cycle",
    "CrossCycleDependsOnOtherNode": "previous cycle of",
}


class NodeScreen(OpsScreen):
    """A node: schedule in words and cron, the next fire times, relatives, properties, code."""

    MODE = "nodes"
    BINDINGS = [
        Binding("enter", "noop", "open node", id="open-node"),
        Binding("tab", "app.focus_next", "pane", id="pane"),
        *keys(Target.NODE),
        Binding("y", "copy", "copy name", show=False, id="copy"),
        Binding("escape", "app.back", "back", id="back"),
    ]
    DEFAULT_CSS = """
    NodeScreen #node-head { height: 3; padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis; }
    NodeScreen #node-body { height: 1fr; }
    NodeScreen #relatives-panel { width: 28; padding: 0; }
    NodeScreen #relatives { height: 1fr; border: none; padding: 0; background: $background; }
    NodeScreen #properties { width: 1fr; }
    """

    def __init__(self, name: str) -> None:
        super().__init__()
        self.node_name = name
        self.view: NodeView | None = None

    def body(self) -> ComposeResult:
        yield Static(Text(f" {self.node_name} · loading…"), id="node-head")
        with Horizontal(id="node-body"):
            with Vertical(id="relatives-panel", classes="panel"):
                yield Relatives(id="relatives", compact=True)
            with Pane(id="properties", classes="panel"):
                yield Static(id="properties-text")

    def on_mount(self) -> None:
        for panel, title in (
            ("#relatives-panel", "Dependencies"),
            ("#properties", "Properties · code"),
        ):
            widget = self.query_one(panel)
            widget.border_title = title
            widget.styles.height = "1fr"  # the global .panel is as tall as its content
        self.query_one(Relatives).focus()

    def node_target(self) -> NodeInfo | None:
        return self.view.info if self.view else None

    def load(self) -> None:
        backend, zone = self.console.backend, self.console.zone
        name = self.node_name

        def read() -> NodeView:
            info = backend.get_node(name)
            upcoming: tuple[datetime, ...] = ()
            if info.state == "deployed" and not info.manual:
                cron = parse_cron(info.cron)
                upcoming = tuple(cron.next_fire_times(backend.now(), NEXT_FIRES, zone))
            return NodeView(info, upcoming)

        self.read(read, self._show)

    def _show(self, view: NodeView) -> None:
        if view != self.view:
            previous = self.view
            self.view = view
            self.query_one("#node-head", Static).update(self._head(view))
            if previous is None or previous.info != view.info:
                self._show_relatives(view.info)
                self.query_one("#properties-text", Static).update(self._properties(view.info))
        self.loaded()

    def _head(self, view: NodeView) -> Text:
        info = view.info
        text = Text()
        text.append(info.name, style="bold")
        text.append(f" · {info.type} · {run_mode(info)} · owner {info.owner or '-'}")
        text.append(f" · prio {info.priority} · group {info.resource_group}\n")
        text.append(info.schedule, style="bold")
        if info.manual:
            text.append(f" · workflow {info.workflow}\n")
            text.append("next: when an operator runs it (W runs its workflow)")
            return text
        text.append(f" · cron {info.cron} · {info.cycle_type} cycle\n")
        if view.upcoming:
            label = TimeView.of(self.console.zone).moments_label(view.upcoming)
            text.append(f"next ({label}) " + " · ".join(f"{t:%m-%d %H:%M}" for t in view.upcoming))
        else:
            text.append("next: none (undeployed: no new instances)")
        return text

    def _show_relatives(self, info: NodeInfo) -> None:
        relatives = self.query_one(Relatives)
        keep = relatives.highlighted
        options: list[Option] = [Option(Text("↑ upstream", style="bold"), disabled=True)]
        options += [Option(fmt.plain(f"  {n}"), id=n) for n in info.upstreams]
        if not info.upstreams:
            options.append(Option(Text("  none (a start node)"), disabled=True))
        options.append(Option(Text("↓ downstream", style="bold"), disabled=True))
        options += [Option(fmt.plain(f"  {n}"), id=n) for n in info.downstreams]
        if not info.downstreams:
            options.append(Option(Text("  none (a leaf)"), disabled=True))
        if info.cross_cycle:
            options.append(Option(Text("⟲ cross-cycle", style="bold"), disabled=True))
            for kind, node in info.cross_cycle:
                words = CROSS_CYCLE_WORDS.get(kind, kind)
                prompt = fmt.plain(f"  {words} {node}".rstrip())
                options.append(Option(prompt, id=node or None, disabled=not node))
        relatives.set_options(options)
        if keep is not None and keep < relatives.option_count:
            relatives.highlighted = keep

    def _properties(self, info: NodeInfo) -> Text:
        zone = self.console.zone
        timeout = minutes_text(info.timeout) if info.timeout else "none"
        effective = (
            f"{info.start_date or 'always'} → {info.end_date or 'open'}"
            if info.start_date or info.end_date
            else "always"
        )
        text = Text()
        for label, value in (
            ("type", info.type),
            ("owner", info.owner or "-"),
            ("priority", str(info.priority)),
            ("group", info.resource_group),
            ("run mode", f"{info.recurrence}" + (f" · {FROZEN} frozen" if info.frozen else "")),
            ("instances", info.instance_mode),
            ("rerun", info.rerun_mode),
            ("auto rerun", f"{info.rerun_times}× every {duration_text(info.rerun_interval)}"),
            ("timeout", timeout),
            ("effective", effective),
            ("version", f"{info.version} · {info.state}"),
            ("deployed", show_moment(info.deployed_at, zone)),
        ):
            text.append(f"{label:<11}", style="bold")
            text.append(f"{value}\n")
        if info.description:
            text.append(f"\n{info.description}\n")
        text.append("\nParameters\n", style="bold underline")
        for key, value in info.parameters.items():
            text.append(f"  {key}={value}\n")
        if not info.parameters:
            text.append("  none\n")
        where = f" ({info.code_file})" if info.code_file else ""
        text.append(f"\nCode{where}\n", style="bold underline")
        text.append(info.code.rstrip() or "(no code: a virtual node)")
        return text

    @on(OptionList.OptionSelected, "#relatives")
    def _open(self, event: OptionList.OptionSelected) -> None:
        if event.option.id:
            self.console.open_node(event.option.id)

    def action_noop(self) -> None:
        """enter acts in the list of relatives; this binding only names it in the hints."""

    def action_copy(self) -> None:
        self.console.copy(self.node_name, self.node_name)
