"""The Auto-triggered nodes screens, driven by keys over a copy of the demo at 09:30.

The demo deploys 32 nodes (one manually triggered) and the workspace root (shop_root);
business date
2026-11-19 with the clock frozen at 2026-11-20 09:30 Shanghai.
"""

from __future__ import annotations

import pytest

from opscenter.backends.local import LocalBackend
from opscenter.tui.app import OpsApp
from opscenter.tui.screens.confirm import ConfirmScreen
from opscenter.tui.screens.instances import InstancesScreen
from opscenter.tui.screens.nodes import NodeScreen, NodesScreen
from tests.tui.helpers import press, screen_text, settle


def nodes_shown(app: OpsApp) -> list[str]:
    return [row.name for row in app.screen.table.rows]  # type: ignore[attr-defined]


def said(app: OpsApp) -> str:
    """Every notification shown so far (toasts are drawn on a layer of their own)."""
    return "\n".join(n.message for n in app._notifications)


async def search(pilot, text: str) -> None:  # noqa: ANN001 - a Pilot
    await press(pilot, "slash", *text, "enter")


@pytest.fixture
def readonly_backend(demo_backend: LocalBackend) -> LocalBackend:
    """The same demo store, opened the way `opscenter --readonly` opens it."""
    return LocalBackend(
        demo_backend.db, "shop", demo_backend.clock, user="alice", readonly=True, source="tui"
    )


async def test_the_list_shows_every_deployed_node_with_its_schedule(demo_backend) -> None:
    app = OpsApp(demo_backend, start="nodes")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, NodesScreen)
        assert app.screen.table.total == 33  # 32 nodes and shop_root
        text = screen_text(pilot)
        assert "1/33" in text
        assert "ads_weekly_report      sql     week Mon 02:30 alice    1 warehouse Normal" in text
        assert "ads_monthly_close      sql     month 1 03:30  finance" in text
        await press(pilot, "G")
        assert "shop_root" in screen_text(pilot)


async def test_search_narrows_the_list_as_you_type(demo_backend) -> None:
    app = OpsApp(demo_backend, start="nodes")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await search(pilot, "sales")
        assert nodes_shown(app) == [
            "dq_sales_volume",
            "dws_sales_by_category",
            "dws_sales_weekly",
            "sales_daily",
            "sales_raw",
        ]
        assert "1/5" in screen_text(pilot)


async def test_filter_chips_narrow_the_list_and_c_clears_them(demo_backend) -> None:
    app = OpsApp(demo_backend, start="nodes")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await press(pilot, "e")  # cycle: the first cycle the workspace uses
        assert "cycle hour" in screen_text(pilot)
        assert nodes_shown(app) == ["ods_orders_hourly", "ods_payments_hourly"]
        assert "hour :05 00-07" in screen_text(pilot)
        await press(pilot, "c", "t")  # type: python, the first type in order
        assert "type python" in screen_text(pilot)
        assert nodes_shown(app) == [
            "dws_user_activity",
            "ods_inventory_snapshot",
            "ods_orders_hourly",
            "ods_payments_hourly",
        ]
        await press(pilot, "c", "p")  # priority: the highest first
        assert "prio 5" in screen_text(pilot)
        assert nodes_shown(app) == ["ads_exec_dashboard", "sales_daily"]
        await press(pilot, "c")
        assert app.screen.table.total == 33


async def test_a_daily_node_in_detail(demo_backend) -> None:
    app = OpsApp(demo_backend, start="nodes")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await search(pilot, "sales_raw")
        await press(pilot, "enter")
        assert isinstance(app.screen, NodeScreen)
        text = screen_text(pilot)
        assert "daily at 00:30 · cron 00 30 00 * * ?" in text
        # the next five fire times after 2026-11-20 09:30, in Shanghai wall time
        assert (
            "next (CST) 11-21 00:30 · 11-22 00:30 · 11-23 00:30 · 11-24 00:30 · 11-25 00:30" in text
        )
        assert "deployed   2026-11-19 00:00 CST" in text  # every time says its zone
        assert "↑ upstream" in text and "dwd_start" in text and "ods_orders_hourly" in text
        assert "↓ downstream" in text and "dq_sales_volume" in text
        assert "rerun      Allowed" in text
        await press(pilot, "tab", "G")  # the code is at the bottom of the properties pane
        assert "INSERT INTO sales_raw" in screen_text(pilot)
        # enter on an upstream node opens it; esc comes back
        await press(pilot, "shift+tab", "down", "enter")
        assert isinstance(app.screen, NodeScreen)
        assert app.screen.node_name == "dwd_start"
        assert "daily at 00:00" in screen_text(pilot)
        await press(pilot, "escape")
        assert app.screen.node_name == "sales_raw"  # type: ignore[attr-defined]


async def test_freeze_then_unfreeze_a_node(demo_backend) -> None:
    app = OpsApp(demo_backend, start="nodes")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await search(pilot, "sales_daily")
        await press(pilot, "f")
        assert isinstance(app.screen, ConfirmScreen)
        assert "sales_daily" in screen_text(pilot)
        await press(pilot, "y")
        assert demo_backend.get_node("sales_daily").frozen
        assert "❄ frozen" in screen_text(pilot)
        await press(pilot, "u", "y")
        assert not demo_backend.get_node("sales_daily").frozen
        assert "❄ frozen" not in screen_text(pilot)


async def test_read_only_says_why_and_freezes_nothing(readonly_backend) -> None:
    app = OpsApp(readonly_backend, start="nodes")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await search(pilot, "sales_daily")
        await press(pilot, "f")
        assert not isinstance(app.screen, ConfirmScreen)
        assert "Freeze node is not available: opscenter runs read-only" in said(app)
        assert not readonly_backend.get_node("sales_daily").frozen


async def test_undeploy_cancels_on_enter_and_undeploys_a_leaf_on_y(demo_backend) -> None:
    app = OpsApp(demo_backend, start="nodes")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await search(pilot, "ads_dashboard_publish")
        await press(pilot, "D")
        assert "no new instances are generated" in screen_text(pilot)
        await press(pilot, "enter")  # Cancel has the focus
        assert demo_backend.get_node("ads_dashboard_publish").state == "deployed"
        await press(pilot, "D", "y")
        assert demo_backend.get_node("ads_dashboard_publish").state == "undeployed"
        assert nodes_shown(app) == []  # the list shows deployed nodes; `a` shows the rest
        await press(pilot, "a")
        assert nodes_shown(app) == ["ads_dashboard_publish"]
        assert "undeployed" in screen_text(pilot)


async def test_undeploy_of_a_node_others_depend_on_shows_the_refusal(demo_backend) -> None:
    app = OpsApp(demo_backend, start="nodes")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await search(pilot, "sales_raw")
        await press(pilot, "D")
        assert "Deployed nodes depend on it (dq_sales_volume" in screen_text(pilot)
        await press(pilot, "y")
        assert "node sales_raw has descendant nodes: dq_sales_volume" in said(app)
        assert demo_backend.get_node("sales_raw").state == "deployed"
    # the backend refused, and audited it: the console does not audit it again
    [entry] = [e for e in demo_backend.audit_log() if e.action == "undeploy"]
    assert (entry.user, entry.targets, entry.outcome) == ("alice", ["sales_raw"], "refused")


async def test_i_shows_the_node_instances(demo_backend) -> None:
    app = OpsApp(demo_backend, start="nodes")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await search(pilot, "ods_orders_hourly")
        await press(pilot, "i")
        screen = app.screen
        assert isinstance(screen, InstancesScreen)
        assert screen.node == "ods_orders_hourly"
        assert screen.table.total == 8  # hourly 00:05..07:05 on business date 2026-11-19
        assert {row.node for row in screen.table.rows} == {"ods_orders_hourly"}
        assert "node ods_orders_hourly" in screen_text(pilot)


async def test_the_detail_acts_on_its_own_node(demo_backend) -> None:
    app = OpsApp(demo_backend, start="nodes")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await press(pilot, "colon", *"node ads_finance_report", "enter")
        assert isinstance(app.screen, NodeScreen)
        await press(pilot, "f", "y")
        assert demo_backend.get_node("ads_finance_report").frozen
        assert "ads_finance_report · sql · ❄ frozen" in screen_text(pilot)
        await press(pilot, "D", "y")
        assert demo_backend.get_node("ads_finance_report").state == "undeployed"
        text = screen_text(pilot)
        assert "ads_finance_report · sql · undeployed" in text
        assert "next: none (undeployed: no new instances)" in text
