"""Which instances wait for which on a schedule date (spec 4.2, 4.3; decisions 13.3, 13.11).

Node dependencies say *which* nodes wait for which; this module says which
*instances* do. The rule for a pair of nodes depends on each one's cycle type
and on whether it depends on itself (``CrossCycleDependsOnSelf``): that is the
table of spec 4.3, restated from DataWorks' appendix "Complex dependency
scenarios". Daily, weekly, monthly and yearly nodes have one instance a day
(a dry-run one on their off days); minute and hourly nodes have many.

Two readings the doc leaves open are fixed here and in docs/workspace-format.md:
- "within the same hour" (hourly <- minute): the minute instances after the
  hourly node's previous instance of the day, up to and including this one;
  for the day's first hourly instance, every minute instance not later than it.
- only a descendant's *first* instance of the day falls back to the ancestor's
  first instance when no ancestor instance is earlier (the doc's edge rule);
  a later one with no ancestor instance at or before it waits for none.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Iterator, Mapping, Sequence
from functools import lru_cache
from itertools import starmap
from typing import NamedTuple

from opscenter.domain.cron import parse_cron
from opscenter.domain.model import CycleType, Dependency, DependencyType, Slot

Pairs = list[tuple[Slot, Slot]]


class Edge(NamedTuple):
    upstream: Slot
    downstream: Slot
    cross_cycle: bool = False


class Cadence(NamedTuple):
    """What of a node decides how its instances are wired: its cycle and self-dependency."""

    cycle: CycleType
    self_dependent: bool = False

    @property
    def many(self) -> bool:
        return self.cycle is CycleType.HOUR or self.cycle is CycleType.MINUTE  # hot: no tuple


def cadence_of(cron: str, depends: Sequence[Dependency]) -> Cadence:
    self_dependent = any(d.type is DependencyType.CROSS_CYCLE_SELF for d in depends)
    return _cadence(cron, self_dependent)


@lru_cache(maxsize=32768)  # one per distinct cron: a 10k-node day asks 10k times
def _cadence(cron: str, self_dependent: bool) -> Cadence:
    return Cadence(parse_cron(cron).cycle_type, self_dependent)


def same_cycle_edges(
    up: Sequence[Slot], down: Sequence[Slot], ancestor: Cadence, descendant: Cadence
) -> Pairs:
    """Pair one day's ancestor instances with one day's descendant instances (spec 4.3).

    Both sequences are sorted by cyctime. Returns (ancestor slot, descendant slot).
    """
    if not up or not down:
        return []
    if not ancestor.many:  # daily, weekly, monthly, yearly: its one instance of the day
        if ancestor.cycle is CycleType.DAY and descendant.many and descendant.self_dependent:
            return [(up[0], down[0])]  # the others wait for their previous cycle
        return [(up[0], d) for d in down]
    if not descendant.many:  # daily (or weekly ...) <- hourly or minute, same day
        if ancestor.self_dependent:
            return [(up[_not_later(up, down[0], first=True)], down[0])]
        return [(u, down[0]) for u in up]
    hour, minute = CycleType.HOUR, CycleType.MINUTE
    if descendant.cycle is hour and ancestor.cycle is minute:
        if not ancestor.self_dependent:
            return _within_the_hour(up, down, last_only=False)
        if descendant.self_dependent:
            return _within_the_hour(up, down, last_only=True)
    minute_on_hour = descendant.cycle is minute and ancestor.cycle is hour
    if minute_on_hour and (ancestor.self_dependent or not descendant.self_dependent):
        return _nearest(up, down, gather=False)
    if len(up) == len(down):
        return list(zip(up, down, strict=True))  # 1st <- 1st, whatever the times
    return _nearest(up, down, gather=len(up) > len(down))


def _not_later(up: Sequence[Slot], slot: Slot, *, first: bool) -> int:
    """Index of the ancestor instance closest to but not later than ``slot``, or -1.

    ``first``: ``slot`` is the descendant's first instance of the day, which takes the
    ancestor's first instance when none is earlier (the edge rule).
    """
    index = bisect_right([u.cyctime for u in up], slot.cyctime) - 1
    return 0 if index < 0 and first else index


def _nearest(up: Sequence[Slot], down: Sequence[Slot], *, gather: bool) -> Pairs:
    """Closest not later, shared by several descendants; with ``gather`` (more ancestor
    instances than descendant ones) a descendant also takes every earlier ancestor
    instance no earlier descendant took."""
    times = [u.cyctime for u in up]
    pairs: Pairs = []
    taken = -1  # the ancestor instances up to this index have a descendant
    for position, d in enumerate(down):
        index = bisect_right(times, d.cyctime) - 1
        if index < 0:
            if position:
                continue
            index = 0
        start = taken + 1 if gather and index > taken else index
        pairs.extend((up[i], d) for i in range(start, index + 1))
        taken = max(taken, index)
    return pairs


def _within_the_hour(up: Sequence[Slot], down: Sequence[Slot], *, last_only: bool) -> Pairs:
    """Hourly <- minute: the minute instances since the hourly node's previous instance
    of the day, up to and including this one (all of them, or with ``last_only`` the
    latest); the day's first hourly instance takes the first minute one if none is earlier."""
    times = [u.cyctime for u in up]
    pairs: Pairs = []
    low = 0
    for position, d in enumerate(down):
        high = bisect_right(times, d.cyctime)
        window = range(max(low, high - 1) if last_only else low, high)
        if not window and position == 0:
            window = range(0, 1)
        pairs.extend((up[i], d) for i in window)
        low = max(low, high)
    return pairs


class DayPlan:
    """The slots of every node on one schedule date and on the day before.

    ``today`` and ``yesterday`` map node name -> slots sorted by cyctime;
    ``yesterday`` may lack nodes (nothing was generated for them). ``cadences``
    gives each node's cycle and self-dependency; a node missing from it is
    taken as a daily node with no self-dependency.
    """

    def __init__(
        self,
        today: Mapping[str, Sequence[Slot]],
        yesterday: Mapping[str, Sequence[Slot]],
        cadences: Mapping[str, Cadence],
    ) -> None:
        self.today = today
        self.yesterday = yesterday
        self.cadences = cadences
        self._pairs: dict[tuple[bool, str, str], dict[Slot, list[Slot]]] = {}

    def cadence(self, node: str) -> Cadence:
        return self.cadences.get(node) or Cadence(CycleType.DAY)

    def _waits_for(self, yesterday: bool, up: str, down: str, slot: Slot) -> list[Slot]:
        """The ancestor slots ``slot`` of ``down`` would wait for under the same-cycle
        rules if ``down`` did not depend on itself: the previous cycle of ``up`` for
        the slot after it."""
        key = (yesterday, up, down)
        if key not in self._pairs:
            slots = self.yesterday if yesterday else self.today
            descendant = self.cadence(down)._replace(self_dependent=False)
            table: dict[Slot, list[Slot]] = {}
            for u, d in same_cycle_edges(
                slots.get(up, ()), slots.get(down, ()), self.cadence(up), descendant
            ):
                table.setdefault(d, []).append(u)
            self._pairs[key] = table
        return self._pairs[key].get(slot, [])

    def previous_slot(self, node: str, index: int) -> Slot | None:
        """The instance before ``today[node][index]``: the previous slot, or yesterday's last."""
        if index > 0:
            return self.today[node][index - 1]
        earlier = self.yesterday.get(node, ())
        return earlier[-1] if earlier else None

    def previous_cycle_of(self, other: str, node: str, index: int) -> list[Slot]:
        """The instances of ``other`` in the cycle before ``today[node][index]``.

        For a node with one instance a day that is the other node's previous day:
        all of its instances, or only the last when the other node depends on itself
        (decision 13.11). For a node with many instances a day it is whatever its
        previous slot waits for under the same-cycle rules.
        """
        earlier = self.yesterday.get(other, ())
        if not self.cadence(node).many:
            other_cadence = self.cadence(other)
            every = other_cadence.many and not other_cadence.self_dependent
            return list(earlier) if every else list(earlier[-1:])
        mine = self.today[node]
        if index > 0:
            return self._waits_for(False, other, node, mine[index - 1])
        my_earlier = self.yesterday.get(node, ())
        if my_earlier:
            return self._waits_for(True, other, node, my_earlier[-1])
        return list(earlier[-1:])

    def day_edges(
        self, depends: Mapping[str, Sequence[Dependency]], nodes: Iterable[str]
    ) -> Iterator[Edge]:
        """Every edge into today's instances of ``nodes``; ``depends`` holds every node's
        dependencies (a node's children are found there)."""
        children = children_of(depends)
        for node in nodes:
            yield from self.edges_for(node, depends[node], children.get(node, ()))

    def edges_for(
        self, node: str, depends: Sequence[Dependency], children: Sequence[str] = ()
    ) -> list[Edge]:
        """Every edge into today's instances of ``node``.

        ``children`` are the node's direct same-cycle descendants, needed for
        CrossCycleDependsOnChildren.
        """
        edges: list[Edge] = []
        mine = self.today.get(node, ())
        cadence = self.cadence(node)
        for dep in depends:
            if dep.type is DependencyType.NORMAL:
                up = self.today.get(dep.node, ())
                pairs = same_cycle_edges(up, mine, self.cadence(dep.node), cadence)
                edges.extend(starmap(Edge, pairs))  # hot: 220k edges in a 10k-node day
                continue
            for index, slot in enumerate(mine):
                if dep.type is DependencyType.CROSS_CYCLE_SELF:
                    previous = self.previous_slot(node, index)
                    ups = [previous] if previous else []
                elif dep.type is DependencyType.CROSS_CYCLE_OTHER:
                    ups = self.previous_cycle_of(dep.node, node, index)
                else:
                    ups = [u for c in children for u in self.previous_cycle_of(c, node, index)]
                edges.extend(Edge(u, slot, cross_cycle=True) for u in ups)
        return edges


def children_of(depends: Mapping[str, Sequence[Dependency]]) -> dict[str, list[str]]:
    """Each node's direct same-cycle descendants (for CrossCycleDependsOnChildren)."""
    children: dict[str, list[str]] = {}
    for node, deps in depends.items():
        for dep in deps:
            if dep.type is DependencyType.NORMAL:
                children.setdefault(dep.node, []).append(node)
    return children


def backfill_edges(
    today: Mapping[str, Sequence[Slot]],
    cadences: Mapping[str, Cadence],
    depends: Mapping[str, Sequence[Dependency]],
) -> list[Edge]:
    """The edges among one business date's backfill instances (spec 6.3).

    The same-cycle rules between the nodes in the backfill, nothing from outside
    it, and a self-dependent node's instances of the date one after another
    (spec 4.2: with self-dependency they run serially).
    """
    plan = DayPlan(today, {}, cadences)
    edges: list[Edge] = []
    for node, mine in today.items():
        normal = [d for d in depends.get(node, ()) if d.type is DependencyType.NORMAL]
        edges += plan.edges_for(node, [d for d in normal if d.node in today])
        if plan.cadence(node).self_dependent:
            edges += [Edge(a, b, True) for a, b in zip(mine, mine[1:], strict=False)]
    return edges
