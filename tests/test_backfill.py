"""Data backfill (spec 6.3, its vectors, decision 13.6 and 13.7) through the LocalBackend.

The clock stands at 2025-11-01, so backfills of March 2025 are in the past and
run as soon as their date's run starts. Instances of a run are created when the
run starts, so their ids tell the order in which the dates ran.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime

import pytest

from opscenter.domain.model import InstanceKind, Status
from opscenter.domain.records import (
    ActionRefused,
    BackfillInfo,
    BackfillRequest,
    InstanceFilter,
    InstanceInfo,
)
from tests.harness import TODAY, MakeWorld, World, at

MAR = {day: date(2025, 3, day) for day in range(1, 32)}


def backfill(w: World, node: str, start: int, end: int, **options: object) -> int:
    result = w.backend.backfill(BackfillRequest(node, MAR[start], MAR[end], **options))
    return result.extra["backfill_id"]


def instances_of(w: World, backfill_id: int, node: str = "") -> list[InstanceInfo]:
    """The backfill's instances in the order they were created."""
    page = w.backend.list_instances(InstanceFilter(backfill_id=backfill_id, node=node, limit=500))
    return sorted(page.items, key=lambda i: i.id)


def runs(info: BackfillInfo) -> list[tuple[date, str]]:
    return [(run.bizdate, run.status) for run in info.runs]


def counts(info: BackfillInfo) -> list[dict[Status, int]]:
    return [{s: n for s, n in run.counts.items() if n} for run in info.runs]


DAILY = """
    nodes:
      - name: load
        type: shell
        code: 'echo "selected $day at $cyc"; %s'
        parameters: {day: "${yyyymmdd}", cyc: "$[yyyymmddhh24miss]"}
        trigger: {cron: "00 30 02 * * ?"}
"""


def daily(world: MakeWorld, then: str = "exit 0") -> World:
    return world(DAILY % then).start()


# ---------------------------------------------------------------------------
# the vectors of 6.3
# ---------------------------------------------------------------------------


def test_vector_ascending_runs_bizdates_in_order_at_the_next_days_node_time(
    world: MakeWorld,
) -> None:
    w = daily(world)
    backfill_id = backfill(w, "load", 14, 16)
    w.idle()
    info = w.backend.get_backfill(backfill_id)
    assert runs(info) == [(MAR[14], "SUCCESS"), (MAR[15], "SUCCESS"), (MAR[16], "SUCCESS")]
    assert (info.status, info.dates_done, info.parallel, info.nodes) == ("SUCCESS", 3, 1, ("load",))
    assert [(i.bizdate, i.cyctime, i.kind) for i in instances_of(w, backfill_id)] == [
        (MAR[14], datetime(2025, 3, 15, 2, 30), InstanceKind.BACKFILL),
        (MAR[15], datetime(2025, 3, 16, 2, 30), InstanceKind.BACKFILL),
        (MAR[16], datetime(2025, 3, 17, 2, 30), InstanceKind.BACKFILL),
    ]


def test_vector_descending_runs_the_latest_bizdate_first(world: MakeWorld) -> None:
    w = daily(world)
    backfill_id = backfill(w, "load", 14, 16, descending=True)
    w.idle()
    info = w.backend.get_backfill(backfill_id)
    assert [bizdate for bizdate, _status in runs(info)] == [MAR[16], MAR[15], MAR[14]]
    assert [(i.bizdate, i.cyctime) for i in instances_of(w, backfill_id)] == [
        (MAR[16], datetime(2025, 3, 17, 2, 30)),
        (MAR[15], datetime(2025, 3, 16, 2, 30)),
        (MAR[14], datetime(2025, 3, 15, 2, 30)),
    ]


def test_vector_hourly_node_with_a_window_gets_only_the_slots_inside_it(
    world: MakeWorld,
) -> None:
    w = world(
        """
        nodes:
          - {name: hourly, type: virtual, trigger: {cron: "00 00 00-23/1 * * ?"}}
        """
    ).start()
    request = BackfillRequest("hourly", MAR[15], MAR[15], window=("08:00", "10:00"))
    assert w.backend.preview_backfill(request).extra == {"instances": 3, "dates": 1}
    backfill_id = w.backend.backfill(request).extra["backfill_id"]
    w.idle()
    assert [(i.bizdate, i.cyctime, i.cycle, i.status) for i in instances_of(w, backfill_id)] == [
        (MAR[15], datetime(2025, 3, 16, 8, 0), 9, Status.SUCCESS),
        (MAR[15], datetime(2025, 3, 16, 9, 0), 10, Status.SUCCESS),
        (MAR[15], datetime(2025, 3, 16, 10, 0), 11, Status.SUCCESS),
    ]
    assert w.backend.get_backfill(backfill_id).window == ("08:00", "10:00")


# ---------------------------------------------------------------------------
# serial and parallel dates
# ---------------------------------------------------------------------------

FAILS_ON_0315 = '[ "$day" = 20250315 ] && [ "$OPSCENTER_ATTEMPT" = 1 ] && exit 1; exit 0'


@pytest.mark.parametrize("remedy", ["rerun", "set success"])
def test_serial_a_failed_date_halts_later_dates_until_rerun_or_set_success(
    world: MakeWorld, remedy: str
) -> None:
    w = daily(world, FAILS_ON_0315)
    backfill_id = backfill(w, "load", 14, 16)
    w.idle()
    info = w.backend.get_backfill(backfill_id)
    assert info.status == "FAILURE"
    assert runs(info) == [(MAR[14], "SUCCESS"), (MAR[15], "FAILURE"), (MAR[16], "WAITING")]
    assert counts(info) == [{Status.SUCCESS: 1}, {Status.FAILURE: 1}, {}]  # 0316 not generated
    w.advance(3600)
    assert runs(w.backend.get_backfill(backfill_id))[2] == (MAR[16], "WAITING")
    [failed] = [i for i in instances_of(w, backfill_id) if i.status is Status.FAILURE]
    if remedy == "rerun":
        w.backend.rerun([failed.id])
    else:
        w.backend.set_success([failed.id])
    w.idle()
    info = w.backend.get_backfill(backfill_id)
    assert runs(info) == [(MAR[14], "SUCCESS"), (MAR[15], "SUCCESS"), (MAR[16], "SUCCESS")]
    assert (info.status, info.dates_done) == ("SUCCESS", 3)


def test_serial_the_next_date_starts_only_when_the_previous_is_all_success(
    world: MakeWorld,
) -> None:
    w = world(
        """
        nodes:
          - {name: first, type: shell, code: "sleep 0.2", trigger: {cron: "00 30 02 * * ?"}}
          - {name: second, type: shell, code: "true", depends: [first],
             trigger: {cron: "00 30 02 * * ?"}}
        """
    ).start()
    backfill_id = backfill(w, "first", 14, 15, downstream=True)
    w.tick()
    info = w.backend.get_backfill(backfill_id)
    assert runs(info) == [(MAR[14], "RUNNING"), (MAR[15], "WAITING")]
    assert counts(info) == [{Status.RUNNING: 1, Status.NOT_RUN: 1}, {}]
    w.wait_for(lambda: counts(w.backend.get_backfill(backfill_id))[1] != {})
    assert counts(w.backend.get_backfill(backfill_id))[0] == {Status.SUCCESS: 2}
    w.idle()
    assert runs(w.backend.get_backfill(backfill_id))[1] == (MAR[15], "SUCCESS")


def test_parallel_2_runs_two_dates_at_once(world: MakeWorld) -> None:
    w = world(
        """
        nodes:
          - {name: load, type: shell, code: "sleep 0.3", trigger: {cron: "00 30 02 * * ?"}}
        """
    ).start()
    backfill_id = backfill(w, "load", 14, 16, parallel=2)
    w.tick()
    info = w.backend.get_backfill(backfill_id)
    assert runs(info) == [(MAR[14], "RUNNING"), (MAR[15], "RUNNING"), (MAR[16], "WAITING")]
    assert [i.status for i in instances_of(w, backfill_id)] == [Status.RUNNING, Status.RUNNING]
    w.idle()
    info = w.backend.get_backfill(backfill_id)
    assert (info.status, info.dates_done) == ("SUCCESS", 3)


# ---------------------------------------------------------------------------
# scope: downstream, include, exclude
# ---------------------------------------------------------------------------

TREE = """
    nodes:
      - {name: a, type: shell, code: "%s", trigger: {cron: "00 30 02 * * ?"}}
      - {name: b, type: shell, code: "exit 1", depends: [a], trigger: {cron: "00 30 02 * * ?"}}
      - {name: c, type: shell, code: "true", depends: [b], trigger: {cron: "00 30 02 * * ?"}}
      - {name: d, type: shell, code: "true", depends: [a], trigger: {cron: "00 30 02 * * ?"}}
      - {name: other, type: shell, code: "true", trigger: {cron: "00 30 02 * * ?"}}
"""


def test_downstream_scope_backfills_every_descendant(world: MakeWorld) -> None:
    w = world(TREE % "true").start()
    backfill_id = backfill(w, "a", 14, 14, downstream=True)
    w.idle()
    info = w.backend.get_backfill(backfill_id)
    assert set(info.nodes) == {"a", "b", "c", "d"} and info.nodes[0] == "a"
    assert {i.node: i.status for i in instances_of(w, backfill_id)} == {
        "a": Status.SUCCESS,
        "b": Status.FAILURE,
        "c": Status.NOT_RUN,
        "d": Status.SUCCESS,
    }


@pytest.mark.parametrize(
    "options",
    [{"include": ("c",)}, {"downstream": True, "exclude": ("b",)}],
    ids=["include-c", "exclude-b"],
)
def test_an_unselected_intermediate_node_dry_runs_and_the_chain_holds(
    world: MakeWorld, options: dict
) -> None:
    w = world(TREE % "exit 1").start()
    request = BackfillRequest("a", MAR[14], MAR[14], **options)
    assert "dry-run (not selected): b" in w.backend.preview_backfill(request).message
    backfill_id = w.backend.backfill(request).extra["backfill_id"]
    w.idle()
    b = instances_of(w, backfill_id, "b")[0]
    assert (b.dry_run, b.dry_run_reason) == (True, "not selected in backfill")
    # a failed: the dry-run b waits for it, and c waits for b
    assert [instances_of(w, backfill_id, n)[0].status for n in ("a", "b", "c")] == [
        Status.FAILURE,
        Status.NOT_RUN,
        Status.NOT_RUN,
    ]
    w.backend.set_success([instances_of(w, backfill_id, "a")[0].id])
    w.idle()
    b, c = instances_of(w, backfill_id, "b")[0], instances_of(w, backfill_id, "c")[0]
    assert (b.status, b.run_number, c.status, c.run_number) == (
        Status.SUCCESS,
        0,
        Status.SUCCESS,
        1,
    )
    assert w.backend.attempts(b.id) == []
    assert w.backend.get_backfill(backfill_id).status == "SUCCESS"
    assert ("d" in {i.node for i in instances_of(w, backfill_id)}) == ("downstream" in options)


# ---------------------------------------------------------------------------
# parameters, periodic instances, frozen nodes
# ---------------------------------------------------------------------------


def test_backfill_instances_render_parameters_from_the_selected_bizdate(world: MakeWorld) -> None:
    w = daily(world)
    backfill_id = backfill(w, "load", 15, 15)
    w.idle()
    [instance] = instances_of(w, backfill_id)
    log = w.backend.read_log(instance.id).text
    assert "bizdate:      20250315" in log
    assert "  day=20250315" in log and "  cyc=20250316023000" in log
    assert "selected 20250315 at 20250316023000" in log
    assert "triggered by: backfill backfill load 20250315-20250315 by alice" in log


def test_periodic_instances_are_untouched(world: MakeWorld) -> None:
    w = daily(world)
    before = w.backend.list_instances(InstanceFilter(kind=InstanceKind.PERIODIC)).items
    backfill(w, "load", 14, 16)
    w.idle()
    after = w.backend.list_instances(InstanceFilter(kind=InstanceKind.PERIODIC)).items
    # the instances are as they were; only their node's average learnt from the backfill runs
    assert [replace(i, average=None) for i in after] == [replace(i, average=None) for i in before]
    assert w.instance("load").status is Status.WAIT_TIME  # today's periodic run is still ahead
    assert w.backend.status_counts(MAR[15]).total == 0  # the dashboard counts periodic ones
    w.go(at(2, 30))
    assert w.status("load") is Status.SUCCESS


@pytest.mark.parametrize("how", ["freeze node", "recurrence Pause"])
def test_a_frozen_nodes_backfill_instances_are_frozen_and_the_preview_says_so(
    world: MakeWorld, how: str
) -> None:
    w = world(
        f"""
        nodes:
          - {{name: load, type: shell, code: "true", trigger: {{cron: "00 30 02 * * ?"}},
             {"recurrence: Pause" if how == "recurrence Pause" else "recurrence: Normal"}}}
          - {{name: report, type: shell, code: "true", depends: [load],
             trigger: {{cron: "00 30 02 * * ?"}}}}
        """
    ).start()
    if how == "freeze node":
        w.backend.freeze_node("load")
    request = BackfillRequest("load", MAR[14], MAR[15], downstream=True)
    preview = w.backend.preview_backfill(request).message
    assert "generated FROZEN (node frozen): load" in preview  # decision 13.6
    backfill_id = w.backend.backfill(request).extra["backfill_id"]
    w.idle()
    load, report = instances_of(w, backfill_id)
    assert (load.status, report.status) == (Status.FROZEN, Status.NOT_RUN)
    assert runs(w.backend.get_backfill(backfill_id)) == [(MAR[14], "RUNNING"), (MAR[15], "WAITING")]
    w.backend.unfreeze([load.id])
    w.idle()
    # the first date goes on; the next date's instance of the node is generated FROZEN again
    assert runs(w.backend.get_backfill(backfill_id)) == [(MAR[14], "SUCCESS"), (MAR[15], "RUNNING")]
    assert [i.status for i in instances_of(w, backfill_id, "load")] == [
        Status.SUCCESS,
        Status.FROZEN,
    ]


def test_preview_counts_instances_without_creating_any(world: MakeWorld) -> None:
    w = world(TREE % "true").start()
    periodic = w.backend.list_instances(InstanceFilter()).total
    request = BackfillRequest("a", MAR[1], MAR[10], downstream=True, parallel=3)
    preview = w.backend.preview_backfill(request)
    assert preview.extra == {"instances": 40, "dates": 10}
    assert preview.message == "40 instances of 4 nodes over 10 business dates"
    assert w.backend.list_backfills() == []
    assert w.backend.list_instances(InstanceFilter()).total == periodic
    assert [e for e in w.backend.audit_log() if e.action != "deploy"] == []  # a look, not an act


def test_a_backfill_created_while_no_scheduler_runs_starts_with_the_scheduler(
    world: MakeWorld,
) -> None:
    w = world(DAILY % "exit 0")
    backfill_id = backfill(w, "load", 14, 15)
    w.engine = w.new_engine()
    w.start()
    info = w.backend.get_backfill(backfill_id)
    assert (info.status, info.dates_done) == ("SUCCESS", 2)


# ---------------------------------------------------------------------------
# refusals
# ---------------------------------------------------------------------------

REFUSALS = """
    nodes:
      - {name: a, type: virtual, trigger: {cron: "00 30 02 * * ?"}}
      - {name: b, type: virtual, depends: [a], trigger: {cron: "00 30 02 * * ?"}}
      - {name: other, type: virtual, trigger: {cron: "00 30 02 * * ?"}}
      - {name: night, type: virtual, trigger: {cron: "00 00 00-05/1 * * ?"}}
"""


@pytest.mark.parametrize(
    ("request_", "reason"),
    [
        (
            BackfillRequest("a", MAR[16], MAR[14]),
            "the range ends (2025-03-14) before it starts (2025-03-16)",
        ),
        (BackfillRequest("a", MAR[14], MAR[16], parallel=11), "parallel must be 1..10, got 11"),
        (BackfillRequest("a", MAR[14], MAR[16], parallel=0), "parallel must be 1..10, got 0"),
        (BackfillRequest("a", MAR[14], MAR[16], include=("other",)), "not downstream of a: other"),
        (
            BackfillRequest("night", MAR[14], MAR[14], window=("08:00", "10:00")),
            "node night has no scheduled time inside the window 08:00-10:00",
        ),
        (BackfillRequest("ghost", MAR[14], MAR[14]), "node 'ghost' is not deployed"),
    ],
    ids=["end-before-start", "parallel-11", "parallel-0", "include-stranger", "window", "ghost"],
)
def test_refusals_say_why_create_nothing_and_are_audited(
    world: MakeWorld, request_: BackfillRequest, reason: str
) -> None:
    w = world(REFUSALS).start()
    with pytest.raises(ActionRefused) as preview:
        w.backend.preview_backfill(request_)
    with pytest.raises(ActionRefused) as refused:
        w.backend.backfill(request_)
    assert preview.value.reason.startswith(reason)
    assert refused.value.reason == preview.value.reason
    assert w.backend.list_backfills() == []
    [entry] = [e for e in w.backend.audit_log() if e.action == "backfill"]
    assert (entry.user, entry.outcome, entry.detail) == ("alice", "refused", refused.value.reason)
    assert entry.targets == [request_.node, f"{request_.start}..{request_.end}"]


def test_backfills_lists_progress_newest_first(world: MakeWorld) -> None:
    w = daily(world, FAILS_ON_0315)
    first = backfill(w, "load", 1, 2, name="early march")
    second = backfill(w, "load", 14, 16, parallel=3)
    w.idle()
    listed = w.backend.list_backfills()
    assert [b.id for b in listed] == [second, first]
    assert (listed[1].name, listed[1].status, listed[1].dates_done) == ("early march", "SUCCESS", 2)
    assert (listed[0].status, listed[0].dates_done, listed[0].created_by) == ("FAILURE", 2, "alice")
    assert counts(listed[0]) == [{Status.SUCCESS: 1}, {Status.FAILURE: 1}, {Status.SUCCESS: 1}]
    assert listed[0].created_at == datetime(2025, 11, 1, 1, 0)
    assert TODAY not in {run.bizdate for b in listed for run in b.runs}
