"""A blocked baseline reads the same over DataWorks as over the local store: when an
instance it waits on cannot finish without an operator (failed with no automatic rerun
left, or frozen), the baseline is blocked by that instance, with no finish guessed,
WARNING until the committed time and OVER after it. DataWorks has no what-if prediction,
so the finish "if rerun now" is left out rather than guessed.

The world runs on the real engine behind the emulator on 127.0.0.1; the DataWorks backend
reads it over both API versions (baselines are 2020-05-18 operations in both).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from opscenter.backends.dataworks.backend import DataWorksBackend
from opscenter.backends.dataworks.client import Credentials, DataWorksClient
from opscenter.domain.model import Status
from opscenter.domain.records import BaselineStatus
from tests.harness import MakeWorld, World, at
from tests.test_cli_dataworks import Cli, operator
from tests.test_dataworks_emulator import API_VERSIONS, KEY_ID, SECRET, make, serving

BIZDATE = date(2025, 10, 31)

WORKSPACE = """
    nodes:
      - {name: extract, type: shell, code: "exit 1", rerun_mode: Denied,
         trigger: {cron: "00 30 00 * * ?"}}
      - {name: report, type: virtual, depends: [extract], trigger: {cron: "00 30 00 * * ?"}}
      - {name: flaky, type: shell, code: "exit 1", rerun_times: 2, rerun_interval: 30m,
         trigger: {cron: "00 30 00 * * ?"}}
      - {name: flaky_report, type: virtual, depends: [flaky], trigger: {cron: "00 30 00 * * ?"}}
      - {name: source, type: shell, code: "exit 0", trigger: {cron: "00 00 04 * * ?"}}
      - {name: summary, type: virtual, depends: [source], trigger: {cron: "00 00 04 * * ?"}}
    baselines:
      - {name: nightly, committed_time: "06:00", margin: 30, nodes: [report]}
      - {name: patient, committed_time: "06:00", margin: 30, nodes: [flaky_report]}
      - {name: paused, committed_time: "06:00", margin: 30, nodes: [summary]}
"""


@pytest.fixture
def scene(world: MakeWorld) -> World:
    """At 01:00: extract failed and may not rerun (nightly is blocked), flaky failed with
    its second automatic rerun due at 01:30 (patient is not), source is frozen (paused is)."""
    w = world(WORKSPACE).start()
    w.go(at(1))
    assert w.status("extract") is Status.FAILURE and w.status("flaky") is Status.FAILURE
    w.backend.freeze([w.instance("source").id])
    w.go(at(1, 1))
    return w


@pytest.fixture
def url(scene: World) -> Iterator[str]:
    with serving(scene) as served:
        yield served


@pytest.fixture(**API_VERSIONS)
def remote(
    request: pytest.FixtureRequest, url: str, scene: World, tmp_path: Path
) -> Iterator[DataWorksBackend]:
    with DataWorksClient(Credentials(KEY_ID, SECRET), url) as client:
        yield make(client, scene, tmp_path, kind=request.param)


def blocked(b: BaselineStatus) -> tuple:
    return (b.name, b.status, b.predicted_finish, [(x.id, x.node, x.status) for x in b.blocked_by])


def test_both_backends_name_the_same_blockers(remote: DataWorksBackend, scene: World) -> None:
    extract, source = scene.instance("extract"), scene.instance("source")
    theirs = {b.name: b for b in scene.backend.list_baselines(BIZDATE)}
    mine = {b.name: b for b in remote.list_baselines(BIZDATE)}
    assert (
        blocked(mine["nightly"])
        == blocked(theirs["nightly"])
        == (
            "nightly",
            "WARNING",
            None,
            [(extract.id, "extract", Status.FAILURE)],
        )
    )
    assert (
        blocked(mine["paused"])
        == blocked(theirs["paused"])
        == (
            "paused",
            "WARNING",
            None,
            [(source.id, "source", Status.FROZEN)],
        )
    )
    # a failure whose automatic rerun is still to come holds nothing: predicted as usual
    assert mine["patient"].blocked_by == theirs["patient"].blocked_by == ()
    assert mine["patient"].predicted_finish is not None
    # the local store predicts the finish if rerun now; the API cannot, so none is guessed
    assert theirs["nightly"].if_rerun_now is not None and mine["nightly"].if_rerun_now is None
    keys = [
        b.key_instance.id if b.key_instance else None for b in (mine["nightly"], theirs["nightly"])
    ]
    assert keys == [extract.id, extract.id]

    detail = remote.get_baseline("nightly", BIZDATE)
    assert blocked(detail.status) == blocked(mine["nightly"])
    assert extract.id in [s.instance.id for s in detail.key_path]

    scene.go(at(6, 1))  # past the committed time, still blocked: OVER on both
    over = {b.name: b.status for b in remote.list_baselines(BIZDATE)}
    assert over["nightly"] == over["paused"] == "OVER"
    assert remote.get_baseline("paused", BIZDATE).status.status == "OVER"


def test_the_cli_says_blocked_by_over_dataworks(
    scene: World,
    url: str,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cli = Cli(scene, url, "2024-05-18", capsys, operator(tmp_path, monkeypatch))
    extract = scene.instance("extract")
    text = cli.text("baselines", "--bizdate", "2025-10-31")
    assert f"blocked by #{extract.id} extract ✗ FAILURE (WARNING)" in text
    assert re.search(rf"blocked by #{scene.instance('source').id} source ❄ FROZEN", text)
    listed = cli.json("baselines", "--bizdate", "2025-10-31")
    assert isinstance(listed, list)
    read = {b["name"]: b for b in listed}
    assert read["nightly"]["blocked_by"] == [
        {"id": extract.id, "node": "extract", "status": "FAILURE"}
    ]
    assert read["nightly"]["predicted_finish"] is None and read["nightly"]["if_rerun_now"] is None
    assert read["patient"]["blocked_by"] == []
    shown = cli.text("baseline", "nightly", "--bizdate", "2025-10-31")
    assert f"blocked by #{extract.id} extract ✗ FAILURE (WARNING)" in shown


def test_baseline_definitions_and_nodes_by_id_read_the_same_over_dataworks(
    remote: DataWorksBackend, scene: World
) -> None:
    """What the emulator is served by is what a DataWorks console reads: the deployed
    baselines with the nodes they protect, and a node found by its id."""
    assert [(b.name, b.nodes, b.margin, b.enabled) for b in remote.list_baseline_definitions()] == [
        ("nightly", ("report",), 30, True),
        ("patient", ("flaky_report",), 30, True),
        ("paused", ("summary",), 30, True),
    ]
    assert remote.list_baseline_definitions() == scene.backend.list_baseline_definitions()
    report = scene.backend.get_node("report")
    found = remote.get_node_by_id(report.id)
    assert (found.name, found.upstreams) == ("report", ("extract",))
