"""The calendar through real generation on a SQLite store: previous-day cross-cycle edges
across month end, year end and 29 February (spec 4.2, 4.3, decision 13.11), daylight
saving for every cycle type (spec 2.3, 4.4), and a backfill wired by the same rules (D11).

cyctime is the naive wall time of the workspace zone; due_at is naive UTC. Expected
instants come from the zone database (zoneinfo), not from opscenter.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from opscenter.domain.model import InstanceKind
from opscenter.domain.records import BackfillRequest, InstanceFilter
from opscenter.scheduler.generate import generate_day
from opscenter.store.models import InstanceRow
from tests.conftest import deploy_folder, write_workspace
from tests.test_generation import instances, upstream_names

DEPLOYED = datetime(2025, 10, 1)  # naive UTC, well before every day generated here


def deploy(tmp_path, store, yaml_text: str) -> int:
    return deploy_folder(
        store, write_workspace(tmp_path / "ws", yaml_text), now=DEPLOYED
    ).workspace_id


def generate(store, workspace_id: int, day: date) -> None:
    generate_day(store, workspace_id, day, now=datetime.combine(day - timedelta(days=1), time(12)))


def on(store, node: str, day: date) -> list[InstanceRow]:
    return [row for row in instances(store, node) if row.cyctime.date() == day]


def cross_ups(store, row: InstanceRow) -> set[tuple[str, datetime]]:
    return {(name, cyctime) for name, cyctime, cross in upstream_names(store, row.id) if cross}


def utc_of(wall: datetime, zone: ZoneInfo) -> datetime:
    """The naive UTC instant of an unambiguous wall time."""
    return wall.replace(tzinfo=zone).astimezone(UTC).replace(tzinfo=None)


# ---------------------------------------------------------------------------
# previous-day cross-cycle edges across calendar boundaries
# ---------------------------------------------------------------------------

CROSS_CYCLE = """
workspace: {name: ws, timezone: Asia/Shanghai}
nodes:
  - {name: hourly, type: virtual, trigger: {cron: "00 00 00-23/1 * * ?"}}
  - name: hourly_self
    type: virtual
    trigger: {cron: "00 00 00-23/1 * * ?"}
    depends: [{type: CrossCycleDependsOnSelf}]
  - name: daily_on_all
    type: virtual
    trigger: {cron: "00 00 01 * * ?"}
    depends: [{type: CrossCycleDependsOnOtherNode, node: hourly}]
  - name: daily_on_last
    type: virtual
    trigger: {cron: "00 00 01 * * ?"}
    depends: [{type: CrossCycleDependsOnOtherNode, node: hourly_self}]
  - {name: month_end, type: virtual, trigger: {cron: "00 00 01 L * ?"}}
  - name: after_month_end
    type: virtual
    trigger: {cron: "00 00 02 * * ?"}
    depends: [{type: CrossCycleDependsOnOtherNode, node: month_end}]
  - name: parent
    type: virtual
    trigger: {cron: "00 00 03 * * ?"}
    depends: [{type: CrossCycleDependsOnChildren}]
  - {name: child, type: virtual, trigger: {cron: "00 00 00-23/1 * * ?"}, depends: [parent]}
"""


@pytest.mark.parametrize(
    ("before", "day", "month_end_runs"),
    [
        (date(2025, 10, 31), date(2025, 11, 1), True),
        (date(2025, 12, 31), date(2026, 1, 1), True),
        (date(2028, 2, 28), date(2028, 2, 29), False),  # a leap year: 28 Feb is not the last
        (date(2028, 2, 29), date(2028, 3, 1), True),
    ],
    ids=["month-end", "year-end", "into-leap-day", "out-of-leap-day"],
)
def test_previous_day_cross_cycle_edges_reach_over_calendar_boundaries(
    tmp_path, store, before, day, month_end_runs
):
    workspace_id = deploy(tmp_path, store, CROSS_CYCLE)
    generate(store, workspace_id, before)
    generate(store, workspace_id, day)
    yesterdays = [datetime.combine(before, time(h)) for h in range(24)]

    [on_all] = on(store, "daily_on_all", day)
    assert on_all.bizdate == before
    assert cross_ups(store, on_all) == {("hourly", t) for t in yesterdays}
    [on_last] = on(store, "daily_on_last", day)
    assert cross_ups(store, on_last) == {("hourly_self", yesterdays[-1])}
    [parent] = on(store, "parent", day)
    assert cross_ups(store, parent) == {("child", t) for t in yesterdays}

    first, second = on(store, "hourly_self", day)[:2]
    assert cross_ups(store, first) == {("hourly_self", yesterdays[-1])}
    assert cross_ups(store, second) == {("hourly_self", first.cyctime)}

    [month_end] = on(store, "month_end", before)
    assert month_end.dry_run is not month_end_runs
    [after] = on(store, "after_month_end", day)
    assert cross_ups(store, after) == {("month_end", datetime.combine(before, time(1)))}


# ---------------------------------------------------------------------------
# daylight saving, every cycle type (spec 4.4, decision 7)
# ---------------------------------------------------------------------------

EVERY_CYCLE = """
workspace: {{name: ws, timezone: {zone}}}
nodes:
  - {{name: minute, type: virtual, trigger: {{cron: "00 */30 00-23 * * ?"}}}}
  - {{name: hourly, type: virtual, trigger: {{cron: "00 00 00-23/1 * * ?"}}}}
  - {{name: daily, type: virtual, trigger: {{cron: "00 30 {hh} * * ?"}}}}
  - {{name: daily_late, type: virtual, trigger: {{cron: "00 00 04 * * ?"}}}}
  - {{name: weekly_on, type: virtual, trigger: {{cron: "00 30 {hh} ? * 7"}}}}
  - {{name: weekly_off, type: virtual, trigger: {{cron: "00 30 {hh} ? * 1"}}}}
  - {{name: monthly, type: virtual, trigger: {{cron: "00 30 {hh} {dom} * ?"}}}}
  - {{name: yearly, type: virtual, trigger: {{cron: "00 30 {hh} {dom} {mon} ?"}}}}
"""
ONCE_A_DAY = ("daily", "weekly_on", "monthly", "yearly")  # all at HH:30 of the changing hour


def every_cycle(tmp_path, store, zone: str, day: date, hour: int) -> int:
    text = EVERY_CYCLE.format(zone=zone, hh=f"{hour:02d}", dom=day.day, mon=day.month)
    workspace_id = deploy(tmp_path, store, text)
    assert day.isoweekday() == 7  # weekly_on runs on Sundays, weekly_off on Mondays
    generate(store, workspace_id, day)
    return workspace_id


@pytest.mark.parametrize(
    ("zone", "day", "skipped"),
    [("America/Los_Angeles", date(2026, 3, 8), 2), ("Europe/London", date(2026, 3, 29), 1)],
    ids=["los-angeles", "london"],
)
def test_spring_forward_day_skips_the_hour_and_moves_once_a_day_nodes_out_of_it(
    tmp_path, store, zone, day, skipped
):
    every_cycle(tmp_path, store, zone, day, skipped)
    tz = ZoneInfo(zone)
    hours = [h for h in range(24) if h != skipped]

    hourly = on(store, "hourly", day)
    assert [r.cyctime for r in hourly] == [datetime.combine(day, time(h)) for h in hours]
    assert [r.cycle for r in hourly] == list(range(1, 24))
    assert [r.due_at for r in hourly] == [utc_of(r.cyctime, tz) for r in hourly]
    minute = on(store, "minute", day)
    assert [r.cyctime for r in minute] == [
        datetime.combine(day, time(h, m)) for h in hours for m in (0, 30)
    ]
    assert not any(r.dry_run for r in hourly + minute)

    moved = datetime.combine(day, time(skipped + 1, 30))
    for node in ONCE_A_DAY:
        [row] = on(store, node, day)
        assert (row.cyctime, row.dry_run, row.dry_run_reason) == (
            moved,
            True,
            f"{skipped:02d}:30 skipped by daylight saving",
        ), node
        assert row.due_at == utc_of(moved, tz), node
    [off] = on(store, "weekly_off", day)
    assert (off.cyctime, off.dry_run, off.dry_run_reason) == (moved, True, "not a run day")
    [late] = on(store, "daily_late", day)
    assert (late.dry_run, late.due_at) == (False, utc_of(datetime.combine(day, time(4)), tz))


def test_los_angeles_daily_at_02_30_runs_dry_at_03_30_pdt_which_is_10_30_utc(tmp_path, store):
    every_cycle(tmp_path, store, "America/Los_Angeles", date(2026, 3, 8), 2)
    [daily] = on(store, "daily", date(2026, 3, 8))
    assert (daily.cyctime, daily.due_at) == (
        datetime(2026, 3, 8, 3, 30),
        datetime(2026, 3, 8, 10, 30),
    )
    assert daily.bizdate == date(2026, 3, 7)


@pytest.mark.parametrize(
    ("zone", "day", "repeated"),
    [("America/Los_Angeles", date(2026, 11, 1), 1), ("Europe/London", date(2026, 10, 25), 1)],
    ids=["los-angeles", "london"],
)
def test_fall_back_day_keeps_one_instance_per_wall_time(tmp_path, store, zone, day, repeated):
    every_cycle(tmp_path, store, zone, day, repeated)
    tz = ZoneInfo(zone)

    hourly = on(store, "hourly", day)
    assert [r.cyctime for r in hourly] == [datetime.combine(day, time(h)) for h in range(24)]
    assert [r.cycle for r in hourly] == list(range(1, 25))
    minute = on(store, "minute", day)
    assert [r.cyctime for r in minute] == [
        datetime.combine(day, time(h, m)) for h in range(24) for m in (0, 30)
    ]
    for rows in (hourly, minute):  # each instance at its own instant, in order
        dues = [r.due_at for r in rows]
        assert dues == sorted(set(dues))
    unambiguous = [r for r in hourly if r.cyctime.hour != repeated]
    assert [r.due_at for r in unambiguous] == [utc_of(r.cyctime, tz) for r in unambiguous]

    wall = datetime.combine(day, time(repeated, 30))
    first = wall.replace(tzinfo=tz, fold=0).astimezone(UTC).replace(tzinfo=None)
    second = wall.replace(tzinfo=tz, fold=1).astimezone(UTC).replace(tzinfo=None)
    assert second - first == timedelta(hours=1)
    for node in ONCE_A_DAY:
        [row] = on(store, node, day)
        assert (row.cyctime, row.dry_run, row.dry_run_reason) == (wall, False, ""), node
        assert row.due_at == first, node  # the first of the repeated times (docs)
    [off] = on(store, "weekly_off", day)
    assert (off.cyctime, off.dry_run, off.dry_run_reason) == (wall, True, "not a run day")


def test_lord_howe_daily_at_02_15_moves_to_02_45_on_its_half_hour_spring_day(tmp_path, store):
    workspace_id = deploy(
        tmp_path,
        store,
        """
        workspace: {name: ws, timezone: Australia/Lord_Howe}
        nodes:
          - {name: daily, type: virtual, trigger: {cron: "00 15 02 * * ?"}}
        """,
    )
    day = date(2026, 10, 4)  # first Sunday of October: 02:00 -> 02:30
    generate(store, workspace_id, day)
    [daily] = on(store, "daily", day)
    assert (daily.cyctime, daily.dry_run, daily.dry_run_reason) == (
        datetime(2026, 10, 4, 2, 45),
        True,
        "02:15 skipped by daylight saving",
    )
    assert daily.due_at == datetime(2026, 10, 3, 15, 45)  # 02:45 at UTC+11


# ---------------------------------------------------------------------------
# backfill uses the same rules
# ---------------------------------------------------------------------------


def test_backfilled_daily_waits_for_the_one_closest_not_later_self_dependent_hourly(world):
    w = world(
        """
        nodes:
          - name: hourly
            type: virtual
            trigger: {cron: "00 00 00-23/1 * * ?"}
            depends: [{type: CrossCycleDependsOnSelf}]
          - {name: daily, type: virtual, trigger: {cron: "00 00 06 * * ?"}, depends: [hourly]}
        """
    ).start()
    request = BackfillRequest("hourly", date(2025, 3, 14), date(2025, 3, 14), downstream=True)
    backfill_id = w.backend.backfill(request).extra["backfill_id"]
    w.idle()
    [daily] = w.backend.list_instances(InstanceFilter(backfill_id=backfill_id, node="daily")).items
    assert (daily.kind, daily.cyctime) == (InstanceKind.BACKFILL, datetime(2025, 3, 15, 6))
    ups = {(n, t) for n, t, _c in upstream_names(w.store, daily.id) if n == "hourly"}
    assert ups == {("hourly", datetime(2025, 3, 15, 6))}
