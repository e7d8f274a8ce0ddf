"""Intelligent baselines as an operator meets them (spec 7.1-7.4, decision 13.10).

The baseline vector of spec 7.4 is played step by step with the real scheduler
on a ManualClock: every node is a shell script that waits for a file the test
creates, so the test decides when each one finishes while it moves the clock.
Workspaces are in UTC, so store times (naive UTC) read as workspace times.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import statistics
import textwrap
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine as Database
from sqlalchemy import delete, select

from opscenter.backends.local import LocalBackend
from opscenter.cli import main
from opscenter.domain.clock import ManualClock
from opscenter.domain.model import InstanceKind, Status
from opscenter.domain.records import (
    ActionRefused,
    BaselineDetail,
    EventInfo,
    InstanceFilter,
    InstanceInfo,
)
from opscenter.domain.rules import is_slow
from opscenter.scheduler.engine import Engine
from opscenter.sla.history import (
    DEFAULT_DURATION,
    DurationHistory,
    Finished,
    successes_since,
    sync,
)
from opscenter.sla.predict import OVER, SAFE, WARNING, Protected, predict
from opscenter.store.models import NodeRow, NodeStatsRow, WorkspaceRow
from opscenter.tui.app import OpsApp
from opscenter.tui.screens.confirm import ConfirmScreen
from tests.conftest import deploy_folder, write_workspace
from tests.tui.helpers import screen_text, settle

TODAY = date(2025, 11, 1)  # schedule date of the instances generated at start
BIZDATE = date(2025, 10, 31)  # their business date
DEPLOYED_AT = datetime(2025, 11, 1, 0, 0)  # naive UTC
START = datetime(2025, 11, 1, 0, 0, tzinfo=UTC)  # the scheduler starts at midnight


def at(hour: int, minute: int = 0, second: int = 0, day: date = TODAY) -> datetime:
    """A moment on the workspace clock (UTC), aware: what the ManualClock takes."""
    return datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=UTC)


def utc(hour: int, minute: int = 0, second: int = 0, day: date = TODAY) -> datetime:
    """The same moment naive, as the store and the SLA code keep times."""
    return at(hour, minute, second, day).replace(tzinfo=None)


def waits(node: str) -> str:
    """Shell code that runs until the test creates done_<node> (success) or fail_<node>."""
    done, fail = f'"$OPSCENTER_LANDING/done_{node}"', f'"$OPSCENTER_LANDING/fail_{node}"'
    return (
        f"while [ ! -f {done} ] && [ ! -f {fail} ]; do sleep 0.02; done; "
        f"if [ -f {fail} ]; then rm -f {fail}; exit 1; fi"
    )


def shell(node: str, cron: str, depends: tuple[str, ...] = (), **extra: object) -> str:
    """One node as a YAML flow mapping whose code waits for the test (see waits)."""
    parts = [
        f"name: {node}",
        "type: shell",
        f"code: {json.dumps(waits(node))}",
        f'trigger: {{cron: "{cron}"}}',
    ]
    if depends:
        parts.append(f"depends: [{', '.join(depends)}]")
    parts += [f"{key}: {value}" for key, value in extra.items()]
    return "  - {" + ", ".join(parts) + "}\n"


_seed_ids = itertools.count(-1, -1)
MIDNIGHT = datetime(2025, 11, 1, 0, 0)  # naive UTC


def seed(node_id: int, minutes: list[float], last: datetime = MIDNIGHT) -> list[Finished]:
    """Past successes of a node, one a day before ``last``, oldest first.

    Their attempt ids are negative: the history keys on the store's attempt ids, and
    seeded rows must neither shadow the attempts the scheduler records later (an
    INSERT OR IGNORE) nor make sync() skip them (it reads after the largest id).
    """
    count = len(minutes)
    return [
        Finished(next(_seed_ids), node_id, last - timedelta(days=count - n), m * 60)
        for n, m in enumerate(minutes)
    ]


class World:
    """A deployed UTC workspace ``ws``, its scheduler on a ManualClock, an operator (alice)."""

    def __init__(
        self,
        store: Database,
        folder: Path,
        yaml_text: str,
        *,
        start: datetime,
        averages: dict[str, float] | None = None,
    ) -> None:
        text = "workspace: {name: ws, timezone: UTC}\n" + textwrap.dedent(yaml_text)
        self.folder = write_workspace(folder, text)
        report = deploy_folder(store, self.folder, now=DEPLOYED_AT)
        self.store = store
        self.workspace_id = report.workspace_id
        self.clock = ManualClock(start)
        with store.connect() as conn:
            self.landing = Path(
                conn.scalar(
                    select(WorkspaceRow.landing).where(WorkspaceRow.id == report.workspace_id)
                )
            )
            self.node_ids = dict(
                conn.execute(
                    select(NodeRow.name, NodeRow.id).where(
                        NodeRow.workspace_id == report.workspace_id
                    )
                ).all()
            )
        self.engine = Engine(store, self.workspace_id, self.clock)
        self.closed = False
        for node, minutes in (averages or {}).items():
            # before start(): start() refreshes the statistics the predictions read
            self.engine.sla.history.add(seed(self.node_ids[node], [minutes] * 10))
        self.engine.start()
        self.tick()
        self.backend = LocalBackend(store, "ws", self.clock, user="alice")

    # -- the scheduler -----------------------------------------------------------

    def tick(self, times: int = 3) -> None:
        """Work without waiting for the running scripts (they wait for the test), then let
        the SLA service take in what changed (it batches changes over real time)."""
        for _ in range(times):
            self.engine.tick(poll_signals=True)
        self.engine.sla.settle(self.clock.now().astimezone(UTC).replace(tzinfo=None))

    def go(self, when: datetime) -> None:
        self.clock.set(when)
        self.tick()

    def wait_for(self, done: Callable[[], bool], timeout: float = 3.0) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                raise AssertionError("the scheduler did not get there in time")
            self.tick(1)
            time.sleep(0.01)

    def finish(self, node: str) -> None:
        """The node's script ends successfully now (the clock does not move meanwhile)."""
        (self.landing / f"done_{node}").touch()
        self.wait_for(lambda: self.status(node) is Status.SUCCESS)
        self.tick()

    def fail(self, node: str) -> None:
        (self.landing / f"fail_{node}").touch()
        self.wait_for(lambda: self.status(node) is Status.FAILURE)
        self.tick()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for node in self.node_ids:  # let any waiting script end before the engine kills it
            (self.landing / f"done_{node}").touch()
        self.engine.close()

    # -- what an operator reads ----------------------------------------------------

    def instance(self, node: str, nth: int = 0) -> InstanceInfo:
        items = self.backend.list_instances(
            InstanceFilter(node=node, kind=InstanceKind.PERIODIC, bizdate=BIZDATE)
        ).items
        return items[nth]

    def status(self, node: str) -> Status:
        return self.instance(node).status

    def baseline(self, name: str = "morning", cycle: int = 1) -> BaselineDetail:
        return self.backend.get_baseline(name, BIZDATE, cycle)

    def events(self) -> list[EventInfo]:
        return sorted(self.backend.list_events(), key=lambda e: e.id)


@pytest.fixture
def world(tmp_path: Path, store: Database) -> Iterator[Callable[..., World]]:
    made: list[World] = []

    def make(yaml_text: str, *, start: datetime = START, **kwargs: object) -> World:
        made.append(World(store, tmp_path / "ws", yaml_text, start=start, **kwargs))
        return made[-1]

    yield make
    for item in made:
        item.close()


# The chain of the spec 7.4 vector: A (daily 00:30) -> B -> C, C in a baseline committed
# 06:00 with a 30 minute margin (alert 05:30); A, B, C usually take 60, 120, 90 minutes.
VECTOR = (
    "nodes:\n"
    + shell("A", "00 30 00 * * ?")
    + shell("B", "00 30 00 * * ?", ("A",))
    + shell("C", "00 30 00 * * ?", ("B",))
    + """
baselines:
  - {name: morning, committed_time: "06:00", margin: 30, nodes: [C]}
"""
)
AVERAGES = {"A": 60, "B": 120, "C": 90}


def key_nodes(detail: BaselineDetail) -> list[str]:
    return [step.instance.node for step in detail.key_path]


# ---------------------------------------------------------------------------
# 7.4 the baseline vector, step by step
# ---------------------------------------------------------------------------


def test_the_baseline_vector_of_spec_7_4(world: Callable[..., World]) -> None:
    w = world(VECTOR, averages=AVERAGES)
    morning = w.baseline()
    assert morning.status.committed_at == utc(6, 0)
    assert morning.status.alert_at == utc(5, 30)
    assert morning.status.protected == 4  # C, B, A and the workspace root they hang off

    # 00:30: A starts; prediction 00:30 + 60 + 120 + 90 minutes = 05:00, safe
    w.go(at(0, 30))
    assert w.status("A") is Status.RUNNING
    morning = w.baseline()
    assert (morning.status.status, morning.status.predicted_finish) == (SAFE, utc(5, 0))
    assert not morning.status.finished
    assert key_nodes(morning) == ["ws_root", "A", "B", "C"]
    assert morning.status.key_instance.node == "A"
    assert [(s.est_start, s.est_finish) for s in morning.key_path[1:]] == [
        (utc(0, 30), utc(1, 30)),
        (utc(1, 30), utc(3, 30)),
        (utc(3, 30), utc(5, 0)),
    ]
    assert w.events() == []

    # A runs long. At 02:00 it has run 90 minutes = 1.5 x its average: not yet slow, and
    # C at 02:00 + 120 + 90 = 05:30 is exactly the alert time: still safe.
    w.go(at(2, 0))
    assert [e.kind for e in w.events()] == []
    morning = w.baseline()
    assert (morning.status.status, morning.status.predicted_finish) == (SAFE, utc(5, 30))
    # past 02:00 it is slow (the monitor looks at least once a simulated minute)
    w.go(at(2, 1))
    [slow] = w.events()
    assert (slow.kind, slow.status, slow.node, slow.baseline) == ("SLOW", "NEW", "A", "morning")
    assert slow.instance_id == w.instance("A").id
    assert utc(2, 0) < slow.created_at <= utc(2, 1)
    assert slow.message == f"A #{slow.instance_id} has run 1h31m, usually 1h00m"
    assert w.baseline().status.status == WARNING  # 02:01 + 210 minutes = 05:31

    # A finishes at 02:10: B starts, C is predicted at 02:10 + 120 + 90 = 05:40
    w.go(at(2, 10))
    w.finish("A")
    assert w.status("B") is Status.RUNNING
    morning = w.baseline()
    assert (morning.status.status, morning.status.predicted_finish) == (WARNING, utc(5, 40))
    assert morning.status.key_instance.node == "B"
    assert [(s.instance.node, s.est_start, s.est_finish) for s in morning.key_path[1:]] == [
        ("A", utc(0, 30), utc(2, 10)),  # actual times once finished
        ("B", utc(2, 10), utc(4, 10)),
        ("C", utc(4, 10), utc(5, 40)),
    ]
    assert morning.status.slack_minutes == 20
    [slow] = w.events()
    assert slow.status == "RECOVER"  # its instance succeeded
    assert [e.kind for e in morning.events] == ["SLOW"]

    # B takes 140 minutes (not slow: under 1.5 x 120); C then needs 90: 06:00
    w.go(at(4, 30))
    w.finish("B")
    morning = w.baseline()
    assert (morning.status.status, morning.status.predicted_finish) == (WARNING, utc(6, 0))
    assert morning.status.key_instance.node == "C"
    # at the committed time it is not yet over; once it passed, it is
    w.go(at(6, 0))
    assert w.baseline().status.status == WARNING
    w.go(at(6, 1))
    morning = w.baseline()
    assert (morning.status.status, morning.status.finished) == (OVER, False)
    assert morning.status.predicted_finish == utc(6, 1)  # running past its average: now

    # C finishes at 06:05, after the committed time: breached, and finished
    w.go(at(6, 5))
    w.finish("C")
    morning = w.baseline()
    assert (morning.status.status, morning.status.finished) == (OVER, True)
    assert morning.status.predicted_finish == utc(6, 5)
    assert morning.status.key_instance is None
    assert key_nodes(morning) == ["ws_root", "A", "B", "C"]
    assert [e.kind for e in w.events()] == ["SLOW"]  # B and C were never slow
    # later looks change nothing
    w.go(at(9, 0))
    assert w.baseline().status.status == OVER


def test_the_list_shows_each_baseline_with_its_key_instance(world: Callable[..., World]) -> None:
    w = world(VECTOR, averages=AVERAGES)
    w.go(at(0, 30))
    [morning] = w.backend.list_baselines(BIZDATE)
    assert (morning.name, morning.bizdate, morning.cycle, morning.type) == (
        "morning",
        BIZDATE,
        1,
        "DAILY",
    )
    assert morning.nodes == ("C",)
    assert morning.key_instance.id == w.instance("A").id
    assert morning.slack_minutes == 60
    assert w.backend.list_baselines(date(2025, 10, 30)) == []
    with pytest.raises(ActionRefused, match="no baseline 'evening'"):
        w.backend.get_baseline("evening", BIZDATE)


def test_an_error_on_the_key_path_raises_an_event_that_recovers_on_rerun(
    world: Callable[..., World],
) -> None:
    w = world(VECTOR, averages=AVERAGES)
    w.go(at(0, 30))
    w.finish("A")
    w.go(at(1, 0))
    w.fail("B")
    [error] = w.events()
    b = w.instance("B")
    assert (error.kind, error.status, error.node, error.instance_id) == ("ERROR", "NEW", "B", b.id)
    assert error.created_at == utc(1, 0)
    assert "failed" in error.message
    morning = w.baseline().status
    assert morning.key_instance.id == b.id
    # failed with no automatic rerun left: it will not run again by itself, so the baseline
    # is blocked, at risk, its finish unknown; rerun now, C would finish at now + 120 + 90
    assert (morning.status, morning.predicted_finish) == ("WARNING", None)
    assert [(x.id, x.status) for x in morning.blocked_by] == [(b.id, Status.FAILURE)]
    assert morning.if_rerun_now == utc(4, 30)

    w.go(at(1, 5))
    w.backend.rerun([b.id])
    w.wait_for(lambda: w.status("B") is Status.RUNNING)
    assert [e.status for e in w.events()] == ["NEW"]  # running again is not recovered yet
    w.go(at(3, 0))
    w.finish("B")
    [error] = w.events()
    assert (error.status, error.updated_by, error.updated_at) == ("RECOVER", "scheduler", utc(3))
    assert w.baseline().events[0].status == "RECOVER"


def test_an_error_off_the_key_path_raises_no_event(world: Callable[..., World]) -> None:
    """Events are for key-path instances: a failed branch that is not the latest is not one."""
    text = (
        "nodes:\n"
        + shell("fast", "00 30 00 * * ?", rerun_times=1, rerun_interval=600)
        + shell("slow", "00 30 00 * * ?")
        + shell("join", "00 30 00 * * ?", ("fast", "slow"))
        + "baselines:\n  - {name: morning, committed_time: '09:00', nodes: [join]}\n"
    )
    w = world(text, averages={"fast": 10, "slow": 300, "join": 10})
    w.go(at(0, 30))
    w.fail("fast")  # at 00:30, rerun by itself at 00:40, it would end 00:50; slow ends 05:30
    morning = w.baseline()
    assert key_nodes(morning) == ["ws_root", "slow", "join"]
    assert w.events() == []


def test_a_failure_that_blocks_is_on_the_key_path_and_raises_an_error_event(
    world: Callable[..., World],
) -> None:
    """No automatic rerun left: join waits on fast for ever, whatever slow's finish says."""
    text = (
        "nodes:\n"
        + shell("fast", "00 30 00 * * ?")
        + shell("slow", "00 30 00 * * ?")
        + shell("join", "00 30 00 * * ?", ("fast", "slow"))
        + "baselines:\n  - {name: morning, committed_time: '09:00', nodes: [join]}\n"
    )
    w = world(text, averages={"fast": 10, "slow": 300, "join": 10})
    w.go(at(0, 30))
    w.fail("fast")
    morning = w.baseline()
    assert key_nodes(morning) == ["ws_root", "fast", "join"]
    assert morning.status.key_instance.node == "fast"
    assert [b.node for b in morning.status.blocked_by] == ["fast"]
    [error] = w.events()
    assert (error.kind, error.node) == ("ERROR", "fast")
    assert "blocks the baseline" in error.message


def test_operators_handle_events_and_every_move_is_audited(world: Callable[..., World]) -> None:
    w = world(VECTOR, averages=AVERAGES)
    w.go(at(0, 30))
    w.fail("A")  # ERROR on A
    w.go(at(0, 35))
    w.backend.rerun([w.instance("A").id])
    w.wait_for(lambda: w.status("A") is Status.RUNNING)
    w.go(at(2, 45))  # A has run 130 minutes: SLOW on A
    first, second = w.events()
    assert [(e.kind, e.status) for e in (first, second)] == [("ERROR", "NEW"), ("SLOW", "NEW")]

    result = w.backend.handle_event(first.id, "FIXING")
    assert "NEW -> FIXING" in result.message
    [fixing] = [e for e in w.events() if e.id == first.id]
    assert (fixing.status, fixing.updated_by, fixing.updated_at) == ("FIXING", "alice", utc(2, 45))
    w.backend.handle_event(first.id, "RECOVER")
    w.backend.handle_event(second.id, "IGNORE")
    assert [e.status for e in w.events()] == ["RECOVER", "IGNORE"]

    refusals = [
        (first.id, "FIXING", "is RECOVER: already recovered, it is finished and nothing more"),
        (second.id, "RECOVER", "is IGNORE: already ignored, it is finished and nothing more"),
        (second.id, "NEW", "is IGNORE"),
        (99999, "FIXING", "no event #99999 in workspace ws"),
    ]
    for event_id, status, reason in refusals:
        with pytest.raises(ActionRefused, match=reason):
            w.backend.handle_event(event_id, status)
    assert [e.status for e in w.events()] == ["RECOVER", "IGNORE"]
    # an ignored event stays ignored when its instance succeeds
    w.finish("A")
    assert [e.status for e in w.events()] == ["RECOVER", "IGNORE"]

    audit = [a for a in reversed(w.backend.audit_log()) if a.action == "handle event"]
    assert [(a.targets, a.outcome) for a in audit] == [
        ([first.id, "FIXING"], "ok"),
        ([first.id, "RECOVER"], "ok"),
        ([second.id, "IGNORE"], "ok"),
        *[([event_id, status], "refused") for event_id, status, _ in refusals],
    ]
    assert all(a.user == "alice" for a in audit)


def test_fixing_moves_to_recover_when_the_scheduler_sees_the_instance_succeed(
    world: Callable[..., World],
) -> None:
    w = world(VECTOR, averages=AVERAGES)
    w.go(at(0, 30))
    w.fail("A")
    [error] = w.events()
    w.backend.handle_event(error.id, "FIXING")
    w.go(at(0, 40))
    w.backend.rerun([w.instance("A").id])
    w.wait_for(lambda: w.status("A") is Status.RUNNING)
    w.finish("A")
    [error] = w.events()
    assert (error.status, error.updated_by) == ("RECOVER", "scheduler")
    with pytest.raises(ActionRefused, match="is RECOVER"):
        w.backend.handle_event(error.id, "DONE")


# ---------------------------------------------------------------------------
# 7.2 / 7.3 the prediction itself (pure)
# ---------------------------------------------------------------------------

NOW = utc(2, 0)
HALF_PAST = utc(0, 30)
ALERT, COMMITTED = utc(5, 30), utc(6, 0)


def inst(
    id_: int,
    *,
    status: Status = Status.NOT_RUN,
    due: datetime = HALF_PAST,
    avg: float = 60,
    up: tuple[int, ...] = (),
    output: bool = False,
    started: datetime | None = None,
    finished: datetime | None = None,
) -> Protected:
    return Protected(
        id_, f"n{id_}", due, status, started, finished, timedelta(minutes=avg), up, output
    )


def test_prediction_is_error_when_there_is_nothing_to_predict() -> None:
    frozen = [inst(1), inst(2, status=Status.FROZEN, up=(1,), output=True)]
    result = predict(frozen, NOW, alert_at=ALERT, committed_at=COMMITTED)
    assert (result.status, result.finish, result.key_path) == ("ERROR", None, [])
    no_outputs = predict([inst(1)], NOW, alert_at=ALERT, committed_at=COMMITTED)
    assert no_outputs.status == "ERROR"
    # one frozen output of two is a prediction like any other
    mixed = frozen + [inst(3, output=True)]
    assert predict(mixed, NOW, alert_at=ALERT, committed_at=COMMITTED).status != "ERROR"


def test_finished_outputs_use_their_actual_finish() -> None:
    done = inst(1, status=Status.SUCCESS, started=utc(0, 30), finished=utc(0, 31), output=True)
    result = predict([done], NOW, alert_at=ALERT, committed_at=COMMITTED)
    assert (result.finish, result.finished, result.status) == (utc(0, 31), True, SAFE)
    assert result.key_instance is None
    # the average does not matter once it finished, nor does the time now
    late = predict([done], utc(23, 0), alert_at=ALERT, committed_at=COMMITTED)
    assert (late.finish, late.status) == (utc(0, 31), SAFE)


def test_running_failed_and_waiting_instances() -> None:
    running = inst(1, status=Status.RUNNING, started=utc(1, 30), avg=60)
    failed = inst(2, status=Status.FAILURE, started=utc(0, 30), finished=utc(0, 40), avg=30)
    failed = dataclasses.replace(failed, retry_at=utc(2, 10))  # an automatic rerun pending
    waiting = inst(3, up=(1, 2), due=utc(0, 0), avg=45, output=True)
    result = predict([waiting, failed, running], NOW, alert_at=ALERT, committed_at=COMMITTED)
    assert result.est_finish[1] == utc(2, 30)  # start + average
    assert result.est_finish[2] == utc(2, 40)  # failed, rerun by itself: retry + average
    assert result.est_start[3] == utc(2, 40)  # after both parents
    assert result.finish == utc(3, 25) and result.blocked_by == ()
    # no automatic rerun left: blocked, never predicted to run again by itself
    exhausted = dataclasses.replace(failed, retry_at=None)
    result = predict([waiting, exhausted, running], NOW, alert_at=ALERT, committed_at=COMMITTED)
    assert (result.finish, result.status, result.blocked_by) == (None, WARNING, (2,))
    assert result.if_rerun_now == utc(3, 15)  # rerun now: 02:00 + 30, then 45
    assert result.key_path == [2, 3] and result.key_instance == 2
    late = predict([waiting, exhausted, running], utc(6, 1), alert_at=ALERT, committed_at=COMMITTED)
    assert late.status == OVER  # blocked past the committed time
    frozen = dataclasses.replace(failed, status=Status.FROZEN)
    result = predict([waiting, frozen, running], NOW, alert_at=ALERT, committed_at=COMMITTED)
    assert result.blocked_by == (2,) and result.finish is None
    # running past its average: predicted to end now, not in the past
    result = predict([waiting, failed, running], utc(4, 0), alert_at=ALERT, committed_at=COMMITTED)
    assert result.est_finish[1] == utc(4, 0)
    # not started and nothing upstream: at its cyctime, or now if that passed
    alone = inst(4, due=utc(3, 0), avg=10, output=True)
    assert predict([alone], NOW, alert_at=ALERT, committed_at=COMMITTED).finish == utc(3, 10)
    assert predict([alone], utc(4), alert_at=ALERT, committed_at=COMMITTED).finish == utc(4, 10)


@pytest.mark.parametrize(
    ("finished", "expected"),
    [
        (utc(5, 30), SAFE),  # at the alert time: safe
        (utc(5, 30, 1), WARNING),
        (utc(6, 0), WARNING),  # at the committed time: not breached
        (utc(6, 0, 1), OVER),
    ],
)
def test_status_of_a_finished_baseline_at_the_boundaries(finished: datetime, expected: str) -> None:
    done = inst(1, status=Status.SUCCESS, started=utc(5, 0), finished=finished, output=True)
    result = predict([done], utc(7, 0), alert_at=ALERT, committed_at=COMMITTED)
    assert (result.status, result.finished) == (expected, True)


@pytest.mark.parametrize(
    ("now", "start", "average", "expected"),
    [
        (utc(5, 10), utc(5, 0), 30, SAFE),  # predicted exactly at the alert time
        (utc(5, 10), utc(5, 0, 1), 30, WARNING),  # predicted a second after it
        (utc(5, 30), utc(5, 0), 30, SAFE),  # predicted 05:30 and it is 05:30 now
        (utc(5, 30, 1), utc(5, 0), 30, WARNING),  # not done and the alert time passed
        (utc(5, 10), utc(5, 0), 90, WARNING),  # predicted after the committed time: warning
        (utc(6, 0), utc(5, 0), 30, WARNING),  # at the committed time, not yet over
        (utc(6, 0, 1), utc(5, 0), 30, OVER),  # unfinished once the committed time passed
    ],
)
def test_status_of_an_unfinished_baseline_at_the_boundaries(
    now: datetime, start: datetime, average: float, expected: str
) -> None:
    running = inst(1, status=Status.RUNNING, started=start, avg=average, output=True)
    result = predict([running], now, alert_at=ALERT, committed_at=COMMITTED)
    assert (result.status, result.finished) == (expected, False)


def test_a_diamond_in_one_topological_pass_and_the_key_path_takes_the_later_parent() -> None:
    #        1 (root, done 00:30)
    #      /   \
    #  2 (30m)  3 (90m)
    #      \   /
    #        4 (20m, output)  <- 5 (10m, output, after 2 only)
    root = inst(1, status=Status.SUCCESS, started=utc(0, 30), finished=utc(0, 30))
    left, right = inst(2, up=(1,), avg=30), inst(3, up=(1,), avg=90)
    join = inst(4, up=(2, 3), avg=20, output=True)
    other = inst(5, up=(2,), avg=10, output=True)
    items = [other, join, right, left, root]  # children listed before their parents
    result = predict(items, utc(0, 30), alert_at=ALERT, committed_at=COMMITTED)
    assert result.est_finish == {
        1: utc(0, 30),
        2: utc(1, 0),
        3: utc(2, 0),
        4: utc(2, 20),
        5: utc(1, 10),
    }
    assert result.est_start[4] == utc(2, 0)  # waits for the later parent
    assert result.finish == utc(2, 20)  # the latest output
    assert result.key_path == [1, 3, 4]
    assert result.key_instance == 3
    # swap the durations: the key path follows
    left, right = inst(2, up=(1,), avg=90), inst(3, up=(1,), avg=30)
    result = predict(
        [other, join, right, left, root], utc(0, 30), alert_at=ALERT, committed_at=COMMITTED
    )
    assert result.key_path == [1, 2, 4]


def test_prediction_is_linear_a_long_chain_predicts_at_once() -> None:
    count = 20_000
    chain = [inst(1, avg=1)] + [inst(i, up=(i - 1,), avg=1) for i in range(2, count + 1)]
    chain[-1] = inst(count, up=(count - 1,), avg=1, output=True)
    begin = time.process_time()  # this process's CPU: other work on the machine does not count
    result = predict(chain[::-1], utc(0, 0), alert_at=ALERT, committed_at=COMMITTED)
    assert time.process_time() - begin < 2.0  # generous: a quadratic pass would take minutes
    assert result.finish == utc(0, 30) + timedelta(minutes=count)
    assert len(result.key_path) == count and result.key_instance == 1


@pytest.mark.parametrize(
    ("elapsed", "average", "slow"),
    [
        (90, 60, False),  # exactly 1.5 x
        (90 + 1 / 60, 60, True),
        (15.5, 10, False),  # over 1.5 x but only 5.5 minutes over
        (19.99, 10, False),
        (20, 10, True),  # 10 minutes over: enough
        (14, 4, True),
        (13.9, 4, False),
        (0.5, 0, False),  # a node that takes no time is slow only 10 minutes in
        (10, 0, True),
    ],
)
def test_is_slow_thresholds_of_decision_13_10(elapsed: float, average: float, slow: bool) -> None:
    assert is_slow(timedelta(minutes=elapsed), timedelta(minutes=average)) is slow


# ---------------------------------------------------------------------------
# 7.2 duration history (DuckDB)
# ---------------------------------------------------------------------------


def test_history_mean_of_the_last_10_successes_percentiles_and_trend_of_the_last_30() -> None:
    history = DurationHistory()
    durations = [float(1000 + n) for n in range(10)] + [float(n) for n in range(1, 31)]
    base = datetime(2025, 9, 1)
    rows = [Finished(n + 1, 7, base + timedelta(days=n), d) for n, d in enumerate(durations)]
    # inserted out of order (ids too): "last" is by finish time
    history.add(rows[::2] + rows[1::2])
    stats = history.stats[7]
    last30 = durations[-30:]  # 1..30: the ten outliers are older than the last 30
    assert stats.recent == tuple(last30)
    assert stats.samples == 30
    assert stats.mean == pytest.approx(statistics.mean(last30[-10:]))  # 21..30 -> 25.5
    assert stats.p50 == pytest.approx(statistics.quantiles(last30, n=100, method="inclusive")[49])
    assert stats.p90 == pytest.approx(statistics.quantiles(last30, n=100, method="inclusive")[89])
    assert history.average(7) == timedelta(seconds=25.5)
    history.close()


def test_history_is_ordered_by_finish_time_not_by_attempt_id() -> None:
    history = DurationHistory()
    base = datetime(2025, 9, 1)
    # attempt 100 finished first; the last ten finishes are ids 1..10 (60 s each)
    history.add([Finished(100, 3, base, 6000.0)])
    history.add([Finished(n, 3, base + timedelta(hours=n), 60.0) for n in range(1, 11)])
    assert history.average(3) == timedelta(seconds=60)
    assert history.stats[3].recent[0] == 6000.0
    history.close()


def test_a_node_without_history_uses_the_default() -> None:
    history = DurationHistory()
    assert timedelta(minutes=10) == DEFAULT_DURATION
    assert history.average(42) == DEFAULT_DURATION
    assert history.average(42, default=timedelta(0)) == timedelta(0)
    history.add([Finished(1, 41, datetime(2025, 9, 1), 30.0)])
    assert history.average(42) == DEFAULT_DURATION
    assert history.average(41) == timedelta(seconds=30)
    history.close()


def test_statistics_come_from_the_duckdb_table(tmp_path: Path) -> None:
    path = tmp_path / "history.duckdb"
    history = DurationHistory(path)
    assert history.add_bulk(Finished(n, 5, datetime(2025, 9, 1, n), 100.0 * n) for n in range(1, 4))
    assert history.stats == {}  # a bulk load does not refresh by itself
    assert [s.node_id for s in history.refresh()] == [5]
    assert history.average(5) == timedelta(seconds=200)
    # rows put into the table by any means are what the statistics say
    history.duck.execute("INSERT INTO history VALUES (9, 5, TIMESTAMP '2025-09-02', 1400)")
    history.refresh([5])
    assert history.stats[5].mean == pytest.approx(500.0)
    assert history.last_attempt_id() == 9
    # the same attempt twice counts once
    history.add([Finished(9, 5, datetime(2025, 9, 2), 1400.0)])
    assert history.stats[5].samples == 4
    history.close()
    reopened = DurationHistory(path)  # kept on disk beside the store
    assert reopened.refresh()[0].samples == 4
    reopened.close()


# -- the scheduler keeps it, and the store's node_stats ----------------------------------

QUICK = """
nodes:
  - {name: quick, type: shell, code: "true", trigger: {cron: "00 30 00 * * ?"}}
  - {name: gate, type: virtual, trigger: {cron: "00 40 00 * * ?"}, depends: [quick]}
  - {name: after, type: shell, code: "true", trigger: {cron: "00 40 00 * * ?"}, depends: [gate]}
baselines:
  - {name: morning, committed_time: "06:00", nodes: [after]}
"""


def node_stats(store: Database, node_id: int) -> NodeStatsRow | None:
    with store.connect() as conn:
        return conn.execute(
            select(NodeStatsRow).where(NodeStatsRow.node_id == node_id)
        ).one_or_none()


def test_node_stats_are_published_when_attempts_finish(
    world: Callable[..., World], store: Database
) -> None:
    w = world(QUICK, averages={"quick": 20})
    quick = w.node_ids["quick"]
    published = node_stats(store, quick)
    assert (published.samples, published.mean) == (10, 1200.0)  # the seeded history, at start
    w.go(at(0, 30))
    w.wait_for(lambda: w.status("quick") is Status.SUCCESS)
    w.tick()
    published = node_stats(store, quick)
    assert published.samples == 11
    assert published.recent[-1] == 0.0  # the manual clock did not move while it ran
    assert published.mean == pytest.approx(9 * 1200 / 10)
    assert published.updated_at == utc(0, 30)
    assert w.engine.sla.history.stats[quick].samples == 11


def test_a_virtual_node_is_predicted_to_take_no_time(world: Callable[..., World]) -> None:
    """A virtual node never runs, so it never has a history: its duration is 0, not the default."""
    w = world(QUICK, averages={"quick": 20, "after": 30})
    morning = w.baseline()
    # quick 00:30 + 20 = 00:50, gate adds nothing, after 00:50 + 30 = 01:20
    assert morning.status.predicted_finish == utc(1, 20)
    assert key_nodes(morning) == ["ws_root", "quick", "gate", "after"]


def test_sync_brings_attempts_finished_while_no_scheduler_ran(
    world: Callable[..., World], store: Database, tmp_path: Path
) -> None:
    w = world(QUICK)
    w.go(at(0, 40))
    w.wait_for(lambda: w.status("after") is Status.SUCCESS)
    w.close()
    # attempts this history never saw (another scheduler wrote them, or its file was lost)
    history = DurationHistory(tmp_path / "elsewhere.duckdb")
    assert sync(history, store, w.workspace_id) == 2  # quick and after; gate never ran
    assert {s.node_id for s in history.refresh()} == {w.node_ids["quick"], w.node_ids["after"]}
    assert sync(history, store, w.workspace_id) == 0  # nothing new
    assert list(successes_since(store, w.workspace_id, history.last_attempt_id())) == []
    history.close()

    # a scheduler whose history file was lost catches up from the store when it starts,
    # and publishes the statistics again
    (w.landing.parent / "history.duckdb").unlink()
    with store.begin() as conn:
        conn.execute(delete(NodeStatsRow))
    again = Engine(store, w.workspace_id, ManualClock(at(1, 0)))
    try:
        again.start()
        assert again.sla.history.stats[w.node_ids["quick"]].samples == 1
        assert node_stats(store, w.node_ids["quick"]).samples == 1
        assert node_stats(store, w.node_ids["after"]).samples == 1
    finally:
        again.close()


# ---------------------------------------------------------------------------
# 7.1 hourly baselines
# ---------------------------------------------------------------------------


def test_an_hourly_baseline_has_one_instance_per_cycle(world: Callable[..., World]) -> None:
    text = """
    nodes:
      - {name: hourly, type: shell, code: "true", trigger: {cron: "00 00 01-03/1 * * ?"}}
    baselines:
      - name: every_hour
        type: HOURLY
        margin: 10
        committed_time: ["01:30", "02:30", "27:30"]
        nodes: [hourly]
    """
    w = world(text, averages={"hourly": 5})
    found = w.backend.list_baselines(BIZDATE)
    assert [(b.name, b.cycle, b.type) for b in found] == [
        ("every_hour", 1, "HOURLY"),
        ("every_hour", 2, "HOURLY"),
        ("every_hour", 3, "HOURLY"),
    ]
    assert [b.committed_at for b in found] == [
        utc(1, 30),
        utc(2, 30),
        utc(3, 30, day=date(2025, 11, 2)),  # 27:30 is the next day
    ]
    assert [b.alert_at for b in found] == [c.committed_at - timedelta(minutes=10) for c in found]
    assert [b.predicted_finish for b in found] == [utc(1, 5), utc(2, 5), utc(3, 5)]
    assert all(b.protected == 2 for b in found)  # its own cycle's instance and the root
    hourly = w.backend.list_instances(InstanceFilter(node="hourly", bizdate=BIZDATE)).items
    for cycle, instance in enumerate(hourly, start=1):
        detail = w.baseline("every_hour", cycle)
        assert detail.key_path[-1].instance.id == instance.id
    w.go(at(1, 0))
    w.wait_for(lambda: w.baseline("every_hour", 1).status.finished)
    assert [b.finished for b in w.backend.list_baselines(BIZDATE)] == [True, False, False]


# ---------------------------------------------------------------------------
# the command line
# ---------------------------------------------------------------------------


def test_baselines_and_the_key_path_gantt_on_the_command_line(
    world: Callable[..., World], store: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    w = world(VECTOR, averages=AVERAGES)
    w.go(at(0, 30))
    where = ["--workspace", str(w.folder), "--db", str(store.url)]
    capsys.readouterr()

    assert main(["baselines", *where, "--json"], clock=w.clock) == 0  # default: yesterday
    [listed] = json.loads(capsys.readouterr().out)
    assert (listed["name"], listed["status"]) == ("morning", "SAFE")
    assert listed["bizdate"] == "2025-10-31"
    assert listed["committed_at"] == "2025-11-01T06:00:00+00:00"
    assert listed["predicted_finish"] == "2025-11-01T05:00:00+00:00"
    assert listed["key_instance"]["node"] == "A"

    assert main(["baselines", *where, "--bizdate", "2025-10-31"], clock=w.clock) == 0
    out = capsys.readouterr().out
    assert "✓" in out and "SAFE" in out and "commit 06:00" in out and "05:00" in out

    assert main(["baseline", "morning", *where, "--keypath"], clock=w.clock) == 0
    out = capsys.readouterr().out
    assert "✓ SAFE" in out and "committed 06:00" in out and "alert 05:30" in out
    rows = {line.split()[2]: line for line in out.splitlines() if "|" in line}
    assert set(rows) == {"ws_root", "A", "B", "C"}
    assert "00:30-01:30" in rows["A"] and "03:30-05:00" in rows["C"]
    bars = {node: row[row.index("|") + 1 : row.rindex("|")] for node, row in rows.items()}
    assert all("█" in bars[n] for n in ("A", "B", "C"))
    starts = [bars[n].index("█") for n in ("A", "B", "C")]
    assert starts == sorted(starts) and starts[0] < starts[2]  # later steps start later

    # a breached baseline reads as such
    w.go(at(6, 1))
    assert main(["baseline", "morning", *where, "--bizdate", "2025-10-31"], clock=w.clock) == 0
    assert "✗ OVER" in capsys.readouterr().out
    assert main(["baseline", "evening", *where], clock=w.clock) == 4
    assert "no baseline 'evening'" in capsys.readouterr().err


def test_events_and_handling_them_on_the_command_line(
    world: Callable[..., World], store: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    w = world(VECTOR, averages=AVERAGES)
    w.go(at(0, 30))
    w.fail("A")
    where = ["--workspace", str(w.folder), "--db", str(store.url)]
    capsys.readouterr()
    assert main(["events", *where, "--json"], clock=w.clock) == 0
    [event] = json.loads(capsys.readouterr().out)
    assert (event["kind"], event["status"], event["node"]) == ("ERROR", "NEW", "A")
    assert main(["event", str(event["id"]), "fixing", *where], clock=w.clock) == 0
    capsys.readouterr()
    assert main(["events", "--open", *where], clock=w.clock) == 0
    out = capsys.readouterr().out
    assert f"#{event['id']}" in out and "ERROR" in out and "FIXING" in out and "morning" in out
    assert main(["event", str(event["id"]), "recover", *where], clock=w.clock) == 0
    assert main(["events", "--open", *where], clock=w.clock) == 0
    assert "no events" in capsys.readouterr().out
    assert main(["event", str(event["id"]), "ignore", *where], clock=w.clock) == 3
    assert "refused: event" in capsys.readouterr().err


def test_a_baseline_whose_outputs_are_all_frozen_is_error(world: Callable[..., World]) -> None:
    w = world(VECTOR, averages=AVERAGES)
    w.go(at(0, 30))
    w.backend.freeze([w.instance("C").id])
    w.tick()
    morning = w.baseline()
    assert (morning.status.status, morning.status.predicted_finish) == ("ERROR", None)
    w.backend.unfreeze([w.instance("C").id])
    w.tick()
    assert w.baseline().status.status == SAFE


# ---------------------------------------------------------------------------
# what an action would do to the baselines (the confirm's impact line)
# ---------------------------------------------------------------------------


def impact_lines(w: World, action: str, node: str, downstream: bool = False) -> list[str]:
    found = w.backend.baseline_impact(action, [w.instance(node).id], downstream)
    return [i.describe(UTC) for i in found]


def a_finished_day(world: Callable[..., World]) -> World:
    """The vector run to its end (A 00:30-01:30, B to 03:30, C to 05:00) and D beside it,
    which no baseline protects; the clock at 05:10."""
    w = world(
        VECTOR.replace("baselines:", shell("D", "00 30 00 * * ?") + "baselines:"),
        averages=AVERAGES,
    )
    w.go(at(0, 30))
    w.go(at(1, 30))
    w.finish("A")
    w.go(at(3, 30))
    w.finish("B")
    w.go(at(5, 0))
    w.finish("C")
    w.finish("D")
    assert (w.baseline().status.status, w.baseline().status.finished) == (SAFE, True)
    w.go(at(5, 10))
    return w


def test_rerun_with_downstream_after_the_day_is_done_says_the_baseline_goes_over(
    world: Callable[..., World],
) -> None:
    w = a_finished_day(world)
    audited = len(w.backend.audit_log())

    # A and everything below it start again at 05:10: 60 + 120 + 90 minutes
    assert impact_lines(w, "rerun", "A", downstream=True) == [
        "Baseline morning: finished 05:00 → predicted 09:40 (WARNING, will be OVER by 3h40m)"
    ]
    # A alone: B and C keep their finished runs, so the baseline keeps its finish
    assert impact_lines(w, "rerun", "A") == [
        "Baseline morning: still finished 05:00 (SAFE, 1h00m to spare)"
    ]
    assert impact_lines(w, "rerun", "D", downstream=True) == []  # no baseline protects D
    # a prediction only: nothing moved, nothing audited, the stored baseline as it was
    assert [w.status(n) for n in "ABCD"] == [Status.SUCCESS] * 4
    assert len(w.backend.audit_log()) == audited
    assert w.baseline().status.finished and w.baseline().status.predicted_finish == utc(5, 0)


def test_rerun_preview_on_the_command_line_names_the_baseline_and_does_nothing(
    world: Callable[..., World], store: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    w = a_finished_day(world)
    where = ["--workspace", str(w.folder), "--db", str(store.url)]
    a, b, c = (w.instance(n).id for n in "ABC")
    capsys.readouterr()
    assert main(["rerun", str(a), "--downstream", "--preview", *where], clock=w.clock) == 0
    assert capsys.readouterr().out.splitlines() == [
        "rerun downstream preview: 3 instances would be reset to NOT_RUN and rerun; "
        "nothing was done",
        f"  instances: {a}, {b}, {c}",
        "  Baseline morning: finished 05:00 → predicted 09:40 (WARNING, will be OVER by 3h40m)"
        " · times in UTC",
    ]
    assert main(["rerun", str(w.instance("D").id), "--preview", *where], clock=w.clock) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "  No baseline protects these instances"
    assert main(["rerun", str(a), "--preview", "--json", *where], clock=w.clock) == 0
    told = json.loads(capsys.readouterr().out)
    assert (told["affected"], told["extra"]["baselines"]) == (
        [a],
        ["Baseline morning: still finished 05:00 (SAFE, 1h00m to spare) · times in UTC"],
    )
    assert [w.status(n) for n in "ABC"] == [Status.SUCCESS] * 3
    assert all(e.action != "rerun" for e in w.backend.audit_log())


async def test_the_rerun_confirm_says_what_happens_to_the_baseline(
    world: Callable[..., World],
) -> None:
    w = a_finished_day(world)
    app = OpsApp(w.backend, start="instances")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.open_instance(w.instance("A").id)
        await settle(pilot)
        await pilot.press("R")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        text = " ".join(line.strip(" │┃") for line in screen_text(pilot).splitlines())
        assert "1 instance and 2 downstream instances will be reset and rerun" in text
        assert (
            "Baseline morning: finished 05:00 → predicted 09:40 (WARNING, will be OVER by 3h40m)"
            in " ".join(text.split())
        ), text
        await pilot.press("enter")  # Cancel: the prediction changed nothing
        await settle(pilot)
    assert [w.status(n) for n in "ABC"] == [Status.SUCCESS] * 3


def test_set_success_freeze_and_stop_move_the_prediction_as_they_would(
    world: Callable[..., World],
) -> None:
    w = world(VECTOR, averages=AVERAGES)
    w.go(at(0, 30))
    w.go(at(1, 0))
    w.fail("A")  # no automatic rerun left: blocked; rerun now, 01:00 + 60 + 120 + 90 = 05:30
    a, b = w.instance("A").id, w.instance("B").id
    assert w.baseline().status.predicted_finish is None
    assert impact_lines(w, "set_success", "A") == [
        "Baseline morning: blocked → predicted 04:30 (SAFE, 1h30m to spare)"
    ]
    assert impact_lines(w, "rerun", "A") == [
        "Baseline morning: blocked → predicted 05:30 (SAFE, 30m to spare)"
    ]
    assert impact_lines(w, "freeze", "B") == [
        f"Baseline morning: still blocked by #{a} A ✗ FAILURE, #{b} B ❄ FROZEN"
        " · if rerun now 05:30 (WARNING)"
    ]
    w.backend.set_success([a])
    w.tick()
    assert impact_lines(w, "freeze", "C") == [
        "Baseline morning: predicted 04:30 → no prediction "
        "(ERROR: its output instances are frozen or missing)"
    ]
    # a frozen upstream blocks C: it will not run until an operator unfreezes B
    assert impact_lines(w, "freeze", "B") == [
        f"Baseline morning: predicted 04:30 → blocked by #{b} B ❄ FROZEN"
        " · if unfrozen now 04:30 (WARNING)"  # at risk until an operator acts
    ]
    w.tick()
    assert w.status("B") is Status.RUNNING
    w.go(at(2, 0))  # B has run 60 of its usual 120 minutes: stopping it costs the whole run
    assert impact_lines(w, "stop", "B") == [  # a stop leaves it failed: it waits for an operator
        f"Baseline morning: predicted 04:30 → blocked by #{b} B ✗ FAILURE"
        " · if rerun now 05:30 (WARNING)"
    ]
    assert w.status("B") is Status.RUNNING
