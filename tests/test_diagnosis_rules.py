""" "Why isn't it running?" is one rule (opscenter.domain.diagnosis) over facts each backend
gathers: the words an operator reads, for hand-built facts, and the same words from the
local store and from DataWorks (the emulator over HTTP) for the same world."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from opscenter.backends.dataworks.backend import DataWorksBackend
from opscenter.domain.diagnosis import (
    UNKNOWN,
    DiagnosisFacts,
    Freeze,
    Holder,
    Upstream,
    diagnose,
    walk_upstream,
)
from opscenter.domain.model import Status
from opscenter.domain.records import Diagnosis
from tests.harness import MakeWorld, World, at
from tests.test_dataworks_emulator import API_VERSIONS, over_dataworks

NOW = datetime(2030, 1, 5, 5, 12)  # naive UTC, as the facts keep moments
CYCTIME = datetime(2030, 1, 5, 0, 30)


def facts(status: Status = Status.NOT_RUN, **given) -> DiagnosisFacts:  # noqa: ANN003
    """An instance of node ``report`` (#10) whose time has come, in group ``etl``."""
    return DiagnosisFacts(
        **{
            "instance_id": 10,
            "node": "report",
            "status": status,
            "cyctime": CYCTIME,
            "due_at": CYCTIME,
            "now": NOW,
            "resource_group": "etl",
            **given,
        }
    )


def words(diagnosis: Diagnosis) -> list[tuple[str, bool, str]]:
    return [(s.check, s.ok, s.message) for s in diagnosis.steps]


def step(diagnosis: Diagnosis, check: str) -> tuple[bool, str]:
    found = next(s for s in diagnosis.steps if s.check == check)
    return found.ok, found.message


# -- the rule, over hand-built facts -----------------------------------------------------


def test_waiting_for_its_time_says_when_and_how_long() -> None:
    later = datetime(2030, 1, 5, 23, 0)
    diagnosis = diagnose(facts(cyctime=later, due_at=later))
    assert diagnosis.summary == "scheduled for 2030-01-05 23:00, in 17h48m"
    assert words(diagnosis) == [
        ("frozen", True, "not frozen"),
        ("upstream", True, "every upstream instance succeeded"),
        ("time", False, "scheduled for 2030-01-05 23:00, in 17h48m"),
        ("resource", True, "resource group etl"),
        ("execution", True, "has not started"),
    ]
    soon = datetime(2030, 1, 5, 5, 30)
    assert diagnose(facts(cyctime=soon, due_at=soon)).summary == (
        "scheduled for 2030-01-05 05:30, in 18m"
    )


def test_waiting_on_a_failed_upstream_names_the_deepest_blocker() -> None:
    stage = Upstream(11, "stage", Status.NOT_RUN, CYCTIME)
    broken = Upstream(12, "broken", Status.FAILURE, datetime(2030, 1, 5, 0, 15))
    fine = Upstream(13, "fine", Status.SUCCESS, CYCTIME)
    graph = {10: [stage, fine], 11: [broken], 12: []}
    diagnosis = diagnose(facts(upstream=graph))
    assert diagnosis.summary == (
        "waiting for 1 upstream instance; "
        "the deepest blocker: broken #12 (✗ FAILURE, cyctime 01-05 00:15)"
    )
    assert diagnosis.steps[1].instance_ids == (12,)
    assert diagnosis.steps[0].ok and not diagnosis.steps[1].ok
    assert step(diagnosis, "time") == (True, "its time 01-05 00:30 has come")


def test_an_upstream_not_examined_is_named_as_it_is() -> None:
    """The walk stops at its limit: what it did not read counts as the deepest blocker."""
    graph = {10: [Upstream(11 + i, f"n{i}", Status.NOT_RUN, CYCTIME) for i in range(7)]}
    diagnosis = diagnose(facts(upstream=graph))
    assert diagnosis.summary.startswith("waiting for 7 upstream instances; the deepest blockers:")
    assert diagnosis.summary.endswith("n4 #15 (○ NOT_RUN, cyctime 01-05 00:30) and 2 more")
    assert diagnosis.steps[1].instance_ids == tuple(range(11, 18))


def test_walk_upstream_reads_level_by_level_only_above_unfinished_ones() -> None:
    up = {
        10: [
            Upstream(11, "stage", Status.NOT_RUN, CYCTIME),
            Upstream(9, "ok", Status.SUCCESS, CYCTIME),
        ],
        11: [Upstream(12, "broken", Status.FAILURE, CYCTIME, cross_cycle=True)],
        12: [],
    }
    asked: list[list[int]] = []

    def read(ids):  # noqa: ANN001, ANN202
        asked.append(list(ids))
        return {i: up[i] for i in ids}

    assert walk_upstream(10, read) == {i: tuple(v) for i, v in up.items()}
    assert asked == [[10], [11], [12]]
    assert walk_upstream(10, read, limit=1) == {10: tuple(up[10])}  # stops: 1 ancestor seen


def test_frozen_says_by_whom_or_that_its_node_is_or_that_it_cannot_tell() -> None:
    by = Freeze("alice", datetime(2030, 1, 5, 2, 3))
    assert diagnose(facts(Status.FROZEN, frozen_by=by)).summary == (
        "frozen by alice at 01-05 02:03 UTC; it blocks its downstream until unfrozen"
    )
    assert diagnose(facts(Status.FROZEN, node_frozen=True)).summary == (
        "frozen (its node is frozen); it blocks its downstream until unfrozen"
    )
    over_api = facts(Status.FROZEN, frozen_by=UNKNOWN, node_frozen=False)
    assert diagnose(over_api).summary == (
        "frozen (who froze it is not visible over the API); it blocks its downstream until unfrozen"
    )
    node_paused = facts(Status.FROZEN, frozen_by=UNKNOWN, node_frozen=True)
    assert "(its node is frozen)" in diagnose(node_paused).summary
    assert words(diagnose(facts(Status.FROZEN)))[0] == (
        "frozen",
        False,
        "frozen (its node is frozen); it blocks its downstream until unfrozen",
    )


def test_a_dry_run_succeeds_without_running() -> None:
    done = diagnose(facts(Status.SUCCESS, dry_run=True))
    assert done.summary == "dry-run: succeeded without running"
    assert all(ok for _, ok, _ in words(done))
    waiting = diagnose(facts(dry_run=True, dry_run_reason="not a run day"))
    assert waiting.summary == (
        "has not started; a dry run (not a run day): it will succeed without running"
    )
    unknown_reason = diagnose(facts(dry_run=True))
    assert unknown_reason.summary == "has not started; a dry run: it will succeed without running"


def test_waiting_for_a_slot_names_the_group_and_who_holds_it() -> None:
    waiting = facts(
        Status.WAIT_RESOURCE,
        slots=2,
        waiting_since=datetime(2030, 1, 5, 5, 0),
        slot_holders=[Holder(7, "extract"), Holder(8, "load")],
    )
    diagnosis = diagnose(waiting)
    assert diagnosis.summary == (
        "waiting for a slot in resource group etl (2 slots, since 05:00 UTC); "
        "held by: extract #7; load #8"
    )
    assert diagnosis.steps[3].instance_ids == (7, 8)
    nobody = diagnose(facts(Status.WAIT_RESOURCE, slots=1, waiting_since=NOW, slot_holders=[]))
    assert nobody.summary.endswith(
        "(1 slots, since 05:12 UTC); held by: nobody (a slot frees soon)"
    )


def test_slots_not_visible_are_said_so_not_guessed() -> None:
    diagnosis = diagnose(facts(Status.WAIT_RESOURCE))  # slots, holders, since: UNKNOWN
    assert diagnosis.summary == (
        "waiting for a slot in resource group etl; who holds its slots is not visible over the API"
    )
    assert diagnosis.steps[3].instance_ids == ()


def test_a_failure_quotes_its_reason_and_says_whether_it_reruns_by_itself() -> None:
    failed = {"run_number": 1, "max_attempts": 3, "last_reason": "exit code 1: ERROR: disk full"}
    retrying = diagnose(facts(Status.FAILURE, retry_at=datetime(2030, 1, 5, 5, 13), **failed))
    assert retrying.summary == "failed: exit code 1: ERROR: disk full; auto rerun at 05:13 UTC"
    assert step(retrying, "execution") == (False, retrying.summary)

    last = diagnose(facts(Status.FAILURE, retry_at=None, **failed))
    assert last.summary == "failed: exit code 1: ERROR: disk full"
    # moments are told in the workspace's zone, labelled: 05:13 UTC is 13:13 in Shanghai
    shanghai = facts(
        Status.FAILURE,
        retry_at=datetime(2030, 1, 5, 5, 13),
        zone=ZoneInfo("Asia/Shanghai"),
        **failed,
    )
    assert diagnose(shanghai).summary.endswith("; auto rerun at 13:13 CST")

    over_api = diagnose(facts(Status.FAILURE, retry_at=UNKNOWN, **failed))
    assert over_api.summary == (
        "failed: exit code 1: ERROR: disk full; "
        "2 auto reruns left, at a time not visible over the API"
    )
    spent = {**failed, "run_number": 3}
    assert diagnose(facts(Status.FAILURE, retry_at=UNKNOWN, **spent)).summary == (
        "failed: exit code 1: ERROR: disk full"
    )
    denied = diagnose(facts(Status.FAILURE, retry_at=UNKNOWN, rerun_mode="Denied", **failed))
    assert denied.summary == "failed: exit code 1: ERROR: disk full"
    assert diagnose(facts(Status.FAILURE)).summary == "failed: stopped before it ran"


def test_running_says_for_how_long_and_which_attempt() -> None:
    running = facts(Status.RUNNING, started_at=datetime(2030, 1, 5, 4, 7), run_number=2)
    diagnosis = diagnose(running)
    assert all(ok for _, ok, _ in words(diagnosis))
    assert diagnosis.summary == "running for 1h05m (attempt 2)"


def test_success_says_how() -> None:
    assert diagnose(facts(Status.SUCCESS)).summary == "succeeded"
    by_hand = diagnose(facts(Status.SUCCESS, set_success=True))
    assert by_hand.summary == "set to success by an operator"
    assert diagnose(facts(Status.SUCCESS, set_success=UNKNOWN)).summary == "succeeded"


# -- same facts, same words: the local store and DataWorks over the emulator --------------

WORKSPACE = """
    resource_groups: [{name: one, slots: 1}]
    nodes:
      - {name: broken, type: shell, code: "echo ERROR: disk full; exit 1",
         trigger: {cron: "00 30 00 * * ?"}}
      - {name: stage, type: virtual, depends: [broken], trigger: {cron: "00 30 00 * * ?"}}
      - {name: report, type: virtual, depends: [stage], trigger: {cron: "00 30 00 * * ?"}}
      - {name: paused, type: virtual, recurrence: Pause, trigger: {cron: "00 30 00 * * ?"}}
      - {name: fine, type: shell, code: "echo fine", trigger: {cron: "00 30 00 * * ?"}}
      - {name: later, type: virtual, trigger: {cron: "00 00 05 * * ?"}}
      - {name: flaky, type: shell, code: "exit 1", rerun_times: 1, rerun_interval: 1800,
         trigger: {cron: "00 30 00 * * ?"}}
      - {name: hog, type: shell, code: "sleep 5", resource_group: one, priority: 5,
         trigger: {cron: "00 20 01 * * ?"}}
      - {name: queued, type: shell, code: "sleep 5", resource_group: one, priority: 1,
         trigger: {cron: "00 20 01 * * ?"}}
"""


@pytest.fixture
def scene(world: MakeWorld) -> World:
    """At 01:20: broken failed (report waits on it through stage), paused is frozen, fine
    succeeded, flaky failed with a rerun due at 01:30, later waits for 05:00, hog holds
    group one's one slot and queued waits for it."""
    w = world(WORKSPACE).start()
    w.clock.set(at(1, 20))
    w.tick()
    assert (w.status("hog"), w.status("queued")) == (Status.RUNNING, Status.WAIT_RESOURCE)
    return w


@pytest.fixture(**API_VERSIONS)
def remote(
    request: pytest.FixtureRequest, scene: World, tmp_path: Path
) -> Iterator[DataWorksBackend]:
    """The same world served over the DataWorks wire format on 127.0.0.1."""
    with over_dataworks(scene, request.param, tmp_path) as backend:
        yield backend


def test_same_facts_same_words(remote: DataWorksBackend, scene: World) -> None:
    for name in ("report", "paused", "fine", "broken", "later", "hog"):
        item = scene.instance(name)
        mine, theirs = remote.diagnose(item.id), scene.backend.diagnose(item.id)
        assert words(mine) == words(theirs), name
        assert mine.summary == theirs.summary, name
        assert [s.instance_ids for s in mine.steps] == [s.instance_ids for s in theirs.steps]

    report = remote.diagnose(scene.instance("report").id)
    broken = scene.instance("broken")
    assert report.summary == (
        "waiting for 1 upstream instance; "
        f"the deepest blocker: broken #{broken.id} (✗ FAILURE, cyctime 11-01 00:30)"
    )
    assert remote.diagnose(scene.instance("paused").id).summary == (
        "frozen (its node is frozen); it blocks its downstream until unfrozen"
    )
    assert remote.diagnose(scene.instance("fine").id).summary == "succeeded"
    assert remote.diagnose(broken.id).summary == "failed: exit code 1: ERROR: disk full"


def test_what_the_api_does_not_show_is_said_so(remote: DataWorksBackend, scene: World) -> None:
    queued, hog = scene.instance("queued"), scene.instance("hog")
    here = step(scene.backend.diagnose(queued.id), "resource")
    assert here == (
        False,
        f"waiting for a slot in resource group one (1 slots, since 01:20 UTC); "
        f"held by: hog #{hog.id}",
    )
    there = remote.diagnose(queued.id)
    assert step(there, "resource") == (
        False,
        "waiting for a slot in resource group one; who holds its slots is not visible over the API",
    )
    assert there.summary == step(there, "resource")[1]

    flaky = scene.instance("flaky")
    assert (
        scene.backend.diagnose(flaky.id).summary == "failed: exit code 1; auto rerun at 01:30 UTC"
    )
    assert remote.diagnose(flaky.id).summary == (
        "failed: exit code 1; 1 auto rerun left, at a time not visible over the API"
    )
