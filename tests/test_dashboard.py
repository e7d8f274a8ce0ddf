"""The O&M overview (spec 8): counts, what needs action, top errors, slowest, hourly trend,
and each instance's duration against its node's average."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from opscenter.domain.model import Status
from opscenter.store.models import WorkspaceRow
from tests.harness import TODAY, MakeWorld, at

BIZDATE = TODAY - timedelta(days=1)

WORKSPACE = """
nodes:
  - {name: extract, type: shell, code: "echo ok", trigger: {cron: "00 00 02 * * ?"}}
  - {name: broken, type: shell, code: "exit 3", trigger: {cron: "00 00 02 * * ?"},
     rerun_times: 1, rerun_interval: 60}
  - {name: report, type: virtual, trigger: {cron: "00 00 02 * * ?"}, depends: [extract]}
"""


def test_dashboard_shows_counts_failures_errors_and_the_hourly_trend(world: MakeWorld) -> None:
    w = world(WORKSPACE).start()
    w.go(at(2))
    w.advance(61)  # the auto rerun of "broken" fails too
    board = w.backend.dashboard(BIZDATE)
    assert board.counts.counts[Status.SUCCESS] == 3  # root, extract, report
    assert board.counts.counts[Status.FAILURE] == 1
    assert [i.node for i in board.needs_action] == ["broken"]
    assert [(e.node, e.failures) for e in board.top_errors] == [("broken", 2)]
    # successes that ran (not dry-run) counted in the hour they finished, workspace time
    assert board.succeeded_per_hour[2] >= 2 and sum(board.succeeded_per_hour[3:]) == 0
    assert board.succeeded_per_hour_before == [0] * 24
    assert {i.node for i in board.slowest} == {"extract", "broken"}  # virtual ones do not run


def test_a_failure_with_an_auto_rerun_pending_does_not_need_action_yet(world: MakeWorld) -> None:
    w = world(WORKSPACE).start()
    w.go(at(2))
    board = w.backend.dashboard(BIZDATE)
    broken = w.instance("broken")
    assert broken.status is Status.FAILURE and broken.retry_at is not None
    assert board.needs_action == []


def test_instances_carry_their_nodes_average_duration_once_it_has_history(
    world: MakeWorld,
) -> None:
    w = world(
        """
        nodes:
          - name: load
            type: shell
            code: 'while [ ! -f "$OPSCENTER_LANDING/go" ]; do sleep 0.02; done'
            trigger: {cron: "00 00 02 * * ?"}
        """
    ).start()
    assert w.instance("load").average is None  # no history yet
    w.clock.set(at(2))
    w.wait_for(lambda: w.status("load") is Status.RUNNING)
    w.clock.advance(90)  # it works for a minute and a half of clock time
    with w.store.connect() as conn:
        landing = conn.scalar(select(WorkspaceRow.landing))
    (Path(landing) / "go").touch()
    w.idle()
    w.engine.sla.settle(at(2, 1, 30).replace(tzinfo=None))
    load = w.instance("load")
    assert load.duration == 90
    assert load.average == 90  # the mean of its last 10 successes: this one
