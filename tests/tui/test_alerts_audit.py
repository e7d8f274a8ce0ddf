"""Alerts & events and the audit log as an operator drives them, against the demo's real store."""

from __future__ import annotations

import re

import pytest

from opscenter.backends.local import LocalBackend
from opscenter.domain.clock import ManualClock
from opscenter.domain.records import ActionRefused
from opscenter.tui.app import OpsApp
from opscenter.tui.screens.audit import MAX_ROWS, PAGE_SIZE, AuditEntryScreen
from opscenter.tui.screens.confirm import ConfirmScreen
from opscenter.tui.widgets.table import VirtualTable
from tests.tui.conftest import FROZEN_AT
from tests.tui.helpers import press, screen_text, settle


def events_table(app: OpsApp) -> VirtualTable:
    return app.screen.query_one("#events", VirtualTable)


def audit_table(app: OpsApp) -> VirtualTable:
    return app.screen.query_one("#audit", VirtualTable)


def event_status(backend, event_id: int):
    return next(e for e in backend.list_events() if e.id == event_id)


# -- alerts & events -------------------------------------------------------------------------


async def test_events_and_alerts_of_the_demo_are_listed(demo_backend):
    events = demo_backend.list_events()
    # dq_sales_volume failed with no rerun left and blocks both baselines: one ERROR event each
    assert [(e.baseline, e.node, e.kind, e.status) for e in events] == [
        ("finance_close", "dq_sales_volume", "ERROR", "NEW"),
        ("exec_dashboard", "dq_sales_volume", "ERROR", "NEW"),
    ]
    app = OpsApp(demo_backend, start="alerts")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert [e.id for e in events_table(app).rows] == [e.id for e in events]
        text = screen_text(pilot)
        assert "2 shown, 2 open" in text
        assert (
            "! NEW     ERROR 11-19 finance_close    dq_sales_volume  11-20 07:05 scheduler" in text
        )
        assert "exec_dashboard" in text
        # the alerts the rules sent: exec_dashboard went WARNING (resolved) then OVER
        assert "3 · 2 unresolved" in text
        assert "! open     dashboard_late       BaselineOver" in text
        assert "✓ resolved dashboard_at_risk" in text
        assert "quality_failed" in text
        # the event under the cursor in full, below the lists
        assert "dq_sales_volume #76 failed and blocks the baseline" in text
        await press(pilot, "tab", "j")  # the alerts pane: its row in full
        assert re.search(r"#\d+ quality_failed → instance:76", screen_text(pilot))


async def test_an_event_goes_fixing_then_recovered_and_is_audited(demo_backend):
    app = OpsApp(demo_backend, start="alerts")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        first = events_table(app).current
        await press(pilot, "m")
        assert isinstance(app.screen, ConfirmScreen)
        assert f"#{first.id} ERROR dq_sales_volume · baseline finance_close" in screen_text(pilot)
        await press(pilot, "y")
        event = event_status(demo_backend, first.id)
        assert (event.status, event.updated_by) == ("FIXING", "alice")
        assert "● FIXING" in screen_text(pilot)
        assert "alice" in screen_text(pilot)
        await press(pilot, "v", "y")
        assert event_status(demo_backend, first.id).status == "RECOVER"
        assert "✓ RECOVER" in screen_text(pilot)
        # the other event was not touched
        assert event_status(demo_backend, events_table(app).rows[1].id).status == "NEW"
        # a closed event moves no further, and no confirm is asked for nothing
        await press(pilot, "i")
        assert not isinstance(app.screen, ConfirmScreen)
        assert event_status(demo_backend, first.id).status == "RECOVER"
        why = (
            f"event #{first.id} is RECOVER: already recovered, it is finished and nothing "
            "more can be done to it"
        )
        assert why in [n.message for n in app._notifications]
        # the audit screen shows what alice did, from the console, the refusal too
        await press(pilot, "7")
        refused, done = audit_table(app).rows[:2]
        assert (refused.action, refused.user, refused.source, refused.outcome) == (
            "handle event",
            "alice",
            "tui",
            "refused",
        )
        assert (refused.targets, refused.detail) == ([first.id, "IGNORE"], why)
        assert (done.action, done.user, done.source, done.outcome) == (
            "handle event",
            "alice",
            "tui",
            "ok",
        )
        assert done.targets == [first.id, "RECOVER"]
        text = screen_text(pilot)
        assert "alice    tui handle event   ✗ refused" in text
        assert "alice    tui handle event   ✓ ok" in text


async def test_enter_in_the_confirm_cancels(demo_backend):
    app = OpsApp(demo_backend, start="alerts")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await press(pilot, "m")
        assert isinstance(app.screen, ConfirmScreen)
        await press(pilot, "enter")
        assert not isinstance(app.screen, ConfirmScreen)
        assert {e.status for e in demo_backend.list_events()} == {"NEW"}


async def test_open_only_hides_closed_events(demo_backend):
    demo_backend.handle_event(2, "IGNORE")
    app = OpsApp(demo_backend, start="alerts")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert [e.status for e in events_table(app).rows] == ["IGNORE", "NEW"]
        await press(pilot, "o")
        assert [e.id for e in events_table(app).rows] == [1]
        assert "open only (o) · 1 shown, 1 open" in screen_text(pilot)
        await press(pilot, "o")
        assert len(events_table(app).rows) == 2


async def test_enter_on_an_event_opens_its_instance(demo_backend):
    app = OpsApp(demo_backend, start="alerts")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await press(pilot, "enter")
        assert type(app.screen).__name__ == "InstanceScreen"
        assert app.screen.instance_id == 76


async def test_read_only_refuses_event_handling_and_says_why(demo_backend):
    readonly = LocalBackend(
        demo_backend.db, "shop", ManualClock(FROZEN_AT), user="bob", readonly=True, source="tui"
    )
    app = OpsApp(readonly, start="alerts")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert "m fixing" not in screen_text(pilot)
        event = events_table(app).current
        await press(pilot, "m")
        assert not isinstance(app.screen, ConfirmScreen)
        said = [n.message for n in app._notifications if "read-only" in n.message]
        assert said == ["Mark event fixing is not available: opscenter runs read-only (--readonly)"]
        assert {e.status for e in demo_backend.list_events()} == {"NEW"}
        # the console refused it itself: audited all the same, once
        [entry] = [e for e in readonly.audit_log() if e.user == "bob"]
        assert (entry.user, entry.action, entry.targets, entry.outcome, entry.detail) == (
            "bob",
            "handle event",
            [event.id, "FIXING"],
            "refused",
            said[0],
        )


# -- audit ---------------------------------------------------------------------------------


@pytest.fixture
def long_audit(demo_backend) -> int:
    """250 refused freezes by bob (read-only, from the CLI) on top of the deploy: 251 entries."""
    readonly = LocalBackend(
        demo_backend.db, "shop", ManualClock(FROZEN_AT), user="bob", readonly=True, source="cli"
    )
    for _ in range(250):
        with pytest.raises(ActionRefused):
            readonly.freeze_node("dq_sales_volume")
    return len(demo_backend.audit_log(1000))


async def test_audit_shows_an_action_with_its_user_and_source(demo_backend):
    demo_backend.freeze_node("ads_weekly_report")
    app = OpsApp(demo_backend, start="audit")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        text = screen_text(pilot)
        assert "alice    tui freeze node    ✓ ok      ads_weekly_report" in text
        assert "deploy" in text  # the older entry below it
        assert "1 of 2" in text  # read to the end: no '+'
        await press(pilot, "enter")
        assert isinstance(app.screen, AuditEntryScreen)
        text = screen_text(pilot)
        assert "user     alice (from tui)" in text
        assert "ads_weekly_report" in text
        await press(pilot, "escape")
        assert not isinstance(app.screen, AuditEntryScreen)


async def test_audit_pages_older_entries_in_a_bounded_window(demo_backend, long_audit):
    assert long_audit == 251 and long_audit > max(PAGE_SIZE, MAX_ROWS)
    newest = demo_backend.audit_log(1)[0].id
    app = OpsApp(demo_backend, start="audit")
    async with app.run_test(size=(80, 50)) as pilot:  # a tall pane: fewer keys to the end
        await settle(pilot)
        grid = audit_table(app)
        assert len(grid.rows) == PAGE_SIZE and not grid.at_tail
        assert f"1 of {PAGE_SIZE}+" in screen_text(pilot)
        for _ in range(5):
            await press(pilot, "G")  # to the oldest read so far, reading on
            assert len(grid.rows) <= MAX_ROWS
        assert grid.at_tail and grid.current.action == "deploy"  # the very first entry
        assert grid.first > 0  # the newest pages were dropped on the way
        assert f"{long_audit} of {long_audit}" in screen_text(pilot)
        # back up: the dropped pages are read again, in order, without gaps
        for _ in range(12):
            await press(pilot, "pageup")
            assert len(grid.rows) <= MAX_ROWS
        assert grid.at_head and grid.position == 1 and grid.current.id == newest
        ids = [row.id for row in grid.rows]
        assert ids == sorted(ids, reverse=True) and ids[0] - ids[-1] == len(ids) - 1


async def test_audit_search_and_outcome_filters(demo_backend, long_audit):
    demo_backend.freeze_node("ads_weekly_report")
    app = OpsApp(demo_backend, start="audit")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        grid = audit_table(app)
        await press(pilot, "t")  # any -> ok: the deploy and alice's freeze
        assert [row.action for row in grid.rows] == ["freeze node", "deploy"]
        await press(pilot, "t")  # refused: bob's 250, a page at a time
        assert len(grid.rows) == PAGE_SIZE and {row.user for row in grid.rows} == {"bob"}
        await press(pilot, "t", "slash", *"weekly")  # any outcome, text in the targets
        assert [row.user for row in grid.rows] == ["alice"]
        await press(pilot, "enter")
        assert grid.has_focus
        assert "search 'weekly'" in screen_text(pilot)
        await press(pilot, "c")
        assert len(grid.rows) == PAGE_SIZE and grid.rows[0].user == "alice"
