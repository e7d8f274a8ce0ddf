"""A baseline goes from WARNING back to SAFE because the operator acted in the console.

The chain of spec 7.4 (A 60 min -> B 120 -> C 90, C committed 06:00, alert 05:30) on the
real scheduler and a manual clock (tests/test_sla.py's World): A fails at 01:00 and, left
alone, the prediction passes the alert time; a rerun from the console brings it back.
"""

from __future__ import annotations

from opscenter.domain.model import Status
from opscenter.tui.app import OpsApp
from tests.test_sla import AVERAGES, VECTOR, at, world  # noqa: F401 (the fixture)
from tests.tui.helpers import press, screen_text, settle


async def test_a_rerun_in_the_console_takes_the_baseline_from_warning_to_safe(world):  # noqa: F811
    w = world(VECTOR, averages=AVERAGES)
    w.go(at(0, 30))
    w.go(at(1, 0))
    w.fail("A")
    w.go(at(1, 31))  # A failed 31 minutes ago: 01:31 + 60 + 120 + 90 = 06:01
    assert w.baseline().status.status == "WARNING"
    app = OpsApp(w.backend, start="baselines")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert "! WARNING morning" in " ".join(screen_text(pilot).split())
        await press(pilot, "3", "t")  # the failed instance
        await press(pilot, "r", "y")
        assert w.status("A") is Status.NOT_RUN
        w.tick()
        w.finish("A")  # at 01:31: 01:31 + 120 + 90 = 05:01, before the alert time
        await press(pilot, "5")
        app.screen.refresh_now()
        await settle(pilot)
        assert "✓ SAFE morning" in " ".join(screen_text(pilot).split())
    assert w.baseline().status.status == "SAFE"
