"""The console app: screens as k9s-style modes, the world in the header, actions with a confirm.

It holds no logic of its own beyond wiring: every read and every action is a
Backend call made in a worker thread, so the UI thread never waits on I/O.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from rich.text import Text
from textual.app import App
from textual.binding import Binding
from textual.filter import LineFilter
from textual.notifications import SeverityLevel
from textual.screen import Screen

from opscenter.backends.base import Backend
from opscenter.domain.records import ActionRefused, ActionResult, WorkspaceInfo
from opscenter.domain.rules import default_bizdate
from opscenter.domain.times import zone_label
from opscenter.tui import format as fmt
from opscenter.tui import theming
from opscenter.tui.actions import registry
from opscenter.tui.clipboard import osc52
from opscenter.tui.commands import OpsCommands, go_to_instance, go_to_node
from opscenter.tui.screens.base import OpsScreen, typed_into_field
from opscenter.tui.screens.confirm import ConfirmScreen, Impact
from opscenter.tui.screens.help import HelpScreen
from opscenter.tui.screens.prompt import PromptScreen
from opscenter.tui.widgets.chrome import TABS, WorldLine

COMMANDS = {
    "dash": "dashboard",
    "dashboard": "dashboard",
    "nodes": "nodes",
    "node": "nodes",
    "instances": "instances",
    "inst": "instances",
    "backfills": "backfills",
    "backfill": "backfills",
    "bf": "backfills",
    "baselines": "baselines",
    "baseline": "baselines",
    "bl": "baselines",
    "alerts": "alerts",
    "events": "alerts",
    "audit": "audit",
}


class SchedulerView(Protocol):
    """What the header needs to know of a scheduler this process runs."""

    def describe(self) -> str: ...


def _screen(module: str, name: str) -> Callable[[], Screen]:
    """Screens are imported when first shown: a faster first paint."""

    def make() -> Screen:
        from importlib import import_module

        return getattr(import_module(f"opscenter.tui.screens.{module}"), name)()

    return make


class OpsApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "opscenter"
    ENABLE_COMMAND_PALETTE = True
    COMMANDS = App.COMMANDS | {OpsCommands}
    MODES = {
        "dashboard": _screen("dashboard", "DashboardScreen"),
        "nodes": _screen("nodes", "NodesScreen"),
        "instances": _screen("instances", "InstancesScreen"),
        "backfills": _screen("backfills", "BackfillsScreen"),
        "baselines": _screen("baselines", "BaselinesScreen"),
        "alerts": _screen("alerts", "AlertsScreen"),
        "audit": _screen("audit", "AuditScreen"),
    }
    BINDINGS = [
        *(
            Binding(key, f"switch_mode('{mode}')", title, show=False, id=f"go-{mode}")
            for key, mode, title in TABS
        ),
        Binding("question_mark", "help", "help", id="help"),
        # priority: see typed_into_field
        Binding("colon", "command", "command", id="command", priority=True),
        Binding("b", "pick_bizdate", "business date", show=False, id="bizdate"),
        Binding("less_than_sign", "shift_bizdate(-1)", "day before", show=False),
        Binding("greater_than_sign", "shift_bizdate(1)", "day after", show=False),
        Binding("q", "quit", "quit", id="quit"),
        Binding("escape", "back", "back", show=False),
    ]

    def __init__(
        self,
        backend: Backend,
        *,
        scheduler: SchedulerView | None = None,
        theme: str | None = None,
        refresh_seconds: float = 2.0,
        watch_terminal: bool = False,
        start: str = "dashboard",
        notice: str = "",
    ) -> None:
        super().__init__()
        self.backend = backend
        self.notice = notice  # said once the console is open (the demo was redeployed)
        self.scheduler = scheduler
        self.refresh_seconds = refresh_seconds
        self.watch_terminal = watch_terminal
        self.start_mode = start
        self.info: WorkspaceInfo = backend.workspace()
        self._last_now: datetime | None = None
        self.zone = ZoneInfo(self.info.timezone)
        self.bizdate: date | None = self.default_bizdate()
        self.bizdate_chosen = False  # until an operator picks one, it follows the clock
        self.stale_since: datetime | None = None
        self._ascii = fmt.AsciiOnly()  # one filter: Textual caches lines per filter
        themes, self.theme_problems = theming.available_themes()
        for each in themes:
            self.register_theme(each)
        self.theme = theme or theming.DEFAULT_THEME

    # -- the world ------------------------------------------------------------------------

    @property
    def readonly(self) -> bool:
        return self.info.readonly

    def local_now(self) -> datetime:
        """The world's time in the workspace zone. Where the backend cannot say (a world's
        clock read from its store fails with the store), the last time it said: the header
        and the business date keep going while the screens say stale."""
        try:
            self._last_now = self.backend.now()
        except Exception:
            if self._last_now is None:
                raise
        return self._last_now.astimezone(self.zone)

    def default_bizdate(self) -> date:
        """Yesterday in the workspace's zone, by the world's clock (spec 10)."""
        return default_bizdate(self.local_now(), self.zone)

    def day_in_view(self) -> date:
        """The business date in view, or the default where a screen needs one date."""
        return self.bizdate or self.default_bizdate()

    def follow_the_day(self) -> None:
        """Past midnight the console shows the new business date, unless one was chosen."""
        if not self.screen_stack:  # closing: a timer may still fire with no screen left
            return
        if not self.bizdate_chosen and self.bizdate != self.default_bizdate():
            self.set_bizdate(self.default_bizdate(), chosen=False)

    def world_line(self, width: int | None = None) -> Text:
        """Which world, which day, the world's clock (labelled with its zone) and who runs it.

        Where the line is too wide it gets terser, in this order: the business date as
        DataWorks writes it, a simulated clock without its (racing) seconds, no product name,
        the lease holder's host alone, "biz" for "bizdate", no lease holder; past that the
        end is cut with an ellipsis. The scheduler's role (lead, standby, attached) stays.
        """
        width = width or self.size.width or 80
        for terse in range(7):
            parts = self._world_parts(terse)
            line = " " + " · ".join(parts)
            if len(line) <= width:
                break
        text = Text(line, no_wrap=True, overflow="ellipsis")
        if self.stale_since is not None:
            text.stylize("bold reverse", len(text) - len(parts[-1]), len(text))
        return text

    def _world_parts(self, terse: int) -> list[str]:
        parts = [] if terse >= 3 else ["opscenter"]
        parts += [self.info.name, self.info.backend]
        if self.readonly:
            parts.append("READ-ONLY")
        day, label = self.bizdate, "biz" if terse >= 5 else "bizdate"
        if day is None:
            parts.append(f"{label} any")
        else:
            parts.append(f"{label} {day:%Y%m%d}" if terse >= 1 else f"{label} {day.isoformat()}")
        stopped = self.info.stopped_at
        simulated = self.info.speed != 1
        if stopped is not None:  # the world's time stands still: say since when, not a clock
            parts.append(f"scheduler stopped at {self.clock_text(stopped, '%H:%M')}")
        else:
            seconds = "%H:%M" if terse >= 2 and simulated else "%H:%M:%S"
            clock = self.clock_text(self.local_now(), seconds)
            if simulated:
                clock += f" sim×{self.info.speed:g}"
            parts.append(clock)
        if self.stale_since is not None:
            parts.append(f"stale since {self.clock_text(self.stale_since)}")  # zoned, as the clock
        elif stopped is None:
            holder = "" if terse >= 6 else "host" if terse >= 4 else "full"
            parts.append(f"sched {self.scheduler_state(holder)}")
        return parts

    def clock_text(self, moment: datetime, fmt: str = "%H:%M:%S") -> str:
        """A moment (aware) in the workspace zone with the zone's abbreviation: 09:03:12 CST."""
        local = moment.astimezone(self.zone)
        return f"{local.strftime(fmt)} {zone_label(local)}"

    def scheduler_state(self, holder: str = "full") -> str:
        """This console's scheduler (``● lead``, ``… standby``), or, attached to a store
        another process schedules, who holds its lease: ``● attached to ops-1:4242:a1b2``
        (``holder`` "host": its host alone; "": the role alone)."""
        if self.scheduler is not None:
            return self.scheduler.describe()
        lease = self.info.scheduler  # host:pid:nonce
        if not lease:
            return "○ none"
        if holder == "host":
            lease = lease.partition(":")[0]
        return f"● attached to {lease}" if holder else "● attached"

    def get_line_filters(self) -> Sequence[LineFilter]:
        """Textual's filters (NO_COLOR's), then ASCII's where the terminal has no Unicode."""
        filters = super().get_line_filters()
        return filters if fmt.UNICODE else [*filters, self._ascii]

    def get_key_display(self, binding: Binding) -> str:
        """``⏎``, ``↑``: in ASCII the key's own name (``enter``, ``up``) instead."""
        shown = super().get_key_display(binding)
        return shown if fmt.UNICODE or shown.isascii() else binding.key

    def focus_label(self, screen: Screen) -> str:
        """The titled panel that holds the focus (``Needs action``), or "" where there is none:
        said first in the footer, as its border alone shows it only in colour."""
        for node in screen.focused.ancestors_with_self if screen.focused else ():
            title = getattr(node, "border_title", None)
            if title:
                return str(title).split(" · ")[0]
        return ""

    def key_hints(self, screen: Screen, width: int) -> Text:
        """Which panel has the focus, then the screen's own keys, as many as fit;
        `? help` always at the end."""
        shown: dict[str, str] = {}
        for active in screen.active_bindings.values():
            binding = active.binding
            if not binding.show or not binding.description or binding.id in ("help", "quit"):
                continue
            if registry.withheld(binding.action, self.readonly):
                continue
            shown.setdefault(
                binding.action, f"{self.get_key_display(binding)} {binding.description}"
            )
        tail = "? help  q quit"
        text = Text(no_wrap=True, overflow="ellipsis")
        label = self.focus_label(screen)
        if label:
            text.append(" ")
            text.append(f"[{label}]", style="reverse bold")
        line = ""
        for hint in shown.values():
            if len(text) + len(line) + len(hint) + 2 + len(tail) + 2 > width:
                break
            line += f" {hint} "
        text.append(f"{line} {tail}")
        return text

    def backend_answered(self) -> None:
        if self.stale_since is not None:
            self.stale_since = None
            self._redraw_world()

    def _redraw_world(self) -> None:
        if not self.screen_stack:  # closing
            return
        for line in self.screen.query(WorldLine):
            line.update_line()

    def backend_failed(self, error: BaseException) -> None:
        if self.stale_since is None:
            self.stale_since = self.local_now()
            self._redraw_world()
            self.notify(
                f"the backend did not answer: {error}; showing what was last read",
                title="stale",
                severity="error",
                timeout=8,
            )

    # -- start and stop -------------------------------------------------------------------

    def on_mount(self) -> None:
        for problem in self.theme_problems:
            self.notify(f"theme skipped: {problem}", severity="warning", timeout=10)
        if self.notice:
            self.notify(self.notice, title="opscenter", timeout=15)
        self.switch_mode(self.start_mode)
        self.set_interval(5.0, self._reload_info)
        self.set_interval(1.0, self.follow_the_day)
        if self.watch_terminal:
            self.set_interval(2.0, self._check_terminal)
            try:
                import asyncio

                asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, self.exit)
            except (NotImplementedError, RuntimeError, ValueError):
                pass

    def _reload_info(self) -> None:
        def work() -> None:
            try:
                info = self.backend.workspace()
            except Exception as exc:
                self.call_from_thread(self.backend_failed, exc)
                return
            self.call_from_thread(setattr, self, "info", info)

        self.run_worker(work, thread=True, group="info", exclusive=True, exit_on_error=False)

    def _check_terminal(self) -> None:
        """An SSH drop leaves no terminal: leave instead of spinning (dolphie's watchdog)."""
        stdin = sys.__stdin__
        try:
            alive = (
                stdin is not None and os.isatty(stdin.fileno()) and bool(os.ttyname(stdin.fileno()))
            )
        except (OSError, ValueError):
            alive = False
        if not alive:
            self.exit()

    # -- global keys ------------------------------------------------------------------------

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.screen, self.readonly))

    async def action_switch_mode(self, mode: str) -> None:
        """A number key: that screen as it first shows, from anywhere. What was opened on
        top of it (an instance, a confirm) is closed, so `1` after drilling into an
        instance shows the dashboard, not the instance under another tab's name."""
        await self.switch_mode(mode)
        while len(self.screen_stack) > 1:
            await self.pop_screen()

    async def action_back(self) -> None:
        if len(self.screen_stack) > 1:
            await self.pop_screen()

    def action_pick_bizdate(self) -> None:
        def chosen(answer: str | None) -> None:
            if answer is None:
                return
            self.set_bizdate(None if answer in ("any", "*") else date.fromisoformat(answer))

        self.push_screen(
            PromptScreen(
                "Business date",
                "yyyy-mm-dd, or 'any' for every date",
                self.bizdate.isoformat() if self.bizdate else "any",
                check=_bizdate_problem,
            ),
            chosen,
        )

    def action_shift_bizdate(self, days: int) -> None:
        base = self.day_in_view()
        self.set_bizdate(base + timedelta(days=days))

    def set_bizdate(self, day: date | None, *, chosen: bool = True) -> None:
        self.bizdate = day
        self.bizdate_chosen = self.bizdate_chosen or chosen
        for screen in self.screen_stack:
            if isinstance(screen, OpsScreen):
                screen.bizdate_changed()
        self._redraw_world()

    def action_command(self) -> None:
        if typed_into_field(self.screen, ":"):  # a time in the backfill form, a search
            return
        self.push_screen(
            PromptScreen(
                ":",
                "dash nodes instances backfills baselines alerts audit · node NAME · "
                "instance ID · bizdate DATE · theme NAME · q",
            ),
            self.run_command,
        )

    def run_command(self, line: str | None) -> None:
        if not line:
            return
        word, _, rest = line.strip().lstrip(":").partition(" ")
        word, rest = word.lower(), rest.strip()
        if word in ("q", "quit"):
            self.exit()
        elif word == "node" and rest:
            go_to_node(self, rest)
        elif word in ("instance", "inst", "i") and rest.lstrip("#").isdigit():
            go_to_instance(self, int(rest.lstrip("#")))
        elif word.startswith("#") and word[1:].isdigit():
            go_to_instance(self, int(word[1:]))
        elif word == "bizdate" and rest:
            problem = _bizdate_problem(rest)
            if problem:
                self.notify(problem, severity="error")
            else:
                self.set_bizdate(None if rest in ("any", "*") else date.fromisoformat(rest))
        elif word == "theme" and rest:
            if rest in self.available_themes:
                self.theme = rest
            else:
                self.notify(
                    f"no theme {rest!r}; known: {', '.join(theming.theme_names())}",
                    severity="error",
                )
        elif word in COMMANDS:
            self.call_later(self.action_switch_mode, COMMANDS[word])
        else:
            self.notify(
                f"unknown command {line!r}: try dash, nodes, instances, backfills, baselines, "
                "alerts, audit, node NAME, instance ID, bizdate DATE, theme NAME, q",
                severity="error",
            )

    def open_instance(self, instance_id: int) -> None:
        from opscenter.tui.screens.instance import InstanceScreen

        self.push_screen(InstanceScreen(instance_id))

    def open_node(self, name: str) -> None:
        from opscenter.tui.screens.nodes import NodeScreen

        self.push_screen(NodeScreen(name))

    async def show_instances(self, *, node: str = "", backfill_id: int | None = None) -> None:
        """Drill down to the Instances screen: one node's, or one backfill's."""
        from opscenter.tui.screens.instances import InstancesScreen

        await self.switch_mode("instances")
        while len(self.screen_stack) > 1:
            self.pop_screen()
        screen = self.screen_stack[0]
        assert isinstance(screen, InstancesScreen)
        if backfill_id is not None:
            screen.show_backfill(backfill_id)
        else:
            screen.show_node(node)

    def open_baseline(self, name: str, cycle: int = 1) -> None:
        from opscenter.tui.screens.baselines import BaselineScreen

        self.push_screen(BaselineScreen(name, cycle))

    # -- actions ------------------------------------------------------------------------

    def act(
        self,
        title: str,
        summary: str,
        targets: Sequence[str],
        call: Callable[[Backend], ActionResult],
        *,
        notes: Sequence[str] = (),
        impact: Impact | None = None,
        done: Callable[[ActionResult], None] | None = None,
    ) -> None:
        """Confirm with the exact targets (``targets`` are the confirm's lines), then call the
        backend off the UI thread. Read-only never gets here: ``registry.perform`` refuses."""

        def confirmed(yes: bool | None) -> None:
            if yes:
                self._perform(call, done)

        self.push_screen(ConfirmScreen(title, summary, targets, notes, impact), confirmed)

    def refuse(
        self,
        action: str,
        ids: Sequence[int | str],
        reason: str,
        *,
        severity: SeverityLevel = "warning",
    ) -> None:
        """Refuse ``action`` here, before any backend action is called: say why, and audit it
        with those words, as the backend audits a refusal of its own (who, when, targets).

        ``action`` is the console's name (``rerun_downstream``); the audit's is the backend's
        (``rerun downstream``). Every console refusal says "refused", as the backend's do."""
        self.notify(reason, title="refused", severity=severity, timeout=8)
        backend, named, targets = self.backend, action.replace("_", " "), list(ids)

        def work() -> None:
            try:
                backend.record_refusal(named, targets, reason)
            except Exception as exc:  # the refusal stands; the backend is not answering
                self.call_from_thread(self.backend_failed, exc)

        self.run_worker(work, thread=True, group="audit", exit_on_error=False)

    def _perform(
        self,
        call: Callable[[Backend], ActionResult],
        done: Callable[[ActionResult], None] | None,
    ) -> None:
        def work() -> None:
            try:
                result: Any = call(self.backend)
            except ActionRefused as refused:
                self.call_from_thread(self._refused, refused.reason)
                return
            except Exception as exc:  # the backend failed mid-call: say so, plainly
                self.call_from_thread(self._refused, f"the backend failed: {exc}")
                return
            self.call_from_thread(self._acted, result, done)

        self.run_worker(work, thread=True, group="action", exit_on_error=False)

    def _refused(self, reason: str) -> None:
        self.notify(reason, title="refused", severity="error", timeout=15)

    def _acted(self, result: ActionResult, done: Callable[[ActionResult], None] | None) -> None:
        self.notify(result.message, title=result.action, timeout=8)
        if done is not None:
            done(result)
        if isinstance(self.screen, OpsScreen):
            self.screen.refresh_now()

    def copy(self, text: str, what: str) -> None:
        """Copy with OSC 52 (wrapped for tmux), and say what was copied.

        Inside tmux the app's own clipboard (what a paste in a field inserts) holds it too,
        as ``copy_to_clipboard`` does elsewhere."""
        if os.environ.get("TMUX") and self._driver is not None:
            self._clipboard = text
            self._driver.write(osc52(text, tmux=True))
            self._driver.flush()
        else:
            self.copy_to_clipboard(text)
        self.notify(f"copied {what}", timeout=3)


def _bizdate_problem(answer: str) -> str | None:
    if answer in ("any", "*"):
        return None
    try:
        date.fromisoformat(answer)
    except ValueError:
        return f"{answer!r} is not a date: write yyyy-mm-dd (e.g. 2026-11-21) or 'any'"
    return None
