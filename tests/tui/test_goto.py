"""``:node NAME`` and ``:instance N`` from the command prompt: a name or number the backend
does not know is said, the console stays where it was, and the header stays fresh (a
not-found answer is not a backend failure)."""

from __future__ import annotations

from opscenter.domain.records import InstanceFilter
from opscenter.tui.app import OpsApp
from opscenter.tui.screens.dashboard import DashboardScreen
from opscenter.tui.screens.instance import InstanceScreen
from opscenter.tui.screens.nodes import NodeScreen
from tests.tui.helpers import press, screen_text


async def command(pilot, line: str) -> None:  # noqa: ANN001 - a Pilot
    await press(pilot, "colon", *line, "enter")


def said(app: OpsApp) -> list[str]:
    return [n.message for n in app._notifications]


async def test_a_node_or_instance_that_is_not_there_is_said_and_nothing_opens(demo_backend):
    app = OpsApp(demo_backend, start="dashboard")
    async with app.run_test(size=(80, 24)) as pilot:
        await press(pilot)
        for line, words in (
            ("node nosuch", "no node 'nosuch'"),
            ("instance 999999", "no instance #999999"),
            ("#999999", "no instance #999999"),
        ):
            await command(pilot, line)
            assert isinstance(app.screen, DashboardScreen), line  # stayed where it was
            assert any(words in message for message in said(app)), line
            header = screen_text(pilot).splitlines()[0]
            assert "stale" not in header and "sched" in header, line
        assert not any("did not answer" in message for message in said(app))
        assert "loading…" not in screen_text(pilot)


async def test_a_node_or_instance_that_is_there_opens(demo_backend):
    app = OpsApp(demo_backend, start="dashboard")
    async with app.run_test(size=(80, 24)) as pilot:
        await press(pilot)
        await command(pilot, "node sales_raw")
        assert isinstance(app.screen, NodeScreen) and app.screen.node_name == "sales_raw"
        await press(pilot, "escape")
        iid = demo_backend.list_instances(InstanceFilter(node="sales_raw")).items[0].id
        await command(pilot, f"instance {iid}")
        assert isinstance(app.screen, InstanceScreen) and app.screen.instance_id == iid
