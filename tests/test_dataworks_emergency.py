"""Issue 17 over DataWorks: removing an instance's upstream, changing its priority or
resource group, test runs and manual runs, through the DataWorks backend of either API
version to the emulator over real HTTP (2020-05-18 refuses what it has no operation for),
and the served world changing as the local backend would change it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from opscenter.backends.dataworks.backend import DataWorksBackend
from opscenter.backends.dataworks.calls import READ_PREFIXES
from opscenter.backends.dataworks.legacy import LegacyBackend
from opscenter.domain.model import InstanceKind, Status
from opscenter.domain.records import ActionRefused, NotFound
from tests.harness import MakeWorld, World, at
from tests.test_dataworks_emulator import API_VERSIONS, over_dataworks

SCENE = """
    resource_groups: [{name: one, slots: 2}]
    nodes:
      - {name: ok, type: shell, code: "echo hello from ok", trigger: {cron: "00 30 00 * * ?"}}
      - {name: failed, type: shell, code: "exit 1", trigger: {cron: "00 30 00 * * ?"}}
      - {name: blocked, type: virtual, depends: [failed], trigger: {cron: "00 30 00 * * ?"}}
      - {name: later, type: virtual, trigger: {cron: "00 00 05 * * ?"}}
      - name: extract
        type: shell
        code: 'echo "extract of $bizdate"'
        trigger: {type: Manual}
        workflow: export
      - {name: publish, type: virtual, depends: [extract], trigger: {type: Manual},
         workflow: export}
"""
BIZDATE = date(2025, 10, 20)
NOT_IN_2020 = "which only API 2024-05-18 has"


@pytest.fixture(**API_VERSIONS)
def kind(request: pytest.FixtureRequest) -> type[DataWorksBackend]:
    return request.param


@pytest.fixture
def scene(world: MakeWorld) -> World:
    """At 02:00: ok succeeded, failed failed, blocked waits on it, later waits for 05:00."""
    w = world(SCENE).start()
    w.go(at(2))
    assert w.status("failed") is Status.FAILURE
    assert w.status("blocked") is Status.NOT_RUN
    return w


@pytest.fixture
def dw(scene: World, kind: type[DataWorksBackend], tmp_path: Path) -> Iterator[DataWorksBackend]:
    with over_dataworks(scene, kind, tmp_path) as backend:
        yield backend


def legacy(dw: DataWorksBackend) -> bool:
    return isinstance(dw, LegacyBackend)


def settled(w: World, ids: list[int]) -> None:
    w.wait_for(lambda: all(w.backend.get_instance(i).status.finished for i in ids))


def sent(dw: DataWorksBackend, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The actions the backend calls from now on."""
    actions: list[str] = []
    call = dw.client.call

    def recording(action: str, params: dict[str, Any], **options: Any) -> dict[str, Any]:
        actions.append(action)
        return call(action, params, **options)

    monkeypatch.setattr(dw.client, "call", recording)
    return actions


# -- remove upstream --------------------------------------------------------------------


def test_removing_the_failed_upstream_lets_the_blocked_instance_run(
    dw: DataWorksBackend, scene: World
) -> None:
    blocked, failed = scene.instance("blocked"), scene.instance("failed")
    if legacy(dw):
        with pytest.raises(ActionRefused, match=f"RemoveTaskInstanceDependencies, {NOT_IN_2020}"):
            dw.remove_upstream(blocked.id, comment="source is down")
        scene.idle()
        assert scene.status("blocked") is Status.NOT_RUN
        entry = dw.audit_log(limit=1)[0]
        assert (entry.action, entry.outcome) == ("remove upstream", "refused")
        assert "comment: source is down" in entry.detail
        return
    result = dw.remove_upstream(blocked.id, comment="source is down")
    assert result.affected == [failed.id]
    scene.idle()
    assert scene.status("blocked") is Status.SUCCESS
    mine = dw.audit_log(limit=1)[0]
    assert (mine.action, mine.outcome, mine.user) == ("remove upstream", "ok", "bob")
    assert "comment: source is down" in mine.detail
    served = scene.backend.audit_log(limit=1)[0]  # the emulator's LocalBackend audited it too
    assert (served.action, served.source) == ("remove upstream", "emulator")
    assert "comment: source is down" in served.detail


def test_remove_upstream_refusals_in_the_domains_words(dw: DataWorksBackend, scene: World) -> None:
    ok, blocked = scene.instance("ok"), scene.instance("blocked")
    with pytest.raises(ActionRefused, match="is SUCCESS"):
        dw.remove_upstream(ok.id)
    with pytest.raises(ActionRefused, match=f"#{ok.id} not an upstream instance of it"):
        dw.remove_upstream(blocked.id, [ok.id])
    with pytest.raises(NotFound, match="no instance #999999"):
        dw.remove_upstream(999999)
    assert scene.status("blocked") is Status.NOT_RUN


# -- priority and resource group ----------------------------------------------------------


def test_update_instances_changes_priority_and_resource_group(
    dw: DataWorksBackend, scene: World
) -> None:
    later = scene.instance("later")
    if legacy(dw):
        with pytest.raises(ActionRefused, match=f"UpdateTaskInstances, {NOT_IN_2020}"):
            dw.update_instances([later.id], priority=8, comment="rush")
        assert scene.backend.get_instance(later.id).priority == later.priority
        return
    result = dw.update_instances([later.id], priority=8, resource_group="one", comment="rush")
    assert result.affected == [later.id]
    changed = scene.backend.get_instance(later.id)
    assert (changed.priority, changed.resource_group) == (8, "one")
    assert dw.get_instance(later.id).priority == 8
    entry = dw.audit_log(limit=1)[0]
    assert (entry.action, entry.outcome) == ("update", "ok")
    assert "comment: rush" in entry.detail


def test_update_refusals_in_the_domains_words(dw: DataWorksBackend, scene: World) -> None:
    ok, later = scene.instance("ok"), scene.instance("later")
    with pytest.raises(ActionRefused, match="priority 2 is not one DataWorks accepts"):
        dw.update_instances([later.id], priority=2)
    with pytest.raises(ActionRefused, match="nothing to change"):
        dw.update_instances([later.id])
    with pytest.raises(ActionRefused, match="a finished instance keeps its priority"):
        dw.update_instances([ok.id], priority=8)
    if not legacy(dw):  # the emulator's LocalBackend refuses it, per id
        with pytest.raises(ActionRefused, match="resource group 'nosuch' is not one"):
            dw.update_instances([later.id], resource_group="nosuch")
    assert scene.backend.get_instance(later.id).priority == later.priority


# -- test runs and manual runs ----------------------------------------------------------


def test_a_test_run_is_one_test_instance_for_the_date(dw: DataWorksBackend, scene: World) -> None:
    [instance_id] = dw.test_run("ok", BIZDATE, comment="try the fix").affected
    settled(scene, [instance_id])
    test = dw.get_instance(instance_id)
    assert (test.kind, test.node, test.bizdate, test.status) == (
        InstanceKind.TEST,
        "ok",
        BIZDATE,
        Status.SUCCESS,
    )
    assert scene.backend.get_instance(instance_id).kind is InstanceKind.TEST
    entry = dw.audit_log(limit=1)[0]
    assert (entry.action, entry.outcome, entry.targets) == ("test run", "ok", ["ok", "2025-10-20"])
    assert "comment: try the fix" in entry.detail
    with pytest.raises(ActionRefused, match="extract is manually triggered"):
        dw.test_run("extract", BIZDATE)


def test_a_manual_workflow_runs_whole_or_chosen_nodes(dw: DataWorksBackend, scene: World) -> None:
    whole = dw.run_manual("export", BIZDATE, comment="ad hoc").affected
    assert len(whole) == 2
    settled(scene, whole)
    runs = {dw.get_instance(i).node: dw.get_instance(i) for i in whole}
    assert set(runs) == {"extract", "publish"}
    assert all(i.kind is InstanceKind.MANUAL and i.bizdate == BIZDATE for i in runs.values())
    assert all(i.status is Status.SUCCESS for i in runs.values())
    assert runs["extract"].finished_at <= runs["publish"].started_at  # dependency order
    assert "extract of 20251020" in dw.read_log(runs["extract"].id).text
    entry = dw.audit_log(limit=1)[0]
    assert (entry.action, entry.outcome) == ("run manual", "ok")
    assert "comment: ad hoc" in entry.detail

    [chosen] = dw.run_manual("export", BIZDATE, ["extract"]).affected
    assert scene.backend.get_instance(chosen).node == "extract"
    with pytest.raises(ActionRefused, match="not in manual workflow export: ok"):
        dw.run_manual("export", BIZDATE, ["ok"])
    with pytest.raises(NotFound, match="no manual workflow 'nosuch'"):
        dw.run_manual("nosuch", BIZDATE)


def test_manual_nodes_read_as_manual(dw: DataWorksBackend, scene: World) -> None:
    extract = scene.backend.get_node("extract")
    if legacy(dw):
        node = dw.client.call(
            "GetNode", {"NodeId": extract.id, "ProjectEnv": "PROD"}, version="2020-05-18"
        )["Data"]
        assert node["SchedulerType"] == "MANUAL"
        return
    task = dw.client.call("GetTask", {"Id": extract.id}, method="GET")["Task"]
    assert task["Trigger"]["Type"] == "Manual"
    listed = dw.client.call(
        "ListWorkflows", {"ProjectId": scene.workspace_id, "TriggerType": "Manual"}
    )["PagingInfo"]["Workflows"]
    assert [w["Name"] for w in listed] == ["export"]
    assert task["WorkflowId"] == listed[0]["Id"]


# -- preview and read-only ----------------------------------------------------------------


def test_a_preview_sends_nothing(
    dw: DataWorksBackend, scene: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocked, later = scene.instance("blocked"), scene.instance("later")
    audited = scene.backend.audit_log(limit=1)
    mine = dw.audit_log(limit=1)
    actions = sent(dw, monkeypatch)
    if legacy(dw):
        with pytest.raises(ActionRefused, match=NOT_IN_2020):
            dw.remove_upstream(blocked.id, preview=True)
        with pytest.raises(ActionRefused, match=NOT_IN_2020):
            dw.update_instances([later.id], priority=8, preview=True)
    else:
        removed = dw.remove_upstream(blocked.id, preview=True)
        assert removed.affected == [scene.instance("failed").id]
        assert "would be removed" in removed.message
        updated = dw.update_instances([later.id], priority=8, preview=True)
        assert "would be set" in updated.message
    tested = dw.test_run("ok", BIZDATE, preview=True)
    assert tested.affected == [] and tested.extra == {"instances": 1}
    ran = dw.run_manual("export", BIZDATE, preview=True)
    assert "(extract, publish)" in ran.message and ran.extra == {"instances": 2}
    assert actions and all(a.startswith(READ_PREFIXES) for a in actions), actions
    scene.idle()
    assert scene.status("blocked") is Status.NOT_RUN
    assert scene.backend.get_instance(later.id).priority == later.priority
    assert scene.backend.audit_log(limit=1) == audited  # the emulator saw no write
    assert dw.audit_log(limit=1) == mine  # and a preview is not audited


def test_read_only_refuses_before_sending(
    dw: DataWorksBackend, scene: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    dw.readonly = True
    actions = sent(dw, monkeypatch)
    with pytest.raises(ActionRefused, match="read-only"):
        dw.test_run("ok", BIZDATE, comment="no")
    with pytest.raises(ActionRefused, match="read-only"):
        dw.run_manual("export", BIZDATE, preview=True)
    assert actions == []
    entry = dw.audit_log(limit=1)[0]
    assert (entry.action, entry.outcome) == ("test run", "refused")
    assert "comment: no" in entry.detail
