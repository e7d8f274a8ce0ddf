"""What every screen of the console shares: the chrome and a refresh that never overlaps.

The refresh follows dolphie and k9s: one load at a time in a worker thread, the
next one armed only after the last finished, skipped while a modal is open or
another screen is in front, and backing off (with "stale since" in the header)
while the backend fails.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.app import ComposeResult
from textual.screen import Screen
from textual.timer import Timer

from opscenter.tui.widgets.chrome import KeyHints, TabLine, WorldLine


class OpsScreen(Screen):
    """A screen with the header, the tabs, a body and the key hints."""

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
        self.app.backend_answered()  # type: ignore[attr-defined]
        self._settled()

    def failed(self, error: BaseException) -> None:
        self._loading = False
        self._failures += 1
        self.app.backend_failed(error)  # type: ignore[attr-defined]
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
        delay = self.app.refresh_seconds * min(2**self._failures, 15)  # type: ignore[attr-defined]
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
