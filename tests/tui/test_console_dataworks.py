"""The console over the DataWorks backend: HTTP to the emulator on 127.0.0.1, and back.

The emulator serves a LocalBackend on the real engine (tests/test_dataworks_emulator.py's
world); what the console shows and does must be what that local world holds.
"""

from __future__ import annotations

import threading
from datetime import date

import pytest

from opscenter.backends.dataworks.client import Credentials, DataWorksClient
from opscenter.backends.dataworks.emulator import Emulator, EmulatorServer, Verifier
from opscenter.backends.local import LocalBackend
from opscenter.domain.model import Status
from opscenter.domain.records import BackfillRequest, InstanceFilter
from opscenter.tui.app import OpsApp
from opscenter.tui.screens.backfill_form import BackfillForm
from opscenter.tui.screens.confirm import ConfirmScreen
from opscenter.tui.widgets.table import VirtualTable
from tests import test_dataworks_emulator as emulated
from tests.test_dataworks_emulator import API_VERSIONS, make
from tests.tui.conftest import FROZEN_AT
from tests.tui.helpers import press, screen_text, settle
from tests.tui.test_backfills_screen import open_form, previewed

scene = emulated.scene  # the emulator's world and server fixtures, reused
server = emulated.server
BIZDATE = date(2026, 11, 19)


async def test_the_instances_screen_lists_and_reruns_over_the_dataworks_api(
    server, scene, tmp_path
):
    with DataWorksClient(Credentials(emulated.KEY_ID, emulated.SECRET), server.url) as client:
        remote = make(client, scene, tmp_path)
        app = OpsApp(remote, start="instances")
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            text = screen_text(pilot)
            assert "· dataworks ·" in text.splitlines()[0]
            table = app.screen.query_one(VirtualTable)
            local_total = scene.backend.list_instances(table.source.flt).total
            assert table.total == local_total > 0
            await press(pilot, "t")  # FAILURE
            [failed] = table.rows
            assert "✗ FAILURE" in screen_text(pilot)
            await press(pilot, "r", "y")
            assert scene.backend.get_instance(failed.id).status is Status.NOT_RUN
            assert remote.audit_log(limit=1)[0].action == "rerun"


# -- the whole console over both API versions, on the demo --------------------------------


@pytest.fixture(**API_VERSIONS)
def remote_demo(request, demo_backend, tmp_path):
    """The tui demo (frozen at 2026-11-20 09:30 Shanghai) behind the emulator, and the
    console's backend for it over real HTTP: a new Data Studio workspace or an old one."""
    served = LocalBackend(
        demo_backend.db, "shop", demo_backend.clock, user="alice", source="emulator"
    )
    httpd = EmulatorServer(
        ("127.0.0.1", 0), Emulator(served, Verifier({emulated.KEY_ID: emulated.SECRET}))
    )
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        with DataWorksClient(Credentials(emulated.KEY_ID, emulated.SECRET), httpd.url) as client:
            remote = request.param(
                client,
                demo_backend.workspace_id,
                clock=demo_backend.clock,
                user="bob",
                audit_path=tmp_path / "dataworks-audit.jsonl",
                timezone="Asia/Shanghai",
            )
            remote.connect()
            yield remote
    finally:
        httpd.shutdown()
        httpd.server_close()


def instance_named(backend: LocalBackend, node: str, status: Status | None = None):
    page = backend.list_instances(InstanceFilter(bizdate=BIZDATE, node=node))
    return next(i for i in page.items if status is None or i.status is status)


def said(app: OpsApp) -> str:
    return "\n".join(n.message for n in app._notifications)


async def test_every_console_action_round_trips_through_the_emulator(
    remote_demo, demo_backend
) -> None:
    """Keys only, at 80x24: each action goes console -> DataWorks API -> emulator -> the
    local world, and the local world is checked after each."""
    world = demo_backend
    failed = instance_named(world, "dq_sales_volume", Status.FAILURE)
    waiting = instance_named(world, "sales_daily")
    done = instance_named(world, "shop_root")
    app = OpsApp(remote_demo, start="dashboard")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        text = screen_text(pilot)
        assert "shop · dataworks" in text.splitlines()[0]  # GetProject named it
        assert "dq_sales_volume" in text  # needs action, as over the local backend

        await press(pilot, "colon", *f"instance {failed.id}", "enter")
        assert "quality check failed" in screen_text(pilot)
        await press(pilot, "R")
        assert isinstance(app.screen, ConfirmScreen)
        below = len(world.preview_rerun([failed.id], downstream=True).affected) - 1
        assert below > 0 and f"1 instance and {below} downstream instances" in screen_text(pilot)
        # DataWorks has no what-if prediction: no baseline line rather than a made-up one
        shown = screen_text(pilot)
        assert "Baseline exec_dashboard" not in shown and "Baselines:" not in shown
        await press(pilot, "enter")  # Cancel has the focus
        assert world.get_instance(failed.id).status is Status.FAILURE
        await press(pilot, "s", "y")
        assert world.get_instance(failed.id).status is Status.SUCCESS

        await press(pilot, "colon", *f"instance {waiting.id}", "enter")
        await press(pilot, "f", "y")
        assert world.get_instance(waiting.id).status is Status.FROZEN
        await press(pilot, "u", "y")
        assert world.get_instance(waiting.id).status is Status.NOT_RUN
        await press(pilot, "R")  # the confirm waits for the preview's answer over HTTP
        below = len(world.preview_rerun([waiting.id], downstream=True).affected) - 1
        assert below > 0 and f"1 instance and {below} downstream instances" in screen_text(pilot)
        await press(pilot, "y")
        assert world.audit_log(limit=1)[0].action == "rerun"

        await press(pilot, "colon", *f"instance {done.id}", "enter")
        await press(pilot, "x", "y")
        assert "shop_root" in said(app) and world.get_instance(done.id).status is Status.SUCCESS
        await press(pilot, "r", "y")
        assert world.get_instance(done.id).status is Status.NOT_RUN

        await press(pilot, "2", "slash", *"ads_dashboard_publish", "enter")
        await press(pilot, "f", "y")
        assert world.get_node("ads_dashboard_publish").frozen
        await press(pilot, "u", "y")
        assert not world.get_node("ads_dashboard_publish").frozen
        await press(pilot, "D", "y")
        assert world.get_node("ads_dashboard_publish").state == "undeployed"

        await press(pilot, "c")
        await open_form(pilot, "ads_finance_report")
        assert "2 dates × 1 node = 2 instances" in await previewed(pilot, *"2026-11-18")
        await press(pilot, "ctrl+s")
        assert isinstance(app.screen, ConfirmScreen)
        await press(pilot, "y")
        [backfill] = world.list_backfills()
        assert backfill.nodes == ("ads_finance_report",) and len(backfill.runs) == 2

        # the form finds the nodes below over the API too, and the preview counts them
        await press(pilot, "c")
        await open_form(pilot, "sales_raw")
        text = await previewed(pilot, "tab", "tab", "tab", "tab", "space")  # with downstream
        assert "[x] ↓ dq_sales_volume" in text
        # sales_raw and those below it still deployed (ads_dashboard_publish went above)
        day = app.day_in_view()
        nodes = world.preview_backfill(BackfillRequest("sales_raw", day, day, downstream=True))
        count = nodes.extra["instances"]
        assert count > 1 and f"1 date × {count} nodes = {count} instances" in text
        await press(pilot, "escape")
        assert not isinstance(app.screen, BackfillForm)

        await press(pilot, "6")
        assert "dq_sales_volume" in screen_text(pilot)  # its ERROR events, over ListTopics
        await press(pilot, "m")
        await press(pilot, "y")
        assert "event-status" in said(app)  # the OpenAPI has no operation for it

    actions = [e.action for e in remote_demo.audit_log(limit=50)][::-1]
    assert actions[:4] == ["set success", "freeze", "unfreeze", "rerun downstream"]
    assert actions[4:] == [
        "stop",
        "rerun",
        "freeze node",
        "unfreeze node",
        "undeploy",
        "backfill",
        "handle event",
    ]


async def test_a_refusal_the_console_makes_itself_is_in_the_dataworks_audit(
    remote_demo, demo_backend
) -> None:
    """A read-only console over DataWorks refuses before any API call: audited all the same,
    in the file the backend audits its own actions in."""
    remote_demo.readonly = True  # as `opscenter --backend dataworks --readonly` opens it
    failed = instance_named(demo_backend, "dq_sales_volume", Status.FAILURE)
    app = OpsApp(remote_demo, start="instances")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await press(pilot, "colon", *f"instance {failed.id}", "enter")
        await press(pilot, "r")
        assert not isinstance(app.screen, ConfirmScreen)
    [entry] = remote_demo.audit_log()
    assert (entry.user, entry.action, entry.targets, entry.outcome, entry.detail) == (
        "bob",
        "rerun",
        [failed.id],
        "refused",
        "Rerun is not available: opscenter runs read-only (--readonly)",
    )
    assert entry.at == FROZEN_AT.replace(tzinfo=None)  # the world's time, naive UTC
    assert demo_backend.get_instance(failed.id).status is Status.FAILURE
