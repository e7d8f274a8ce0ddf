"""The Dashboard as an on-call engineer reads and drives it, against the demo's real store."""

from __future__ import annotations

import re
from datetime import date

from opscenter.domain.model import Status
from opscenter.domain.records import InstanceFilter
from opscenter.tui.app import OpsApp
from opscenter.tui.screens.confirm import ConfirmScreen
from opscenter.tui.widgets.rowlist import RowList
from opscenter.tui.widgets.sparkline import hour_axis, sparkline
from tests.harness import at
from tests.tui.helpers import press, screen_text, settle

BIZDATE = date(2026, 11, 19)


def instance_of(backend, node: str, day: date = BIZDATE):
    return backend.list_instances(InstanceFilter(node=node, bizdate=day)).items[0]


def has(text: str, pattern: str) -> bool:
    """A line fact with any run of spaces between its words (columns pad them)."""
    return re.search(r"\s+".join(map(re.escape, pattern.split())), text) is not None


async def test_the_urgent_panels_fit_at_80x24(demo_backend):
    app = OpsApp(demo_backend, start="dashboard")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        text = screen_text(pilot)
        assert "Instances 2026-11-19 · 46" in text
        assert has(text, "✓ SUCCESS 34") and has(text, "✗ FAILURE 1 ▏")
        assert has(text, "○ NOT_RUN 11") and has(text, "↷ DRY-RUN 4")
        assert has(text, "● RUNNING 0") and has(text, "❄ FROZEN 0")
        assert "Needs action · 1" in text
        assert has(text, "✗ dq_sales_volume 00:50 att 1/1")
        # dq_sales_volume failed with no rerun left: both baselines are blocked, so at risk,
        # with no guessed finish but the one an operator would get by rerunning now
        assert "Baselines · 2 at risk" in text
        assert has(text, "✗ exec_dashboard OVER blocked")
        assert has(text, "! finance_close WARNING blocked")
        assert text.count("if rerun 09:30") == 2
        assert text.index("exec_dashboard") < text.index("finance_close")
        # the rest in compact form: still on the screen
        assert "Slowest · 2026-11-19" in text and "Succeeded per hour" in text
        assert has(text, "1× dq_sales_volume alice")
        assert "⏎ open" in text and "R rerun+down" in text
        for line in text.splitlines():
            assert len(line) <= 80


async def test_everything_shows_at_120x40(demo_backend):
    app = OpsApp(demo_backend, start="dashboard")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        text = screen_text(pilot)
        assert "quality check failed: 1 violating row" in text  # the last attempt's reason
        assert has(text, "if rerun 09:30 by dq_sales_volume")  # what blocks it, at 120 columns
        assert has(text, "1× ods_products_snapshot etl")
        assert has(text, "✓ ods_payments_hourly 0s")  # the tenth slowest, no scrolling
        # yesterday was the demo's first day: its inventory branch failed (two fewer
        # successes at 01h and at 07h) until an operator reruns the catalogue
        today = sparkline([11, 4, 2, 2, 2, 2, 2, 9, 0, 0], 15, cell=2)
        yesterday = sparkline([11, 2, 2, 2, 2, 2, 2, 15] + [0] * 16, 15, cell=2)
        assert has(text, f"today {today}") and has(text, f"yesterday {yesterday}")
        assert "█ = 15/h · today 34 · yesterday 38" in text


async def test_enter_on_a_failure_opens_that_instance(demo_backend):
    failed = instance_of(demo_backend, "dq_sales_volume")
    app = OpsApp(demo_backend, start="dashboard")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert app.screen.focused.id == "needs"
        await press(pilot, "enter")
        assert type(app.screen).__name__ == "InstanceScreen"
        assert app.screen.instance_id == failed.id


async def test_rerun_with_downstream_confirms_the_list_then_resets_them(demo_backend):
    failed = instance_of(demo_backend, "dq_sales_volume")
    below = instance_of(demo_backend, "sales_daily")
    app = OpsApp(demo_backend, start="dashboard")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await press(pilot, "R")
        assert isinstance(app.screen, ConfirmScreen)
        targets = "\n".join(app.screen.targets)
        assert f"dq_sales_volume 11-20 00:50 (FAILURE) #{failed.id}" in targets
        assert "↓ sales_daily" in targets
        await press(pilot, "y")
        assert demo_backend.get_instance(failed.id).status is Status.NOT_RUN
        assert demo_backend.get_instance(below.id).status is Status.NOT_RUN
        entry = demo_backend.audit_log(limit=1)[0]
        assert entry.action == "rerun downstream" and failed.id in entry.targets
        text = screen_text(pilot)  # the dashboard re-read after the action
        assert "nothing failed on 2026-11-19" in text
        assert has(text, "✗ FAILURE 0") and has(text, "○ NOT_RUN 12")


async def test_rerun_cancelled_changes_nothing_and_r_reruns_alone(demo_backend):
    failed = instance_of(demo_backend, "dq_sales_volume")
    app = OpsApp(demo_backend, start="dashboard")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await press(pilot, "r")
        assert isinstance(app.screen, ConfirmScreen)
        assert app.screen.targets == [f"dq_sales_volume 11-20 00:50 (FAILURE) #{failed.id}"]
        await press(pilot, "enter")  # Cancel has the focus
        assert demo_backend.get_instance(failed.id).status is Status.FAILURE
        await press(pilot, "r", "y")
        assert demo_backend.get_instance(failed.id).status is Status.NOT_RUN
        assert demo_backend.audit_log(limit=1)[0].action == "rerun"


async def test_tab_reaches_the_baselines_and_enter_opens_the_key_path(demo_backend):
    app = OpsApp(demo_backend, start="dashboard")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await press(pilot, "tab", "tab")
        assert app.screen.focused.id == "baselines"
        await press(pilot, "j", "k")  # j/k move within the panel; back on the first
        assert app.screen.query_one("#baselines", RowList).current.name == "exec_dashboard"
        await press(pilot, "enter")
        assert type(app.screen).__name__ == "BaselineScreen"
        assert app.screen.baseline == "exec_dashboard"
        assert "blocked by #76 dq_sales_volume ✗ FAILURE" in screen_text(pilot)
        await press(pilot, "escape")
        assert type(app.screen).__name__ == "DashboardScreen"


async def test_the_day_before_reloads_every_panel(demo_backend):
    app = OpsApp(demo_backend, start="dashboard")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await press(pilot, "less_than_sign")
        text = screen_text(pilot)
        # the demo's first day: its inventory check failed and waits for an operator,
        # with its three downstream instances; no baseline depends on that branch
        assert "Instances 2026-11-18 · 46" in text
        assert has(text, "✓ SUCCESS 42") and has(text, "✗ FAILURE 1")
        assert has(text, "○ NOT_RUN 3")
        assert "Needs action · 1" in text and has(text, "✗ ods_inventory_snapshot 01:00")
        assert "dq_sales_volume" not in text.split("Needs action")[1].split("Top errors")[0]
        assert "Baselines · 0 at risk" in text
        assert has(text, "✓ exec_dashboard SAFE done 07:10")
        assert has(text, "commit 09:00 +1h50m")
        await press(pilot, "greater_than_sign")
        text = screen_text(pilot)
        assert "Needs action · 1" in text and has(text, "✗ dq_sales_volume 00:50")


def test_sparkline_scales_to_the_stated_top_and_leaves_the_future_blank():
    assert sparkline([0, 1, 8, 16, None], 16) == "▁▂▅█ "
    assert sparkline([0, 16], 16, unicode=False, cell=2) == "__##"
    assert sparkline([0, 0], 0) == "▁▁"
    assert hour_axis(24, 1) == "0     6     12    18    "


async def test_a_narrow_terminal_still_draws_the_dashboard(demo_backend):
    """Below about 26 columns a list's row had less room than its fixed parts: the name's
    pad went negative and the format raised, so the dashboard never drew."""
    app = OpsApp(demo_backend, start="dashboard")
    async with app.run_test(size=(20, 24)) as pilot:
        await settle(pilot)
        assert app.screen.dash is not None
        app.screen._draw()  # raised ValueError: Sign not allowed in string format specifier


async def test_a_failure_awaiting_its_auto_rerun_is_not_said_to_be_nothing(world):
    """It needs no action yet, so the panel lists none; but something did fail."""
    w = world(
        """
        nodes:
          - {name: broken, type: shell, code: "exit 3", trigger: {cron: "00 00 02 * * ?"},
             rerun_times: 1, rerun_interval: 600}
        """
    ).start()
    w.go(at(2))  # the first attempt fails; its auto rerun is 10 minutes away
    assert w.status("broken") is Status.FAILURE
    app = OpsApp(w.backend, start="dashboard")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        text = screen_text(pilot)
        assert "Needs action · 0" in text
        assert "1 failed, auto rerun pending" in text
        assert "nothing failed" not in text
