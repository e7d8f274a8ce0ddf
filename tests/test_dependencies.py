"""Instance-level dependencies: spec 4.3 rows D1-D9, and the cross-cycle types of 4.2.

D1-D7 are resolved by the pure rules; D8 and D9 go through real instance
generation on a SQLite store, since they are about which instances exist.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from opscenter.domain.cron import parse_cron
from opscenter.domain.deps import DayPlan, same_cycle_edges
from opscenter.domain.model import Dependency, DependencyType, Slot

DAY = date(2025, 11, 2)  # schedule date; bizdate 2025-11-01
NORMAL = DependencyType.NORMAL


def slots(node: str, cron: str, day: date = DAY) -> list[Slot]:
    times = parse_cron(cron).fire_times_on(day)
    return [Slot(node, t, day - timedelta(days=1), i + 1) for i, t in enumerate(times)]


def hours(edges: list[tuple[Slot, Slot]]) -> set[tuple[int, int]]:
    """(upstream hour, downstream hour) pairs: how the spec table writes edges."""
    return {(u.cyctime.hour, d.cyctime.hour) for u, d in edges}


HOURLY_ALL = "00 00 00-23/1 * * ?"


def test_d1_daily_waits_for_every_hourly_instance_of_the_day():
    a, b = slots("A", HOURLY_ALL), slots("B", "00 00 00 * * ?")
    edges = same_cycle_edges(a, b)
    assert len(edges) == 24
    assert {u.cyctime.hour for u, _ in edges} == set(range(24))
    assert all(d == b[0] for _, d in edges)


def test_d2_every_hourly_instance_waits_for_the_daily_upstream():
    a, b = slots("A", "00 00 00 * * ?"), slots("B", HOURLY_ALL)
    edges = same_cycle_edges(a, b)
    assert hours(edges) == {(0, h) for h in range(24)}


def test_d3_hourly_instances_before_the_daily_upstream_still_wait_for_it():
    a, b = slots("A", "00 00 05 * * ?"), slots("B", HOURLY_ALL)
    edges = same_cycle_edges(a, b)
    assert hours(edges) == {(5, h) for h in range(24)}
    early = [d for u, d in edges if d.cyctime.hour < 5]
    assert len(early) == 5  # B00..B04 wait until A (05:00) succeeds


def test_d4_hourly_on_hourly_with_the_same_cycles_is_one_to_one():
    a, b = slots("A", HOURLY_ALL), slots("B", HOURLY_ALL)
    assert hours(same_cycle_edges(a, b)) == {(h, h) for h in range(24)}


def test_d4_one_to_one_by_cycle_number_whatever_the_times():
    a, b = slots("A", "00 30 00-23/1 * * ?"), slots("B", "00 00 00-23/1 * * ?")
    pairs = same_cycle_edges(a, b)
    assert [(u.cycle, d.cycle) for u, d in pairs] == [(n, n) for n in range(1, 25)]


def test_d5_proximity_rule_for_different_hourly_cycles():
    a, b = slots("A", "00 00 00,06,12,18 * * ?"), slots("B", "00 00 00,08,16 * * ?")
    assert hours(same_cycle_edges(a, b)) == {(0, 0), (6, 8), (12, 16)}  # A18 has no dependent


def test_proximity_first_descendant_takes_the_first_ancestor_when_none_is_earlier():
    a, b = slots("A", "00 00 05,11,17,23 * * ?"), slots("B", "00 00 00,12,18 * * ?")
    assert hours(same_cycle_edges(a, b)) == {(5, 0), (11, 12), (17, 18)}


def test_proximity_does_not_give_one_ancestor_instance_two_descendants():
    a, b = slots("A", "00 00 00,12 * * ?"), slots("B", "00 00 00,01,02 * * ?")
    assert hours(same_cycle_edges(a, b)) == {(0, 0)}


def test_d6_daily_self_dependency_waits_for_the_previous_day():
    yesterday = slots("A", "00 00 00 * * ?", DAY - timedelta(days=1))
    today = slots("A", "00 00 00 * * ?")
    plan = DayPlan({"A": today}, {"A": yesterday})
    edges = plan.edges_for("A", [Dependency(DependencyType.CROSS_CYCLE_SELF)])
    assert [(e.upstream.cyctime, e.downstream.cyctime, e.cross_cycle) for e in edges] == [
        (datetime(2025, 11, 1), datetime(2025, 11, 2), True)
    ]


def test_d7_hourly_self_dependency_chains_the_slots_across_midnight():
    yesterday = slots("A", HOURLY_ALL, DAY - timedelta(days=1))
    today = slots("A", HOURLY_ALL)
    plan = DayPlan({"A": today}, {"A": yesterday})
    edges = {
        (e.upstream.cyctime, e.downstream.cyctime)
        for e in plan.edges_for("A", [Dependency(DependencyType.CROSS_CYCLE_SELF)])
    }
    assert (datetime(2025, 11, 2, 0), datetime(2025, 11, 2, 1)) in edges  # A(D,01) <- A(D,00)
    assert (datetime(2025, 11, 1, 23), datetime(2025, 11, 2, 0)) in edges  # A(D,00) <- A(D-1,23)
    assert len(edges) == 24


def test_self_dependency_on_the_first_day_has_no_previous_instance():
    plan = DayPlan({"A": slots("A", "00 00 00 * * ?")}, {})
    assert plan.edges_for("A", [Dependency(DependencyType.CROSS_CYCLE_SELF)]) == []


def test_cross_cycle_on_another_daily_node_waits_for_its_previous_day():
    plan = DayPlan(
        {"A": slots("A", "00 00 02 * * ?"), "X": slots("X", "00 00 05 * * ?")},
        {"X": slots("X", "00 00 05 * * ?", DAY - timedelta(days=1))},
    )
    edges = plan.edges_for("A", [Dependency(DependencyType.CROSS_CYCLE_OTHER, "X")])
    assert [(e.upstream.node, e.upstream.cyctime) for e in edges] == [
        ("X", datetime(2025, 11, 1, 5))
    ]


def test_cross_cycle_on_an_hourly_node_means_its_last_instance_of_the_previous_day():
    """Decision 13.11."""
    plan = DayPlan(
        {"A": slots("A", "00 30 00 * * ?"), "X": slots("X", HOURLY_ALL)},
        {"X": slots("X", HOURLY_ALL, DAY - timedelta(days=1))},
    )
    edges = plan.edges_for("A", [Dependency(DependencyType.CROSS_CYCLE_OTHER, "X")])
    assert [e.upstream.cyctime for e in edges] == [datetime(2025, 11, 1, 23)]


def test_cross_cycle_on_children_waits_for_each_childs_previous_cycle():
    daily = "00 00 03 * * ?"
    yesterday = DAY - timedelta(days=1)
    plan = DayPlan(
        {"A": slots("A", daily), "B": slots("B", daily), "C": slots("C", daily)},
        {"B": slots("B", daily, yesterday), "C": slots("C", daily, yesterday)},
    )
    edges = plan.edges_for(
        "A", [Dependency(DependencyType.CROSS_CYCLE_CHILDREN)], children=["B", "C"]
    )
    assert {(e.upstream.node, e.upstream.bizdate, e.cross_cycle) for e in edges} == {
        ("B", date(2025, 10, 31), True),
        ("C", date(2025, 10, 31), True),
    }


def test_hourly_cross_cycle_on_same_cycled_hourly_node_is_its_previous_slot():
    plan = DayPlan(
        {"A": slots("A", HOURLY_ALL), "X": slots("X", HOURLY_ALL)},
        {
            "A": slots("A", HOURLY_ALL, DAY - timedelta(days=1)),
            "X": slots("X", HOURLY_ALL, DAY - timedelta(days=1)),
        },
    )
    edges = plan.edges_for("A", [Dependency(DependencyType.CROSS_CYCLE_OTHER, "X")])
    pairs = {(e.upstream.cyctime, e.downstream.cyctime) for e in edges}
    assert (datetime(2025, 11, 2, 4), datetime(2025, 11, 2, 5)) in pairs
    assert (datetime(2025, 11, 1, 23), datetime(2025, 11, 2, 0)) in pairs
    assert len(pairs) == 24


def test_normal_dependency_edges_come_from_the_same_day_only():
    plan = DayPlan(
        {"A": slots("A", "00 00 01 * * ?"), "B": slots("B", "00 00 02 * * ?")},
        {"A": slots("A", "00 00 01 * * ?", DAY - timedelta(days=1))},
    )
    edges = plan.edges_for("B", [Dependency(NORMAL, "A")])
    assert [(e.upstream.cyctime, e.cross_cycle) for e in edges] == [
        (datetime(2025, 11, 2, 1), False)
    ]


@pytest.mark.parametrize("missing", ["upstream", "downstream"])
def test_no_instances_means_no_edges(missing):
    a = [] if missing == "upstream" else slots("A", HOURLY_ALL)
    b = [] if missing == "downstream" else slots("B", HOURLY_ALL)
    assert same_cycle_edges(a, b) == []
