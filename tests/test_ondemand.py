"""Runs on demand (spec 6.5): a test run of an auto triggered node, and manually
triggered nodes and workflows, on the local backend."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from opscenter.domain.model import InstanceKind, Status
from opscenter.domain.records import ActionRefused, InstanceFilter, InstanceInfo, NodeFilter
from opscenter.scheduler.generate import generate_day
from opscenter.sla.alerts import AlertMonitor
from tests.harness import MakeWorld, World, at

PIPELINE = """
nodes:
  - {name: load, type: shell, code: "exit 1", trigger: {cron: "00 30 00 * * ?"}}
  - name: report
    type: shell
    trigger: {cron: "00 00 02 * * ?"}
    parameters: {day: "${yyyy-mm-dd}"}
    depends: [load]
    code: 'echo "report of $day"; [ "$day" != 2025-10-20 ]'
  - {name: after, type: virtual, trigger: {cron: "00 00 03 * * ?"}, depends: [report]}
  - name: extract
    type: shell
    trigger: {type: Manual}
    workflow: export
    code: 'echo "extract of $bizdate"'
  - name: publish
    type: shell
    trigger: {type: Manual}
    workflow: export
    depends: [extract]
    code: 'echo "publish of $bizdate"'
  - {name: lonely, type: virtual, trigger: {type: Manual}}
alerts:
  - {name: failed, trigger: Error, nodes: [load, report, extract]}
"""
BIZDATE = date(2025, 10, 20)


def on_demand(w: World, kind: InstanceKind, node: str = "") -> list[InstanceInfo]:
    return w.backend.list_instances(InstanceFilter(node=node, kind=kind)).items


def settled(w: World, ids: list[int]) -> None:
    w.wait_for(lambda: all(w.backend.get_instance(i).status.finished for i in ids))


def test_a_test_run_has_its_dates_parameters_and_waits_for_nothing(world: MakeWorld) -> None:
    w = world(PIPELINE).start()
    w.go(at(1, 0))
    assert w.status("load") is Status.FAILURE  # report's upstream failed today
    result = w.backend.test_run("report", date(2025, 10, 21), comment="try the fix")
    [instance_id] = result.affected
    assert "(cyctime 2025-10-22 02:00 UTC)" in result.message  # a cyctime says its zone
    w.idle()
    settled(w, [instance_id])
    test = w.backend.get_instance(instance_id)
    assert test.kind is InstanceKind.TEST
    assert test.status is Status.SUCCESS  # ran at 01:00 although load failed
    assert test.bizdate == date(2025, 10, 21)
    assert test.cyctime == datetime(2025, 10, 22, 2, 0)  # the node's time, as periodic
    assert "report of 2025-10-21" in w.backend.read_log(instance_id).text
    assert w.backend.relatives(instance_id, "up") == []
    assert w.backend.relatives(instance_id, "down") == []
    assert w.status("after") is Status.NOT_RUN  # nothing downstream took it for report's
    assert [i.id for i in on_demand(w, InstanceKind.TEST)] == [instance_id]
    entry = w.backend.audit_log(limit=1)[0]
    assert (entry.action, entry.outcome, entry.user) == ("test run", "ok", "alice")
    assert "comment: try the fix" in entry.detail


def test_custom_alert_rules_never_watch_test_or_manual_instances(world: MakeWorld) -> None:
    w = world(PIPELINE.replace('echo "extract of $bizdate"', "exit 3")).start()
    w.go(at(1, 0))
    failing = w.backend.test_run("report", BIZDATE).affected
    failing += w.backend.run_manual("export", BIZDATE, ["extract"]).affected
    w.idle()
    settled(w, failing)
    assert {w.backend.get_instance(i).status for i in failing} == {Status.FAILURE}
    AlertMonitor(w.store, w.workspace_id).check(at(1, 5).replace(tzinfo=None))
    [alert] = w.backend.list_alerts()  # the periodic load's failure alone
    assert alert.target == f"instance:{w.instance('load').id}"


def test_test_instances_are_rerun_and_stopped_like_any_other(world: MakeWorld) -> None:
    w = world(PIPELINE).start()
    w.go(at(1, 0))
    [instance_id] = w.backend.test_run("report", BIZDATE).affected
    w.idle()
    settled(w, [instance_id])
    assert w.backend.get_instance(instance_id).status is Status.FAILURE  # 2025-10-20 fails
    w.backend.rerun([instance_id])
    w.idle()
    settled(w, [instance_id])
    assert len(w.backend.attempts(instance_id)) == 2


def test_a_manual_workflow_runs_its_nodes_in_dependency_order(world: MakeWorld) -> None:
    w = world(PIPELINE).start()
    w.go(at(1, 0))
    result = w.backend.run_manual("export", BIZDATE, comment="for finance")
    assert len(result.affected) == 2
    w.idle()
    settled(w, result.affected)
    extract, publish = (on_demand(w, InstanceKind.MANUAL, n)[0] for n in ("extract", "publish"))
    assert {extract.status, publish.status} == {Status.SUCCESS}
    assert extract.finished_at is not None and publish.started_at is not None
    assert publish.started_at >= extract.finished_at
    assert [r.instance.id for r in w.backend.relatives(publish.id, "up")] == [extract.id]
    assert "publish of 20251020" in w.backend.read_log(publish.id).text
    assert "comment: for finance" in w.backend.audit_log(limit=1)[0].detail


def test_chosen_nodes_of_a_workflow_run_alone(world: MakeWorld) -> None:
    w = world(PIPELINE).start()
    w.go(at(1, 0))
    [instance_id] = w.backend.run_manual("export", BIZDATE, ["publish"]).affected
    w.idle()
    settled(w, [instance_id])
    assert [i.node for i in on_demand(w, InstanceKind.MANUAL)] == ["publish"]
    assert w.backend.relatives(instance_id, "up") == []


def test_a_waiting_manual_instance_can_be_frozen(world: MakeWorld) -> None:
    w = world(PIPELINE).start()
    w.go(at(1, 0))
    extract, publish = w.backend.run_manual("export", BIZDATE).affected
    w.backend.freeze([publish])  # before extract, its upstream, has finished
    w.idle()
    settled(w, [extract])
    w.advance(60)
    assert w.backend.get_instance(publish).status is Status.FROZEN


def test_manual_nodes_are_deployed_but_never_scheduled(world: MakeWorld) -> None:
    w = world(PIPELINE).start()
    w.go(at(1, 0))
    manual = w.backend.list_nodes(NodeFilter(trigger="Manual"))
    assert [(n.name, n.workflow, n.trigger) for n in manual] == [
        ("extract", "export", "Manual"),
        ("lonely", "lonely", "Manual"),  # a workflow of its own by default
        ("publish", "export", "Manual"),
    ]
    assert manual[0].schedule == "manually triggered" and manual[0].upstreams == ()
    assert "extract" not in {n.name for n in w.backend.list_nodes(NodeFilter(trigger="Scheduler"))}
    generate_day(w.store, w.workspace_id, date(2025, 11, 2), now=at(1, 0).replace(tzinfo=None))
    periodic = w.backend.list_instances(InstanceFilter(kind=InstanceKind.PERIODIC)).items
    assert not {"extract", "publish", "lonely"} & {i.node for i in periodic}


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda b: b.test_run("extract", BIZDATE), "manually triggered"),
        (lambda b: b.test_run("nosuch", BIZDATE), "no node 'nosuch'"),
        (lambda b: b.run_manual("exprt", BIZDATE), "its manual workflows: export, lonely"),
        (lambda b: b.run_manual("export", BIZDATE, ["report"]), "its nodes: extract, publish"),
    ],
)
def test_refusals_say_what_to_do(world: MakeWorld, call, words: str) -> None:  # noqa: ANN001
    w = world(PIPELINE).start()
    with pytest.raises(ActionRefused, match=words):
        call(w.backend)
    assert w.backend.audit_log(limit=1)[0].outcome == "refused"


def test_preview_changes_nothing_and_read_only_refuses(world: MakeWorld) -> None:
    w = world(PIPELINE).start()
    w.go(at(1, 0))
    before = w.backend.audit_log(limit=1)[0].id
    preview = w.backend.run_manual("export", BIZDATE, preview=True)
    assert preview.affected == [] and preview.extra == {"instances": 2}
    assert "would create 2 manual instances of workflow export" in preview.message
    assert (
        "would create a test instance of report"
        in w.backend.test_run("report", BIZDATE, preview=True).message
    )
    assert on_demand(w, InstanceKind.MANUAL) + on_demand(w, InstanceKind.TEST) == []
    assert w.backend.audit_log(limit=1)[0].id == before
    w.backend.readonly = True
    with pytest.raises(ActionRefused, match="read-only"):
        w.backend.test_run("report", BIZDATE)
    assert on_demand(w, InstanceKind.TEST) == []
