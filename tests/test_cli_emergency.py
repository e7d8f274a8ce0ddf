"""The emergency verbs and the runs on demand as an operator types them (spec 6.1, 6.5):
``unblock``, ``priority``, ``move``, ``test-run`` and ``run``, over the local backend.

Each is one backend call with the operator's comment, audited there; ``--preview`` says
what it would do and changes nothing; read-only refuses it (exit 3), as every action.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import Engine as Database

from opscenter.cli import main
from opscenter.domain.model import InstanceKind, Status
from opscenter.domain.records import InstanceFilter
from tests.harness import TODAY, MakeWorld, World
from tests.test_cli_verbs import BIZDATE, Operator

# At 01:00 (the harness's start): broken FAILURE (no automatic rerun), stage NOT_RUN
# waiting for it, report NOT_RUN waiting for extract (SUCCESS) and stage; later WAIT_TIME.
# The manual workflow adhoc (export, then notify) is deployed and never scheduled.
WORLD = """
    resource_groups: [{name: default, slots: 4}, {name: spare, slots: 2}]
    nodes:
      - {name: extract, type: shell, owner: bob, code: 'echo "extracting $day"',
         parameters: {day: "${yyyymmdd}"}, trigger: {cron: "00 30 00 * * ?"}}
      - {name: broken, type: shell, owner: carol, code: "echo boom; exit 2",
         trigger: {cron: "00 30 00 * * ?"}}
      - {name: stage, type: virtual, owner: bob, depends: [broken],
         trigger: {cron: "00 30 00 * * ?"}}
      - {name: report, type: virtual, owner: bob, depends: [extract, stage],
         trigger: {cron: "00 30 00 * * ?"}}
      - {name: later, type: virtual, owner: dave, trigger: {cron: "00 00 05 * * ?"}}
      - {name: export, type: shell, owner: erin, workflow: adhoc, code: 'echo "export $day"',
         parameters: {day: "${yyyymmdd}"}, trigger: {type: Manual}}
      - {name: notify, type: virtual, owner: erin, workflow: adhoc, depends: [export],
         trigger: {type: Manual}}
    baselines:
      - {name: morning, owner: bob, priority: 5, committed_time: "06:00", margin: 30,
         nodes: [report]}
"""


@pytest.fixture
def w(world: MakeWorld) -> World:
    made = world(WORLD).start()
    made.idle()
    assert {n: made.status(n) for n in ("extract", "broken", "stage", "report", "later")} == {
        "extract": Status.SUCCESS,
        "broken": Status.FAILURE,
        "stage": Status.NOT_RUN,
        "report": Status.NOT_RUN,
        "later": Status.WAIT_TIME,
    }
    return made


@pytest.fixture
def cli(w: World, tmp_path: Path, store: Database, capsys: pytest.CaptureFixture[str]) -> Operator:
    return Operator(w, tmp_path / "ws", store, capsys)


def usage_error(cli: Operator, capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """What argparse says of a bad argument (exit 2), before anything runs."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_:
        main([*argv, *cli.where], clock=cli.w.clock)
    assert exit_.value.code == 2
    return capsys.readouterr().err


def audited(w: World) -> tuple[str, str, str]:
    entry = w.backend.audit_log(limit=1)[0]
    return entry.action, entry.outcome, entry.detail


def upstream_ids(w: World, node: str) -> set[int]:
    iid = w.instance(node).id
    relatives = w.backend.relatives(iid, "up")
    return {r.instance.id for r in relatives if r.level == 1 and r.removed is None}


# ---------------------------------------------------------------------------
# unblock: remove upstream dependencies
# ---------------------------------------------------------------------------


def test_unblock_preview_names_the_upstreams_and_the_baseline_and_changes_nothing(
    cli: Operator, w: World
) -> None:
    stage, broken = w.instance("stage"), w.instance("broken")
    out = cli.ok("unblock", str(stage.id), "--preview").out
    lines = out.splitlines()
    assert lines[0] == (
        f"remove upstream preview: #{stage.id} would no longer wait for 1 upstream instance; "
        "nothing was done"
    )
    assert lines[1] == f"  upstream instances: {broken.id}"
    assert re.fullmatch(
        rf"    #{broken.id} broken \d\d-\d\d \d\d:\d\d [A-Z+\-\d/]+ ✗ FAILURE", lines[2]
    )
    assert lines[3].startswith("  Baseline morning: ")
    assert upstream_ids(w, "stage") == {broken.id}

    found = cli.ok("unblock", str(stage.id), "--preview", "--json").json
    assert found["action"] == "remove upstream preview"
    assert found["affected"] == [broken.id]
    assert [u.split()[:2] for u in found["extra"]["upstreams"]] == [[f"#{broken.id}", "broken"]]
    [line] = found["extra"]["baselines"]
    assert line.startswith("Baseline morning: ")
    assert w.backend.audit_log(limit=1)[0].action != "remove upstream"  # a preview is not audited


def test_unblock_removes_the_failed_upstream_with_the_comment_and_the_instance_runs(
    cli: Operator, w: World
) -> None:
    stage, broken = w.instance("stage"), w.instance("broken")
    out = cli.ok("unblock", str(stage.id), "--comment", "source down, report must run").out
    assert out.startswith(f"remove upstream: 1 upstream of #{stage.id} stage removed")
    assert f"\n  upstream instances removed: {broken.id}" in out
    assert upstream_ids(w, "stage") == set()
    action, outcome, detail = audited(w)
    assert (action, outcome) == ("remove upstream", "ok")
    assert "source down, report must run" in detail
    w.idle()
    assert w.status("stage") is Status.SUCCESS and w.status("report") is Status.SUCCESS


def test_unblock_chosen_upstreams_and_its_refusals(
    cli: Operator, w: World, capsys: pytest.CaptureFixture[str]
) -> None:
    report, extract, stage = w.instance("report"), w.instance("extract"), w.instance("stage")
    run = cli("unblock", str(report.id), "--upstream", f"{extract.id}", "--json")
    assert run.code == 0, run.err
    assert run.json["affected"] == [extract.id]
    assert upstream_ids(w, "report") == {stage.id}

    # a SUCCESS instance has nothing to unblock; an id not upstream of it is refused
    reason = cli.refused("unblock", str(extract.id))
    assert reason.startswith(f"#{extract.id} extract")
    reason = cli.refused("unblock", str(report.id), "--upstream", "999999")
    assert reason == f"#{report.id} report: #999999 not an upstream instance of it"
    assert "'x' is not a number" in usage_error(cli, capsys, "unblock", "1", "--upstream", "x")

    run = cli("unblock", str(report.id), "--readonly", "--json")
    assert run.code == 3
    assert "read-only" in run.json["refused"]
    assert upstream_ids(w, "report") == {stage.id}


# ---------------------------------------------------------------------------
# priority and resource group
# ---------------------------------------------------------------------------


def test_priority_changes_instances_not_finished(
    cli: Operator, w: World, capsys: pytest.CaptureFixture[str]
) -> None:
    stage, later = w.instance("stage"), w.instance("later")
    preview = cli.ok("priority", str(stage.id), str(later.id), "7", "--preview").out
    assert preview.startswith("update preview: 2 instances would run at priority 7;")
    assert w.backend.get_instance(stage.id).priority != 7

    out = cli.ok("priority", str(stage.id), str(later.id), "7", "--comment", "month end").out
    assert out.startswith("update: 2 instances now priority 7")
    assert f"instances: {stage.id}, {later.id}" in out
    assert w.backend.get_instance(later.id).priority == 7
    assert audited(w)[:2] == ("update", "ok") and "month end" in audited(w)[2]

    said = usage_error(cli, capsys, "priority", str(stage.id), "4")
    assert "'4' is not a priority DataWorks accepts (1, 3, 5, 7, 8)" in said
    extract = w.instance("extract")
    assert str(extract.id) in cli.refused("priority", str(extract.id), "8")  # finished
    assert "read-only" in cli.refused("priority", str(stage.id), "8", "--readonly")


def test_move_to_another_resource_group(
    cli: Operator, w: World, capsys: pytest.CaptureFixture[str]
) -> None:
    later = w.instance("later")
    found = cli.ok("move", str(later.id), "--group", "spare", "--preview", "--json").json
    assert found["action"] == "update preview" and found["affected"] == [later.id]
    assert w.backend.get_instance(later.id).resource_group == "default"

    out = cli.ok("move", str(later.id), "--group", "spare").out
    assert out.startswith("update: 1 instance now resource group spare")
    assert w.backend.get_instance(later.id).resource_group == "spare"
    assert "'nowhere'" in cli.refused("move", str(later.id), "--group", "nowhere")
    assert "required: --group" in usage_error(cli, capsys, "move", str(later.id))


# ---------------------------------------------------------------------------
# runs on demand: a test run, a manual workflow
# ---------------------------------------------------------------------------


def kinds(w: World, kind: InstanceKind) -> list[str]:
    page = w.backend.list_instances(InstanceFilter(kind=kind, bizdate=None, limit=50))
    return sorted(i.node for i in page.items)


def test_test_run_makes_one_test_instance_for_the_business_date(
    cli: Operator, w: World, capsys: pytest.CaptureFixture[str]
) -> None:
    day = str(BIZDATE)
    preview = cli.ok("test-run", "report", "--bizdate", day, "--preview").out
    assert preview.startswith(
        f"test run preview: a test instance of report would run for business date {day}"
    )
    assert kinds(w, InstanceKind.TEST) == []

    found = cli.ok("test-run", "extract", "--bizdate", day, "--comment", "check", "--json").json
    [iid] = found["affected"]
    info = w.backend.get_instance(iid)
    assert (info.node, info.kind, info.bizdate) == ("extract", InstanceKind.TEST, BIZDATE)
    assert "check" in audited(w)[2]
    assert "required: --bizdate" in usage_error(cli, capsys, "test-run", "extract")
    assert cli.not_found("test-run", "nothing", "--bizdate", day).startswith("no node")
    assert "read-only" in cli.refused("test-run", "extract", "--bizdate", day, "--readonly")


def test_run_runs_a_manual_workflow_or_chosen_nodes(cli: Operator, w: World) -> None:
    day = str(TODAY)
    preview = cli.ok("run", "adhoc", "--bizdate", day, "--preview").out
    assert preview.startswith(
        "run manual preview: 2 manual instances of workflow adhoc would run for business date "
        + day
    )
    assert kinds(w, InstanceKind.MANUAL) == []

    out = cli.ok("run", "adhoc", "--bizdate", day, "--comment", "for finance").out
    assert "instances: " in out
    assert kinds(w, InstanceKind.MANUAL) == ["export", "notify"]
    assert "for finance" in audited(w)[2]

    found = cli.ok("run", "adhoc", "--bizdate", day, "--node", "export", "--json").json
    assert [w.backend.get_instance(i).node for i in found["affected"]] == ["export"]
    assert "read-only" in cli.refused("run", "adhoc", "--bizdate", day, "--readonly")
