"""DAG algorithms over node names, and the clocks every scheduler decision reads."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from opscenter.domain import dag
from opscenter.domain.clock import ManualClock, SimulatedClock

#   root -> a -> b -> d
#             -> c -> d
PARENTS = {"root": [], "a": ["root"], "b": ["a"], "c": ["a"], "d": ["b", "c"], "x": []}


def test_upstream_closure_with_levels():
    assert dag.closure(PARENTS, "d") == {"b": 1, "c": 1, "a": 2, "root": 3}


def test_downstream_closure_with_levels_and_a_depth_limit():
    children = dag.invert(PARENTS)
    assert dag.closure(children, "a") == {"b": 1, "c": 1, "d": 2}
    assert dag.closure(children, "root", max_level=1) == {"a": 1}


def test_topological_order_puts_every_parent_first():
    order = dag.topological_order(PARENTS)
    assert sorted(order) == sorted(PARENTS)
    for child, parents in PARENTS.items():
        assert all(order.index(p) < order.index(child) for p in parents)


def test_cycle_detection_names_the_nodes_on_the_cycle_in_order():
    parents = {"a": ["c"], "b": ["a"], "c": ["b"], "d": ["a"]}
    cycle = dag.find_cycle(parents)
    assert sorted(cycle) == ["a", "b", "c"]
    # each node on the cycle depends on the one before it
    for before, after in zip(cycle, cycle[1:] + cycle[:1], strict=True):
        assert before in parents[after]
    with pytest.raises(dag.CycleError, match="dependency cycle: .* -> "):
        dag.topological_order(parents)


def test_self_loop_is_a_cycle():
    assert dag.find_cycle({"a": ["a"]}) == ["a"]


def test_acyclic_graph_has_no_cycle():
    assert dag.find_cycle(PARENTS) is None


def test_manual_clock_moves_only_when_told():
    clock = ManualClock(datetime(2025, 11, 1, 0, 0, tzinfo=UTC))
    assert clock.now() == clock.now()
    assert clock.advance(timedelta(minutes=90)) == datetime(2025, 11, 1, 1, 30, tzinfo=UTC)
    assert clock.advance(30) == datetime(2025, 11, 1, 1, 30, 30, tzinfo=UTC)
    clock.set(datetime(2025, 11, 2, tzinfo=UTC))
    assert clock.now().day == 2


def test_clocks_refuse_naive_times():
    with pytest.raises(ValueError, match="timezone-aware"):
        ManualClock(datetime(2025, 11, 1))


def test_simulated_clock_runs_faster_than_real_time():
    start = datetime(2025, 11, 1, tzinfo=UTC)
    clock = SimulatedClock(start, speed=120)
    time.sleep(0.05)
    elapsed = (clock.now() - start).total_seconds()
    assert elapsed >= 0.05 * 120  # at least six simulated seconds in 50 real ms
    target = clock.now() + timedelta(minutes=2)
    assert 0.9 <= clock.real_seconds_until(target) <= 1.0  # two simulated minutes = one second
