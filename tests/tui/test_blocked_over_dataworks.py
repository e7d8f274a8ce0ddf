"""The console over DataWorks says what blocks a baseline, as it does over the local store:
the demo's dq_sales_volume failed with no rerun left, so both baselines are blocked by it
(no finish guessed; DataWorks has no what-if prediction, so no "if rerun now" either)."""

from __future__ import annotations

from opscenter.tui.app import OpsApp
from tests.tui.helpers import screen_text, settle
from tests.tui.test_baselines_screen import has
from tests.tui.test_console_dataworks import remote_demo

__all__ = ["remote_demo"]  # the fixture: the demo behind the emulator, over both versions


async def test_the_baselines_screen_names_the_blocker_over_dataworks(remote_demo) -> None:
    app = OpsApp(remote_demo, start="baselines")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        text = screen_text(pilot)
        assert has(text, "✗ OVER exec_dashboard 8 - 09:00 - ✗ dq_sales_volume")
        assert has(text, "! WARNING finance_close 5 - 10:30 - ✗ dq_sales_volume")
        assert "blocked by #76 dq_sales_volume ✗ FAILURE" in text  # the cursor row's facts
        assert "if rerun" not in text
