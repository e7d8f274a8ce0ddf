"""4 Instance detail: what one instance is, why it is not done, its log and its relatives.

Every refresh re-reads the instance, its attempts, the diagnosis (spec 8: frozen?
upstream? time? slot? running long? failed?) and the relatives shown in the tree;
the log keeps its place and moves only while it follows a running attempt. The
log is a paged view (``LogView``): a 100 MB log costs two page reads to open.

Its scheduling parameters are the backend's: rendered as the instance runs with them
(workspace and node assignments, its cyctime, business date and backfill job).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from dataclasses import dataclass
from datetime import datetime
from typing import NoReturn

from rich.text import Text
from textual import on
from textual.app import ComposeResult, SuspendNotSupported
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Input, Static, Tree

from opscenter.domain.model import Status
from opscenter.domain.records import (
    ActionRefused,
    AttemptInfo,
    Diagnosis,
    InstanceInfo,
    LogPage,
    NodeInfo,
)
from opscenter.domain.rules import duration_text, is_slow, run_time_text
from opscenter.domain.times import to_store
from opscenter.tui import format as fmt
from opscenter.tui.actions.base import Target
from opscenter.tui.actions.registry import keys
from opscenter.tui.screens.base import OpsScreen, typed_into_field
from opscenter.tui.widgets.log_view import LogView
from opscenter.tui.widgets.relatives import DIRECTIONS, Item, Levels, RelativesTree

# How each diagnosis check reads in the one-line summary (passed, not passed).
CHECK_WORDS = {
    "frozen": ("not frozen", "FROZEN"),
    "upstream": ("upstream", "upstream"),
    "time": ("time", "time"),
    "resource": ("slot", "slot"),
    "execution": ("run", "run"),
}
NO_ATTEMPT = "no attempt yet: the log appears when it starts"


@dataclass(frozen=True)
class _Snapshot:
    info: InstanceInfo
    attempts: list[AttemptInfo]
    diagnosis: Diagnosis
    relatives: Levels
    node: NodeInfo | None
    now_utc: datetime
    parameters: dict[str, str] | None  # read once: an instance's parameters are fixed


class InstanceScreen(OpsScreen):
    MODE = "instances"
    BINDINGS = [
        Binding("tab", "app.focus_next", "pane", id="pane"),
        Binding("left_square_bracket", "attempt(-1)", "attempt", key_display="[ ]", id="attempt"),
        Binding(
            "right_square_bracket", "attempt(1)", "next attempt", show=False, id="attempt-next"
        ),
        Binding("slash", "search", "search", id="log-search", priority=True),
        Binding(
            "e",
            "first_error",
            "first error",
            id="first-error",
            tooltip="the cause: the first line of error output (a Traceback, ERROR, error:, "
            "a command's 'cannot …', a non-zero exit), not the closing 'failed: exit code'; "
            "n and N then go through every error line",
        ),
        Binding("F", "follow", "follow", id="follow"),
        *keys(Target.INSTANCES),
        Binding("n", "next_match", "next match", show=False, id="next-match"),
        Binding("N", "previous_match", "previous match", show=False, id="previous-match"),
        Binding("a", "details", "attempts+params", show=False, id="details"),
        Binding("y", "copy", "copy log line", show=False, id="copy"),
        Binding("o", "pager", "log in $PAGER", show=False, id="pager"),
        Binding("escape", "escape", "back", show=False, id="back"),
    ]

    DEFAULT_CSS = """
    InstanceScreen #head, InstanceScreen #attempt-line, InstanceScreen #details {
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    InstanceScreen #head { height: 3; }
    InstanceScreen #attempt-line { height: 1; color: $foreground-muted; }
    InstanceScreen #details { display: none; max-height: 10; }
    InstanceScreen #details.shown { display: block; }
    InstanceScreen #panes { height: 1fr; }
    InstanceScreen .pane {
        border: round $panel-lighten-2;
        border-title-color: $foreground;
        border-title-style: bold;
        height: 1fr;
    }
    InstanceScreen .pane:focus-within { border: round $primary; }
    InstanceScreen #tree-pane { width: 30; }
    InstanceScreen #log-pane { width: 1fr; }
    InstanceScreen RelativesTree { height: 1fr; background: $background; }
    InstanceScreen #log-search { height: 1; border: none; padding: 0 1; display: none; }
    InstanceScreen #why { height: auto; max-height: 3; padding: 0 1; }
    """

    def __init__(self, instance_id: int) -> None:
        super().__init__()
        self.instance_id = instance_id
        self.info: InstanceInfo | None = None
        self.attempts: list[AttemptInfo] = []
        self.node: NodeInfo | None = None
        self.parameters: dict[str, str] | None = None  # read once: an instance's are fixed
        self.shown: int | None = None  # the attempt whose log is shown
        self.quiet = False  # the log of no attempt is shown (a dry run, a virtual node)
        self.now_utc: datetime | None = None

    def body(self) -> ComposeResult:
        yield Static(Text(f" #{self.instance_id} loading…"), id="head")
        yield Static(id="attempt-line")
        yield Static(id="details", classes="panel")
        with Horizontal(id="panes"):
            with Vertical(id="tree-pane", classes="pane"):
                yield RelativesTree(self.console.zone, id="relatives")
            with Vertical(id="log-pane", classes="pane"):
                yield LogView(id="log")
                yield Input(placeholder="search the log; enter finds, esc leaves", id="log-search")
        yield Static(id="why")

    def on_mount(self) -> None:
        self.query_one("#tree-pane").border_title = "Upstream / Downstream"
        self.query_one("#log-pane").border_title = "Log"
        self.log_view.focus()

    @property
    def relatives_tree(self) -> RelativesTree:
        return self.query_one("#relatives", RelativesTree)

    @property
    def log_view(self) -> LogView:
        return self.query_one("#log", LogView)

    # -- reading -----------------------------------------------------------------------------

    def load(self) -> None:
        backend = self.console.backend
        instance_id = self.instance_id
        wanted = [
            (direction, instance_id) for direction, _ in DIRECTIONS
        ] + self.relatives_tree.expanded()
        need_node = self.node is None
        need_params = self.parameters is None

        def fetch() -> _Snapshot:
            info = backend.get_instance(instance_id)
            node = None
            if need_node:
                try:
                    node = backend.get_node(info.node)
                except ActionRefused:
                    node = None
            return _Snapshot(
                info,
                backend.attempts(instance_id),
                backend.diagnose(instance_id),
                {key: backend.relatives(key[1], key[0], 1) for key in wanted},
                node,
                to_store(backend.now()),
                backend.parameters(instance_id) if need_params else None,
            )

        self.read(fetch, self._show)

    def _show(self, snap: _Snapshot) -> None:
        was_latest = not self.attempts or self.shown == self.attempts[-1].number
        self.info, self.attempts, self.now_utc = snap.info, snap.attempts, snap.now_utc
        if snap.parameters is not None:
            self.parameters = snap.parameters
        if snap.node is not None:
            self.node = snap.node
        self._show_head()
        self._show_why(snap.diagnosis)
        self.relatives_tree.show(self.instance_id, snap.relatives)
        numbers = [a.number for a in self.attempts]
        if not numbers:
            self.shown = None
            self._show_no_attempt(snap.info)
        elif self.shown not in numbers or (was_latest and self.shown != numbers[-1]):
            self.shown = numbers[-1]  # a new attempt started while the latest was shown
            self._open_log()
        else:
            attempt = self._attempt()
            if self.log_view.following and attempt.status is not Status.RUNNING:
                self.log_view.set_follow(False)  # it finished: read its last lines once
        self._show_attempt()
        self.loaded()

    # -- the header and the why --------------------------------------------------------------

    def _show_head(self) -> None:
        info = self.info
        assert info is not None and self.now_utc is not None
        first = (
            f" {info.node} · #{info.id} · cyctime {info.cyctime:%Y-%m-%d %H:%M}"
            f" · bizdate {info.bizdate:%Y%m%d}"
        )
        second = [f" {fmt.instance_status(info)} {self._run_time(info)}".rstrip()]
        second.append(info.attempt_words)
        second += [f"group {info.resource_group}", f"prio {info.priority}"]
        third = [f" {info.kind.value}", info.node_type, f"owner {info.owner}"]
        if info.dry_run:
            third.append(f"dry-run: {info.dry_run_reason or 'its node runs dry'}")
        if info.set_success:
            third.append("set to success by an operator")
        if info.retry_at is not None:
            third.append(f"auto rerun at {fmt.local(info.retry_at, self.console.zone)}")
        params = self._parameters()
        if params:
            third.append(" ".join(f"{name}={value}" for name, _, value in params))
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(first + "\n", style="bold")
        text.append(" · ".join(second) + "\n", style=self._status_style(info.status))
        text.append(" · ".join(third))
        self.query_one("#head", Static).update(text)

    def _run_time(self, info: InstanceInfo) -> str:
        """``41m12s ▲ (avg 18m00s)``: its run time, marked when SLOW (as ``opscenter show``)."""
        assert self.now_utc is not None
        return run_time_text(info.run_time(self.now_utc), info.average, mark=fmt.SLOW_MARK)

    @staticmethod
    def _status_style(status: Status) -> str:
        return "bold" if status in (Status.FAILURE, Status.RUNNING) else ""

    def _parameters(self) -> list[tuple[str, str, str]]:
        """(name, expression, value): the value the instance runs with, and where the node
        declares it, the expression it came from."""
        declared = self.node.parameters if self.node is not None else {}
        return [
            (name, declared.get(name, "(workspace)"), value)
            for name, value in (self.parameters or {}).items()
        ]

    def _show_why(self, diagnosis: Diagnosis) -> None:
        info = self.info
        assert info is not None
        label = "Done: " if info.status is Status.SUCCESS else "Why not done: "
        width = max(20, self.size.width or 80)
        summary = label + diagnosis.summary + self._running_long(info)
        room = 2 * width - 2
        if len(summary) > room:
            summary = summary[: room - 1] + "…"
        text = Text()
        text.append(label, style="bold")
        text.append(summary[len(label) :] + "\n")
        checks = Text(no_wrap=True, overflow="ellipsis")
        for step in diagnosis.steps:
            passed, missed = CHECK_WORDS.get(step.check, (step.check, step.check))
            mark = ("✓" if step.ok else "✗") if fmt.UNICODE else ("+" if step.ok else "x")
            checks.append(
                f"{mark} {passed if step.ok else missed}  ", style="" if step.ok else "bold"
            )
        text.append_text(checks)
        self.query_one("#why", Static).update(text)

    def _running_long(self, info: InstanceInfo) -> str:
        """Spec 8's "running long?": the diagnosis says how long; this says against what."""
        took = info.run_time(self.now_utc) if self.now_utc else None
        if info.status is not Status.RUNNING or not info.average or took is None:
            return ""
        if not is_slow(took, info.average):
            return ""
        return f"; {took / info.average:.1f}× its average ({duration_text(info.average)})"

    # -- attempts and the log ----------------------------------------------------------------

    def _attempt(self) -> AttemptInfo:
        return next(a for a in self.attempts if a.number == self.shown)

    def _show_attempt(self) -> None:
        line = Text(" ", no_wrap=True, overflow="ellipsis")
        if self.shown is None:
            line.append(
                "no attempt: nothing ran, the log says why" if self.quiet else "no attempt yet"
            )
        else:
            line.append(self._attempt_text(self._attempt()))
            if len(self.attempts) > 1:
                line.append(f"  ([ ] {len(self.attempts)} attempts, a lists them)")
        self.query_one("#attempt-line", Static).update(line)
        self._show_details()
        self._show_log_title()

    def _attempt_text(self, attempt: AttemptInfo) -> str:
        zone = self.console.zone
        parts = [
            f"att {attempt.number} {fmt.status_word(attempt.status)}",
            attempt.triggered_by,
            f"{fmt.local(attempt.started_at, zone)}→{fmt.local(attempt.finished_at, zone)}",
            f"exit {'-' if attempt.exit_code is None else attempt.exit_code}",
        ]
        if attempt.reason:
            parts.append(attempt.reason)
        return " · ".join(parts)

    def _show_details(self) -> None:
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append("Attempts\n", style="bold")
        for attempt in self.attempts:
            mark = "▶ " if attempt.number == self.shown else "  "
            text.append(mark + self._attempt_text(attempt) + "\n")
        if not self.attempts:
            text.append("  none yet\n")
        text.append("Parameters (as this instance runs with them)\n", style="bold")
        params = self._parameters()
        for name, expression, value in params:
            text.append(f"  {name} = {expression} → {value}\n")
        if not params:
            text.append("  none\n")
        text.rstrip()
        self.query_one("#details", Static).update(text)

    def _show_no_attempt(self, info: InstanceInfo) -> None:
        """An instance with no attempt: one that succeeded (a dry run, a virtual node) has
        a log saying why nothing ran, read once with no attempt named; any other has no
        log until it starts."""
        quiet = info.status is Status.SUCCESS
        if quiet and not self.quiet:
            self._show_log(None, follow=False)
        elif not quiet and self.quiet:  # rerun meanwhile: its old log no longer holds

            def nothing(*_: object) -> NoReturn:
                raise ActionRefused(NO_ATTEMPT)

            self.log_view.show(nothing, nothing, follow=False)
        elif not quiet:
            self.log_view.note = NO_ATTEMPT
            self.log_view.refresh()
        self.quiet = quiet

    def _open_log(self) -> None:
        self.quiet = False
        attempt = self._attempt()
        self._show_log(attempt.number, follow=attempt.status is Status.RUNNING)
        self._show_log_title()

    def _show_log(self, attempt: int | None, *, follow: bool) -> None:
        """The log of ``attempt`` (None: of no attempt, the backend's note of why nothing
        ran), read in pages; its error lines found by the backend, not by reading pages."""
        backend, instance_id = self.console.backend, self.instance_id

        def reader(offset: int, limit: int) -> LogPage:
            return backend.read_log(instance_id, attempt, offset, limit)

        def errors(offset: int, forward: bool, causes: bool) -> int | None:
            return backend.find_error(instance_id, attempt, offset, forward=forward, cause=causes)

        self.log_view.show(reader, errors, follow=follow)

    @on(LogView.Changed)
    def _show_log_title(self) -> None:
        view = self.log_view
        title = "Log"
        if self.shown is not None:
            title += f" · attempt {self.shown}/{len(self.attempts)}"
        elif self.quiet:
            title += " · no attempt"
        where = view.where()
        if where:
            title += f" · {where}"
        if view.pattern_label:
            title += f" · {view.pattern_label}"
        self.query_one("#log-pane").border_title = Text(title)

    def action_attempt(self, step: int) -> None:
        if not self.attempts or self.shown is None:
            self.app.notify("no attempt yet: nothing has run", severity="warning")
            return
        numbers = [a.number for a in self.attempts]
        index = numbers.index(self.shown) + step
        if not 0 <= index < len(numbers):
            where = "first" if step < 0 else "last"
            self.app.notify(f"attempt {self.shown} is the {where}", timeout=3)
            return
        self.shown = numbers[index]
        self._open_log()
        self._show_attempt()

    def action_follow(self) -> None:
        if self.shown is None:
            self.app.notify("no attempt yet: nothing to follow", severity="warning")
            return
        view = self.log_view
        if view.following:
            view.set_follow(False)
        elif self._attempt().status is not Status.RUNNING:
            self.app.notify(
                f"attempt {self.shown} is {self._attempt().status.value}: nothing more will be "
                "written (G goes to the end)",
                timeout=4,
            )
        else:
            view.set_follow(True)

    def action_search(self) -> None:
        if typed_into_field(self, "/"):
            return
        search = self.query_one("#log-search", Input)
        search.display = True  # inline, so it is focusable at once
        self.set_focus(search)

    @on(Input.Submitted, "#log-search")
    def _searched(self, event: Input.Submitted) -> None:
        term = event.value
        self._leave_search()
        if not term:
            return
        flags = 0 if any(c.isupper() for c in term) else re.IGNORECASE  # smart case
        self.log_view.find(re.compile(re.escape(term), flags), f"/{term}")

    def _leave_search(self) -> None:
        self.query_one("#log-search", Input).display = False
        self.log_view.focus()

    async def action_escape(self) -> None:
        """esc leaves the search first, and only then goes back."""
        if self.query_one("#log-search", Input).has_focus:
            self._leave_search()
        else:
            await self.console.action_back()

    def action_first_error(self) -> None:
        self.log_view.first_error()
        self.log_view.focus()

    def action_next_match(self) -> None:
        self.log_view.next_match(forward=True)

    def action_previous_match(self) -> None:
        self.log_view.next_match(forward=False)

    def action_details(self) -> None:
        self.query_one("#details", Static).toggle_class("shown")

    def action_copy(self) -> None:
        line = self.log_view.current
        if line is None:
            self.app.notify("no log line under the cursor", severity="warning")
            return
        self.console.copy(line.text, "the log line")

    def action_pager(self) -> None:
        """The whole log in $PAGER (a local log file only; the console waits meanwhile)."""
        if self.shown is None:
            self.app.notify("no attempt yet: no log", severity="warning")
            return
        path = self._attempt().log_path
        if not os.path.isfile(path):
            self.app.notify(f"the log is not a file here: {path}", severity="warning")
            return
        command = shlex.split(os.environ.get("PAGER") or "less") + [path]
        try:
            with self.app.suspend():
                subprocess.call(command)
        except (SuspendNotSupported, OSError) as exc:
            self.app.notify(f"cannot open a pager here: {exc}", severity="warning")

    # -- the relatives tree ------------------------------------------------------------------

    @on(Tree.NodeExpanded, "#relatives")
    def _expanded_node(self, event: Tree.NodeExpanded[Item]) -> None:
        item = event.node.data
        if item is None or item.info is None:
            return
        node, direction, instance_id = event.node, item.direction, item.info.id
        backend = self.console.backend

        def fetch() -> None:
            try:
                relatives = backend.relatives(instance_id, direction, 1)
            except Exception as exc:  # a failed read leaves the level closed and says why
                self.app.call_from_thread(self.console.backend_failed, exc)
                return
            self.app.call_from_thread(self.relatives_tree.opened, node, relatives)

        self.run_worker(fetch, thread=True, group="tree", exit_on_error=False)

    @on(Tree.NodeSelected, "#relatives")
    def _open_relative(self, event: Tree.NodeSelected[Item]) -> None:
        item = event.node.data
        if item is not None and item.info is not None:
            self.console.open_instance(item.info.id)
        else:
            event.node.toggle()

    def instance_targets(self) -> list[InstanceInfo]:
        return [self.info] if self.info is not None else []
