"""The console over the DataWorks backend: HTTP to the emulator on 127.0.0.1, and back.

The emulator serves a LocalBackend on the real engine (tests/test_dataworks_emulator.py's
world); what the console shows and does must be what that local world holds.
"""

from __future__ import annotations

from opscenter.backends.dataworks.backend import DataWorksBackend
from opscenter.backends.dataworks.client import Credentials, DataWorksClient
from opscenter.domain.model import Status
from opscenter.tui.app import OpsApp
from opscenter.tui.widgets.table import VirtualTable
from tests import test_dataworks_emulator as emulated
from tests.tui.helpers import press, screen_text, settle

scene = emulated.scene  # the emulator's world and server fixtures, reused
server = emulated.server


async def test_the_instances_screen_lists_and_reruns_over_the_dataworks_api(
    server, scene, tmp_path
):
    with DataWorksClient(Credentials(emulated.KEY_ID, emulated.SECRET), server.url) as client:
        remote = DataWorksBackend(
            client,
            scene.workspace_id,
            clock=scene.clock,
            user="bob",
            audit_path=tmp_path / "audit.jsonl",
            timezone="UTC",
        )
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
