"""Instance-level dependency resolution (spec section 4).

Node dependencies say *which* nodes wait for which; this module says which
*instances* wait for which on a given schedule date. Same-cycle edges join
instances of one business date; cross-cycle edges join an instance to the
previous cycle (spec 4.2, decision 13.11).

A node that fires once a day (daily, or weekly/monthly/yearly, which have a
dry-run instance on the other days) counts as "once a day" here; a node with
several fire times a day (hourly, minute) as "many a day".
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping, Sequence
from typing import NamedTuple

from opscenter.domain.model import Dependency, DependencyType, Slot


class Edge(NamedTuple):
    upstream: Slot
    downstream: Slot
    cross_cycle: bool = False


def same_cycle_edges(up: Sequence[Slot], down: Sequence[Slot]) -> list[tuple[Slot, Slot]]:
    """Pair one day's upstream slots with one day's downstream slots (spec 4.3).

    - upstream once a day: every downstream instance waits for it (D2, D3);
    - downstream once a day: it waits for every upstream instance (D1);
    - the same number of cycles: 1:1 by cycle number, whatever the times (D4);
    - otherwise the proximity rule: each downstream instance waits for the
      upstream instance closest to but not later than itself that no other
      downstream instance already waits for; the first downstream instance
      takes the first upstream instance if none is earlier (D5).
    Both sequences must be sorted by cyctime.
    """
    if not up or not down:
        return []
    if len(up) == 1:
        return [(up[0], d) for d in down]
    if len(down) == 1:
        return [(u, down[0]) for u in up]
    if len(up) == len(down):
        return list(zip(up, down, strict=True))
    return _proximity(up, down)


def _proximity(up: Sequence[Slot], down: Sequence[Slot]) -> list[tuple[Slot, Slot]]:
    times = [u.cyctime for u in up]
    taken: set[int] = set()
    pairs: list[tuple[Slot, Slot]] = []
    for position, d in enumerate(down):
        index = bisect_right(times, d.cyctime) - 1
        while index >= 0 and index in taken:
            index -= 1
        if index < 0 and position == 0 and 0 not in taken:
            index = 0  # nothing earlier than the first descendant: it takes the first ancestor
        if index >= 0:
            taken.add(index)
            pairs.append((up[index], d))
    return pairs


class DayPlan:
    """The slots of every node on one schedule date and on the day before.

    ``today`` and ``yesterday`` map node name -> slots sorted by cyctime;
    ``yesterday`` may lack nodes (nothing was generated for them).
    """

    def __init__(
        self,
        today: Mapping[str, Sequence[Slot]],
        yesterday: Mapping[str, Sequence[Slot]],
    ) -> None:
        self.today = today
        self.yesterday = yesterday
        self._pairs: dict[tuple[int, str, str], dict[Slot, list[Slot]]] = {}

    def _waits_for(self, day: int, up: str, down: str, slot: Slot) -> list[Slot]:
        """Upstream slots that ``slot`` of ``down`` waits for under same-cycle rules."""
        key = (day, up, down)
        if key not in self._pairs:
            slots = self.today if day == 0 else self.yesterday
            table: dict[Slot, list[Slot]] = {}
            for u, d in same_cycle_edges(slots.get(up, ()), slots.get(down, ())):
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

        For a node that runs once a day that is the other node's previous day, and
        for an hourly other node its last instance of that day (decision 13.11).
        For a node that runs many times a day it is whatever its previous slot
        would wait for under the same-cycle rules.
        """
        mine = self.today[node]
        if len(mine) == 1:
            return list(self.yesterday.get(other, ())[-1:])
        if index > 0:
            return self._waits_for(0, other, node, mine[index - 1])
        earlier = self.yesterday.get(node, ())
        if earlier:
            return self._waits_for(1, other, node, earlier[-1])
        return list(self.yesterday.get(other, ())[-1:])

    def edges_for(
        self, node: str, depends: Sequence[Dependency], children: Sequence[str] = ()
    ) -> list[Edge]:
        """Every edge into today's instances of ``node``.

        ``children`` are the node's direct same-cycle descendants, needed for
        CrossCycleDependsOnChildren.
        """
        edges: list[Edge] = []
        mine = self.today.get(node, ())
        for dep in depends:
            if dep.type is DependencyType.NORMAL:
                edges.extend(
                    Edge(u, d) for u, d in same_cycle_edges(self.today.get(dep.node, ()), mine)
                )
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
