"""Emergency operations on the local backend (spec 6.1, issue 17): remove upstream
dependencies of one instance; change the priority or resource group of instances not
finished. Each test plays what an on-call engineer does and asserts what they would see."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete

from opscenter.backends.local import LocalBackend
from opscenter.domain.clock import ManualClock
from opscenter.domain.model import Status
from opscenter.domain.records import ActionRefused, ActionResult, AuditEntry, InstanceFilter
from opscenter.resources import demo_workspace
from opscenter.scheduler.engine import Engine
from opscenter.scheduler.rewire import rewire_not_started
from opscenter.store import lease
from opscenter.store.db import open_store
from opscenter.store.models import Meta
from opscenter.store.tx import writing
from tests.conftest import deploy_folder
from tests.harness import MakeWorld, World, at

SHANGHAI = ZoneInfo("Asia/Shanghai")

# src fails for good at 00:30; report waits on it and on ok; after waits on report; later
# (05:00) waits on src too. The morning baseline protects after.
BLOCKED = """
    nodes:
      - {name: ok, type: virtual, trigger: {cron: "00 30 00 * * ?"}}
      - {name: src, type: shell, code: "exit 1", rerun_times: 0,
         trigger: {cron: "00 30 00 * * ?"}}
      - {name: report, type: virtual, depends: [ok, src], trigger: {cron: "00 30 00 * * ?"}}
      - {name: after, type: virtual, depends: [report], trigger: {cron: "00 30 00 * * ?"}}
      - {name: later, type: virtual, depends: [src], trigger: {cron: "00 00 05 * * ?"}}
    baselines:
      - {name: morning, committed_time: '09:00', nodes: [after]}
"""

# one slot in group one, held by hog; low and high queue behind it; group two is free
SCARCE = """
    resource_groups: [{name: one, slots: 1}, {name: two, slots: 1}]
    nodes:
      - {name: hog, type: shell, code: "sleep 5", resource_group: one, priority: 8,
         trigger: {cron: "00 00 02 * * ?"}}
      - {name: low, type: shell, code: "sleep 5", resource_group: one,
         trigger: {cron: "00 00 02 * * ?"}}
      - {name: high, type: shell, code: "sleep 5", resource_group: one,
         trigger: {cron: "00 00 02 * * ?"}}
"""


def blocked(world: MakeWorld) -> World:
    w = world(BLOCKED).start()
    assert (w.status("src"), w.status("report"), w.status("after")) == (
        Status.FAILURE,
        Status.NOT_RUN,
        Status.NOT_RUN,
    )
    return w


def scarce(world: MakeWorld) -> World:
    w = world(SCARCE).start()
    w.clock.set(at(2))
    w.tick()
    assert [w.status(n) for n in ("hog", "low", "high")] == [
        Status.RUNNING,
        Status.WAIT_RESOURCE,
        Status.WAIT_RESOURCE,
    ]
    return w


def refusal(call: Callable[[], ActionResult]) -> str:
    with pytest.raises(ActionRefused) as refused:
        call()
    return refused.value.reason


def trail(backend: LocalBackend) -> list[AuditEntry]:
    return sorted((e for e in backend.audit_log() if e.action != "deploy"), key=lambda e: e.id)


# -- remove upstream dependencies ----------------------------------------------------


def test_removing_the_failed_upstream_lets_the_instance_run_and_its_downstream_follow(
    world: MakeWorld,
) -> None:
    w = blocked(world)
    src, report = w.instance("src"), w.instance("report")

    result = w.backend.remove_upstream(report.id, comment="source down, report runs without it")

    assert result.affected == [src.id]  # only the upstream not SUCCESS: ok's edge stays
    assert result.message == (
        f"1 upstream of #{report.id} report removed (src #{src.id}); "
        "it runs when its remaining conditions hold"
    )
    w.idle()
    assert (w.status("report"), w.status("after"), w.status("src")) == (
        Status.SUCCESS,
        Status.SUCCESS,
        Status.FAILURE,
    )
    up = {r.instance.node: r.removed for r in w.backend.relatives(report.id, "up")}
    assert up["ok"] is None
    assert up["src"] is not None and (up["src"].by, up["src"].at) == (
        "alice",
        at(1).replace(tzinfo=None),
    )
    down = w.backend.relatives(src.id, "down")
    assert {r.instance.node: r.removed is not None for r in down} == {
        "report": True,
        "later": False,
    }


def test_the_diagnosis_says_who_removed_which_upstream_and_when(world: MakeWorld) -> None:
    w = blocked(world)
    src, later = w.instance("src"), w.instance("later")
    w.backend.remove_upstream(later.id)
    w.idle()

    upstream = next(s for s in w.backend.diagnose(later.id).steps if s.check == "upstream")

    assert upstream.ok
    assert upstream.message == (
        f"every remaining upstream instance succeeded; "
        f"upstream src #{src.id} removed by alice at 11-01 01:00 UTC"
    )


def test_a_failed_instance_stays_failed_and_the_operator_is_told_to_rerun(
    world: MakeWorld,
) -> None:
    w = blocked(world)
    src = w.instance("src")
    [root] = [r.instance.id for r in w.backend.relatives(src.id, "up")]

    result = w.backend.remove_upstream(src.id, [root])

    assert result.message.endswith("it stays FAILURE: rerun it to run without them")
    w.idle()
    assert w.status("src") is Status.FAILURE


def test_refusals_name_the_status_the_stranger_and_read_only(world: MakeWorld) -> None:
    w = blocked(world)
    ok, report, after = w.instance("ok"), w.instance("report"), w.instance("after")

    assert refusal(lambda: w.backend.remove_upstream(ok.id)) == (
        f"#{ok.id} ok: is SUCCESS; remove needs NOT_RUN, WAIT_TIME, WAIT_RESOURCE, FAILURE"
    )
    assert refusal(lambda: w.backend.remove_upstream(report.id, [after.id])) == (
        f"#{report.id} report: #{after.id} not an upstream instance of it"
    )
    readonly = LocalBackend(w.store, "ws", w.clock, user="bob", readonly=True)
    said = "remove upstream is not available: opscenter runs read-only (--readonly)"
    assert refusal(lambda: readonly.remove_upstream(report.id)) == said
    assert refusal(lambda: readonly.remove_upstream(report.id, preview=True)) == said
    assert [(e.user, e.action, e.outcome) for e in trail(w.backend)] == [
        ("alice", "remove upstream", "refused"),
        ("alice", "remove upstream", "refused"),
        ("bob", "remove upstream", "refused"),  # the preview is not audited
    ]
    w.idle()
    assert w.status("report") is Status.NOT_RUN


def test_a_preview_says_what_would_be_removed_and_changes_nothing(world: MakeWorld) -> None:
    w = blocked(world)
    src, report = w.instance("src"), w.instance("report")

    preview = w.backend.remove_upstream(report.id, comment="why", preview=True)

    assert preview.affected == [src.id]
    w.idle()
    assert w.status("report") is Status.NOT_RUN
    assert all(r.removed is None for r in w.backend.relatives(report.id, "up"))
    assert trail(w.backend) == []


def test_the_removal_is_audited_with_who_and_the_comment(world: MakeWorld) -> None:
    w = blocked(world)
    report = w.instance("report")
    w.backend.remove_upstream(report.id, comment="catalogue down until noon")

    [entry] = trail(w.backend)

    assert (entry.user, entry.action, entry.targets, entry.outcome) == (
        "alice",
        "remove upstream",
        [report.id],
        "ok",
    )
    assert entry.detail.endswith("(comment: catalogue down until noon)")


def test_a_removed_edge_survives_a_rewire_and_a_scheduler_restart(world: MakeWorld) -> None:
    w = blocked(world)
    later = w.instance("later")
    w.backend.remove_upstream(later.id, comment="src is not needed today")
    with writing(w.store) as conn:  # a newer scheduler's rules: edges are recomputed
        conn.execute(delete(Meta).where(Meta.key.like("edge_rules:%")))

    rewired = rewire_not_started(w.store, w.workspace_id)

    assert rewired is not None and rewired.changed == 0
    w.engine.close()
    w.engine = w.new_engine()
    w.engine.start()
    w.go(at(5))
    assert w.status("later") is Status.SUCCESS
    [src] = w.backend.relatives(later.id, "up")
    assert src.removed is not None and src.removed.comment == "src is not needed today"


def test_the_baseline_is_predicted_before_the_removal_and_follows_it(world: MakeWorld) -> None:
    w = blocked(world)
    report = w.instance("report")

    [impact] = w.backend.baseline_impact("remove_upstream", [report.id]) or []

    assert [b.node for b in impact.before.blocked_by] == ["src"]
    assert impact.before.predicted_finish is None
    assert impact.after.blocked_by == () and impact.after.predicted_finish is not None
    w.backend.remove_upstream(report.id)
    w.idle()
    [morning] = w.backend.list_baselines(w.instance("after").bizdate)
    assert (morning.finished, morning.blocked_by, morning.status) == (True, (), "SAFE")


# -- priority and resource group ---------------------------------------------------


def test_a_higher_priority_is_dispatched_first_when_slots_are_scarce(world: MakeWorld) -> None:
    w = scarce(world)
    high = w.instance("high")

    result = w.backend.update_instances([high.id], priority=8, comment="finance first")

    assert result.affected == [high.id]
    assert w.instance("high").priority == 8
    w.tick()
    assert lease.try_acquire(w.store, "test-host:scheduler")[0]
    w.backend.stop([w.instance("hog").id])
    w.wait_for(lambda: w.status("high") is Status.RUNNING)
    assert w.status("low") is Status.WAIT_RESOURCE
    [entry] = [e for e in trail(w.backend) if e.action == "update"]
    assert entry.detail.endswith("(comment: finance first)")


def test_a_new_resource_group_moves_the_instance_to_its_slot(world: MakeWorld) -> None:
    w = scarce(world)
    low = w.instance("low")

    w.backend.update_instances([low.id], resource_group="two")
    w.tick()

    assert (w.status("low"), w.status("hog"), w.status("high")) == (
        Status.RUNNING,
        Status.RUNNING,
        Status.WAIT_RESOURCE,
    )
    assert w.instance("low").resource_group == "two"


def test_update_refusals_name_the_accepted_values(world: MakeWorld) -> None:
    w = blocked(world)
    ok, report = w.instance("ok"), w.instance("report")

    assert refusal(lambda: w.backend.update_instances([report.id], priority=2)) == (
        "priority 2 is not one DataWorks accepts: one of 1, 3, 5, 7, 8"
    )
    assert refusal(lambda: w.backend.update_instances([report.id], resource_group="gpu")) == (
        "resource group 'gpu' is not one the workspace declares: default"
    )
    assert refusal(lambda: w.backend.update_instances([ok.id], priority=8)) == (
        f"#{ok.id} ok: is SUCCESS: a finished instance keeps its priority and resource group"
    )
    preview = w.backend.update_instances([report.id], priority=8, preview=True)
    assert preview.affected == [report.id] and w.instance("report").priority != 8


# -- the demo's on-call story, finished another way ----------------------------------


def test_the_demo_dashboard_recovers_once_the_failed_upstream_of_dwd_products_is_removed(
    tmp_path: Path,
) -> None:
    """ods_products_snapshot fails for good; instead of fixing the source, the on-call
    engineer removes it from dwd_products' upstream, and exec_dashboard is no longer blocked."""
    folder = shutil.copytree(demo_workspace(), tmp_path / "demo")
    (folder / "scripts" / "products_snapshot.sh").write_text("echo 'catalogue down' >&2\nexit 1\n")
    start = datetime(2026, 11, 28, 0, 10, tzinfo=SHANGHAI)
    db = open_store(f"sqlite:///{tmp_path / 'state.db'}")
    report = deploy_folder(db, folder, now=(start - timedelta(days=1)).replace(tzinfo=None))
    clock = ManualClock(start)
    engine = Engine(db, report.workspace_id, clock)
    backend = LocalBackend(db, "shop", clock, user="oncall")
    bizdate = date(2026, 11, 27)

    def exec_dashboard() -> object:
        return next(b for b in backend.dashboard(bizdate).baselines if b.name == "exec_dashboard")

    try:
        engine.start()
        engine.run_until_idle()
        for _ in range(6):  # three attempts, a minute apart
            clock.advance(timedelta(minutes=2, seconds=30))
            engine.run_until_idle()
        [products] = backend.list_instances(
            InstanceFilter(bizdate=bizdate, node="ods_products_snapshot")
        ).items
        [dwd] = backend.list_instances(InstanceFilter(bizdate=bizdate, node="dwd_products")).items
        assert backend.get_instance(products.id).status is Status.FAILURE
        assert [x.node for x in exec_dashboard().blocked_by] == ["ods_products_snapshot"]

        impacts = backend.baseline_impact("remove_upstream", [dwd.id]) or []
        [impact] = [i for i in impacts if i.after.name == "exec_dashboard"]
        assert impact.after.blocked_by == () and impact.after.predicted_finish is not None

        backend.remove_upstream(dwd.id, [products.id], comment="catalogue down; use yesterday's")
        engine.run_until_idle()

        recovered = exec_dashboard()
        assert recovered.blocked_by == () and recovered.predicted_finish is not None
    finally:
        engine.close()
