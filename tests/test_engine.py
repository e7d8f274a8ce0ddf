"""The embedded scheduler as an operator sees it (spec 3.2 run conditions, 3.3 transitions).

Every test deploys a small workspace in UTC, starts an Engine on a ManualClock
(the first start is a bootstrap: today's instances exist at once) and moves
time by hand. Shell nodes are real subprocesses, so a test that needs one to be
RUNNING ticks the engine instead of waiting for it to become idle.
"""

from __future__ import annotations

import os
import sqlite3
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine as Database
from sqlalchemy import select, text
from sqlalchemy.exc import OperationalError

from opscenter.domain.model import Status
from opscenter.scheduler.generate import generate_day
from opscenter.store import db as store_db
from opscenter.store.db import open_store
from opscenter.store.models import TransitionRow
from tests.harness import (
    DEPLOYED_AT,
    TODAY,
    MakeWorld,
    World,
    at,
    process_gone,
    worlds,
)
from tests.processes import eventually


@pytest.fixture
def store(any_store: Database) -> Database:
    """Every test here runs on SQLite and on PostgreSQL (the world fixture takes this store)."""
    return any_store


# ---------------------------------------------------------------------------
# 3.2 run conditions
# ---------------------------------------------------------------------------


def test_rule_1_a_failed_upstream_blocks_and_diagnosis_names_it(world: MakeWorld) -> None:
    w = world(
        """
        nodes:
          - {name: extract, type: shell, code: "exit 1", trigger: {cron: "00 00 02 * * ?"}}
          - name: load
            type: virtual
            trigger: {cron: "00 00 02 * * ?"}
            depends: [extract]
        """
    ).start()
    w.go(at(3))
    assert w.status("extract") is Status.FAILURE
    assert w.status("load") is Status.NOT_RUN  # only SUCCESS satisfies a dependency
    diagnosis = w.backend.diagnose(w.instance("load").id)
    assert diagnosis.steps[1].check == "upstream" and not diagnosis.steps[1].ok
    assert "extract" in diagnosis.summary and "FAILURE" in diagnosis.summary


def test_rule_1_a_running_upstream_blocks_until_it_succeeds(world: MakeWorld) -> None:
    w = world(
        """
        nodes:
          - {name: extract, type: shell, code: "sleep 0.3", trigger: {cron: "00 00 02 * * ?"}}
          - name: load
            type: virtual
            trigger: {cron: "00 00 02 * * ?"}
            depends: [extract]
        """
    ).start()
    w.clock.set(at(2))
    w.tick()
    assert (w.status("extract"), w.status("load")) == (Status.RUNNING, Status.NOT_RUN)
    w.idle()
    assert (w.status("extract"), w.status("load")) == (Status.SUCCESS, Status.SUCCESS)


def test_rule_1_a_queued_downstream_does_not_start_while_its_rerun_upstream_runs(
    world: MakeWorld,
) -> None:
    w = world(
        """
        resource_groups: [{name: one, slots: 1}]
        nodes:
          - {name: holder, type: shell, code: "sleep 0.3", resource_group: one, priority: 5,
             trigger: {cron: "00 00 02 * * ?"}}
          - {name: up, type: shell, code: '[ "$OPSCENTER_ATTEMPT" = 2 ] && sleep 1; true',
             trigger: {cron: "00 00 02 * * ?"}}
          - {name: down, type: shell, code: "true", resource_group: one, depends: [up],
             trigger: {cron: "00 00 02 * * ?"}}
        """
    ).start()
    w.clock.set(at(2))
    w.wait_for(lambda: w.status("down") is Status.WAIT_RESOURCE)  # up succeeded, no slot yet
    w.backend.rerun([w.instance("up").id])
    w.wait_for(lambda: w.status("holder") is Status.SUCCESS)  # the slot is free now
    w.tick()
    assert (w.status("up"), w.status("down")) == (Status.RUNNING, Status.NOT_RUN)
    w.idle()
    assert (w.status("up"), w.status("down")) == (Status.SUCCESS, Status.SUCCESS)
    assert w.attempts("down")[0].started_at >= w.attempts("up")[1].finished_at


def test_rule_2_upstream_done_early_does_not_pull_the_downstream_before_its_time(
    world: MakeWorld,
) -> None:
    w = world(
        """
        nodes:
          - {name: early, type: virtual, trigger: {cron: "00 30 01 * * ?"}}
          - name: late
            type: virtual
            trigger: {cron: "00 00 03 * * ?"}
            depends: [early]
        """
    ).start()
    assert w.status("late") is Status.NOT_RUN  # its upstream is not done yet
    w.go(at(1, 30))
    assert w.status("early") is Status.SUCCESS
    assert w.status("late") is Status.WAIT_TIME
    assert "scheduled for 2025-11-01 03:00" in w.backend.diagnose(w.instance("late").id).summary
    w.go(at(2, 59, 59))
    assert w.status("late") is Status.WAIT_TIME
    w.go(at(3))
    late = w.instance("late")
    assert late.status is Status.SUCCESS
    assert late.started_at == datetime(2025, 11, 1, 3, 0)


def test_rule_2_a_downstream_whose_time_passed_waits_for_its_upstream(world: MakeWorld) -> None:
    w = world(
        """
        nodes:
          - {name: slow_source, type: virtual, trigger: {cron: "00 00 04 * * ?"}}
          - name: report
            type: virtual
            trigger: {cron: "00 00 02 * * ?"}
            depends: [slow_source]
        """
    ).start()
    w.go(at(3))
    assert w.status("slow_source") is Status.WAIT_TIME
    assert w.status("report") is Status.NOT_RUN  # not WAIT_TIME: its upstream is not done
    w.go(at(4))
    report = w.instance("report")
    assert report.status is Status.SUCCESS
    assert report.started_at == datetime(2025, 11, 1, 4, 0)  # as soon as the upstream was done


SLOT_RACE = """
    resource_groups: [{name: one, slots: 1}]
    nodes:
      - {name: low, type: shell, code: "%s", resource_group: one, priority: 1,
         trigger: {cron: "00 00 02 * * ?"}}
      - {name: high, type: shell, code: "%s", resource_group: one, priority: 5,
         trigger: {cron: "00 00 02 * * ?"}}
"""


def test_rule_3_a_full_group_queues_and_diagnosis_names_the_group_and_holder(
    world: MakeWorld,
) -> None:
    w = world(SLOT_RACE % ("sleep 5", "sleep 5")).start()
    w.clock.set(at(2))
    w.tick()
    high, low = w.instance("high"), w.instance("low")
    assert (high.status, low.status) == (Status.RUNNING, Status.WAIT_RESOURCE)
    diagnosis = w.backend.diagnose(low.id)
    resource = next(s for s in diagnosis.steps if s.check == "resource")
    assert not resource.ok
    assert "resource group one" in resource.message and "1 slots" in resource.message
    assert f"high #{high.id}" in resource.message
    assert resource.instance_ids == (high.id,)
    assert diagnosis.summary == resource.message  # the first check that fails is the answer


def test_rule_3_the_queue_serves_higher_priority_first_then_earlier_cyctime(
    world: MakeWorld,
) -> None:
    w = world(
        """
        resource_groups: [{name: one, slots: 1}]
        nodes:
          - {name: late, type: shell, code: "sleep 0.2", resource_group: one,
             trigger: {cron: "00 10 02 * * ?"}}
          - {name: early, type: shell, code: "sleep 0.2", resource_group: one,
             trigger: {cron: "00 05 02 * * ?"}}
          - {name: urgent, type: shell, code: "sleep 0.2", resource_group: one, priority: 8,
             trigger: {cron: "00 15 02 * * ?"}}
        """
    ).start()
    w.clock.set(at(2, 30))  # all three are due at once
    w.tick()
    assert [w.status(n) for n in ("urgent", "early", "late")] == [
        Status.RUNNING,
        Status.WAIT_RESOURCE,
        Status.WAIT_RESOURCE,
    ]
    w.wait_for(lambda: w.status("urgent") is Status.SUCCESS)
    assert (w.status("early"), w.status("late")) == (Status.RUNNING, Status.WAIT_RESOURCE)
    w.idle()
    assert {w.status(n) for n in ("urgent", "early", "late")} == {Status.SUCCESS}


def test_rule_3_virtual_nodes_take_no_slot(world: MakeWorld) -> None:
    w = world(
        """
        resource_groups: [{name: one, slots: 1}]
        nodes:
          - {name: busy, type: shell, code: "sleep 5", resource_group: one,
             trigger: {cron: "00 00 02 * * ?"}}
          - {name: marker, type: virtual, resource_group: one, trigger: {cron: "00 00 02 * * ?"}}
        """
    ).start()
    w.clock.set(at(2))
    w.tick()
    assert (w.status("busy"), w.status("marker")) == (Status.RUNNING, Status.SUCCESS)
    assert w.attempts("marker") == []  # nothing ran: no attempt, no log


def test_rule_4_a_frozen_instance_blocks_its_descendants(world: MakeWorld) -> None:
    w = world(
        """
        nodes:
          - {name: paused, type: virtual, recurrence: Pause, trigger: {cron: "00 00 02 * * ?"}}
          - name: child
            type: virtual
            trigger: {cron: "00 00 02 * * ?"}
            depends: [paused]
          - {name: grandchild, type: virtual, trigger: {cron: "00 00 02 * * ?"}, depends: [child]}
          - {name: bystander, type: virtual, trigger: {cron: "00 00 02 * * ?"}}
        """
    ).start()
    w.go(at(12))
    assert w.status("paused") is Status.FROZEN
    assert (w.status("child"), w.status("grandchild")) == (Status.NOT_RUN, Status.NOT_RUN)
    assert w.status("bystander") is Status.SUCCESS
    summary = w.backend.diagnose(w.instance("grandchild").id).summary
    assert "paused" in summary and "FROZEN" in summary  # walks up to the deepest blocker


@pytest.mark.parametrize(
    ("extra", "cron", "reason"),
    [
        ("", "00 00 02 ? * 1", "not a run day"),  # 2025-11-01 is a Saturday; the node runs Mondays
        ("recurrence: Skip,", "00 00 02 * * ?", "dry-run node"),
    ],
    ids=["weekly-on-another-day", "recurrence-skip"],
)
def test_dry_run_instances_succeed_at_their_time_without_running_and_do_not_block(
    world: MakeWorld, extra: str, cron: str, reason: str
) -> None:
    w = world(
        f"""
        nodes:
          - {{name: weekly, type: shell, code: "exit 1", {extra} trigger: {{cron: "{cron}"}}}}
          - {{name: daily, type: shell, code: "exit 0", trigger: {{cron: "00 00 03 * * ?"}},
             depends: [weekly]}}
        """
    ).start()
    weekly = w.instance("weekly")
    assert (weekly.dry_run, weekly.dry_run_reason) == (True, reason)
    assert weekly.status is Status.WAIT_TIME  # a dry-run still waits for its time
    w.go(at(2))
    weekly = w.instance("weekly")
    assert weekly.status is Status.SUCCESS and weekly.status_label == "↷ DRY-RUN"
    assert weekly.run_number == 0 and w.attempts("weekly") == []  # no attempt, no log
    assert weekly.duration == 0
    w.go(at(3))
    assert w.status("daily") is Status.SUCCESS


# ---------------------------------------------------------------------------
# 3.3 transition table
# ---------------------------------------------------------------------------


def first_transition(store: Database, instance_id: int) -> tuple[str, str]:
    with store.connect() as conn:
        row = conn.execute(
            select(TransitionRow.from_status, TransitionRow.to_status)
            .where(TransitionRow.instance_id == instance_id)
            .order_by(TransitionRow.id)
            .limit(1)
        ).one()
    return row.from_status, row.to_status


def test_generated_instances_start_not_run_frozen_or_flagged_dry_run(world: MakeWorld) -> None:
    w = world(
        """
        nodes:
          - {name: normal, type: virtual, trigger: {cron: "00 00 02 * * ?"}}
          - {name: paused, type: virtual, recurrence: Pause, trigger: {cron: "00 00 02 * * ?"}}
          - {name: skipped, type: virtual, recurrence: Skip, trigger: {cron: "00 00 02 * * ?"}}
        """
    )
    generate_day(w.store, w.workspace_id, TODAY, now=DEPLOYED_AT, bootstrap=True)
    normal, paused, skipped = (w.instance(n) for n in ("normal", "paused", "skipped"))
    assert (normal.status, normal.dry_run) == (Status.NOT_RUN, False)
    assert (paused.status, paused.dry_run) == (Status.FROZEN, False)
    assert (skipped.status, skipped.dry_run) == (Status.NOT_RUN, True)
    w.start()
    # NOT_RUN -> WAIT_TIME once every upstream (the root) succeeded and the time is ahead
    assert first_transition(w.store, normal.id) == ("NOT_RUN", "WAIT_TIME")
    assert w.status("paused") is Status.FROZEN  # terminal until unfrozen
    w.go(at(2))
    assert (w.status("normal"), w.status("skipped"), w.status("paused")) == (
        Status.SUCCESS,
        Status.SUCCESS,
        Status.FROZEN,
    )


def test_running_exit_0_is_success_and_an_error_is_failure(world: MakeWorld) -> None:
    w = world(
        """
        nodes:
          - {name: good, type: shell, code: "echo fine", trigger: {cron: "00 00 02 * * ?"}}
          - {name: bad, type: shell, code: "echo broken table >&2; exit 3",
             trigger: {cron: "00 00 02 * * ?"}}
        """
    ).start()
    w.go(at(2))
    good, bad = w.instance("good"), w.instance("bad")
    assert (good.status, good.run_number) == (Status.SUCCESS, 1)
    assert (bad.status, bad.run_number, bad.retry_at) == (Status.FAILURE, 1, None)
    [attempt] = w.attempts("bad")
    assert attempt.exit_code == 3
    assert attempt.reason == "exit code 3: broken table"
    assert "fine" in w.log("good")


RETRYING = """
    nodes:
      - name: flaky
        type: shell
        code: %s
        rerun_times: 2
        rerun_interval: 60
        trigger: {cron: "00 00 02 * * ?"}
      - {name: after, type: virtual, trigger: {cron: "00 00 02 * * ?"}, depends: [flaky]}
"""


def test_auto_rerun_retries_after_the_interval_then_stays_failed(world: MakeWorld) -> None:
    w = world(RETRYING % '"exit 1"').start()
    w.go(at(2))
    flaky = w.instance("flaky")
    assert (flaky.status, flaky.run_number, flaky.max_attempts) == (Status.FAILURE, 1, 3)
    assert flaky.retry_at == datetime(2025, 11, 1, 2, 1)  # a retry is scheduled
    assert "auto rerun at 02:01" in w.backend.diagnose(flaky.id).summary
    w.advance(59)
    assert len(w.attempts("flaky")) == 1  # not before the interval is over
    w.advance(1)
    assert [a.number for a in w.attempts("flaky")] == [1, 2]
    assert "triggered by: auto rerun 1/2" in w.log("flaky", 2)
    assert w.instance("flaky").status is Status.FAILURE
    w.advance(60)
    w.advance(600)
    flaky = w.instance("flaky")
    assert (flaky.status, flaky.run_number, flaky.retry_at) == (Status.FAILURE, 3, None)
    assert [a.triggered_by for a in w.attempts("flaky")] == [
        "scheduler",
        "auto rerun 1/2",
        "auto rerun 2/2",
    ]
    assert w.status("after") is Status.NOT_RUN


def test_a_flaky_node_succeeds_on_its_auto_rerun_and_unblocks_downstream(
    world: MakeWorld,
) -> None:
    w = world(RETRYING % """'[ "$OPSCENTER_ATTEMPT" = 1 ] && exit 1; exit 0'""").start()
    w.go(at(2))
    assert (w.status("flaky"), w.status("after")) == (Status.FAILURE, Status.NOT_RUN)
    w.advance(60)
    flaky = w.instance("flaky")
    assert (flaky.status, flaky.run_number) == (Status.SUCCESS, 2)
    assert [a.status for a in w.attempts("flaky")] == [Status.FAILURE, Status.SUCCESS]
    assert w.status("after") is Status.SUCCESS


def test_rerun_mode_denied_never_auto_reruns(world: MakeWorld) -> None:
    w = world(
        """
        nodes:
          - {name: once, type: shell, code: "exit 1", rerun_mode: Denied, rerun_times: 2,
             rerun_interval: 60, trigger: {cron: "00 00 02 * * ?"}}
        """
    ).start()
    w.go(at(2))
    assert w.instance("once").retry_at is None
    w.advance(600)
    once = w.instance("once")
    assert (once.status, once.run_number) == (Status.FAILURE, 1)


def test_an_attempt_that_ends_at_once_still_records_its_process(
    world: MakeWorld, tmp_path: Path
) -> None:
    """Its pid and its end reach the store in one turn (one statement): neither is lost."""
    said = tmp_path / "pid"
    w = world(
        f"""
        nodes:
          - {{name: quick, type: shell, code: 'echo $$ > {said}',
             trigger: {{cron: "00 00 02 * * ?"}}}}
        """
    ).start()
    w.go(at(2))
    [attempt] = w.attempts("quick")
    assert attempt.status is Status.SUCCESS
    assert attempt.pid == int(said.read_text())


def test_timeout_kills_the_process_and_fails_the_instance(world: MakeWorld) -> None:
    w = world(
        """
        nodes:
          - {name: stuck, type: shell, code: "sleep 30", timeout: 1,
             trigger: {cron: "00 00 02 * * ?"}}
        """
    ).start()
    w.clock.set(at(2))
    w.tick()
    w.wait_for(lambda: w.attempts("stuck")[0].pid is not None)  # recorded once it started
    [running] = w.attempts("stuck")
    assert running.status is Status.RUNNING
    w.clock.advance(59)
    w.tick()
    assert w.status("stuck") is Status.RUNNING  # not yet
    started = time.monotonic()
    w.advance(2)  # 61 s after the start
    assert time.monotonic() - started < 2.5  # SIGTERM ends it without waiting for the grace
    [attempt] = w.attempts("stuck")
    assert w.status("stuck") is Status.FAILURE
    assert (attempt.status, attempt.reason) == (Status.FAILURE, "timed out after 1 minutes")
    assert "killed: timed out after 1 minutes" in w.log("stuck")
    assert process_gone(attempt.pid)


RECOVERING = """
    resource_groups: [{name: one, slots: 1}]
    nodes:
      - name: long
        type: shell
        code: '[ "$OPSCENTER_ATTEMPT" = 1 ] && sleep 30; echo attempt $OPSCENTER_ATTEMPT'
        resource_group: one
        rerun_times: 1
        rerun_interval: 60
        trigger: {cron: "00 00 02 * * ?"}
      - {name: queued, type: shell, code: "echo queued", resource_group: one,
         trigger: {cron: "00 00 02 * * ?"}}
"""


def test_recovery_fails_a_lost_attempt_ends_its_process_and_retries_it(world: MakeWorld) -> None:
    w = world(RECOVERING).start()
    w.clock.set(at(2))
    w.tick()
    w.wait_for(lambda: w.attempts("long")[0].pid is not None)
    [lost] = w.attempts("long")
    assert lost.status is Status.RUNNING and not process_gone(lost.pid)
    assert w.status("queued") is Status.WAIT_RESOURCE
    # the first scheduler dies without closing; a new one starts on the same store
    w.engine = w.new_engine()
    w.engine.start()
    [lost] = w.attempts("long")
    assert (lost.status, lost.reason) == (Status.FAILURE, "lost: scheduler restarted")
    assert process_gone(lost.pid)
    long = w.instance("long")
    assert long.status is Status.FAILURE
    assert long.retry_at == datetime(2025, 11, 1, 2, 1)  # it follows its retry policy
    w.idle()
    # the slot the lost attempt held is free again: what was queued runs
    assert w.status("queued") is Status.SUCCESS
    w.advance(60)
    long = w.instance("long")
    assert (long.status, long.run_number) == (Status.SUCCESS, 2)
    assert "attempt 2" in w.log("long", 2)


def test_every_attempt_has_a_log_that_starts_with_its_header(world: MakeWorld) -> None:
    w = world(
        """
        nodes:
          - name: greet
            type: shell
            code: 'echo "hello $1 from $region"'
            parameters: {region: "cn-$[hh24]"}
            trigger: {cron: "00 00 02 * * ?"}
        """
    ).start()
    w.go(at(2))
    greet = w.instance("greet")
    [attempt] = w.attempts("greet")
    path = Path(attempt.log_path)
    assert path.is_file()
    lines = path.read_text().splitlines()
    assert lines[:10] == [
        "node:         greet (shell)",
        f"instance id:  {greet.id}",
        "cyctime:      2025-11-01 02:00:00 UTC",  # the workspace's zone, said
        "started:      2025-11-01 02:00:00 UTC",  # the world's time of the start
        "bizdate:      20251031",
        "attempt:      1",
        "triggered by: scheduler",
        "parameters:",
        "  region=cn-02",
        "  bizdate=20251031",
    ]
    assert "hello cn-02 from cn-02" in path.read_text()
    assert os.stat(path).st_mode & 0o777 == 0o600


def test_nightly_generation_creates_tomorrow_and_it_runs(world: MakeWorld) -> None:
    w = world(
        """
        nodes:
          - {name: daily, type: virtual, trigger: {cron: "00 00 02 * * ?"}}
        """
    ).start()
    w.go(at(23, 29))
    with pytest.raises(IndexError):
        w.instance("daily", TODAY + timedelta(days=1))
    w.go(at(23, 30))
    tomorrow = w.instance("daily", TODAY + timedelta(days=1))
    assert (tomorrow.bizdate, tomorrow.status) == (TODAY, Status.NOT_RUN)
    w.go(at(2, day=TODAY + timedelta(days=1)))
    assert w.status("daily", TODAY + timedelta(days=1)) is Status.SUCCESS


def held_running(make: MakeWorld, tmp_path: Path) -> tuple[World, Path]:
    """A world whose one node, quick, is RUNNING until the returned file exists."""
    release = tmp_path / "release"
    w = make(
        f"""
        nodes:
          - {{name: quick, type: shell, trigger: {{cron: "00 00 00 * * ?"}},
             code: "while [ ! -e {release} ]; do sleep 0.01; done"}}
        """
    )
    w.engine.start()
    w.tick()  # the root succeeds, quick starts and waits to be let go
    assert w.status("quick") is Status.RUNNING
    return w, release


def test_an_attempt_that_ends_while_the_store_is_locked_is_recorded_once_it_is_free(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A turn that cannot begin its transaction (another process holds the store past the
    busy timeout) raises before it takes what ended: the next turn records it."""
    monkeypatch.setattr(store_db, "BUSY_TIMEOUT_MS", 200)
    path = tmp_path / "locked.db"
    store = open_store(f"sqlite:///{path}")
    with worlds(tmp_path, store) as make:
        w, release = held_running(make, tmp_path)
        release.touch()
        assert eventually(lambda: not w.engine._events.empty(), 10), "quick did not end"
        other = sqlite3.connect(path, timeout=0, isolation_level=None)
        other.execute("BEGIN EXCLUSIVE")
        try:
            with pytest.raises(OperationalError, match="locked"):
                w.engine.tick()
        finally:
            other.execute("ROLLBACK")
            other.close()
        w.idle()
        assert w.status("quick") is Status.SUCCESS
        assert [a.status for a in w.attempts("quick")] == [Status.SUCCESS]
    store.dispose()


def test_the_scheduler_goes_on_after_postgresql_drops_its_connections(
    tmp_path: Path, postgres_url: str
) -> None:
    """The server ends every session of the store's database (a restart, an operator's
    pg_terminate_backend): the next turn takes a new connection, as a pool's pre-ping
    would, and what ended meanwhile is recorded."""
    store = open_store(postgres_url)
    with worlds(tmp_path, store) as make:
        w, release = held_running(make, tmp_path)
        with store.connect() as admin:
            ended = admin.scalar(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
        assert ended >= 1  # the scheduler's own connection among them
        release.touch()
        w.wait_for(lambda: w.status("quick") is Status.SUCCESS, timeout=10)
        assert [a.status for a in w.attempts("quick")] == [Status.SUCCESS]
    store.dispose()
