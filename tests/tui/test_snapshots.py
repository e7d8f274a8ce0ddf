"""What each screen looks like, at 80x24 and 120x40, on the demo frozen at 09:30.

The SVGs under __snapshots__ were looked at before they were accepted; a change
that moves a single character fails here. Regenerate deliberately with
``pytest tests/tui/test_snapshots.py --snapshot-update`` and look again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from opscenter.domain.records import BackfillRequest, InstanceFilter
from opscenter.tui.app import OpsApp
from tests.tui.helpers import settle

BIZDATE = date(2026, 11, 19)
SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40")]


def failed_instance(backend) -> int:
    return (
        backend.list_instances(InstanceFilter(node="dq_sales_volume", bizdate=BIZDATE)).items[0].id
    )


def preparing(
    then: Callable[[OpsApp], None] | None = None, keys: tuple[str, ...] = ()
) -> Callable[[Pilot], Awaitable[None]]:
    """Wait for the first reads, open a detail screen or press keys, and still the cursors."""

    async def run_before(pilot: Pilot) -> None:
        await settle(pilot)
        if then is not None:
            then(pilot.app)  # type: ignore[arg-type]
            await settle(pilot)
        if keys:
            await pilot.press(*keys)
            await settle(pilot)
        for field in pilot.app.screen.query(Input):
            field.cursor_blink = False
        await settle(pilot)

    return run_before


MODES = ["dashboard", "nodes", "instances", "backfills", "baselines", "alerts", "audit"]


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("mode", MODES)
def test_each_screen(snap_compare, demo_backend, mode, size):
    if mode == "backfills":  # one backfill, created before the scheduler could start it
        demo_backend.backfill(
            BackfillRequest("dws_sales_by_category", date(2026, 11, 16), date(2026, 11, 18))
        )
    app = OpsApp(demo_backend, start=mode)
    assert snap_compare(app, terminal_size=size, run_before=preparing())


@pytest.mark.parametrize("size", SIZES)
def test_the_failed_instance_with_its_log_and_why(snap_compare, demo_backend, size):
    failed = failed_instance(demo_backend)
    app = OpsApp(demo_backend, start="instances")
    assert snap_compare(
        app, terminal_size=size, run_before=preparing(lambda a: a.open_instance(failed))
    )


@pytest.mark.parametrize("size", SIZES)
def test_a_baseline_key_path(snap_compare, demo_backend, size):
    app = OpsApp(demo_backend, start="baselines")
    assert snap_compare(
        app,
        terminal_size=size,
        run_before=preparing(lambda a: a.open_baseline("exec_dashboard")),
    )


@pytest.mark.parametrize("size", SIZES)
def test_a_node(snap_compare, demo_backend, size):
    app = OpsApp(demo_backend, start="nodes")
    assert snap_compare(
        app, terminal_size=size, run_before=preparing(lambda a: a.open_node("sales_daily"))
    )


def test_the_rerun_confirm(snap_compare, demo_backend):
    app = OpsApp(demo_backend, start="dashboard")
    assert snap_compare(app, terminal_size=(80, 24), run_before=preparing(keys=("R",)))


def test_without_colour(snap_compare, demo_backend, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    app = OpsApp(demo_backend, start="dashboard")
    assert snap_compare(app, terminal_size=(80, 24), run_before=preparing())


def test_sixteen_colours(snap_compare, demo_backend):
    app = OpsApp(demo_backend, start="instances", theme="ansi-dark")
    assert snap_compare(app, terminal_size=(80, 24), run_before=preparing())
