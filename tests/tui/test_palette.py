"""ctrl+p: go to a screen, node or instance, and run the screen's actions, as an operator types."""

from __future__ import annotations

from datetime import date

from textual.command import CommandInput, CommandList, CommandPalette
from textual.pilot import Pilot

from opscenter.backends.local import LocalBackend
from opscenter.domain.clock import ManualClock
from opscenter.domain.records import InstanceFilter
from opscenter.tui.app import OpsApp
from opscenter.tui.screens.confirm import ConfirmScreen
from tests.tui.conftest import FROZEN_AT
from tests.tui.helpers import press, settle


async def palette(pilot: Pilot, query: str, *, typed: bool = False) -> list[str]:
    """Open the palette, enter ``query``, and read the commands it offers, best first.

    Typing costs Textual's palette a tenth of a second a key, so most tests paste.
    """
    await press(pilot, "ctrl+p")
    assert CommandPalette.is_open(pilot.app)
    if typed:
        await press(pilot, *query)
    else:
        pilot.app.screen.query_one(CommandInput).value = query
        await settle(pilot)
    return [option.hit.text for option in pilot.app.screen.query_one(CommandList).options]


async def test_a_node_name_goes_to_the_node(demo_backend):
    app = OpsApp(demo_backend, start="audit")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        offered = await palette(pilot, "dq_sales_volume", typed=True)
        assert offered[0] == "Go to node dq_sales_volume"
        await press(pilot, "enter")
        assert type(app.screen).__name__ == "NodeScreen"
        assert app.screen.node_name == "dq_sales_volume"


async def test_a_number_goes_to_that_instance(demo_backend):
    failed = demo_backend.list_instances(
        InstanceFilter(node="dq_sales_volume", bizdate=date(2026, 11, 19))
    ).items[0]
    app = OpsApp(demo_backend, start="audit")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert await palette(pilot, f"#{failed.id}") == [f"Go to instance #{failed.id}"]
        await press(pilot, "enter")
        assert type(app.screen).__name__ == "InstanceScreen"
        assert app.screen.instance_id == failed.id
        # a number that is no instance offers nothing to go to
        await press(pilot, "escape")
        assert "Go to instance #99999" not in await palette(pilot, "99999")


async def test_a_screen_name_switches_mode(demo_backend):
    app = OpsApp(demo_backend, start="audit")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        offered = await palette(pilot, "instances")
        assert offered[0] == "Go to Instances"
        await press(pilot, "enter")
        assert app.current_mode == "instances"


async def test_the_screens_actions_run_where_they_are_bound(demo_backend):
    app = OpsApp(demo_backend, start="instances")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert "Rerun (r)" in await palette(pilot, "rerun")
        await press(pilot, "escape")
        offered = await palette(pilot, "status")
        assert offered[0] == "Status (t)"
        await press(pilot, "enter")  # as if `t` was pressed on the Instances screen
        assert app.screen.status_choice == 1
        # the business date, from the app
        offered = await palette(pilot, "today")
        assert offered[0] == "Business date: today"
        await press(pilot, "enter")
        assert app.bizdate == date(2026, 11, 20)


async def test_a_dangerous_action_asks_first(demo_backend):
    app = OpsApp(demo_backend, start="alerts")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        offered = await palette(pilot, "fixing")
        assert offered[0] == "Fixing (m)"
        await press(pilot, "enter")
        assert isinstance(app.screen, ConfirmScreen)
        await press(pilot, "escape")
        assert {e.status for e in demo_backend.list_events()} == {"NEW"}


async def test_read_only_offers_no_dangerous_action(demo_backend):
    readonly = LocalBackend(
        demo_backend.db, "shop", ManualClock(FROZEN_AT), user="bob", readonly=True, source="tui"
    )
    app = OpsApp(readonly, start="instances")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        offered = await palette(pilot, "rerun")
        assert "Rerun (r)" not in offered and "Rerun+down (R)" not in offered
        await press(pilot, "escape")
        assert "Freeze (f)" not in await palette(pilot, "freeze")
        await press(pilot, "escape")
        assert await palette(pilot, "status") == ["Status (t)"]  # reading stays


async def test_a_theme_is_picked_by_name(demo_backend):
    app = OpsApp(demo_backend, start="audit")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        offered = await palette(pilot, "ansi-light")
        assert offered[0] == "Theme: ansi-light"
        await press(pilot, "enter")
        assert app.theme == "ansi-light"


async def test_going_to_a_screen_from_the_palette_closes_what_was_opened_on_top(demo_backend):
    app = OpsApp(demo_backend, start="dashboard")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        failed = demo_backend.list_instances(
            InstanceFilter(node="dq_sales_volume", bizdate=date(2026, 11, 19))
        ).items[0]
        app.open_instance(failed.id)
        await settle(pilot)
        assert len(app.screen_stack) == 2  # the instance, over the dashboard
        assert (await palette(pilot, "dashboard"))[0] == "Go to Dashboard"
        await press(pilot, "enter")
        await settle(pilot)
        assert app.current_mode == "dashboard" and len(app.screen_stack) == 1
