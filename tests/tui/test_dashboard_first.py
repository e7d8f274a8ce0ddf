"""The Dashboard's first paint: the date's statuses show as soon as they are counted, before
the rest of the overview (failures, baselines, errors, the slowest, the trend) is read."""

from __future__ import annotations

import threading
import time
from datetime import date

from opscenter.backends.local import LocalBackend
from opscenter.domain.records import Dashboard
from opscenter.tui.app import OpsApp
from tests.tui.helpers import screen_text, settle, until

WAIT_SECONDS = 60.0


async def shown(pilot, words: str) -> None:  # noqa: ANN001 - a Pilot
    """Until ``words`` are on the screen, while a read is still held (settling would wait for
    that read to end)."""
    deadline = time.monotonic() + WAIT_SECONDS
    while words not in screen_text(pilot):
        assert time.monotonic() < deadline, f"waited {WAIT_SECONDS:g} s for {words!r}"
        await pilot.pause(0.02)


class HeldDashboard(LocalBackend):
    """The demo's backend, whose whole-dashboard read waits until the test lets it go."""

    def __init__(self, backend: LocalBackend) -> None:
        super().__init__(backend.db, "shop", backend.clock, user="alice", source="tui")
        self.release = threading.Event()

    def dashboard(self, bizdate: date) -> Dashboard:
        assert self.release.wait(60), "the test never let the dashboard read go"
        return super().dashboard(bizdate)


async def test_the_statuses_show_before_the_rest_of_the_dashboard_is_read(demo_backend):
    backend = HeldDashboard(demo_backend)
    app = OpsApp(backend, start="dashboard")
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await shown(pilot, "SUCCESS")
            text = screen_text(pilot)
            assert "Instances 2026-11-19 · 46" in text
            assert "Needs action · 1" not in text  # the rest is still being read
            backend.release.set()
            await until(pilot, lambda: "Needs action · 1" in screen_text(pilot), "the rest")
            await settle(pilot)
    finally:
        backend.release.set()
