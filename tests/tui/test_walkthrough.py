"""The on-call walk the issue asks for, with the real engine running what the console asks.

Keys only, at 80x24: spot the failure on the dashboard, read why in its log,
rerun it with its downstream and watch what the scheduler does, then accept the
day (set success) and watch the downstream succeed. (Freezing a node and following a
backfill to its end are tests/tui/test_nodes_screen.py and test_backfills_screen.py.)
"""

from __future__ import annotations

from datetime import date, timedelta

from opscenter.backends.local import LocalBackend
from opscenter.domain.clock import ManualClock
from opscenter.domain.model import Status
from opscenter.domain.records import InstanceFilter
from opscenter.scheduler.engine import Engine
from opscenter.store import summary
from opscenter.tui.app import OpsApp
from tests.tui.conftest import BIZDATE, FROZEN_AT
from tests.tui.helpers import press, screen_text, settle


def scheduled(demo_backend: LocalBackend) -> tuple[LocalBackend, Engine, ManualClock]:
    """The operator's backend and a scheduler on one clock (scripts take no real time)."""
    clock = ManualClock(FROZEN_AT, speed=1e6)
    backend = LocalBackend(demo_backend.db, "shop", clock, user="alice", source="tui")
    engine = Engine(demo_backend.db, summary.workspace_id(demo_backend.db, "shop"), clock)
    engine.start()
    return backend, engine, clock


def statuses(backend: LocalBackend, node: str) -> list[Status]:
    items = backend.list_instances(InstanceFilter(node=node, bizdate=date.fromisoformat(BIZDATE)))
    return [i.status for i in items.items]


async def test_spot_read_rerun_accept_and_watch(demo_backend):
    backend, engine, clock = scheduled(demo_backend)
    app = OpsApp(backend, refresh_seconds=0.2)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            text = screen_text(pilot)
            assert "Needs action · 1" in text and "✗ dq_sales_volume" in text
            await press(pilot, "enter")  # the failed row has the focus on the dashboard
            text = screen_text(pilot)
            assert "dq_sales_volume · #" in text and "✗ FAILURE" in text
            assert "quality check failed: 1 violating row" in text  # in its log and its why

            await press(pilot, "R")
            assert "11 downstream instances will be reset" in screen_text(pilot)
            await press(pilot, "y")
            assert statuses(backend, "dq_sales_volume") == [Status.NOT_RUN]
            engine.run_until_idle()  # the scheduler runs it again: the drop is real
            app.screen.refresh_now()
            await settle(pilot)
            text = screen_text(pilot)
            assert "attempt 2" in text and "✗ FAILURE" in text
            assert statuses(backend, "sales_daily") == [Status.NOT_RUN]

            await press(pilot, "s", "y")  # accept the day's data: its downstream may run
            assert statuses(backend, "dq_sales_volume") == [Status.SUCCESS]
            clock.advance(timedelta(minutes=1))
            engine.run_until_idle()
            assert statuses(backend, "sales_daily") == [Status.SUCCESS]
            await press(pilot, "escape", "1")
            await settle(pilot)
            text = screen_text(pilot)
            assert "Needs action · 0" in text
            assert "○ NOT_RUN        0" in text
    finally:
        engine.close()
