"""Which instances wait for which: spec 4.2, 4.3 (its table, the edge rule, D1-D13), 4.4,
decisions 13.3 and 13.11, through the pure rules (opscenter.domain.deps).

Every expected value is written from the spec. Where the spec is open the test follows
the reading fixed for opscenter, named "decision N" below:
1. hourly <- minute "within the same hour": the minute instances after the hourly node's
   previous instance of the day, up to and including its own time (the day's first hourly
   instance: every minute instance not later than it); both self: the latest of those.
2. the edge rule is for a descendant's first instance of the day only.
3. the same number of instances pairs 1:1 by ordinal, except for the listed
   hourly <- minute and minute <- hourly rows, which take precedence.
4. "also takes every earlier untaken ancestor instance" only when the ancestor has more
   instances that day than the descendant.
5. any <- weekly/monthly/yearly: every descendant instance, even a self-dependent one;
   weekly/monthly/yearly descendants of hourly/minute nodes follow the "daily <-" rows.
6. cross-cycle for a once-a-day node on a many-a-day node: all of its previous-day
   instances, only the last when it is self-dependent; on a once-a-day node: its
   previous-day instance.
7. daylight saving: see the DST tests at the end (and tests/test_calendar.py).

Slots are built with day_slots for the actual dates, as generation builds them.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from opscenter.domain.deps import DayPlan, Edge, cadence_of, same_cycle_edges
from opscenter.domain.model import CycleType, Dependency, DependencyType, Slot
from opscenter.domain.slots import day_slots

ZONE = ZoneInfo("Asia/Shanghai")
DAY = date(2025, 11, 2)  # a Sunday; schedule date, bizdate 2025-11-01
NORMAL = DependencyType.NORMAL
SELF = Dependency(DependencyType.CROSS_CYCLE_SELF)
CHILDREN = Dependency(DependencyType.CROSS_CYCLE_CHILDREN)

HOURLY = "00 00 00-23/1 * * ?"  # 24 a day
EVERY_30_MIN = "00 */30 00-23 * * ?"  # 48 a day
FOUR_HOURS = "00 00 00,06,12,18 * * ?"
WEEKLY_MON = "00 00 03 ? * 1"
MONTH_END = "00 00 01 L * ?"
YEARLY_JAN_1 = "00 00 04 1 1 ?"


def daily(hour: int, minute: int = 0) -> str:
    return f"00 {minute:02d} {hour:02d} * * ?"


def slots(node: str, cron: str, day: date = DAY, zone: ZoneInfo = ZONE) -> list[Slot]:
    return [slot for slot, _dry, _why in day_slots(node, cron, "Normal", day, zone)]


def cadence(cron: str, self_dependent: bool = False):
    return cadence_of(cron, [SELF] if self_dependent else [])


def hm(slot: Slot) -> str:
    return f"{slot.cyctime:%H:%M}"


def hh(hour: int, minute: int = 0) -> str:
    return f"{hour:02d}:{minute:02d}"


def pairs(
    up: str, down: str, *, up_self: bool = False, down_self: bool = False, day: date = DAY
) -> list[tuple[str, str]]:
    """(ancestor time, descendant time) for A (cron ``up``) -> B (cron ``down``) on ``day``."""
    found = same_cycle_edges(
        slots("A", up, day), slots("B", down, day), cadence(up, up_self), cadence(down, down_self)
    )
    return sorted((hm(u), hm(d)) for u, d in found)


def plan(day: date = DAY, **nodes: tuple[str, bool]) -> DayPlan:
    """A DayPlan of ``day`` and the day before; nodes are name=(cron, self_dependent)."""
    before = day - timedelta(days=1)
    return DayPlan(
        {name: slots(name, cron, day) for name, (cron, _s) in nodes.items()},
        {name: slots(name, cron, before) for name, (cron, _s) in nodes.items()},
        {name: cadence(cron, s) for name, (cron, s) in nodes.items()},
    )


def edges(day_plan: DayPlan, node: str, depends, children=()) -> list[tuple]:
    """(upstream node, upstream cyctime, downstream cyctime, cross_cycle), sorted."""
    found = day_plan.edges_for(node, depends, children)
    assert all(isinstance(e, Edge) and e.downstream.node == node for e in found)
    return sorted(
        (e.upstream.node, e.upstream.cyctime, e.downstream.cyctime, e.cross_cycle) for e in found
    )


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute))


def self_chain(node: str, cron_step_minutes: int, day: date = DAY) -> list[tuple]:
    """The CrossCycleDependsOnSelf edges of a node firing every ``cron_step_minutes`` all day:
    each instance on its previous one, the day's first on yesterday's last (spec 4.2)."""
    times = [at(day, 0) + timedelta(minutes=m) for m in range(0, 24 * 60, cron_step_minutes)]
    previous = [times[0] - timedelta(minutes=cron_step_minutes), *times[:-1]]
    return [(node, p, t, True) for p, t in zip(previous, times, strict=True)]


def test_the_crons_used_here_have_the_cycle_types_of_spec_2_1():
    assert [cadence_of(c, []).cycle for c in (EVERY_30_MIN, HOURLY, FOUR_HOURS)] == [
        CycleType.MINUTE,
        CycleType.HOUR,
        CycleType.HOUR,
    ]
    assert [cadence_of(c, []).cycle for c in (daily(6), WEEKLY_MON, MONTH_END, YEARLY_JAN_1)] == [
        CycleType.DAY,
        CycleType.WEEK,
        CycleType.MONTH,
        CycleType.YEAR,
    ]
    assert cadence_of(HOURLY, [SELF]).self_dependent
    assert not cadence_of(HOURLY, [Dependency(NORMAL, "x")]).self_dependent


# ---------------------------------------------------------------------------
# D1-D13 (spec 4.3)
# ---------------------------------------------------------------------------


def test_d1_daily_waits_for_every_hourly_instance_of_the_day():
    assert pairs(HOURLY, daily(0)) == [(hh(h), "00:00") for h in range(24)]


def test_d2_every_hourly_instance_waits_for_the_daily_upstream():
    assert pairs(daily(0), HOURLY) == [("00:00", hh(h)) for h in range(24)]


def test_d3_hourly_instances_before_the_daily_upstream_still_wait_for_it():
    assert pairs(daily(5), HOURLY) == [("05:00", hh(h)) for h in range(24)]


def test_d4_hourly_on_hourly_with_the_same_cycles_is_one_to_one():
    assert pairs(HOURLY, HOURLY) == [(hh(h), hh(h)) for h in range(24)]


def test_d5_fewer_hourly_instances_each_waits_for_the_closest_not_later():
    assert pairs(FOUR_HOURS, "00 00 00,08,16 * * ?") == [
        ("00:00", "00:00"),
        ("06:00", "08:00"),
        ("12:00", "16:00"),
    ]  # A18 is later than every B: none waits for it


def test_d6_daily_self_dependency_waits_for_the_previous_day():
    assert edges(plan(A=(daily(0), True)), "A", [SELF]) == [
        ("A", datetime(2025, 11, 1), datetime(2025, 11, 2), True)
    ]


def test_d7_hourly_self_dependency_chains_the_slots_across_midnight():
    found = edges(plan(A=(HOURLY, True)), "A", [SELF])
    assert found == self_chain("A", 60)
    assert ("A", at(DAY, 0), at(DAY, 1), True) in found  # A(D,01) <- A(D,00)
    assert ("A", datetime(2025, 11, 1, 23), at(DAY, 0), True) in found  # A(D,00) <- A(D-1,23)


def test_d8_weekly_upstream_dry_runs_on_other_days_and_the_daily_descendant_waits_for_it():
    tuesday = date(2025, 11, 4)
    [(weekly, dry, reason)] = day_slots("A", WEEKLY_MON, "Normal", tuesday, ZONE)
    assert (weekly.cyctime, dry, reason) == (at(tuesday, 3), True, "not a run day")
    assert pairs(WEEKLY_MON, daily(4), day=tuesday) == [("03:00", "04:00")]


def test_d9_node_without_upstream_waits_for_the_root_instance_of_the_same_day():
    day_plan = plan(ws_root=(daily(0), False), A=(daily(2), False))
    assert edges(day_plan, "A", [Dependency(NORMAL, "ws_root")]) == [
        ("ws_root", at(DAY, 0), at(DAY, 2), False)
    ]


def test_d10_fewer_ancestor_instances_are_shared_by_the_descendants_after_them():
    expected = [(hh(2 + 6 * ((h - 2) // 6)), hh(h)) for h in range(2, 24)]
    assert pairs("00 00 02,08,14,20 * * ?", "00 00 02-23/1 * * ?") == expected
    assert ("02:00", "07:00") in expected and ("20:00", "23:00") in expected


def test_d11_daily_on_self_dependent_hourly_waits_for_the_closest_not_later_only():
    """Also the issue's example 3: daily 06:00 <- self-dependent hourly -> A06 only."""
    assert pairs(HOURLY, daily(6), up_self=True) == [("06:00", "06:00")]


def test_d12_self_dependent_hourly_on_daily_only_its_first_instance_waits_for_the_daily():
    """Also the issue's example 4: the self edges come from CrossCycleDependsOnSelf."""
    day_plan = plan(A=(daily(0), False), B=(HOURLY, True))
    found = edges(day_plan, "B", [Dependency(NORMAL, "A"), SELF])
    assert found == sorted([("A", at(DAY, 0), at(DAY, 0), False), *self_chain("B", 60)])
    into_b01 = [e for e in found if e[2] == at(DAY, 1)]
    assert into_b01 == [("B", at(DAY, 0), at(DAY, 1), True)]  # B01 <- B00 only


def test_d13_daily_cross_cycle_on_hourly_waits_for_all_24_of_the_previous_day():
    """Also the issue's example 5."""
    day_plan = plan(A=(HOURLY, False), B=(daily(0), False))
    assert edges(day_plan, "B", [Dependency(DependencyType.CROSS_CYCLE_OTHER, "A")]) == [
        ("A", datetime(2025, 11, 1, h), at(DAY, 0), True) for h in range(24)
    ]


# ---------------------------------------------------------------------------
# the rest of the table, row by row
# ---------------------------------------------------------------------------


def test_same_number_of_hourly_instances_pairs_by_ordinal_whatever_the_times():
    assert pairs("00 00 02,08,14,20 * * ?", FOUR_HOURS) == [
        ("02:00", "00:00"),
        ("08:00", "06:00"),
        ("14:00", "12:00"),
        ("20:00", "18:00"),
    ]
    assert pairs("00 30 00-23/1 * * ?", HOURLY) == [(hh(h, 30), hh(h)) for h in range(24)]


def test_same_number_of_minute_instances_pairs_by_ordinal():
    """Decision 3: also minute <- minute. A 00:00..00:55 every 5 min, B 00:00..01:50 every 10."""
    up = [hh(0, m) for m in range(0, 60, 5)]
    down = [hh(h, m) for h in (0, 1) for m in range(0, 60, 10)]
    assert pairs("00 */5 00 * * ?", "00 */10 00-01 * * ?") == list(zip(up, down, strict=True))


def test_minute_on_minute_with_more_ancestors_gathers_the_untaken_earlier_ones():
    """An unlisted pair: closest not later, plus the earlier ancestors nobody took."""
    assert pairs("00 */5 00 * * ?", "00 */30 00-01 * * ?") == sorted(
        [("00:00", "00:00")]
        + [(hh(0, m), "00:30") for m in range(5, 35, 5)]
        + [(hh(0, m), "01:00") for m in range(35, 60, 5)]
        + [("00:55", "01:30")]  # nothing untaken is left: the closest not later
    )


def test_more_hourly_ancestors_each_descendant_also_takes_the_untaken_earlier_ones():
    """The issue's example 6 and decision 4: A every hour, B every 6 hours."""
    assert pairs(HOURLY, "00 00 00-23/6 * * ?") == sorted(
        [("00:00", "00:00")]
        + [(hh(h), "06:00") for h in range(1, 7)]
        + [(hh(h), "12:00") for h in range(7, 13)]
        + [(hh(h), "18:00") for h in range(13, 19)]
    )  # A19..A23 wait for no B


def test_minute_on_daily_every_instance_waits_for_the_daily_instance():
    assert pairs(daily(5), EVERY_30_MIN) == [
        ("05:00", hh(h, m)) for h in range(24) for m in (0, 30)
    ]


def test_self_dependent_minute_on_daily_only_its_first_instance_waits_for_the_daily():
    day_plan = plan(A=(daily(0), False), B=(EVERY_30_MIN, True))
    assert edges(day_plan, "B", [Dependency(NORMAL, "A"), SELF]) == sorted(
        [("A", at(DAY, 0), at(DAY, 0), False), *self_chain("B", 30)]
    )


def test_hourly_on_minute_waits_for_the_minute_instances_of_its_hour():
    """Decision 1: the minute instances after the previous hourly one, up to its own time."""
    assert pairs(EVERY_30_MIN, HOURLY) == sorted(
        [("00:00", "00:00")]
        + [(hh(h - 1, 30), hh(h)) for h in range(1, 24)]
        + [(hh(h), hh(h)) for h in range(1, 24)]
    )  # 23:30 waits for no hourly instance


def test_sparse_hourly_on_minute_waits_for_every_minute_instance_since_its_previous_one():
    minutes = [hh(h, m) for h in range(24) for m in (0, 30)]
    expected = [("00:00", "00:00")]
    for low, high in ((0, 6), (6, 12), (12, 18)):
        expected += [(t, hh(high)) for t in minutes if hh(low) < t <= hh(high)]
    assert pairs(EVERY_30_MIN, FOUR_HOURS) == sorted(expected)


def test_hourly_on_late_minute_node_first_instance_takes_the_first_minute_instance():
    """Decisions 1 and 2: A at 05:00, 05:30, 06:00, 06:30; B every hour."""
    assert pairs("00 */30 05-06 * * ?", HOURLY) == [
        ("05:00", "00:00"),  # the edge rule; B01..B04 wait for no A
        ("05:00", "05:00"),
        ("05:30", "06:00"),
        ("06:00", "06:00"),
        ("06:30", "07:00"),
    ]  # B08..B23: no minute instance since the previous hourly one


def test_hourly_on_minute_both_self_waits_for_the_latest_minute_instance_of_its_hour():
    assert pairs(EVERY_30_MIN, HOURLY, up_self=True, down_self=True) == [
        (hh(h), hh(h)) for h in range(24)
    ]
    assert pairs(EVERY_30_MIN, FOUR_HOURS, up_self=True, down_self=True) == [
        (hh(h), hh(h)) for h in (0, 6, 12, 18)
    ]


def test_hourly_on_late_minute_node_both_self_takes_the_latest_of_each_window():
    assert pairs("00 */30 05-06 * * ?", HOURLY, up_self=True, down_self=True) == [
        ("05:00", "00:00"),
        ("05:00", "05:00"),
        ("06:00", "06:00"),
        ("06:30", "07:00"),
    ]


def test_hourly_on_self_dependent_minute_node_unlisted_pair_uses_closest_not_later():
    """Minute self, hourly not self is not a listed row: closest not later, shared."""
    assert pairs("00 */30 05-06 * * ?", HOURLY, up_self=True) == sorted(
        [("05:00", "00:00"), ("05:00", "05:00"), ("06:00", "06:00")]
        + [("06:30", hh(h)) for h in range(7, 24)]
    )


def test_minute_on_hourly_instances_share_the_closest_not_later_hourly_instance():
    expected = [(hh(h), hh(h, m)) for h in range(24) for m in (0, 30)]
    assert pairs(HOURLY, EVERY_30_MIN) == expected
    assert pairs(HOURLY, EVERY_30_MIN, up_self=True) == expected  # "minute not self"


def test_minute_at_half_past_waits_for_the_hourly_instance_of_its_hour():
    """The issue's example 2: B05:30 waits for A05, like B05:00."""
    found = pairs(HOURLY, EVERY_30_MIN)
    assert ("05:00", "05:30") in found and ("05:00", "05:00") in found
    assert [up for up, down in found if down == "05:30"] == ["05:00"]


def test_minute_on_hourly_with_as_many_instances_uses_its_row_not_ordinals():
    """Decision 3: 24 minute instances (00:00..11:30) on 24 hourly ones."""
    assert pairs(HOURLY, "00 */30 00-11 * * ?") == [
        (hh(h), hh(h, m)) for h in range(12) for m in (0, 30)
    ]  # A12..A23 wait for nobody


def test_minute_on_hourly_both_self_waits_for_its_previous_cycle_and_the_hourly_instance():
    day_plan = plan(A=(HOURLY, True), B=(EVERY_30_MIN, True))
    same_day = [("A", at(DAY, h), at(DAY, h, m), False) for h in range(24) for m in (0, 30)]
    assert edges(day_plan, "B", [Dependency(NORMAL, "A"), SELF]) == sorted(
        same_day + self_chain("B", 30)
    )


def test_self_dependent_minute_on_hourly_unlisted_pair_uses_closest_not_later():
    """Minute self, hourly not self is not a listed row: closest not later, shared."""
    day_plan = plan(A=(HOURLY, False), B=(EVERY_30_MIN, True))
    same_day = [("A", at(DAY, h), at(DAY, h, m), False) for h in range(24) for m in (0, 30)]
    assert edges(day_plan, "B", [Dependency(NORMAL, "A"), SELF]) == sorted(
        same_day + self_chain("B", 30)
    )


def test_daily_on_daily_waits_for_the_same_days_instance_even_when_earlier():
    assert pairs(daily(5), daily(2)) == [("05:00", "02:00")]


def test_daily_on_minute_waits_for_every_minute_instance_of_the_day():
    assert pairs(EVERY_30_MIN, daily(0)) == [
        (hh(h, m), "00:00") for h in range(24) for m in (0, 30)
    ]


def test_daily_on_self_dependent_minute_waits_for_the_closest_not_later_only():
    assert pairs(EVERY_30_MIN, daily(6, 10), up_self=True) == [("06:00", "06:10")]


def test_daily_earlier_than_every_self_dependent_hourly_instance_waits_for_the_first():
    """The edge rule."""
    assert pairs("00 00 02,08,14,20 * * ?", daily(0), up_self=True) == [("02:00", "00:00")]


def test_weekly_and_monthly_descendants_of_hourly_follow_the_daily_rows():
    """Decision 5."""
    assert pairs(HOURLY, WEEKLY_MON) == [(hh(h), "03:00") for h in range(24)]
    assert pairs(HOURLY, "00 30 06 1 * ?", up_self=True) == [("06:00", "06:30")]


def test_daily_cross_cycle_on_minute_waits_for_all_of_its_previous_day():
    day_plan = plan(A=(EVERY_30_MIN, False), B=(daily(0), False))
    yesterday = DAY - timedelta(days=1)
    assert edges(day_plan, "B", [Dependency(DependencyType.CROSS_CYCLE_OTHER, "A")]) == [
        ("A", at(yesterday, h, m), at(DAY, 0), True) for h in range(24) for m in (0, 30)
    ]


@pytest.mark.parametrize(
    ("cron", "last"), [(HOURLY, time(23)), (EVERY_30_MIN, time(23, 30))], ids=["hourly", "minute"]
)
def test_daily_cross_cycle_on_self_dependent_node_waits_for_its_last_of_yesterday(cron, last):
    day_plan = plan(A=(cron, True), B=(daily(0), False))
    yesterday = DAY - timedelta(days=1)
    assert edges(day_plan, "B", [Dependency(DependencyType.CROSS_CYCLE_OTHER, "A")]) == [
        ("A", datetime.combine(yesterday, last), at(DAY, 0), True)
    ]


def test_hourly_on_weekly_waits_for_its_instance_even_on_an_off_day():
    [(_weekly, dry, reason)] = day_slots("A", WEEKLY_MON, "Normal", DAY, ZONE)  # a Sunday
    assert (dry, reason) == (True, "not a run day")
    assert pairs(WEEKLY_MON, HOURLY) == [("03:00", hh(h)) for h in range(24)]


def test_self_dependent_hourly_on_weekly_every_instance_waits_for_it():
    """Decision 5: the daily-ancestor exception for self-dependent descendants does not apply."""
    assert pairs(WEEKLY_MON, HOURLY, down_self=True) == [("03:00", hh(h)) for h in range(24)]


def test_self_dependent_hourly_on_monthly_gets_both_the_monthly_and_its_previous_cycle():
    day_plan = plan(M=(MONTH_END, False), B=(HOURLY, True))
    assert edges(day_plan, "B", [Dependency(NORMAL, "M"), SELF]) == sorted(
        [("M", at(DAY, 1), at(DAY, h), False) for h in range(24)] + self_chain("B", 60)
    )


def test_daily_and_minute_on_monthly_and_yearly_wait_for_its_instance_of_the_day():
    assert pairs(MONTH_END, daily(0)) == [("01:00", "00:00")]
    minutes = [hh(h, m) for h in range(24) for m in (0, 30)]
    assert pairs(YEARLY_JAN_1, EVERY_30_MIN) == [("04:00", t) for t in minutes]
    assert pairs(YEARLY_JAN_1, EVERY_30_MIN, down_self=True) == [("04:00", t) for t in minutes]


# ---------------------------------------------------------------------------
# the edge rule and the examples
# ---------------------------------------------------------------------------


def test_first_descendant_takes_the_first_ancestor_when_none_is_earlier():
    assert pairs("00 00 05,11,17,23 * * ?", "00 00 00,12,18 * * ?") == [
        ("05:00", "00:00"),
        ("11:00", "12:00"),
        ("17:00", "18:00"),
    ]


def test_only_the_first_descendant_instance_falls_back_to_the_first_ancestor():
    """Decision 2 and the issue's example 1: A 02-23/6, B every hour."""
    found = pairs("00 00 02-23/6 * * ?", HOURLY)
    expected = [("02:00", "00:00")] + [(hh(2 + 6 * ((h - 2) // 6)), hh(h)) for h in range(2, 24)]
    assert found == sorted(expected)
    assert not [up for up, down in found if down == "01:00"]  # B01 waits for no A
    assert [down for up, down in found if up == "02:00"] == [hh(h) for h in (0, 2, 3, 4, 5, 6, 7)]


def test_no_instances_means_no_edges():
    a, b = slots("A", HOURLY), slots("B", HOURLY)
    assert same_cycle_edges([], b, cadence(HOURLY), cadence(HOURLY)) == []
    assert same_cycle_edges(a, [], cadence(HOURLY), cadence(HOURLY)) == []


# ---------------------------------------------------------------------------
# cross-cycle dependencies (spec 4.2, decision 6)
# ---------------------------------------------------------------------------


def test_self_dependency_on_the_first_day_has_no_previous_instance():
    day_plan = DayPlan({"A": slots("A", daily(0))}, {}, {"A": cadence(daily(0), True)})
    assert day_plan.edges_for("A", [SELF]) == []


def test_cross_cycle_on_another_daily_node_waits_for_its_previous_day():
    day_plan = plan(A=(daily(2), False), X=(daily(5), False))
    assert edges(day_plan, "A", [Dependency(DependencyType.CROSS_CYCLE_OTHER, "X")]) == [
        ("X", datetime(2025, 11, 1, 5), at(DAY, 2), True)
    ]


def test_weekly_cross_cycle_on_hourly_waits_for_all_of_its_previous_day():
    day_plan = plan(A=(HOURLY, False), W=(WEEKLY_MON, False))
    assert edges(day_plan, "W", [Dependency(DependencyType.CROSS_CYCLE_OTHER, "A")]) == [
        ("A", datetime(2025, 11, 1, h), at(DAY, 3), True) for h in range(24)
    ]


def test_cross_cycle_on_daily_children_waits_for_each_childs_previous_day():
    day_plan = plan(A=(daily(3), False), B=(daily(3), False), C=(daily(3), False))
    assert edges(day_plan, "A", [CHILDREN], children=["B", "C"]) == [
        ("B", datetime(2025, 11, 1, 3), at(DAY, 3), True),
        ("C", datetime(2025, 11, 1, 3), at(DAY, 3), True),
    ]


def test_cross_cycle_on_an_hourly_child_waits_for_all_of_its_previous_day():
    day_plan = plan(A=(daily(3), False), C=(HOURLY, False))
    assert edges(day_plan, "A", [CHILDREN], children=["C"]) == [
        ("C", datetime(2025, 11, 1, h), at(DAY, 3), True) for h in range(24)
    ]


def test_cross_cycle_on_a_self_dependent_hourly_child_waits_for_its_last_of_yesterday():
    day_plan = plan(A=(daily(3), False), C=(HOURLY, True))
    assert edges(day_plan, "A", [CHILDREN], children=["C"]) == [
        ("C", datetime(2025, 11, 1, 23), at(DAY, 3), True)
    ]


def test_hourly_cross_cycle_on_same_cycled_hourly_node_is_its_previous_slot():
    found = edges(
        plan(A=(HOURLY, False), X=(HOURLY, False)),
        "A",
        [Dependency(DependencyType.CROSS_CYCLE_OTHER, "X")],
    )
    assert [(up, down) for _n, up, down, _c in found] == [
        (p, t) for _n, p, t, _c in self_chain("A", 60)
    ]


def test_normal_dependency_edges_come_from_the_same_day_only():
    day_plan = plan(A=(daily(1), False), B=(daily(2), False))
    assert edges(day_plan, "B", [Dependency(NORMAL, "A")]) == [("A", at(DAY, 1), at(DAY, 2), False)]


# ---------------------------------------------------------------------------
# across month end, year end and 29 February (the two nodes' days differ)
# ---------------------------------------------------------------------------

BOUNDARIES = [date(2025, 11, 1), date(2026, 1, 1), date(2028, 2, 29), date(2028, 3, 1)]
BOUNDARY_IDS = ["month-end", "year-end", "leap-day", "after-leap-day"]


@pytest.mark.parametrize("day", BOUNDARIES, ids=BOUNDARY_IDS)
def test_daily_cross_cycle_on_hourly_takes_all_24_of_the_day_before(day):
    before = day - timedelta(days=1)
    day_plan = plan(day, A=(HOURLY, False), B=(daily(0), False))
    found = day_plan.edges_for("B", [Dependency(DependencyType.CROSS_CYCLE_OTHER, "A")])
    assert sorted((e.upstream.cyctime, e.downstream.cyctime) for e in found) == [
        (at(before, h), at(day, 0)) for h in range(24)
    ]
    assert {e.upstream.bizdate for e in found} == {before - timedelta(days=1)}
    assert {e.downstream.bizdate for e in found} == {before}


@pytest.mark.parametrize("day", BOUNDARIES, ids=BOUNDARY_IDS)
def test_self_dependent_hourly_first_instance_waits_for_the_last_of_the_day_before(day):
    before = day - timedelta(days=1)
    found = edges(plan(day, A=(HOURLY, True)), "A", [SELF])
    assert found[0] == ("A", at(before, 23), at(day, 0), True)
    assert found == self_chain("A", 60, day)


@pytest.mark.parametrize("day", BOUNDARIES, ids=BOUNDARY_IDS)
def test_daily_cross_cycle_on_self_dependent_hourly_takes_the_last_of_the_day_before(day):
    day_plan = plan(day, A=(HOURLY, True), B=(daily(0), False))
    assert edges(day_plan, "B", [Dependency(DependencyType.CROSS_CYCLE_OTHER, "A")]) == [
        ("A", at(day - timedelta(days=1), 23), at(day, 0), True)
    ]


def test_daily_self_dependency_across_the_year_end():
    assert edges(plan(date(2026, 1, 1), A=(daily(0), True)), "A", [SELF]) == [
        ("A", datetime(2025, 12, 31), datetime(2026, 1, 1), True)
    ]


def test_self_dependent_minute_node_across_the_year_end():
    found = edges(plan(date(2026, 1, 1), A=(EVERY_30_MIN, True)), "A", [SELF])
    assert found[0] == ("A", datetime(2025, 12, 31, 23, 30), datetime(2026, 1, 1), True)


def test_month_end_node_runs_on_29_february_2028_and_is_waited_for_on_1_march():
    [(_s, dry_28, why_28)] = day_slots("M", MONTH_END, "Normal", date(2028, 2, 28), ZONE)
    [(_s, dry_29, why_29)] = day_slots("M", MONTH_END, "Normal", date(2028, 2, 29), ZONE)
    assert (dry_28, why_28, dry_29, why_29) == (True, "not a run day", False, "")
    day_plan = plan(date(2028, 3, 1), M=(MONTH_END, False), B=(daily(2), False))
    assert edges(day_plan, "B", [Dependency(DependencyType.CROSS_CYCLE_OTHER, "M")]) == [
        ("M", datetime(2028, 2, 29, 1), datetime(2028, 3, 1, 2), True)
    ]


# ---------------------------------------------------------------------------
# daylight saving (spec 4.4, decision 7)
# ---------------------------------------------------------------------------

LOS_ANGELES = ZoneInfo("America/Los_Angeles")
SPRING = date(2026, 3, 8)  # 02:00 -> 03:00
FALL = date(2026, 11, 1)  # 02:00 -> 01:00


def test_daily_in_the_skipped_hour_moves_an_hour_later_and_dry_runs():
    """The issue's example 7."""
    [(slot, dry, reason)] = day_slots("A", daily(2, 30), "Normal", SPRING, LOS_ANGELES)
    assert (slot.cyctime, dry, reason) == (
        datetime(2026, 3, 8, 3, 30),
        True,
        "02:30 skipped by daylight saving",
    )


def test_hourly_has_no_instance_in_the_skipped_hour():
    times = [s.cyctime.hour for s in slots("A", HOURLY, SPRING, LOS_ANGELES)]
    assert times == [h for h in range(24) if h != 2]


def test_weekly_off_day_in_the_skipped_hour_moves_and_stays_not_a_run_day():
    [(slot, dry, reason)] = day_slots("A", "00 30 02 ? * 1", "Normal", SPRING, LOS_ANGELES)
    assert (slot.cyctime, dry, reason) == (datetime(2026, 3, 8, 3, 30), True, "not a run day")


def test_lord_howe_jumps_half_an_hour_so_02_15_moves_to_02_45():
    zone = ZoneInfo("Australia/Lord_Howe")
    [(slot, dry, reason)] = day_slots("A", daily(2, 15), "Normal", date(2026, 10, 4), zone)
    assert (slot.cyctime, dry, reason) == (
        datetime(2026, 10, 4, 2, 45),
        True,
        "02:15 skipped by daylight saving",
    )


def test_fall_back_day_has_one_instance_per_wall_hour_and_one_daily():
    assert [s.cyctime.hour for s in slots("A", HOURLY, FALL, LOS_ANGELES)] == list(range(24))
    [(slot, dry, reason)] = day_slots("A", daily(1, 30), "Normal", FALL, LOS_ANGELES)
    assert (slot.cyctime, dry, reason) == (datetime(2026, 11, 1, 1, 30), False, "")


def test_on_the_spring_day_the_moved_daily_waits_for_the_hourly_instance_before_its_new_time():
    """D11 on the 23-hour day: the daily instance stands at 03:30."""
    day_plan = DayPlan(
        {
            "A": slots("A", HOURLY, SPRING, LOS_ANGELES),
            "B": slots("B", daily(2, 30), SPRING, LOS_ANGELES),
        },
        {},
        {"A": cadence(HOURLY, True), "B": cadence(daily(2, 30))},
    )
    assert edges(day_plan, "B", [Dependency(NORMAL, "A")]) == [
        ("A", datetime(2026, 3, 8, 3), datetime(2026, 3, 8, 3, 30), False)
    ]
