"""What every screen of the console shares: the chrome and a refresh that never overlaps.

The refresh follows dolphie and k9s: one load at a time in a worker thread, the
next one armed only after the last finished, skipped while a modal is open or
another screen is in front, and backing off (with "stale since" in the header)
while the backend fails.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Input, Static

from opscenter.domain.records import ActionResult, EventInfo, InstanceInfo, NodeInfo
from opscenter.tui.actions import events, registry
from opscenter.tui.console import OnConsole
from opscenter.tui.widgets.chrome import KeyHints, TabLine, WorldLine
from opscenter.tui.widgets.table import VirtualTable


def typed_into_field(screen: Screen, text: str) -> bool:
    """``/`` and ``:`` are bound with priority, so they act the moment they are read and the
    keys typed in the same burst (a paste, a fast typist, an SSH packet) follow them into
    the box they open; while a field has the focus they are only text."""
    if isinstance(screen.focused, Input):
        screen.focused.insert_text_at_cursor(text)
        return True
    return False


class OpsScreen(OnConsole, Screen):
    """A screen with the header, the tabs, a body and the key hints; what it points at for
    the console actions it binds (``registry.keys``), and how it runs them (``do``)."""

    MODE = ""

    def __init__(self) -> None:
        super().__init__()
        self._timer: Timer | None = None
        self._loading = False
        self._again = False
        self._failures = 0

    def compose(self) -> ComposeResult:
        yield WorldLine()
        yield TabLine(self.MODE)
        yield from self.body()
        yield KeyHints()

    def body(self) -> ComposeResult:
        yield from ()

    # -- the console actions ----------------------------------------------------------------

    async def action_do(self, action_id: str) -> None:
        """Every console action's binding: ``do('rerun')``."""
        running = registry.perform(self.console, self, action_id)
        if running is not None:
            await running

    def instance_targets(self) -> list[InstanceInfo]:
        return []

    def node_target(self) -> NodeInfo | None:
        return None

    def event_target(self) -> EventInfo | None:
        return None

    def event_words(self, event: EventInfo, status: str) -> tuple[str, str]:
        return events.listed_words(event, status)

    def acted(self, result: ActionResult) -> None:
        """After an action succeeded (a list clears its selection)."""

    # -- the refresh loop -----------------------------------------------------------------

    def on_screen_resume(self) -> None:
        self._show_keys()
        self.refresh_now()

    def on_descendant_focus(self) -> None:
        self._show_keys()

    def _show_keys(self) -> None:
        """The hints follow the focus: a focused table adds its own keys."""
        for hints in self.query(KeyHints):
            hints.update_hints()

    def on_screen_suspend(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None

    def refresh_now(self) -> None:
        """Load now (a key, an action or the timer); once more after a load under way."""
        if self._loading:
            self._again = True
            return
        self._loading = True
        self.load()

    def bizdate_changed(self) -> None:
        """The business date in view changed (the header's, shared by every screen)."""
        if self.is_attached:
            self.refresh_now()

    def load(self) -> None:
        """Start this screen's reads; each ends in ``loaded`` or ``failed``."""
        self.loaded()

    def loaded(self) -> None:
        self._loading = False
        self._failures = 0
        self.console.backend_answered()
        self._settled()

    def failed(self, error: BaseException) -> None:
        self._loading = False
        self._failures += 1
        self.console.backend_failed(error)
        self._settled()

    def _settled(self) -> None:
        if self._again:
            self._again = False
            self.refresh_now()
        else:
            self._arm()

    def _arm(self) -> None:
        if self._timer is not None:
            self._timer.stop()
        delay = self.console.refresh_seconds * min(2**self._failures, 15)
        self._timer = self.set_timer(delay, self._tick)

    def _tick(self) -> None:
        self._timer = None
        if self.app.screen is self and self.is_attached:
            self.refresh_now()
        else:
            self._arm()

    def read(self, call: Callable[[], Any], done: Callable[[Any], None]) -> None:
        """Run ``call`` off the UI thread; ``done`` gets its result on the UI thread."""

        def work() -> None:
            try:
                result = call()
            except Exception as exc:  # the backend failed: say stale, keep the last view
                self.app.call_from_thread(self.failed, exc)
                return
            self.app.call_from_thread(self._deliver, done, result)

        self.run_worker(work, thread=True, group="read", exit_on_error=False)

    def _deliver(self, done: Callable[[Any], None], result: Any) -> None:
        """Show a result; a screen that cannot must not stop refreshing for good."""
        try:
            done(result)
        except Exception as exc:
            self.log.error(f"showing {type(self).__name__} failed: {exc!r}")
            self.failed(exc)


class TableScreen(OpsScreen):
    """A screen around one long list: the table's window refresh is the screen's refresh,
    and a ``#search`` input (if it has one) filters it as the operator types."""

    text = ""

    @property
    def table(self) -> VirtualTable:
        return self.query_one(VirtualTable)

    def refilter(self) -> None:
        """Show the list again under the current filters (from its first row)."""

    def show_heading(self, left: str, right: str) -> None:
        """The line above the list: what it shows on the left, the position on the right."""
        gap = max(1, self.size.width - len(left) - len(right) - 1)
        self.query_one("#chips", Static).update(
            Text(left + " " * gap + right, no_wrap=True, overflow="ellipsis")
        )

    def load(self) -> None:
        if not self.table.refresh_rows():
            self.loaded()

    @on(VirtualTable.Changed)
    def _answered(self) -> None:
        if self._loading:
            self.loaded()

    @on(VirtualTable.Failed)
    def _table_failed(self, event: VirtualTable.Failed) -> None:
        self.failed(event.error)

    def action_search(self) -> None:
        if not typed_into_field(self, "/"):
            self.set_focus(self.query_one("#search", Input))

    @on(Input.Changed, "#search")
    def _search(self, event: Input.Changed) -> None:
        self.text = event.value.strip()
        self.refilter()

    @on(Input.Submitted, "#search")
    def _searched(self) -> None:
        self.table.focus()

    def key_escape(self) -> None:
        """esc leaves the search box first (the filter stays); the next esc goes back."""
        searches = self.query("#search")
        if searches and searches.first().has_focus:
            self.table.focus()
