"""Operator actions through the LocalBackend, as the CLI and the console use them (spec 6.1-6.4).

The engine of each test is the live scheduler: actions write state, an audit row and
a signal; the engine picks the signal up on its next tick. Stopping or freezing a
RUNNING instance asks the scheduler to do it only when a scheduler holds the lease,
so the tests that want that path take the lease for the engine.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine as Database
from sqlalchemy import select

from opscenter.backends.local import LocalBackend
from opscenter.domain.model import Status
from opscenter.domain.records import ActionRefused, ActionResult, AuditEntry, BackfillRequest
from opscenter.store import lease
from opscenter.store.db import open_store
from opscenter.store.models import TransitionRow
from tests.harness import TODAY, MakeWorld, World, at, process_gone

TOMORROW = TODAY + timedelta(days=1)


@pytest.fixture
def store(any_store: Database) -> Database:
    """Every test here runs on SQLite and on PostgreSQL (the world fixture takes this store)."""
    return any_store


def live_scheduler(w: World) -> None:
    """The test's engine is the scheduler a second process would signal."""
    ours, _info = lease.try_acquire(w.store, "test-host:scheduler")
    assert ours


def trail(backend: LocalBackend) -> list[AuditEntry]:
    """The audit rows of operator actions (not the deploy), oldest first."""
    return sorted((e for e in backend.audit_log() if e.action != "deploy"), key=lambda e: e.id)


def refusal(call: Callable[[], ActionResult]) -> str:
    with pytest.raises(ActionRefused) as refused:
        call()
    return refused.value.reason


def transitions_by(store: Database, instance_id: int, user: str) -> list[tuple[str, str, str]]:
    with store.connect() as conn:
        rows = conn.execute(
            select(TransitionRow.from_status, TransitionRow.to_status, TransitionRow.reason)
            .where(TransitionRow.instance_id == instance_id, TransitionRow.by == user)
            .order_by(TransitionRow.id)
        ).all()
    return [tuple(r) for r in rows]


# One instance in every status (at 02:00, after one tick).
ZOO = """
    resource_groups: [{name: one, slots: 1}]
    nodes:
      - {name: ok, type: shell, code: "true", trigger: {cron: "00 30 00 * * ?"}}
      - {name: failed, type: shell, code: "exit 1", trigger: {cron: "00 30 00 * * ?"}}
      - {name: blocked, type: virtual, depends: [failed], trigger: {cron: "00 30 00 * * ?"}}
      - {name: later, type: virtual, trigger: {cron: "00 00 05 * * ?"}}
      - {name: busy, type: shell, code: "sleep 5", resource_group: one, priority: 2,
         trigger: {cron: "00 00 02 * * ?"}}
      - {name: queued, type: shell, code: "true", resource_group: one,
         trigger: {cron: "00 00 02 * * ?"}}
      - {name: paused, type: virtual, recurrence: Pause, trigger: {cron: "00 00 05 * * ?"}}
"""
NODE_IN = {
    Status.NOT_RUN: "blocked",
    Status.WAIT_TIME: "later",
    Status.WAIT_RESOURCE: "queued",
    Status.RUNNING: "busy",
    Status.SUCCESS: "ok",
    Status.FAILURE: "failed",
    Status.FROZEN: "paused",
}


def zoo(world: MakeWorld) -> World:
    w = world(ZOO).start()
    w.clock.set(at(2))
    w.tick()
    assert {status: w.status(node) for status, node in NODE_IN.items()} == {s: s for s in NODE_IN}
    return w


# action -> (statuses it is allowed from, the status it moves an instance to)
TABLE: dict[str, tuple[set[Status], Status]] = {
    "rerun": ({Status.SUCCESS, Status.FAILURE, Status.NOT_RUN}, Status.NOT_RUN),
    "rerun downstream": ({Status.SUCCESS, Status.FAILURE, Status.NOT_RUN}, Status.NOT_RUN),
    "set success": ({Status.FAILURE}, Status.SUCCESS),
    "stop": ({Status.RUNNING, Status.WAIT_TIME, Status.WAIT_RESOURCE}, Status.FAILURE),
    "freeze": (
        {Status.NOT_RUN, Status.WAIT_TIME, Status.WAIT_RESOURCE, Status.RUNNING},
        Status.FROZEN,
    ),
    "unfreeze": ({Status.FROZEN}, Status.NOT_RUN),
}


def act(backend: LocalBackend, action: str, ids: list[int]) -> ActionResult:
    calls = {
        "rerun": lambda: backend.rerun(ids),
        "rerun downstream": lambda: backend.rerun(ids, downstream=True),
        "set success": lambda: backend.set_success(ids),
        "stop": lambda: backend.stop(ids),
        "freeze": lambda: backend.freeze(ids),
        "unfreeze": lambda: backend.unfreeze(ids),
    }
    return calls[action]()


# ---------------------------------------------------------------------------
# 6.1 allowed-from statuses, row by row
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("action", list(TABLE))
def test_each_action_refuses_the_statuses_it_is_not_allowed_from(
    world: MakeWorld, action: str
) -> None:
    w = zoo(world)
    allowed, _to = TABLE[action]
    for status in sorted(set(NODE_IN) - allowed):
        instance = w.instance(NODE_IN[status])
        reason = refusal(lambda i=instance: act(w.backend, action, [i.id]))
        assert f"#{instance.id} {instance.node}: is {status.value}" in reason
    # nothing changed, and every refusal is on the audit trail
    assert {status: w.status(node) for status, node in NODE_IN.items()} == {s: s for s in NODE_IN}
    entries = trail(w.backend)
    assert len(entries) == len(set(NODE_IN) - allowed)
    assert {(e.user, e.action, e.outcome) for e in entries} == {("alice", action, "refused")}


@pytest.mark.parametrize(
    ("action", "status"),
    [(action, status) for action, (allowed, _to) in TABLE.items() for status in sorted(allowed)],
)
def test_each_action_moves_the_statuses_it_is_allowed_from(
    world: MakeWorld, action: str, status: Status
) -> None:
    w = zoo(world)
    live_scheduler(w)
    instance = w.instance(NODE_IN[status])
    result = act(w.backend, action, [instance.id])
    assert instance.id in result.affected
    # a RUNNING one is stopped or frozen by the scheduler, on its next ticks
    w.wait_for(lambda: bool(transitions_by(w.store, instance.id, "alice")))
    _allowed, to = TABLE[action]
    first = transitions_by(w.store, instance.id, "alice")[0]
    assert first[:2] == (status.value, to.value)
    [entry] = trail(w.backend)
    assert (entry.user, entry.action, entry.targets, entry.outcome) == (
        "alice",
        action,
        [instance.id],
        "ok",
    )


# ---------------------------------------------------------------------------
# Rerun
# ---------------------------------------------------------------------------

CHAIN = """
    nodes:
      - name: extract
        type: shell
        code: %s
        rerun_mode: %s
        trigger: {cron: "00 00 02 * * ?"}
      - {name: transform, type: shell, code: "echo transform", depends: [extract],
         trigger: {cron: "00 00 02 * * ?"}}
      - {name: report, type: shell, code: "echo report", depends: [transform],
         trigger: {cron: "00 00 02 * * ?"}}
      - {name: sibling, type: shell, code: "echo sibling", depends: [extract],
         trigger: {cron: "00 00 02 * * ?"}}
"""
FAILS_FIRST = """'[ "$OPSCENTER_ATTEMPT" = 1 ] && exit 1; exit 0'"""


def chain(world: MakeWorld, code: str = '"echo extract"', mode: str = "Allowed") -> World:
    return world(CHAIN % (code, mode)).start()


def test_rerun_of_a_success_runs_it_again_and_leaves_its_downstream_alone(
    world: MakeWorld,
) -> None:
    w = chain(world)
    w.go(at(3))
    extract = w.instance("extract")
    result = w.backend.rerun([extract.id])
    assert result.affected == [extract.id]
    assert w.status("extract") is Status.NOT_RUN
    w.idle()
    assert (w.status("extract"), w.instance("extract").run_number) == (Status.SUCCESS, 2)
    assert w.attempts("extract")[-1].triggered_by == "rerun by alice"
    assert "triggered by: rerun by alice" in w.log("extract", 2)
    assert w.instance("transform").run_number == 1  # not rerun


def test_rerun_of_a_failure_runs_it_and_its_downstream_follows(world: MakeWorld) -> None:
    w = chain(world, FAILS_FIRST)
    w.go(at(3))
    assert (w.status("extract"), w.status("transform")) == (Status.FAILURE, Status.NOT_RUN)
    w.backend.rerun([w.instance("extract").id])
    w.idle()
    assert [w.status(n) for n in ("extract", "transform", "report")] == [Status.SUCCESS] * 3
    assert w.instance("extract").run_number == 2


def test_rerun_mode_failure_allowed_refuses_after_success(world: MakeWorld) -> None:
    w = chain(world, mode="FailureAllowed")
    w.go(at(3))
    extract = w.instance("extract")
    reason = refusal(lambda: w.backend.rerun([extract.id]))
    assert (
        reason == f"#{extract.id} extract: its node's rerun mode is FailureAllowed and it succeeded"
    )


def test_rerun_mode_failure_allowed_reruns_a_failure(world: MakeWorld) -> None:
    w = chain(world, FAILS_FIRST, mode="FailureAllowed")
    w.go(at(3))
    w.backend.rerun([w.instance("extract").id])
    w.idle()
    assert w.status("extract") is Status.SUCCESS


@pytest.mark.parametrize("code", ['"echo extract"', '"exit 1"'], ids=["success", "failure"])
def test_rerun_mode_denied_refuses_every_rerun(world: MakeWorld, code: str) -> None:
    w = chain(world, code, mode="Denied")
    w.go(at(3))
    extract = w.instance("extract")
    assert refusal(lambda: w.backend.rerun([extract.id])) == (
        f"#{extract.id} extract: its node's rerun mode is Denied"
    )
    assert w.instance("extract").run_number == 1


def test_rerun_of_a_not_run_instance_does_not_bypass_its_upstream(world: MakeWorld) -> None:
    w = world(
        """
        nodes:
          - {name: source, type: virtual, trigger: {cron: "00 00 04 * * ?"}}
          - {name: report, type: shell, code: "echo report", depends: [source],
             trigger: {cron: "00 00 02 * * ?"}}
        """
    ).start()
    w.go(at(3))
    report = w.instance("report")
    assert report.status is Status.NOT_RUN
    w.backend.rerun([report.id])  # decision 13.4: allowed, but it waits like any other
    w.idle()
    report = w.instance("report")
    assert (report.status, report.run_number) == (Status.NOT_RUN, 0)
    w.go(at(4))
    assert w.status("report") is Status.SUCCESS
    assert w.attempts("report")[0].triggered_by == "rerun by alice"


def test_rerun_downstream_resets_every_same_cycle_descendant_which_then_run_in_order(
    world: MakeWorld,
) -> None:
    w = chain(world)
    w.go(at(3))
    extract = w.instance("extract")
    result = w.backend.rerun([extract.id], downstream=True)
    everyone = ("extract", "transform", "report", "sibling")
    assert sorted(result.affected) == sorted(w.instance(n).id for n in everyone)
    assert [w.status(n) for n in everyone] == [Status.NOT_RUN] * 4
    w.idle()
    assert [(w.status(n), w.instance(n).run_number) for n in everyone] == [(Status.SUCCESS, 2)] * 4
    # dependency order: each second attempt began after its upstream's second attempt ended
    report_log = Path(w.attempts("report")[1].log_path)
    transform_log = Path(w.attempts("transform")[1].log_path)
    assert transform_log.stat().st_mtime <= report_log.stat().st_mtime
    assert all(w.attempts(n)[1].triggered_by == "rerun downstream by alice" for n in everyone)


def test_rerun_downstream_of_an_instance_without_descendants_reruns_just_it(
    world: MakeWorld,
) -> None:
    w = chain(world)
    w.go(at(3))
    report = w.instance("report")
    assert w.backend.rerun([report.id], downstream=True).affected == [report.id]
    w.idle()
    assert (w.status("report"), w.instance("report").run_number) == (Status.SUCCESS, 2)


def test_rerun_downstream_refuses_naming_a_running_descendant(world: MakeWorld) -> None:
    w = world(
        """
        nodes:
          - {name: extract, type: shell, code: "true", trigger: {cron: "00 00 02 * * ?"}}
          - {name: slow, type: shell, code: "sleep 5", depends: [extract],
             trigger: {cron: "00 00 02 * * ?"}}
        """
    ).start()
    w.clock.set(at(2))
    w.wait_for(lambda: w.status("slow") is Status.RUNNING)
    extract, slow = w.instance("extract"), w.instance("slow")
    reason = refusal(lambda: w.backend.rerun([extract.id], downstream=True))
    assert reason == f"#{slow.id} slow: descendant is RUNNING; stop it first"
    assert (w.status("extract"), w.status("slow")) == (Status.SUCCESS, Status.RUNNING)


# ---------------------------------------------------------------------------
# Set success
# ---------------------------------------------------------------------------


def test_set_success_of_a_failure_unblocks_the_downstream_which_then_runs(
    world: MakeWorld,
) -> None:
    w = chain(world, '"exit 1"')
    w.go(at(3))
    assert (w.status("extract"), w.status("transform")) == (Status.FAILURE, Status.NOT_RUN)
    extract = w.instance("extract")
    w.backend.set_success([extract.id])
    extract = w.instance("extract")
    assert (extract.status, extract.set_success, extract.run_number) == (Status.SUCCESS, True, 1)
    assert w.backend.diagnose(extract.id).steps[-1].message == "set to success by an operator"
    w.idle()
    assert [w.status(n) for n in ("transform", "report", "sibling")] == [Status.SUCCESS] * 3


# ---------------------------------------------------------------------------
# Stop
# ---------------------------------------------------------------------------

RUNNER = """
    nodes:
      - {name: job, type: shell, code: "sleep 30", rerun_times: 3, rerun_interval: 60,
         trigger: {cron: "00 00 02 * * ?"}}
      - {name: after, type: virtual, depends: [job], trigger: {cron: "00 00 02 * * ?"}}
"""


def test_stop_of_a_running_node_ends_its_process_fails_it_and_no_auto_rerun_follows(
    world: MakeWorld,
) -> None:
    w = world(RUNNER).start()
    live_scheduler(w)
    w.clock.set(at(2))
    w.tick()
    w.wait_for(lambda: w.attempts("job")[0].pid is not None)  # recorded once it started
    job = w.instance("job")
    [running] = w.attempts("job")
    result = w.backend.stop([job.id])
    assert result.affected == [job.id]
    assert (
        result.message
        == "0 instances stopped; 1 running instance is being stopped by the scheduler"
    )
    w.idle()
    job = w.instance("job")
    assert (job.status, job.retry_at) == (Status.FAILURE, None)
    [attempt] = w.attempts("job")
    assert attempt.reason == "stopped by alice"
    assert "killed: stopped by alice" in w.log("job")
    assert process_gone(running.pid)
    w.advance(600)
    assert (w.status("job"), len(w.attempts("job"))) == (Status.FAILURE, 1)
    assert w.status("after") is Status.NOT_RUN  # stopped = failed: the downstream stays blocked


def test_stop_with_no_scheduler_alive_ends_the_orphan_itself(world: MakeWorld) -> None:
    w = world(RUNNER).start()
    w.clock.set(at(2))
    w.tick()  # the scheduler starts the job, then stops working (no lease is held)
    w.wait_for(lambda: w.attempts("job")[0].pid is not None)
    job = w.instance("job")
    [running] = w.attempts("job")
    result = w.backend.stop([job.id])
    assert result.message == (
        "0 instances stopped; 1 running instance stopped (no scheduler was running)"
    )
    assert w.status("job") is Status.FAILURE
    [attempt] = w.attempts("job")
    assert (attempt.status, attempt.reason) == (Status.FAILURE, "stopped by alice")
    assert process_gone(running.pid)
    assert "stopped by alice" in w.log("job")  # decision 13.10: the log says who stopped it


def test_stop_of_a_waiting_instance_fails_it_before_it_ever_runs(world: MakeWorld) -> None:
    w = world(
        """
        resource_groups: [{name: one, slots: 1}]
        nodes:
          - {name: holder, type: shell, code: "sleep 0.2", resource_group: one, priority: 2,
             trigger: {cron: "00 00 02 * * ?"}}
          - {name: queued, type: shell, code: "true", resource_group: one,
             trigger: {cron: "00 00 02 * * ?"}}
          - {name: later, type: shell, code: "true", trigger: {cron: "00 00 05 * * ?"}}
        """
    ).start()
    w.clock.set(at(2))
    w.tick()
    queued, later = w.instance("queued"), w.instance("later")
    assert (queued.status, later.status) == (Status.WAIT_RESOURCE, Status.WAIT_TIME)
    assert w.backend.stop([queued.id, later.id]).message == "2 instances stopped"
    w.go(at(6))  # the slot frees and the time comes: neither runs
    assert (w.status("queued"), w.status("later")) == (Status.FAILURE, Status.FAILURE)
    assert w.attempts("queued") == [] and w.attempts("later") == []
    assert transitions_by(w.store, queued.id, "alice") == [
        ("WAIT_RESOURCE", "FAILURE", "stopped by alice")
    ]


def test_a_stop_from_another_process_is_picked_up_by_the_next_tick(
    world: MakeWorld, store: Database
) -> None:
    w = world(RUNNER).start()
    live_scheduler(w)
    w.clock.set(at(2))
    w.tick()
    job = w.instance("job")
    other_store = open_store(store.url.render_as_string(hide_password=False))
    try:
        bob = LocalBackend(other_store, "ws", w.clock, user="bob")
        bob.stop([job.id])
        assert bob.get_instance(job.id).status is Status.RUNNING  # the scheduler does it
        w.engine.tick(poll_signals=True)  # its next look at the signals table
        assert "killed: stopped by bob" in bob.read_log(job.id).text
        w.idle()
        assert bob.get_instance(job.id).status is Status.FAILURE
        [attempt] = bob.attempts(job.id)
        assert attempt.reason == "stopped by bob"
        assert process_gone(attempt.pid)
    finally:
        other_store.dispose()


# ---------------------------------------------------------------------------
# Freeze / unfreeze (6.2)
# ---------------------------------------------------------------------------


def test_a_frozen_instance_blocks_descendants_and_unfreezing_after_its_time_runs_it_at_once(
    world: MakeWorld,
) -> None:
    w = chain(world)
    extract = w.instance("extract")
    assert extract.status is Status.WAIT_TIME
    w.backend.freeze([extract.id])
    w.go(at(3))
    assert [w.status(n) for n in ("extract", "transform", "report")] == [
        Status.FROZEN,
        Status.NOT_RUN,
        Status.NOT_RUN,
    ]
    assert w.attempts("extract") == []
    w.backend.unfreeze([extract.id])
    w.idle()  # decision 13.5: no rerun needed, it is eligible at once
    assert [w.status(n) for n in ("extract", "transform", "report")] == [Status.SUCCESS] * 3
    assert w.attempts("extract")[0].triggered_by == "unfrozen by alice"


def test_an_action_s_words_agree_with_how_many_instances_it_moved(world: MakeWorld) -> None:
    """``1 instance ... it runs when its``, ``2 instances ... they run when their``:
    never ``instance(s)``."""
    w = chain(world)
    extract, transform, sibling = (w.instance(n) for n in ("extract", "transform", "sibling"))
    assert w.backend.freeze([extract.id]).message == "1 instance frozen"
    assert w.backend.freeze([transform.id, sibling.id]).message == "2 instances frozen"
    assert w.backend.unfreeze([extract.id]).message == (
        "1 instance unfrozen; it runs when its upstream instances succeed and its time has come"
    )
    assert w.backend.unfreeze([transform.id, sibling.id]).message == (
        "2 instances unfrozen; they run when their upstream instances succeed "
        "and their time has come"
    )
    w.go(at(3))
    assert w.backend.rerun([extract.id]).message == (
        "1 instance reset to NOT_RUN; it runs when its upstream instances succeed"
    )
    assert w.backend.rerun([transform.id, sibling.id]).message == (
        "2 instances reset to NOT_RUN; they run when their upstream instances succeed"
    )
    w.idle()


def test_set_success_of_one_instance_says_its_downstream(world: MakeWorld) -> None:
    w = chain(world, FAILS_FIRST)
    w.go(at(3))
    extract = w.instance("extract")
    assert extract.status is Status.FAILURE
    assert w.backend.set_success([extract.id]).message == (
        "1 instance set to SUCCESS; its downstream instances may now run"
    )
    w.idle()


def test_freeze_of_a_running_instance_kills_it_and_blocks_the_downstream(
    world: MakeWorld,
) -> None:
    w = world(RUNNER).start()
    live_scheduler(w)
    w.clock.set(at(2))
    w.tick()
    job = w.instance("job")
    w.backend.freeze([job.id])
    w.idle()
    job = w.instance("job")
    assert (job.status, job.retry_at) == (Status.FROZEN, None)
    [attempt] = w.attempts("job")
    assert (attempt.status, attempt.reason) == (Status.FAILURE, "frozen by alice")
    assert process_gone(attempt.pid)
    w.advance(600)
    assert (w.status("job"), w.status("after")) == (Status.FROZEN, Status.NOT_RUN)


def test_freezing_two_running_instances_says_they_are_being_frozen(world: MakeWorld) -> None:
    """A count agrees with its noun and its verb: 2 instances are, 1 instance is."""
    w = world(
        """
        nodes:
          - {name: one, type: shell, code: "sleep 30", trigger: {cron: "00 00 02 * * ?"}}
          - {name: two, type: shell, code: "sleep 30", trigger: {cron: "00 00 02 * * ?"}}
        """
    ).start()
    live_scheduler(w)
    w.clock.set(at(2))
    w.tick()
    ids = [w.instance("one").id, w.instance("two").id]
    w.wait_for(lambda: all(w.attempts(n) and w.attempts(n)[0].pid for n in ("one", "two")))
    result = w.backend.freeze(ids)
    assert result.message == (
        "0 instances frozen; 2 running instances are being frozen by the scheduler"
    )
    w.idle()
    assert (w.status("one"), w.status("two")) == (Status.FROZEN, Status.FROZEN)
    assert all(process_gone(w.attempts(n)[0].pid) for n in ("one", "two"))


def test_freeze_node_freezes_only_instances_generated_afterwards(world: MakeWorld) -> None:
    w = chain(world)
    result = w.backend.freeze_node("transform")
    assert "today's still run" in result.message
    assert w.backend.get_node("transform").frozen
    w.go(at(3))
    assert w.status("transform") is Status.SUCCESS  # today's instance was generated before
    w.go(at(23, 30))  # the nightly generation of tomorrow
    assert w.status("transform", TOMORROW) is Status.FROZEN
    w.go(at(3, day=TOMORROW))
    assert [w.status(n, TOMORROW) for n in ("extract", "transform", "report")] == [
        Status.SUCCESS,
        Status.FROZEN,
        Status.NOT_RUN,
    ]
    w.backend.unfreeze_node("transform")
    w.go(at(23, 30, day=TOMORROW))
    day_after = TOMORROW + timedelta(days=1)
    assert w.status("transform", day_after) is Status.NOT_RUN
    assert w.status("transform", TOMORROW) is Status.FROZEN  # frozen instances stay frozen
    [freeze, unfreeze] = trail(w.backend)
    assert (freeze.action, freeze.targets, freeze.outcome) == ("freeze node", ["transform"], "ok")
    assert (unfreeze.action, unfreeze.outcome) == ("unfreeze node", "ok")


def test_freeze_node_refusals_say_why(world: MakeWorld) -> None:
    w = world(
        """
        nodes:
          - {name: paused, type: virtual, recurrence: Pause, trigger: {cron: "00 00 02 * * ?"}}
          - {name: daily, type: virtual, trigger: {cron: "00 00 02 * * ?"}}
        """
    ).start()
    assert refusal(lambda: w.backend.unfreeze_node("daily")) == "node daily is already not frozen"
    w.backend.freeze_node("daily")
    assert refusal(lambda: w.backend.freeze_node("daily")) == "node daily is already frozen"
    assert "run mode Pause" in refusal(lambda: w.backend.unfreeze_node("paused"))
    assert refusal(lambda: w.backend.freeze_node("nope")) == "no node 'nope' in workspace ws"


# ---------------------------------------------------------------------------
# Undeploy (6.4)
# ---------------------------------------------------------------------------


def test_undeploy_refuses_a_node_with_descendants_and_names_them(world: MakeWorld) -> None:
    w = chain(world)
    assert refusal(lambda: w.backend.undeploy("extract")) == (
        "node extract has descendant nodes: sibling, transform; undeploy them first"
    )
    assert w.backend.get_node("extract").state == "deployed"


def test_undeploy_of_a_leaf_dry_runs_its_pending_instances_and_generates_no_more(
    world: MakeWorld,
) -> None:
    w = chain(world)
    w.backend.undeploy("report")
    report = w.instance("report")
    assert (report.dry_run, report.dry_run_reason) == (True, "node undeployed")
    w.go(at(3))
    report = w.instance("report")
    assert (report.status, report.run_number) == (Status.SUCCESS, 0)
    assert w.attempts("report") == []
    w.go(at(23, 30))
    assert w.status("transform", TOMORROW) is Status.NOT_RUN
    with pytest.raises(IndexError):
        w.instance("report", TOMORROW)


def test_undeploy_of_a_leaf_waiting_for_a_slot_dry_runs_it_at_once(world: MakeWorld) -> None:
    w = world(
        """
        resource_groups: [{name: one, slots: 1}]
        nodes:
          - {name: holder, type: shell, code: "sleep 5", resource_group: one, priority: 2,
             trigger: {cron: "00 00 02 * * ?"}}
          - {name: leaf, type: shell, code: "exit 1", resource_group: one,
             trigger: {cron: "00 00 02 * * ?"}}
        """
    ).start()
    w.clock.set(at(2))
    w.tick()
    assert w.status("leaf") is Status.WAIT_RESOURCE
    w.backend.undeploy("leaf")
    w.tick()
    leaf = w.instance("leaf")
    assert (leaf.status, leaf.dry_run, w.attempts("leaf")) == (Status.SUCCESS, True, [])


# ---------------------------------------------------------------------------
# Batches, audit, read-only
# ---------------------------------------------------------------------------


def test_one_refused_instance_refuses_the_whole_batch_and_is_named(world: MakeWorld) -> None:
    w = zoo(world)
    ok, failed, busy = (w.instance(n) for n in ("ok", "failed", "busy"))
    reason = refusal(lambda: w.backend.rerun([ok.id, failed.id, busy.id]))
    assert reason == f"#{busy.id} busy: is RUNNING; rerun needs SUCCESS, FAILURE, NOT_RUN"
    assert (w.status("ok"), w.status("failed")) == (Status.SUCCESS, Status.FAILURE)
    [entry] = trail(w.backend)
    assert (entry.action, entry.targets, entry.outcome, entry.detail) == (
        "rerun",
        [ok.id, failed.id, busy.id],
        "refused",
        reason,
    )


def test_an_unknown_instance_is_refused_by_id(world: MakeWorld) -> None:
    w = zoo(world)
    assert refusal(lambda: w.backend.set_success([w.instance("failed").id, 999])) == (
        "no instance #999 in workspace ws"
    )
    assert w.status("failed") is Status.FAILURE


def every_action(backend: LocalBackend, w: World) -> dict[str, Callable[[], ActionResult]]:
    ids = {node: w.instance(node).id for node in NODE_IN.values()}
    request = BackfillRequest("ok", TODAY - timedelta(days=3), TODAY - timedelta(days=2))
    return {
        "rerun": lambda: backend.rerun([ids["failed"]]),
        "rerun downstream": lambda: backend.rerun([ids["failed"]], downstream=True),
        "set success": lambda: backend.set_success([ids["failed"]]),
        "stop": lambda: backend.stop([ids["later"]]),
        "freeze": lambda: backend.freeze([ids["later"]]),
        "unfreeze": lambda: backend.unfreeze([ids["paused"]]),
        "freeze node": lambda: backend.freeze_node("ok"),
        "unfreeze node": lambda: backend.unfreeze_node("ok"),
        "backfill": lambda: backend.backfill(request),
        "undeploy": lambda: backend.undeploy("later"),
    }


def test_every_action_writes_an_audit_row_with_user_targets_and_outcome(world: MakeWorld) -> None:
    w = zoo(world)
    actions = every_action(w.backend, w)
    done = []
    for name in (
        "set success",
        "rerun",
        "rerun downstream",
        "stop",
        "unfreeze",
        "freeze node",
        "unfreeze node",
        "backfill",
        "undeploy",
    ):
        actions[name]()
        done.append(name)
    refused = refusal(actions["freeze"])  # 'later' was stopped: it is FAILURE now
    entries = trail(w.backend)
    assert [(e.user, e.action, e.outcome) for e in entries] == [
        *(("alice", name, "ok") for name in done),
        ("alice", "freeze", "refused"),
    ]
    assert entries[-1].detail == refused
    assert entries[0].targets == [w.instance("failed").id]
    assert entries[-2].targets == ["later"]
    assert {e.at for e in entries} == {datetime(2025, 11, 1, 2, 0)}


def test_read_only_refuses_every_action_and_audits_it(world: MakeWorld, store: Database) -> None:
    w = zoo(world)
    viewer = LocalBackend(store, "ws", w.clock, user="alice", readonly=True)
    actions = every_action(viewer, w)
    before = {status: w.status(node) for status, node in NODE_IN.items()}
    for name, call in actions.items():
        reason = refusal(call)
        assert reason == f"{name} is not available: opscenter runs read-only (--readonly)"
    assert {status: w.status(node) for status, node in NODE_IN.items()} == before
    assert w.backend.get_node("later").state == "deployed"
    assert viewer.list_backfills() == []
    entries = trail(viewer)
    assert [(e.action, e.outcome) for e in entries] == [(name, "refused") for name in actions]


def test_a_run_that_ended_well_as_the_scheduler_shut_down_stays_a_success(
    world: MakeWorld,
) -> None:
    """Its exit 0 was already on its way when the shutdown asked to stop it: the attempt and
    the instance both say SUCCESS (the data was written), never an attempt SUCCESS under a
    FAILURE instance with no reason."""
    w = world(
        """
        resource_groups: [{name: default, slots: 2}]
        nodes:
          - {name: quick, type: shell, code: "true", trigger: {cron: "00 00 02 * * ?"}}
        """
    ).start()
    w.clock.set(at(2))
    w.tick(times=1)  # it starts; a second tick could already drain its end
    deadline = time.monotonic() + 5
    while w.engine._events.empty():  # the process ended; its outcome is not drained yet
        assert time.monotonic() < deadline, "the process did not end"
        time.sleep(0.01)
    w.engine.close()
    assert w.status("quick") is Status.SUCCESS
    [attempt] = w.attempts("quick")
    assert attempt.status is Status.SUCCESS


def test_an_instance_s_parameters_are_what_its_run_was_given(world: MakeWorld) -> None:
    w = world(
        """
        nodes:
          - {name: load, type: shell, code: "echo $day $hour",
             parameters: {day: "${yyyymmdd}", hour: "$[hh24]"},
             trigger: {cron: "00 30 02 * * ?"}}
        """
    ).start()
    load = w.instance("load")
    given = w.backend.parameters(load.id)
    day = f"{load.bizdate:%Y%m%d}"
    assert given == {"day": day, "hour": "02", "bizdate": day}  # bizdate as DataWorks pre-fills
    w.go(at(2, 30))
    log = w.log("load")
    assert f"day={given['day']}" in log and "hour=02" in log  # what the run log says it got
    with pytest.raises(ActionRefused, match="no instance #999999"):
        w.backend.parameters(999999)
