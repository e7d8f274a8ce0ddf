"""What screens, widgets and actions need from the app, as a type: the console interface.

Screens reach the app through ``self.console`` (``OnConsole``), typed by ``Console``, so
they depend on this interface and not on ``app.py``: the app imports its screens, and
no screen imports the app. ``OpsApp`` is the one implementation; mypy checks that it
is one wherever the app passes itself on as a ``Console``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any, Protocol, cast
from zoneinfo import ZoneInfo

from rich.text import Text
from textual.app import App
from textual.notifications import SeverityLevel
from textual.screen import Screen

from opscenter.backends.base import Backend
from opscenter.domain.records import ActionResult, WorkspaceInfo
from opscenter.tui.screens.confirm import Impact


class Console(Protocol):
    """The console's world (backend, zone, business date), where to go, and how to act."""

    backend: Backend
    info: WorkspaceInfo
    zone: ZoneInfo
    bizdate: date | None  # None: every date
    refresh_seconds: float

    @property
    def readonly(self) -> bool: ...

    # -- the world ------------------------------------------------------------------------

    def local_now(self) -> datetime: ...
    def default_bizdate(self) -> date: ...
    def day_in_view(self) -> date: ...
    def set_bizdate(self, day: date | None, *, chosen: bool = True) -> None: ...
    def world_line(self, width: int | None = None) -> Text: ...
    def key_hints(self, screen: Screen[Any], width: int) -> Text: ...
    def backend_answered(self) -> None: ...
    def backend_failed(self, error: BaseException) -> None: ...

    # -- where to go ------------------------------------------------------------------------

    def open_instance(self, instance_id: int) -> None: ...
    def open_node(self, name: str) -> None: ...
    def open_baseline(self, name: str, cycle: int = 1) -> None: ...
    async def show_instances(self, *, node: str = "", backfill_id: int | None = None) -> None: ...
    async def action_switch_mode(self, mode: str) -> None: ...
    async def action_back(self) -> None: ...
    def action_pick_bizdate(self) -> None: ...

    # -- acting -----------------------------------------------------------------------------

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
    ) -> None: ...
    def refuse(
        self,
        action: str,
        ids: Sequence[int | str],
        reason: str,
        *,
        severity: SeverityLevel = "warning",
    ) -> None: ...
    def copy(self, text: str, what: str) -> None: ...

    # -- Textual's, as the actions use them ------------------------------------------------

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None: ...
    def push_screen(
        self, screen: Screen[Any], callback: Callable[[Any], None] | None = None
    ) -> Any: ...
    def call_from_thread(self, callback: Callable[..., Any], *args: Any, **kwargs: Any) -> Any: ...
    def run_worker(
        self,
        work: Callable[[], Any],
        name: str | None = "",
        group: str = "default",
        description: str = "",
        exit_on_error: bool = True,
        start: bool = True,
        exclusive: bool = False,
        thread: bool = False,
    ) -> Any: ...


class HasApp(Protocol):
    @property
    def app(self) -> App[Any]: ...


class OnConsole:
    """Mixed into screens, widgets and the palette: the app, as the console interface."""

    @property
    def console(self: HasApp) -> Console:
        return cast("Console", self.app)
