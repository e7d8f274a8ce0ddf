"""DataWorksBackend over real HTTP against the emulator on 127.0.0.1: it must report the
same facts as the LocalBackend behind the emulator, and its actions must reach it."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from opscenter.backends.dataworks.api2024 import audited_backfills
from opscenter.backends.dataworks.backend import DataWorksBackend
from opscenter.backends.dataworks.client import Credentials, DataWorksClient
from opscenter.backends.dataworks.emulator import Emulator, EmulatorServer, Verifier
from opscenter.backends.dataworks.legacy import LegacyBackend
from opscenter.backends.local import LocalBackend
from opscenter.domain.model import Status
from opscenter.domain.records import (
    ActionRefused,
    BackfillRequest,
    Diagnosis,
    InstanceFilter,
    InstanceInfo,
)
from tests import test_dataworks_emulator as emulated
from tests.harness import MakeWorld, World, at
from tests.test_dataworks_emulator import API_VERSIONS, make

KEY_ID, SECRET = emulated.KEY_ID, emulated.SECRET
scene = emulated.scene  # the emulator test's world and server fixtures, reused
server = emulated.server
BIZDATE = date(2025, 10, 31)
FACTS = ("id", "node", "node_type", "kind", "bizdate", "cyctime", "cycle", "status", "dry_run")
FACTS += ("run_number", "owner", "priority", "started_at", "finished_at")


@pytest.fixture(**API_VERSIONS)
def remote(
    request: pytest.FixtureRequest, server: EmulatorServer, scene: World, tmp_path: Path
) -> Iterator[DataWorksBackend]:
    """Each test runs over both API versions: a workspace on the new Data Studio and one
    on the old DataStudio must read and act the same."""
    with DataWorksClient(Credentials(KEY_ID, SECRET), server.url) as client:
        yield make(client, scene, tmp_path, kind=request.param)


def facts(item: InstanceInfo) -> tuple:
    return tuple(getattr(item, name) for name in FACTS)


def local(scene: World) -> LocalBackend:
    return scene.backend


def test_list_instances_matches_local(remote: DataWorksBackend, scene: World) -> None:
    flt = InstanceFilter(bizdate=BIZDATE)
    mine, theirs = remote.list_instances(flt), local(scene).list_instances(flt)
    assert [facts(i) for i in mine.items] == [facts(i) for i in theirs.items]
    assert mine.total == theirs.total == 13
    assert {i.node: i.status for i in mine.items}["failed"] is Status.FAILURE


def test_paging_across_pages_with_keyset(remote: DataWorksBackend, scene: World) -> None:
    for descending in (False, True):
        flt = InstanceFilter(bizdate=BIZDATE, limit=5, descending=descending)
        seen: list[int] = []
        while True:
            page = remote.list_instances(flt)
            assert page.total == 13
            seen += [i.id for i in page.items]
            if page.next_after is None:
                break
            flt = InstanceFilter(
                bizdate=BIZDATE, limit=5, descending=descending, after=page.next_after
            )
        whole = local(scene).list_instances(InstanceFilter(bizdate=BIZDATE, descending=descending))
        assert seen == [i.id for i in whole.items]


def test_filters_by_status_and_node(remote: DataWorksBackend, scene: World) -> None:
    waiting = remote.list_instances(InstanceFilter(bizdate=BIZDATE, statuses=(Status.NOT_RUN,)))
    expected = local(scene).list_instances(
        InstanceFilter(bizdate=BIZDATE, statuses=(Status.NOT_RUN,))
    )
    assert [i.id for i in waiting.items] == [i.id for i in expected.items]
    assert waiting.total == expected.total
    ok = remote.list_instances(InstanceFilter(bizdate=BIZDATE, node="ok"))
    assert [i.node for i in ok.items] == ["ok"] and ok.total == 1


def test_get_instance_log_and_counts(remote: DataWorksBackend, scene: World) -> None:
    ok = scene.instance("ok")
    assert facts(remote.get_instance(ok.id)) == facts(ok)
    text = scene.log("ok")
    page = remote.read_log(ok.id)
    assert page.text == text and "hello from ok" in text and page.at_end
    first = remote.read_log(ok.id, offset=0, limit=5)
    assert first.text == text[:5] and first.next_offset == 5 and not first.at_end
    assert remote.status_counts(BIZDATE) == local(scene).status_counts(BIZDATE)
    assert [a.number for a in remote.attempts(ok.id)] == [1]


def test_get_node_names_neighbours(remote: DataWorksBackend, scene: World) -> None:
    blocked, failed = remote.get_node("blocked"), remote.get_node("failed")
    assert blocked.upstreams == local(scene).get_node("blocked").upstreams == ("failed",)
    assert failed.downstreams == local(scene).get_node("failed").downstreams == ("blocked",)
    assert failed.cron == "00 30 00 * * ?" and failed.type == "shell"
    below = remote.relatives(scene.instance("failed").id)
    assert [r.instance.node for r in below] == ["blocked"]


def test_rerun_failed_instance_reaches_local(remote: DataWorksBackend, scene: World) -> None:
    failed = scene.instance("failed")
    result = remote.rerun([failed.id])
    assert result.affected == [failed.id]
    assert scene.status("failed") is Status.NOT_RUN
    assert remote.audit_log()[0].outcome == "ok"


def test_a_rerun_sent_over_the_api_runs_and_its_result_comes_back(
    remote: DataWorksBackend, scene: World
) -> None:
    """The round trip: the console's rerun reaches the engine behind the emulator, the
    engine runs it, and the second attempt, its log and the set success that follows are
    read back over the API."""
    failed = scene.instance("failed")
    remote.rerun([failed.id])
    scene.go(at(2, 5))  # the engine picks it up and runs it again: exit 1 again
    again = remote.get_instance(failed.id)
    assert (again.status, again.run_number) == (Status.FAILURE, 2)
    assert [a.number for a in remote.attempts(failed.id)] == [1, 2]
    assert remote.read_log(failed.id, attempt=2).text == scene.log("failed", attempt=2)
    remote.set_success([failed.id])
    scene.go(at(2, 10))  # now its downstream may run
    assert remote.get_instance(scene.instance("blocked").id).status is Status.SUCCESS


def test_partial_batch_failure_names_the_failed_id(remote: DataWorksBackend, scene: World) -> None:
    failed, later = scene.instance("failed"), scene.instance("later")
    with pytest.raises(ActionRefused) as refused:
        remote.set_success([failed.id, later.id])
    reason = refused.value.reason
    assert f"#{later.id}" in reason and f"done: #{failed.id}" in reason
    assert scene.status("failed") is Status.SUCCESS
    assert remote.audit_log()[0].outcome == "refused"


def test_freeze_and_unfreeze_instance(remote: DataWorksBackend, scene: World) -> None:
    later = scene.instance("later")
    remote.freeze([later.id])
    assert scene.status("later") is Status.FROZEN
    assert remote.get_instance(later.id).status is Status.FROZEN
    frozen = remote.list_instances(InstanceFilter(bizdate=BIZDATE, statuses=(Status.FROZEN,)))
    assert [i.id for i in frozen.items] == [later.id]
    remote.unfreeze([later.id])
    assert scene.status("later") is not Status.FROZEN


def test_freeze_node(remote: DataWorksBackend, scene: World) -> None:
    remote.freeze_node("later")
    assert local(scene).get_node("later").frozen and remote.get_node("later").frozen
    remote.unfreeze_node("later")
    assert not local(scene).get_node("later").frozen


def test_an_ended_runs_log_is_downloaded_once_however_it_is_paged(
    remote: DataWorksBackend, scene: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The API sends a run's whole log each time; the console pages it. A run that has ended
    is fetched once; a later run of the instance is a log of its own."""
    failed = scene.instance("failed")
    asked: list[str] = []
    call = remote.client.call

    def counted(action: str, params: dict, **options: object) -> dict:
        asked.append(action)
        return call(action, params, **options)

    monkeypatch.setattr(remote.client, "call", counted)
    text = scene.log("failed")
    page = remote.read_log(failed.id, offset=0, limit=16)
    pages = [page.text]
    while not page.at_end:
        page = remote.read_log(failed.id, offset=page.next_offset, limit=16)
        pages.append(page.text)
    assert "".join(pages) == text and len(pages) > 3 and page.attempt == 1
    assert "".join(p.text for p in remote.follow_log(failed.id, poll=0.01)) == text
    downloads = ("GetTaskInstanceLog", "GetInstanceLog")
    assert sum(action in downloads for action in asked) == 1
    with pytest.raises(ActionRefused, match=r"#\d+ has no attempt 9 \(it has 1\.\.1\)"):
        remote.read_log(failed.id, attempt=9)

    remote.rerun([failed.id])
    scene.go(at(2, 5))  # its second run fails again, with a log of its own
    second = remote.read_log(failed.id)
    assert (second.attempt, second.text) == (2, scene.log("failed", attempt=2))
    assert remote.read_log(failed.id, attempt=1).text == text
    assert sum(action in downloads for action in asked) == 2


def test_rerun_downstream_in_waves(remote: DataWorksBackend, scene: World) -> None:
    failed, blocked = scene.instance("failed"), scene.instance("blocked")
    preview = remote.preview_rerun([failed.id], downstream=True)
    assert preview.affected == [failed.id, blocked.id]
    # no what-if prediction in the API: unknown (None), never "no baseline affected" ([])
    assert remote.baseline_impact("rerun", [failed.id], downstream=True) is None
    assert remote.rerun([failed.id], downstream=True).affected == [failed.id, blocked.id]
    assert scene.status("failed") is Status.NOT_RUN


def test_readonly_refuses_without_calling(scene: World, tmp_path: Path) -> None:
    # no server at all: any call would fail to connect rather than be refused
    with DataWorksClient(Credentials(KEY_ID, SECRET), "http://127.0.0.1:9") as client:
        backend = make(client, scene, tmp_path, readonly=True)
        with pytest.raises(
            ActionRefused, match=r"rerun is not available: opscenter runs read-only"
        ):
            backend.rerun([1])
    entry = backend.audit_log()[0]
    assert (entry.action, entry.outcome, entry.source) == ("rerun", "refused", "dataworks")


def test_audit_never_holds_the_secret(remote: DataWorksBackend, scene: World) -> None:
    remote.rerun([scene.instance("failed").id])
    with pytest.raises(ActionRefused):
        remote.stop([scene.instance("ok").id])
    with pytest.raises(ActionRefused, match="has descendant|downstream"):
        remote.undeploy("failed")
    text = remote.audit_path.read_text()
    assert SECRET not in text and len(remote.audit_log()) == 3


def test_dashboard_matches_local(remote: DataWorksBackend, scene: World) -> None:
    mine, theirs = remote.dashboard(BIZDATE), local(scene).dashboard(BIZDATE)
    assert mine.counts == theirs.counts
    assert [facts(i) for i in mine.needs_action] == [facts(i) for i in theirs.needs_action]
    assert [i.node for i in mine.needs_action] == ["failed"]
    assert mine.top_errors == theirs.top_errors and mine.top_errors[0].node == "failed"
    # equal run times tie, and SQL leaves their order open
    assert [i.duration for i in mine.slowest] == [i.duration for i in theirs.slowest]
    assert sorted(map(facts, mine.slowest)) == sorted(map(facts, theirs.slowest))
    assert mine.succeeded_per_hour == theirs.succeeded_per_hour
    assert sum(mine.succeeded_per_hour) > 0
    assert mine.succeeded_per_hour_before == theirs.succeeded_per_hour_before
    assert mine.baselines == theirs.baselines


def test_backfills_match_local(remote: DataWorksBackend, scene: World) -> None:
    request = BackfillRequest("failed", date(2025, 10, 20), date(2025, 10, 21), parallel=2)
    said = remote.backfill(request)
    created = said.extra["backfill_id"]
    name = "'backfill failed 2025-10-20..2025-10-21'"
    assert said.message == (
        f"backfill {name} created in DataWorks as DAGs #120251020, #120251021 (backfill #{created})"
        if isinstance(remote, LegacyBackend)
        else f"backfill {name} created in DataWorks as workflow instance #{created}"
    )
    scene.idle()  # the scheduler makes the backfill's instances
    mine, theirs = remote.get_backfill(created), local(scene).get_backfill(created)
    assert (mine.id, mine.name, mine.created_by, mine.created_at, mine.status) == (
        theirs.id,
        theirs.name,
        theirs.created_by,
        theirs.created_at,
        theirs.status,
    )
    assert mine.nodes == theirs.nodes == ("failed",)
    assert [(r.bizdate, r.position, r.status, r.counts) for r in mine.runs] == [
        (r.bizdate, r.position, r.status, r.counts) for r in theirs.runs
    ]
    assert [r.bizdate for r in mine.runs] == [date(2025, 10, 20), date(2025, 10, 21)]
    assert [b.id for b in remote.list_backfills()] == [b.id for b in local(scene).list_backfills()]
    with pytest.raises(ActionRefused, match="OperationDenied|no backfill"):
        remote.get_backfill(created + 100)


def test_backfills_named_in_an_older_audit_file_are_still_found(
    server: EmulatorServer, scene: World, tmp_path: Path
) -> None:
    """Audit files written before a count agreed with its noun say "as workflow
    instance(s) #7, #8": the backfills they name are still this console's."""
    with DataWorksClient(Credentials(KEY_ID, SECRET), server.url) as client:
        remote = make(client, scene, tmp_path)
        request = BackfillRequest("failed", date(2025, 10, 20), date(2025, 10, 20))
        created = remote.backfill(request).extra["backfill_id"]
    newest = remote.audit_path.read_text()
    older = [
        ("ok", "backfill 'old' created in DataWorks as workflow instance(s) #7, #8"),
        ("ok", "backfill 'two' created in DataWorks as workflow instances #9, #10"),
        ("ok", "backfill 'fix #3' created in DataWorks as workflow instance #12"),
        ("refused", "no node #11 in workspace ws"),
    ]
    lines = [
        json.dumps(
            {
                "at": "2025-10-30T01:00:00",
                "user": "bob",
                "action": "backfill",
                "targets": ["failed", "2025-10-01"],
                "outcome": outcome,
                "detail": detail,
                "source": "dataworks",
            }
        )
        for outcome, detail in older
    ]
    remote.audit_path.write_text("\n".join(lines) + "\n" + newest)
    assert sorted(audited_backfills(remote.audit_log(limit=10_000))) == sorted(
        [7, 8, 9, 10, 12, created]
    )


@pytest.mark.parametrize(
    "request_",
    [
        BackfillRequest("failed", date(2025, 10, 20), date(2025, 10, 22), downstream=True),
        BackfillRequest("failed", date(2025, 10, 20), date(2025, 10, 21), include=("blocked",)),
        BackfillRequest("later", date(2025, 10, 20), date(2025, 10, 20)),
    ],
    ids=["downstream", "include", "alone"],
)
def test_backfill_preview_matches_local(
    remote: DataWorksBackend, scene: World, request_: BackfillRequest
) -> None:
    mine, theirs = remote.preview_backfill(request_), local(scene).preview_backfill(request_)
    assert (mine.message, mine.extra) == (theirs.message, theirs.extra)
    assert mine.extra["instances"] > 0


def test_backfill_preview_refuses_as_local(remote: DataWorksBackend, scene: World) -> None:
    stray = BackfillRequest("failed", date(2025, 10, 20), date(2025, 10, 20), include=("ok",))
    with pytest.raises(ActionRefused) as theirs:
        local(scene).preview_backfill(stray)
    with pytest.raises(ActionRefused) as mine:
        remote.preview_backfill(stray)
    assert mine.value.reason == theirs.value.reason == "not downstream of failed: ok"


def test_undeploy_runs_the_offline_pipeline(remote: DataWorksBackend, scene: World) -> None:
    result = remote.undeploy("later")
    assert "undeployed in DataWorks" in result.message
    assert local(scene).get_node("later").state != "deployed"
    assert "later" not in [n.name for n in remote.list_nodes()]
    entry = remote.audit_log()[0]
    assert (entry.action, entry.targets, entry.outcome) == ("undeploy", ["later"], "ok")


def test_undeploy_with_downstream_is_refused_and_audited(
    remote: DataWorksBackend, scene: World
) -> None:
    with pytest.raises(ActionRefused, match="blocked"):
        remote.undeploy("failed")
    assert local(scene).get_node("failed").state == "deployed"
    assert remote.audit_log()[0].outcome == "refused"


# -- events, fired alerts and diagnosis ----------------------------------------------------

SLA_WORKSPACE = """
    nodes:
      - {name: ok, type: shell, code: "echo fine", trigger: {cron: "00 30 00 * * ?"}}
      - {name: failed, type: shell, code: "echo ERROR: disk full; exit 1",
         trigger: {cron: "00 30 00 * * ?"}}
      - {name: blocked, type: virtual, depends: [failed], trigger: {cron: "00 30 00 * * ?"}}
    baselines:
      - {name: morning, committed_time: "06:00", margin: 30, nodes: [blocked]}
    alerts:
      - {name: failed_job, trigger: Error, nodes: [failed], interval: 10m, max: 3}
"""


@pytest.fixture
def sla_remote(world: MakeWorld, tmp_path: Path) -> Iterator[tuple[DataWorksBackend, World]]:
    """At 02:00: failed failed on morning's key path (an ERROR event) and fired an alert."""
    w = world(SLA_WORKSPACE).start()
    w.go(at(2))
    assert w.status("failed") is Status.FAILURE
    backend = LocalBackend(w.store, "ws", w.clock, user="alice", source="emulator")
    emulator = Emulator(backend, Verifier({KEY_ID: SECRET}))
    httpd = EmulatorServer(("127.0.0.1", 0), emulator)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        with DataWorksClient(Credentials(KEY_ID, SECRET), httpd.url) as client:
            yield make(client, w, tmp_path), w
    finally:
        httpd.shutdown()
        httpd.server_close()


EVENT_FACTS = ("id", "baseline", "bizdate", "instance_id", "node", "kind", "status", "message")
EVENT_FACTS += ("created_at",)


def test_events_match_local(sla_remote: tuple[DataWorksBackend, World]) -> None:
    remote, w = sla_remote
    theirs = w.backend.list_events()
    assert theirs, "the scene should raise an event"
    mine = remote.list_events()
    assert [tuple(getattr(e, f) for f in EVENT_FACTS) for e in mine] == [
        tuple(getattr(e, f) for f in EVENT_FACTS) for e in theirs
    ]
    assert [e.kind for e in mine] == ["ERROR"] and mine[0].node == "failed"
    assert [e.id for e in remote.list_events(open_only=True)] == [e.id for e in mine]
    with pytest.raises(ActionRefused, match="event-status"):
        remote.handle_event(mine[0].id, "FIXING")


def test_alerts_match_local(sla_remote: tuple[DataWorksBackend, World]) -> None:
    remote, w = sla_remote
    theirs = w.backend.list_alerts()
    assert theirs, "the scene should fire an alert"
    mine = remote.list_alerts()
    assert [(a.id, a.rule, a.target, a.message) for a in mine] == [
        (a.id, a.rule, a.target, a.message) for a in theirs
    ]
    assert [a.first_at for a in mine] == [a.last_sent_at or a.first_at for a in theirs]


def steps(diagnosis: Diagnosis) -> list[tuple[str, bool]]:
    return [(s.check, s.ok) for s in diagnosis.steps]


def test_diagnosis_matches_local_checks(remote: DataWorksBackend, scene: World) -> None:
    for name in ("ok", "failed", "blocked", "later"):
        item = scene.instance(name)
        mine, theirs = remote.diagnose(item.id), local(scene).diagnose(item.id)
        assert steps(mine) == steps(theirs), name
    failed, blocked = scene.instance("failed"), scene.instance("blocked")
    upstream = remote.diagnose(blocked.id).steps[1]
    assert upstream.instance_ids == (failed.id,) and f"failed #{failed.id}" in upstream.message
    assert remote.diagnose(scene.instance("later").id).summary.startswith("scheduled for")


def test_diagnosis_of_a_failure_quotes_the_log(sla_remote: tuple[DataWorksBackend, World]) -> None:
    remote, w = sla_remote
    diagnosis = remote.diagnose(w.instance("failed").id)
    assert steps(diagnosis) == steps(w.backend.diagnose(w.instance("failed").id))
    assert "ERROR: disk full" in diagnosis.summary


def test_topic_and_alert_wire_shapes(sla_remote: tuple[DataWorksBackend, World]) -> None:
    remote, w = sla_remote
    window = {"BeginTime": "2025-10-30T00:00:00Z", "EndTime": "2025-11-02T00:00:00Z"}
    [topic] = remote.client.call("ListTopics", window, version="2020-05-18")["Data"]["Topics"]
    failed = w.instance("failed")
    assert topic["InstanceId"] == failed.id and topic["NodeName"] == "failed"
    assert (topic["TopicType"], topic["TopicStatus"]) == ("ERROR", "NEW")
    assert set(topic) == {"TopicId", "TopicName", "TopicType", "TopicStatus", "NodeId"} | {
        "NodeName",
        "InstanceId",
        "HappenTime",
    }
    data = remote.client.call(
        "GetTopicInfluence", {"TopicId": topic["TopicId"]}, version="2020-05-18"
    )["Data"]
    [influence] = data["Influences"]
    assert influence["BaselineName"] == "morning" and influence["InGroupId"] == 1
    assert influence["Status"] in ("SAFE", "DANGROUS", "ERROR", "OVER")
    [message] = remote.client.call("ListAlertMessages", window, version="2020-05-18")["Data"][
        "AlertMessages"
    ]
    assert message["RemindName"] == "failed_job" and isinstance(message["AlertId"], int)
    assert message["Instances"][0]["InstanceId"] == failed.id
