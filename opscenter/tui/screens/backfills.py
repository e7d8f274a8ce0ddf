"""4 Backfills: each backfill with its progress per business date; enter drills to its instances.

The backend keeps the latest backfills (a short list), so the table pages the
list it returns. The panel below shows the backfill under the cursor: its
nodes, order, parallelism, window, and one line per date with a bar and the
count of its instances in each status.
"""

from __future__ import annotations

from datetime import tzinfo

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Static

from opscenter.domain.model import Status
from opscenter.domain.records import BackfillInfo, BackfillRunInfo
from opscenter.tui import format as fmt
from opscenter.tui.actions.base import Target
from opscenter.tui.actions.registry import keys
from opscenter.tui.screens.base import TableScreen
from opscenter.tui.widgets.table import Column, VirtualTable, WholeList

LISTED = 200  # backfills read, newest first
BAR = 10
# a backfill's (and a run's) status, drawn with the instance status that means the same
LOOKS_LIKE = {
    "SUCCESS": Status.SUCCESS,
    "RUNNING": Status.RUNNING,
    "FAILURE": Status.FAILURE,
    "WAITING": Status.NOT_RUN,
}


def status_text(status: str) -> str:
    like = LOOKS_LIKE.get(status)
    return f"{fmt.glyph(like)} {status}" if like else status


def status_style(status: str) -> str | None:
    like = LOOKS_LIKE.get(status)
    return fmt.status_class(like) if like else None


def dates_done(info: BackfillInfo) -> str:
    return f"{info.dates_done}/{len(info.runs)}"


def bar(done: int, total: int) -> str:
    full, empty = ("█", "░") if fmt.UNICODE else ("#", "-")
    filled = round(BAR * done / total) if total else 0
    return full * filled + empty * (BAR - filled)


def run_line(run: BackfillRunInfo) -> Text:
    """``2026-11-18  ● RUNNING  ████░░░░░░   6/15  ✗1 ●1 ○7``."""
    total = sum(run.counts.values())
    done = run.counts.get(Status.SUCCESS, 0)
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(f"{run.bizdate.isoformat()}  ")
    text.append(f"{status_text(run.status):<10}", style="bold" if run.status == "FAILURE" else "")
    if not total:
        text.append(" not started" if run.status == "WAITING" else " no instances")
        return text
    text.append(f" {bar(done, total)} {done:>3}/{total:<3}")
    others = [
        f"{fmt.glyph(status)}{count}"
        for status, count in run.counts.items()
        if count and status is not Status.SUCCESS
    ]
    text.append(" " + " ".join(others))
    return text


def names_within(names: tuple[str, ...], width: int) -> str:
    """As many names as fit on one line, then how many more (the confirm listed them all)."""
    shown = ""
    for index, name in enumerate(names):
        more = f", … +{len(names) - index}" if index else f"… +{len(names)}"
        candidate = f"{shown}, {name}" if shown else name
        rest = len(names) - index - 1
        if len(candidate) + (len(more) if rest else 0) > width:
            return shown + more
        shown = candidate
    return shown


def backfill_columns(zone: tzinfo) -> list[Column]:
    return [
        Column("ID", 4, lambda b: f"#{b.id}"),
        Column("NAME", 0, lambda b: b.name),
        Column("STATUS", 9, lambda b: status_text(b.status), lambda b: status_style(b.status)),
        Column("DATES", 7, dates_done, right=True),
        Column("NODES", 5, lambda b: str(len(b.nodes)), right=True),
        Column("BY", 7, lambda b: b.created_by),
        Column("CREATED", 11, lambda b: fmt.local(b.created_at, zone, "%m-%d %H:%M")),
    ]


class BackfillsScreen(TableScreen):
    MODE = "backfills"
    BINDINGS = [
        Binding("enter", "noop", "instances", id="open"),
        *keys(Target.BACKFILLS),
        Binding("tab", "app.focus_next", "pane", id="pane"),
    ]
    DEFAULT_CSS = """
    BackfillsScreen #backfills { height: 9; }
    """

    def body(self) -> ComposeResult:
        yield Static(id="chips")
        yield VirtualTable(
            backfill_columns(self.console.zone),
            empty="no backfill yet: B starts one (or B on a node of the Nodes screen)",
            selectable=False,
            id="backfills",
        )
        with VerticalScroll(id="runs", classes="panel"):
            yield Static(id="runs-text")

    def on_mount(self) -> None:
        backend = self.console.backend
        runs = self.query_one("#runs")
        runs.border_title = "Runs per business date"
        runs.styles.height = "1fr"  # the global .panel is as tall as its content
        self.table.focus()
        self.table.set_source(WholeList(lambda b: -b.id, lambda: backend.list_backfills(LISTED)))

    @property
    def table(self) -> VirtualTable:
        return self.query_one("#backfills", VirtualTable)

    @on(VirtualTable.Changed)
    @on(VirtualTable.CursorMoved)
    def show_current(self) -> None:
        table = self.table
        right = f"{table.position:,}/{table.total:,}"
        left = " Backfills  latest first"
        self.show_heading(left, right)
        info: BackfillInfo | None = table.current
        panel = self.query_one("#runs")
        if info is None:
            panel.border_title = "Runs per business date"
            self.query_one("#runs-text", Static).update(Text())
            return
        panel.border_title = Text(f"#{info.id} {info.name}")
        self.query_one("#runs-text", Static).update(self._runs(info))

    def _runs(self, info: BackfillInfo) -> Text:
        window = "-".join(info.window) if info.window else "whole day"
        text = Text()
        text.append(f"{status_text(info.status)}", style="bold")
        text.append(
            f" · {dates_done(info)} dates done · "
            f"{'descending' if info.descending else 'ascending'} · {info.parallel} at a time · "
            f"window {window}\n"
        )
        text.append(f"{len(info.nodes)} node{'s' if len(info.nodes) != 1 else ''} ", style="bold")
        text.append(names_within(info.nodes, self.size.width - 16) + "\n")
        for run in info.runs:
            text.append_text(run_line(run))
            text.append("\n")
        return text

    @on(VirtualTable.Opened)
    async def _open(self, event: VirtualTable.Opened) -> None:
        """Drill down: this backfill's instances, every date, on the Instances screen."""
        await self.console.show_instances(backfill_id=event.row.id)

    def action_noop(self) -> None:
        """enter acts in the table; this binding only names it in the hints."""
