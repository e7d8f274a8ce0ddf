"""The Instances screen as an operator drives it, against the demo's real store."""

from __future__ import annotations

from datetime import date

from opscenter.domain.model import Status
from opscenter.domain.records import InstanceFilter
from opscenter.tui.app import OpsApp
from opscenter.tui.screens.confirm import ConfirmScreen
from opscenter.tui.widgets.table import VirtualTable
from tests.tui.helpers import press, screen_text, settle

BIZDATE = date(2026, 11, 19)


def instance_of(backend, node: str):
    return backend.list_instances(InstanceFilter(node=node, bizdate=BIZDATE)).items[0]


def table(app: OpsApp) -> VirtualTable:
    return app.screen.query_one(VirtualTable)


async def test_the_list_shows_the_business_date_with_status_words(demo_backend):
    app = OpsApp(demo_backend, start="instances")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        text = screen_text(pilot)
        assert "bizdate 2026-11-19" in text
        assert "1/46" in text  # cursor position / rows matching
        assert "✗ FAILURE   dq_sales_volume" in text  # glyph and word, no colour needed
        assert "STATUS" in text and "CYCTIME" in text and "OWNER" in text


async def test_status_chip_and_search_narrow_the_list(demo_backend):
    app = OpsApp(demo_backend, start="instances")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await press(pilot, "t")  # any -> FAILURE
        assert table(app).total == 1
        assert "status FAILURE" in screen_text(pilot)
        await press(pilot, "t", "t", "t", "t", "t")  # back round to any
        assert table(app).total == 46
        await press(pilot, "slash", "d", "w", "s")
        names = [row.node for row in table(app).rows]
        assert names and all("dws" in name for name in names)
        await press(pilot, "enter")  # leaves the search, the filter stays
        assert table(app).has_focus
        await press(pilot, "c")
        assert table(app).total == 46


async def test_paging_keeps_a_bounded_window_and_reaches_both_ends(demo_backend):
    app = OpsApp(demo_backend, start="instances")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        grid = table(app)
        grid.page_size, grid.max_rows = 8, 16
        grid.reload()
        await settle(pilot)
        assert len(grid.rows) == 8 and grid.total == 46
        for _ in range(6):
            await press(pilot, "pagedown")
            assert len(grid.rows) <= 16
        assert grid.position > 30
        await press(pilot, "G")
        assert grid.position == 46 and grid.current.node == grid.rows[-1].node
        await press(pilot, "g")
        assert grid.position == 1 and grid.current.node == "shop_root"
        # walking back up from the end fetches the earlier pages again
        await press(pilot, "G")
        for _ in range(10):
            await press(pilot, "pageup")
        assert grid.position == 1


async def test_refresh_updates_rows_in_place_and_keeps_the_cursor(demo_backend):
    app = OpsApp(demo_backend, start="instances")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        grid = table(app)
        await press(pilot, *["j"] * 15)
        assert grid.current.node == "dq_sales_volume"
        demo_backend.set_success([grid.current.id])  # another operator, elsewhere
        app.screen.refresh_now()
        await settle(pilot)
        assert grid.current.node == "dq_sales_volume"
        assert grid.current.status is Status.SUCCESS
        assert "✓ SUCCESS   dq_sales_volume" in screen_text(pilot)


async def test_batch_freeze_confirms_the_full_list(demo_backend):
    app = OpsApp(demo_backend, start="instances")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await press(pilot, "t", "t", "t")  # any -> FAILURE -> RUNNING -> waiting
        waiting = list(table(app).rows)
        assert len(waiting) == 11
        await press(pilot, "space", "space", "space")
        assert "3 selected" in screen_text(pilot)
        await press(pilot, "f")
        assert isinstance(app.screen, ConfirmScreen)
        text = screen_text(pilot)
        assert "3 instances will be frozen" in text
        for row in waiting[:3]:
            assert f"#{row.id}" in text
        await press(pilot, "y")
        for row in waiting[:3]:
            assert demo_backend.get_instance(row.id).status is Status.FROZEN
        assert demo_backend.get_instance(waiting[3].id).status is Status.NOT_RUN
        assert not table(app).selected


async def test_rerun_downstream_lists_every_descendant_and_enter_cancels(demo_backend):
    failed = instance_of(demo_backend, "dq_sales_volume")
    app = OpsApp(demo_backend, start="instances")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await press(pilot, "t")
        await press(pilot, "R")
        assert isinstance(app.screen, ConfirmScreen)
        text = screen_text(pilot)
        assert "1 instance and 11 downstream instances will be reset and rerun" in text
        assert "dq_sales_volume" in text and "sales_daily" in text
        assert "… 6 more (l to list)" in text
        await press(pilot, "l")
        assert "… 6 more" not in screen_text(pilot)
        await press(pilot, "enter")  # Cancel has the focus: Enter never confirms
        assert not isinstance(app.screen, ConfirmScreen)
        assert demo_backend.get_instance(failed.id).status is Status.FAILURE
        await press(pilot, "R", "y")
        assert demo_backend.get_instance(failed.id).status is Status.NOT_RUN
        below = instance_of(demo_backend, "sales_daily")
        assert demo_backend.get_instance(below.id).status is Status.NOT_RUN
        assert demo_backend.audit_log(limit=1)[0].action == "rerun downstream"


async def test_a_refusal_is_shown_as_the_backend_says_it(demo_backend):
    app = OpsApp(demo_backend, start="instances")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await press(pilot, "x", "y")  # stop the root, which already succeeded
        notes = [n.message for n in app._notifications]
        assert any("shop_root" in note and "SUCCESS" in note for note in notes), notes
        assert demo_backend.get_instance(table(app).current.id).status is Status.SUCCESS
    # audited once, by the backend that refused it (the console does not audit it again)
    [entry] = [e for e in demo_backend.audit_log() if e.user == "alice"]
    assert (entry.action, entry.outcome) == ("stop", "refused")
