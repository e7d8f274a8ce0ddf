"""Backfills from the console: the form with its live preview, the confirm, the progress screen.

The demo copy is frozen at 2026-11-20 09:30 Shanghai (business date 2026-11-19);
a real engine on that clock runs what a backfill creates.
"""

from __future__ import annotations

from datetime import date

from textual.widgets import Input

from opscenter.backends.local import LocalBackend
from opscenter.scheduler.engine import Engine
from opscenter.tui.app import OpsApp
from opscenter.tui.screens.backfill_form import BackfillForm
from opscenter.tui.screens.backfills import BackfillsScreen
from opscenter.tui.screens.confirm import ConfirmScreen
from opscenter.tui.screens.instances import InstancesScreen
from opscenter.tui.screens.prompt import PromptScreen
from tests.tui.helpers import press, screen_text, settle, until


async def preview_landed(pilot) -> None:  # noqa: ANN001 - a Pilot
    """Wait until the form's preview was asked for (once typing paused) and has landed."""
    form = pilot.app.screen
    assert isinstance(form, BackfillForm)
    await until(pilot, lambda: form._timer is None, "the backfill preview")


async def previewed(pilot, *keys: str) -> str:  # noqa: ANN001 - a Pilot
    """Press keys in the form, wait for the preview, and return what the screen shows."""
    await pilot.press(*keys)
    await preview_landed(pilot)
    return screen_text(pilot)


async def open_form(pilot, node: str) -> None:  # noqa: ANN001 - a Pilot
    await press(pilot, "slash", *node, "enter", "B")
    await preview_landed(pilot)


def run_engine(backend: LocalBackend) -> None:
    """The scheduler's turn at the frozen clock: backfill runs start and run."""
    engine = Engine(backend.db, backend.workspace_id, backend.clock)
    engine.start()
    engine.run_until_idle()
    engine.close()


async def test_a_two_day_backfill_from_form_to_instances(demo_backend) -> None:
    app = OpsApp(demo_backend, start="nodes")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await open_form(pilot, "ads_finance_report")
        text = screen_text(pilot)
        assert "1 date × 1 node = 1 instance" in text
        assert text.count("1 instance") == 1  # the count, said once
        text = await previewed(pilot, *"2026-11-18")  # the start field has the focus
        assert "2 dates × 1 node = 2 instances" in text
        await press(pilot, "ctrl+s")
        assert isinstance(app.screen, ConfirmScreen)
        text = screen_text(pilot)
        assert "2 instances of 1 node for 2 business dates 2026-11-18 … 2026-11-19" in text
        assert "ads_finance_report" in text and text.count("2 instances") == 1
        await press(pilot, "y")
        assert not isinstance(app.screen, BackfillForm | ConfirmScreen)  # the form closed

        [backfill] = demo_backend.list_backfills()
        assert backfill.nodes == ("ads_finance_report",)
        assert [run.bizdate for run in backfill.runs] == [date(2026, 11, 18), date(2026, 11, 19)]
        assert (backfill.parallel, backfill.descending, backfill.window) == (1, False, None)

        run_engine(demo_backend)
        await press(pilot, "4")
        assert isinstance(app.screen, BackfillsScreen)
        text = screen_text(pilot)
        assert f"> #{backfill.id}   backfill ads_finance_report… ✓ SUCCESS     2/2" in text
        assert "✓ SUCCESS · 2/2 dates done · ascending · 1 at a time · window whole day" in text
        for day in ("2026-11-18", "2026-11-19"):
            assert f"{day}  ✓ SUCCESS  ██████████   1/1" in text

        await press(pilot, "enter")
        screen = app.screen
        assert isinstance(screen, InstancesScreen)
        assert screen.backfill_id == backfill.id
        assert screen.table.total == 2
        assert {row.node for row in screen.table.rows} == {"ads_finance_report"}
        assert f"backfill #{backfill.id}" in screen_text(pilot)


async def test_a_date_before_the_data_exists_is_refused_and_says_so(demo_backend) -> None:
    """The demo starts on 2026-11-19: nothing was produced for 2026-11-17's business date."""
    app = OpsApp(demo_backend, start="nodes")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await open_form(pilot, "ads_finance_report")
        text = " ".join((await previewed(pilot, *"2026-11-17")).replace("│", " ").split())
        assert "no data for 2026-11-17: ads_finance_report reads" in text
        assert "the data does not exist for it" in text
        await press(pilot, "ctrl+s")
        assert isinstance(app.screen, BackfillForm)  # nothing to confirm
        assert demo_backend.list_backfills() == []
    [entry] = [e for e in demo_backend.audit_log() if e.user == "alice"]
    assert (entry.action, entry.outcome) == ("backfill", "refused")
    assert entry.detail.startswith("no data for 2026-11-17: ads_finance_report reads")


async def test_a_date_field_is_replaced_at_once(demo_backend) -> None:
    app = OpsApp(demo_backend, start="nodes")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await open_form(pilot, "ads_finance_report")
        form = app.screen
        assert isinstance(form, BackfillForm)

        def dates() -> tuple[str, str]:
            return form.query_one("#start", Input).value, form.query_one("#end", Input).value

        await previewed(pilot, *"2026-11-19")  # typed: the cursor ends the full field
        await press(pilot, "ctrl+s")  # confirm, then cancel: back in the start field
        assert isinstance(app.screen, ConfirmScreen)
        await press(pilot, "enter")  # Cancel has the focus
        assert app.screen is form
        await previewed(pilot, *"2026-11-18")  # typed over the date, not refused by its length
        assert dates() == ("2026-11-18", "2026-11-19")
        await press(pilot, "tab", "home", "ctrl+u")  # the whole field, wherever the cursor
        assert dates() == ("2026-11-18", "")
        text = await previewed(pilot, *"2026-11-18")
        assert "1 date × 1 node = 1 instance" in text and "ctrl+u clear" in text


async def test_the_form_says_what_to_fix_and_the_backend_refusal(demo_backend) -> None:
    app = OpsApp(demo_backend, start="nodes")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await open_form(pilot, "ads_finance_report")
        text = await previewed(pilot, *"2026-11-2")
        assert "start date: write yyyy-mm-dd" in text
        text = await previewed(pilot, "5")  # 2026-11-25, after the end date
        assert "✗ refused: the range ends (2026-11-19) before it starts (2026-11-25)" in text
        await press(pilot, "ctrl+s")
        assert isinstance(app.screen, BackfillForm)  # nothing to confirm
        await press(pilot, "escape")
        assert not isinstance(app.screen, BackfillForm)
        assert demo_backend.list_backfills() == []
    # the create was refused here (on the backend's preview, which audits nothing): audited
    [entry] = [e for e in demo_backend.audit_log() if e.user == "alice"]
    assert (entry.action, entry.targets, entry.outcome, entry.detail) == (
        "backfill",
        ["ads_finance_report", "2026-11-25..2026-11-19"],
        "refused",
        "the range ends (2026-11-19) before it starts (2026-11-25)",
    )


async def test_b_asks_for_the_node_then_downstream_nodes_can_be_left_out(demo_backend) -> None:
    app = OpsApp(demo_backend, start="backfills")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert "no backfill yet" in screen_text(pilot)
        await press(pilot, "B")
        assert isinstance(app.screen, PromptScreen)
        await press(pilot, *"sales_r", "enter")
        assert "no deployed node 'sales_r'; did you mean sales_raw?" in screen_text(pilot)
        await press(pilot, "a", "w", "enter")
        await preview_landed(pilot)
        # tab: end date, parallel, order, downstream; space includes the downstream
        text = await previewed(pilot, "tab", "tab", "tab", "tab", "space")
        assert "[x] include downstream nodes" in text
        assert "[x] ↓ dq_sales_volume" in text
        assert "1 date × 18 nodes = 18 instances" in text  # sales_raw and 17 below it
        text = await previewed(pilot, "tab", "space")  # leave dq_sales_volume out
        assert "[ ] ↓ dq_sales_volume" in text
        assert "1 date × 17 nodes → 18 instances" in text
        assert "selected): dq_sales_volume" in text  # the backend's plan: it runs as a dry-run
        await press(pilot, "ctrl+s")
        assert "↓ dwd_order_items" in screen_text(pilot)
        await press(pilot, "y")
        [backfill] = demo_backend.list_backfills()
        assert len(backfill.nodes) == 17 and "dq_sales_volume" not in backfill.nodes
        assert isinstance(app.screen, BackfillsScreen)
        assert "17 nodes sales_raw, dwd_order_items" in screen_text(pilot)
        assert "2026-11-19  ○ WAITING  not started" in screen_text(pilot)


async def test_an_hourly_node_takes_a_window(demo_backend) -> None:
    app = OpsApp(demo_backend, start="nodes")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await open_form(pilot, "ods_orders_hourly")
        assert "1 date × 1 node → 8 instances" in screen_text(pilot)  # 00:05 .. 07:05
        # tab: end, parallel, order, downstream, window from, window to
        await pilot.press("tab", "tab", "tab", "tab", "tab", *"02:00", "tab")
        text = await previewed(pilot, *"04:00")
        assert "1 date × 1 node → 2 instances" in text  # 02:05 and 03:05
        await press(pilot, "ctrl+s", "y")
        [backfill] = demo_backend.list_backfills()
        assert backfill.window == ("02:00", "04:00")


async def test_read_only_opens_no_form(demo_backend) -> None:
    readonly = LocalBackend(
        demo_backend.db, "shop", demo_backend.clock, user="alice", readonly=True, source="tui"
    )
    app = OpsApp(readonly, start="nodes")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await press(pilot, "B")
        assert not isinstance(app.screen, BackfillForm)
        notes = [n.message for n in app._notifications]
        assert any("Backfill is not available: opscenter runs read-only" in n for n in notes)
