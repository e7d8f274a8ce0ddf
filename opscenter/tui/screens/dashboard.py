"""1 Dashboard: what an on-call engineer opens first, from one Backend.dashboard call.

Left: the business date's counts by status, the failures that need action, the
nodes that failed most in 30 days. Right: the baselines (most at risk first)
with their slack, the slowest instances against their node's average, and the
successes per hour today against yesterday. The urgent panels come first in
each column so they stay in view at 80x24; the others shrink to a few rows and
scroll, and every list is reached with tab and moved in with j/k.
"""

from __future__ import annotations

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
from opscenter.tui import instance_actions
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
RISK = {"OVER": 0, "ERROR": 1, "WARNING": 2, "SAFE": 3}  # the baselines panel's order
SHORT = 32  # below this many lines the lower panels shrink to a few rows


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
    bar_width = max(1, width - 19)
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


def _status_glyph(rows: RowList, info: InstanceInfo) -> tuple[str, Style]:
    return fmt.glyph(info.status, info.dry_run), rows.style(fmt.status_class(info.status))


def _panel(title: str, child: RowList, panel_id: str) -> Vertical:
    panel = Vertical(child, id=panel_id, classes="panel")
    panel.border_title = title
    return panel


class DashboardScreen(instance_actions.InstanceActions, OpsScreen):
    MODE = "dashboard"
    BINDINGS = [
        Binding("r", "rerun", "rerun", id="rerun"),
        Binding("R", "rerun_downstream", "rerun+down", id="rerun-down"),
        Binding("tab", "app.focus_next", "next panel", id="next-panel"),
        Binding("shift+tab", "app.focus_previous", "previous panel", show=False, id="prev-panel"),
    ]
    DEFAULT_CSS = """
    DashboardScreen #dash { height: 1fr; }
    DashboardScreen .dash-column { height: 1fr; scrollbar-size-vertical: 1; }
    DashboardScreen #dash-left { width: 47%; }
    DashboardScreen #dash-right { width: 1fr; }
    DashboardScreen #needs { max-height: 10; }
    DashboardScreen #baselines { max-height: 12; }
    DashboardScreen #slowest, DashboardScreen #errors { max-height: 10; }
    DashboardScreen.-short #needs { max-height: 6; }
    DashboardScreen.-short #baselines { max-height: 8; }
    DashboardScreen.-short #slowest, DashboardScreen.-short #errors { max-height: 4; }
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
        for panel in self.query(".panel"):  # rows start with the cursor's gutter instead
            if panel.query(RowList):
                panel.styles.padding = (0, 1, 0, 0)
        self.query_one("#needs", RowList).focus()

    def on_resize(self) -> None:
        self.set_class(self.size.height < SHORT, "-short")
        if self.dash is not None:
            self._draw()

    def day(self) -> date:
        return self.app.day_in_view()

    def style(self, name: str) -> Style:
        """A status colour from the shared list styles (the glyph and word carry it anyway)."""
        return self.query_one("#needs", RowList).style(name)

    # -- reading ----------------------------------------------------------------------

    def load(self) -> None:
        backend = self.app.backend  # type: ignore[attr-defined]
        day = self.day()
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
        counts = self.query_one("#counts", Static)
        counts.border_title = f"Instances {dash.counts.bizdate} · {dash.counts.total}"
        counts.update(count_lines(dash.counts, counts.content_size.width or 34, self.style))
        self._draw_needs(dash.needs_action)
        self._draw_errors(dash.top_errors)
        self._draw_baselines(dash.baselines)
        self._draw_slowest(dash.slowest, now_utc)
        trend = self.query_one("#trend", Static)
        hour = dash.now.astimezone(self.app.zone).hour  # type: ignore[attr-defined]
        trend.update(
            trend_lines(
                dash.succeeded_per_hour,
                dash.succeeded_per_hour_before,
                hour,
                trend.content_size.width or 36,
            )
        )

    def _draw_needs(self, failed: list[InstanceInfo]) -> None:
        rows = self.query_one("#needs", RowList)
        width = min(max((len(i.node) for i in failed), default=0), 20)
        lines = []
        for info in failed:
            text = Text(no_wrap=True, overflow="ellipsis")
            text.append(*_status_glyph(rows, info))
            text.append(f" {info.node:<{width}} {info.cyctime:%H:%M} ")
            text.append(f"att {fmt.attempt(info, single=True)}")
            reason = self.dash.failure_reasons.get(info.id, "")
            if reason:  # under the row when there is room to read it whole
                roomy = not self.has_class("-short") or len(failed) <= 2
                gap = "\n  " if roomy else "  "
                text.append(f"{gap}{reason}", rows.style("muted"))
            lines.append((info.id, text, info))
        self.query_one("#p-needs").border_title = f"Needs action · {len(failed)}"
        rows.show(lines, empty=f"nothing failed on {self.day()}")

    def _draw_errors(self, errors: list[NodeErrors]) -> None:
        rows = self.query_one("#errors", RowList)
        width = min(max((len(e.node) for e in errors), default=0), 24)
        lines = []
        for e in errors:
            times = "×" if fmt.UNICODE else "x"
            text = Text(f"{e.failures:>3}{times} {e.node:<{width}} {e.owner}", no_wrap=True)
            lines.append((e.node, text, e))
        rows.show(lines)

    def _draw_baselines(self, baselines: list[BaselineStatus]) -> None:
        rows = self.query_one("#baselines", RowList)
        zone = self.app.zone  # type: ignore[attr-defined]
        ordered = sorted(baselines, key=lambda b: (RISK.get(b.status, 0), -b.priority, b.name))
        names = [b.name + (f"/{b.cycle}" if b.cycle > 1 else "") for b in ordered]
        width = min(max(map(len, names), default=0), 18)
        room = (rows.content_size.width or 38) - rows.mark_width
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
        rows = self.query_one("#slowest", RowList)
        width = min(max((len(i.node) for i in slowest), default=0), 18)
        lines = []
        for info in slowest:
            took = info.run_time(now_utc)
            text = Text(no_wrap=True, overflow="ellipsis")
            text.append(*_status_glyph(rows, info))
            text.append(f" {info.node:<{width}} {duration_text(took):>6} ")
            if info.average:  # the ratio before the average: it is what the eye looks for
                ratio = (took or 0) / info.average
                slow = is_slow(took, info.average)
                mark = fmt.SLOW_MARK if slow else " "
                times = "×" if fmt.UNICODE else "x"
                text.append(f"{mark}{ratio:.1f}{times}", rows.style("warn" if slow else "muted"))
                text.append(f" avg {duration_text(info.average)}")
            else:
                text.append("avg -", rows.style("muted"))
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
            self.app.open_instance(record.id)  # type: ignore[attr-defined]
        elif lists.id == "baselines":
            self.app.open_baseline(record.name, record.cycle)  # type: ignore[attr-defined]
        elif lists.id == "errors":
            self.app.open_node(record.node)  # type: ignore[attr-defined]

    def instance_targets(self) -> list[InstanceInfo]:
        """The instance under the cursor of the focused instance list, else of Needs action."""
        focused = self.focused
        lists = focused if isinstance(focused, RowList) and focused.id == "slowest" else None
        record = (lists or self.query_one("#needs", RowList)).current
        return [record] if record is not None else []
