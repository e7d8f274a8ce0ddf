"""1 Dashboard: what an on-call engineer opens first, from one Backend.dashboard call (the
first time, the date's status counts are read and shown before it: they come from one count).

Left: the business date's counts by status, the failures that need action, the
nodes that failed most in 30 days. Right: the baselines (most at risk first)
with their slack, the slowest instances against their node's average, and the
successes per hour today against yesterday. The urgent panels come first in
each column and are served first when the height is shared out, so they stay in
view at 80x24; the others take what is left and scroll, and every list is
reached with tab and moved in with j/k.
"""

from __future__ import annotations

import re
import textwrap
from datetime import date, datetime
from typing import Any

from rich.style import Style
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import OptionList, Static

from opscenter.domain.model import Status
from opscenter.domain.records import (
    BaselineStatus,
    Dashboard,
    InstanceInfo,
    NodeErrors,
    StatusCounts,
)
from opscenter.domain.rules import duration_text, is_slow
from opscenter.domain.times import to_store
from opscenter.tui import format as fmt
from opscenter.tui.actions.base import Target
from opscenter.tui.actions.registry import keys
from opscenter.tui.screens.base import OpsScreen
from opscenter.tui.screens.baselines import (
    baseline_class,
    baseline_word,
    slack,
)
from opscenter.tui.widgets.rowlist import RowList
from opscenter.tui.widgets.sparkline import hour_axis, sparkline

COUNT_ORDER = (
    Status.SUCCESS,
    Status.RUNNING,
    Status.WAIT_TIME,
    Status.WAIT_RESOURCE,
    Status.NOT_RUN,
    Status.FAILURE,
    Status.FROZEN,
)
Row = tuple[int, Text, InstanceInfo]  # a list row: its key, its lines, its record
RISK = {"OVER": 0, "ERROR": 1, "WARNING": 2, "SAFE": 3}  # the baselines panel's order
COUNT_LINES = 8  # the counts panel's lines: each status, and the dry-runs
TREND_LINES = 4
LEAST_ROWS = 2  # what a list keeps (or all it has, if fewer) while one above it grows
REASON_LINES = 4  # at most, under a failure: the cause read whole where there is room


def _bar(count: int, top: int, width: int) -> str:
    """A bar scaled to the largest count; any count above zero shows at least a sliver."""
    if count <= 0 or top <= 0 or width <= 0:
        return ""
    full = round(count / top * width)
    if full == 0:
        return "▏" if fmt.UNICODE else "|"
    return ("█" if fmt.UNICODE else "#") * full


def count_lines(counts: StatusCounts, width: int, style: Any) -> Text:
    """One line per status (glyph, word, count, bar); the dry-runs under the successes."""
    top = max(counts.counts.values(), default=0)
    bar_width = max(1, width - 20)
    text = Text(no_wrap=True, overflow="ellipsis")
    for status in COUNT_ORDER:
        n = counts.counts.get(status, 0)
        name = fmt.status_class(status) if n else "muted"
        label = fmt.status_word(status, short=True)
        text.append(f"{label:<12}{n:>6} ", style(name))
        text.append(_bar(n, top, bar_width) + "\n", style(name))
        if status is Status.SUCCESS:
            dry = fmt.status_word(Status.SUCCESS, dry_run=True)
            text.append(f" {'└' if fmt.UNICODE else '`'}{dry:<10}{counts.dry_run:>6} ")
            text.append(_bar(counts.dry_run, top, bar_width) + "\n")
    text.rstrip()
    return text


def trend_lines(today: list[int], before: list[int], now_hour: int, width: int) -> Text:
    """Successes per hour, today (up to this hour) over yesterday, on one stated scale."""
    label = 10
    cell = max(1, min(3, (width - label) // 24))
    top = max([*today[: now_hour + 1], *before, 0])
    shown: list[int | None] = [v if h <= now_hour else None for h, v in enumerate(today)]
    full = "█" if fmt.UNICODE else "#"
    lines = [
        " " * label + hour_axis(24, cell),
        "today".ljust(label) + sparkline(shown, top, unicode=fmt.UNICODE, cell=cell),
        "yesterday".ljust(label) + sparkline(before, top, unicode=fmt.UNICODE, cell=cell),
        f"{full} = {top}/h · today {sum(today)} · yesterday {sum(before)}",
    ]
    return Text("\n".join(lines), no_wrap=True, overflow="ellipsis")


def share(room: int, wants: list[int], least: int = LEAST_ROWS) -> list[int]:
    """Rows for the lists stacked in a column, the first (most urgent) served first; each
    later one keeps ``least`` rows (or all it has, if fewer) so it stays in view."""
    floors = [min(want, least) for want in wants]
    given: list[int] = []
    for at, want in enumerate(wants):
        spare = room - sum(given) - sum(floors[at + 1 :])
        given.append(max(floors[at], min(want, spare)))
    return given


def shorter_reason(reason: str) -> str:
    """The executor's "exit code 1: " said "exit 1: ": a label shortened before data."""
    return re.sub(r"^exit code (-?\d+)\b", r"exit \1", reason)


def reason_lines(reason: str, width: int, lines: int) -> list[str]:
    """A failure's last words over at most ``lines`` lines, cut with … only past them."""
    wrapped = textwrap.wrap(reason, max(8, width), break_long_words=True) or [""]
    if len(wrapped) > lines:  # the last line takes what it can of the rest
        rest = " ".join(wrapped[lines - 1 :])
        wrapped = [*wrapped[: lines - 1], rest[: max(0, width - 1)] + "…"]
    return wrapped


def _height(rows: list[Row]) -> int:
    """The lines ``rows`` take in a list: a row with a cause beneath takes more than one."""
    return sum(text.plain.count("\n") + 1 for _, text, _ in rows)


def _status_glyph(rows: RowList, info: InstanceInfo) -> tuple[str, Style]:
    return fmt.glyph(info.status, info.dry_run), rows.style(fmt.status_class(info.status))


def _panel(title: str, child: RowList, panel_id: str) -> Vertical:
    panel = Vertical(child, id=panel_id, classes="panel")
    panel.border_title = title
    return panel


class DashboardScreen(OpsScreen):
    MODE = "dashboard"
    BINDINGS = [
        *keys(Target.INSTANCES, "rerun", "rerun_downstream"),
        Binding("tab", "app.focus_next", "next panel", id="next-panel"),
        Binding("shift+tab", "app.focus_previous", "previous panel", show=False, id="prev-panel"),
    ]
    DEFAULT_CSS = """
    DashboardScreen #dash { height: 1fr; }
    DashboardScreen .dash-column { height: 1fr; scrollbar-size-vertical: 1; }
    DashboardScreen #dash-left { width: 47%; }
    DashboardScreen #dash-right { width: 1fr; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.dash: Dashboard | None = None

    def body(self) -> ComposeResult:
        with Horizontal(id="dash"):
            with VerticalScroll(id="dash-left", classes="dash-column", can_focus=False):
                counts = Static(id="counts", classes="panel")
                counts.border_title = "Instances"
                yield counts
                yield _panel(
                    "Needs action",
                    RowList(empty="nothing failed", id="needs", marked=True),
                    "p-needs",
                )
                yield _panel(
                    "Top errors · failed runs, 30d",
                    RowList(empty="no failed attempt in 30 days", id="errors", marked=True),
                    "p-errors",
                )
            with VerticalScroll(id="dash-right", classes="dash-column", can_focus=False):
                yield _panel(
                    "Baselines",
                    RowList(empty="no baseline on this date", id="baselines", marked=True),
                    "p-bl",
                )
                yield _panel(
                    "Slowest", RowList(empty="nothing has run", id="slowest", marked=True), "p-slow"
                )
                trend = Static(id="trend", classes="panel")
                trend.border_title = "Succeeded per hour"
                yield trend

    def on_mount(self) -> None:
        for panel in self.query(".panel"):  # no right padding: more columns for names
            lists = bool(panel.query(RowList))  # whose rows start with the cursor's gutter
            panel.styles.padding = (0, 0, 0, 0 if lists else 1)
        self.query_one("#needs", RowList).focus()

    def on_resize(self) -> None:
        if self.dash is not None:
            self._draw()

    def day(self) -> date:
        return self.console.day_in_view()

    def style(self, name: str) -> Style:
        """A status colour from the shared list styles (the glyph and word carry it anyway)."""
        return self.query_one("#needs", RowList).style(name)

    # -- reading ----------------------------------------------------------------------

    def load(self) -> None:
        if self.dash is None:  # the first paint: the date's statuses (one count), then the rest
            backend, day = self.console.backend, self.day()
            self.read(lambda: backend.status_counts(day), self._first)
        else:
            self._read_dashboard()

    def _first(self, counts: StatusCounts) -> None:
        if self.dash is None:
            self._draw_counts(counts)
        self._read_dashboard()

    def _read_dashboard(self) -> None:
        backend, day = self.console.backend, self.day()
        self.read(lambda: backend.dashboard(day), self._show)

    def _show(self, dash: Dashboard) -> None:
        self.dash = dash
        self._draw()
        self.loaded()

    # -- drawing ------------------------------------------------------------------------

    def _draw(self) -> None:
        dash = self.dash
        assert dash is not None
        now_utc = to_store(dash.now)
        self._draw_counts(dash.counts)
        body = self.query_one("#dash").size.height or max(1, self.size.height - 3)
        # left: the counts, then Needs action before Top errors, each list in its box
        left = body - (COUNT_LINES + 2) - 4
        needs = self._needs_rows(dash.needs_action, left - min(len(dash.top_errors), 1))
        tall = _height(needs)
        self._fit(["#needs", "#errors"], share(left, [tall or 1, len(dash.top_errors) or 1], 1))
        # right: the baselines (two lines each), then Slowest, then the hourly trend
        right = body - 6 - TREND_LINES
        wants = [2 * len(dash.baselines) or 1, len(dash.slowest) or 1]
        self._fit(["#baselines", "#slowest"], share(right, wants))
        self._draw_needs(dash.needs_action, needs)
        self._draw_errors(dash.top_errors)
        self._draw_baselines(dash.baselines)
        self._draw_slowest(dash.slowest, now_utc)
        trend = self.query_one("#trend", Static)
        hour = dash.now.astimezone(self.console.zone).hour
        trend.update(
            trend_lines(
                dash.succeeded_per_hour,
                dash.succeeded_per_hour_before,
                hour,
                trend.content_size.width or 36,
            )
        )

    def _draw_counts(self, found: StatusCounts) -> None:
        counts = self.query_one("#counts", Static)
        counts.border_title = f"Instances {found.bizdate} · {found.total}"
        counts.update(count_lines(found, counts.content_size.width or 34, self.style))

    def _fit(self, lists: list[str], heights: list[int]) -> None:
        """Each list as tall as it was given; beyond that it scrolls."""
        for list_id, height in zip(lists, heights, strict=True):
            self.query_one(list_id, RowList).styles.max_height = height

    def _room(self, rows: RowList, count: int) -> int:
        """The columns a row of ``rows`` has: its box's, less the cursor's gutter and a
        scrollbar if it will scroll."""
        panel = rows.parent
        width = panel.content_size.width if isinstance(panel, Vertical) else 0
        height = rows.styles.max_height
        scrolls = height is not None and count > height.value
        return (width or 34) - rows.mark_width - (1 if scrolls else 0)

    def _needs_rows(self, failed: list[InstanceInfo], height: int) -> list[Row]:
        """Each failure's name, then its time and attempt as far as they fit, the rest
        opening its cause beneath, in as many lines (up to REASON_LINES) as ``height``
        holds for every failure; beside it where none is spare. Never the name is cut."""
        rows = self.query_one("#needs", RowList)
        longest = max((len(i.node) for i in failed), default=0)
        for under in range(REASON_LINES, -1, -1):
            room = self._room(rows, len(failed) if under == 0 else 0)
            # a pad, never negative: a narrow panel leaves room - 8 below zero
            width = max(0, min(longest, room - 8))
            lines = [self._needs_row(rows, info, room, width, under) for info in failed]
            if _height(lines) <= height:
                break
        return lines

    def _needs_row(
        self, rows: RowList, info: InstanceInfo, room: int, width: int, under: int
    ) -> Row:
        assert self.dash is not None
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(*_status_glyph(rows, info))
        head = f" {info.node:<{width}}"
        rest = [f"{info.cyctime:%H:%M}", f"att {fmt.attempt(info, single=True)}"]
        while rest and len(head) + 2 + len(rest[0]) <= room:
            head += f" {rest.pop(0)}"
        reason = shorter_reason(self.dash.failure_reasons.get(info.id, ""))
        reason = " · ".join([*rest, reason] if reason else rest)
        text.append(head)
        if reason and under:
            for line in reason_lines(reason, room - 2, under):
                text.append(f"\n  {line}", rows.style("muted"))
        elif reason:  # no line to spare: beside it, as far as it goes
            text.append(f"  {reason}", rows.style("muted"))
        return info.id, text, info

    def _draw_needs(self, failed: list[InstanceInfo], rows: list[Row]) -> None:
        assert self.dash is not None
        self.query_one("#p-needs").border_title = f"Needs action · {len(failed)}"
        # a failure with its auto rerun still to come needs no action, but it did fail
        rerunning = self.dash.counts.counts.get(Status.FAILURE, 0)
        empty = f"nothing failed on {self.day()}"
        if rerunning:
            empty = f"{rerunning} failed, auto rerun pending"
        self.query_one("#needs", RowList).show(rows, empty=empty)

    def _draw_errors(self, errors: list[NodeErrors]) -> None:
        rows = self.query_one("#errors", RowList)
        counts = max((len(str(e.failures)) for e in errors), default=0)
        width = max((len(e.node) for e in errors), default=0)
        times = "×" if fmt.UNICODE else "x"
        lines = []
        for e in errors:
            text = Text(f"{e.failures:>{counts}}{times} {e.node:<{width}} {e.owner}", no_wrap=True)
            lines.append((e.node, text, e))
        rows.show(lines)

    def _draw_baselines(self, baselines: list[BaselineStatus]) -> None:
        rows = self.query_one("#baselines", RowList)
        zone = self.console.zone
        ordered = sorted(baselines, key=lambda b: (RISK.get(b.status, 0), -b.priority, b.name))
        names = [b.name + (f"/{b.cycle}" if b.cycle > 1 else "") for b in ordered]
        width = min(max(map(len, names), default=0), 18)
        room = self._room(rows, 2 * len(baselines))
        lines = []
        for b, name in zip(ordered, names, strict=True):
            glyph, word = baseline_word(b.status).split(" ", 1)
            when = "done  " if b.finished else "pred  "
            state = rows.style(baseline_class(b.status))
            text = Text(no_wrap=True, overflow="ellipsis")
            text.append(glyph, state)
            text.append(f" {name:<{width}} ")
            text.append(f"{word:<7}", state)
            if b.blocked:  # no finish to predict until an operator acts
                text.append(" blocked\n")
                second = f"  {'':<{width}} if rerun {fmt.local(b.if_rerun_now, zone)}"
                key = f"  by {b.blocked_by[0].node}"
            else:
                text.append(f" {when} {fmt.local(b.predicted_finish, zone)}\n")
                second = f"  {'':<{width}} commit {fmt.local(b.committed_at, zone)} {slack(b):>5}"
                key = f"  key {b.key_instance.node}" if b.key_instance else ""
            text.append(second + (key if len(second) + len(key) <= room else ""))
            lines.append((f"{b.name}/{b.cycle}", text, b))
        at_risk = sum(b.status != "SAFE" for b in baselines)
        self.query_one("#p-bl").border_title = f"Baselines · {at_risk} at risk"
        rows.show(lines)

    def _draw_slowest(self, slowest: list[InstanceInfo], now_utc: datetime) -> None:
        """Name, run time and its ratio to the node's average, then the average itself
        where the panel has room for it: the name is never the one cut."""
        rows = self.query_one("#slowest", RowList)
        took = {i.id: i.run_time(now_utc) for i in slowest}
        times = "×" if fmt.UNICODE else "x"
        ratios = {i.id: f"{(took[i.id] or 0) / i.average:.1f}{times}" for i in slowest if i.average}
        slow = {i.id for i in slowest if is_slow(took[i.id], i.average)}
        names = max((len(i.node) for i in slowest), default=0)
        runs = max((len(duration_text(t)) for t in took.values()), default=0)
        mark = 1 if slow else 0
        ratio = max(map(len, ratios.values()), default=1)
        average = {i.id: duration_text(i.average) if i.average else "-" for i in slowest}
        averages = max(map(len, average.values()), default=0)
        room = self._room(rows, len(slowest))
        core = 2 + names + 1 + runs + 1 + mark + ratio  # glyph, name, run time, ratio
        with_average = core + 5 + averages <= room
        # cut a name only where nothing else can go (and to one cell at least: a format width)
        width = max(1, min(names, names + room - core))
        lines = []
        for info in slowest:
            text = Text(no_wrap=True, overflow="ellipsis")
            text.append(*_status_glyph(rows, info))
            name = info.node if len(info.node) <= width else info.node[: width - 1] + "…"
            text.append(f" {name:<{width}} {duration_text(took[info.id]):>{runs}} ")
            # the ratio before the average: it is what the eye looks for
            sign = (fmt.SLOW_MARK if info.id in slow else " ")[:mark]
            style = rows.style("warn" if info.id in slow else "muted")
            text.append(f"{sign}{ratios.get(info.id, '-'):>{ratio}}", style)
            if with_average:
                text.append(f" avg {average[info.id]}")
            lines.append((info.id, text, info))
        self.query_one("#p-slow").border_title = f"Slowest · {self.day()}"
        rows.show(lines)

    # -- keys ---------------------------------------------------------------------------

    @on(OptionList.OptionSelected)
    def _open(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        lists = event.option_list
        record = lists.current if isinstance(lists, RowList) else None
        if record is None:
            return
        if lists.id in ("needs", "slowest"):
            self.console.open_instance(record.id)
        elif lists.id == "baselines":
            self.console.open_baseline(record.name, record.cycle)
        elif lists.id == "errors":
            self.console.open_node(record.node)

    def instance_targets(self) -> list[InstanceInfo]:
        """The instance under the cursor of the focused instance list, else of Needs action."""
        focused = self.focused
        lists = focused if isinstance(focused, RowList) and focused.id == "slowest" else None
        record = (lists or self.query_one("#needs", RowList)).current
        return [record] if record is not None else []
