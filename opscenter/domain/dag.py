"""Graph algorithms over dependency edges, for nodes and for instances alike.

A graph is given as a mapping from each vertex to its upstream (parent)
vertices. Everything here is iterative, linear in vertices + edges, and keeps
the caller's order where order is free, so results are deterministic.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable, Iterable, Mapping
from typing import TypeVar

V = TypeVar("V", bound=Hashable)


class CycleError(ValueError):
    """The dependencies loop back on themselves; ``cycle`` lists the vertices in order."""

    def __init__(self, cycle: list) -> None:
        self.cycle = cycle
        path = " -> ".join(str(v) for v in [*cycle, cycle[0]])
        super().__init__(f"dependency cycle: {path}")


def invert(parents: Mapping[V, Iterable[V]]) -> dict[V, list[V]]:
    """Turn a vertex -> parents mapping into vertex -> children (every vertex present)."""
    children: dict[V, list[V]] = {v: [] for v in parents}
    for v, ups in parents.items():
        for u in ups:
            children.setdefault(u, []).append(v)
    return children


def closure(edges: Mapping[V, Iterable[V]], start: V, max_level: int | None = None) -> dict[V, int]:
    """Every vertex reachable from ``start`` along ``edges``, with its level (1 = direct).

    Pass parents to get the upstream closure, children (see ``invert``) for the
    downstream one. A vertex reachable at several depths gets the shortest.
    """
    levels: dict[V, int] = {}
    queue: deque[tuple[V, int]] = deque([(start, 0)])
    while queue:
        vertex, level = queue.popleft()
        if max_level is not None and level >= max_level:
            continue
        for nxt in edges.get(vertex, ()):
            if nxt != start and nxt not in levels:
                levels[nxt] = level + 1
                queue.append((nxt, level + 1))
    return levels


def topological_order(parents: Mapping[V, Iterable[V]]) -> list[V]:
    """Parents before children; raises CycleError naming the vertices on a cycle.

    Parents not present as keys are treated as vertices with no parents.
    """
    children = invert(parents)
    indegree = {v: 0 for v in children}
    for v, ups in parents.items():
        indegree[v] = len(set(ups))
    ready = deque(v for v in children if indegree[v] == 0)
    order: list[V] = []
    while ready:
        vertex = ready.popleft()
        order.append(vertex)
        for child in dict.fromkeys(children[vertex]):
            indegree[child] -= 1
            if indegree[child] == 0:
                ready.append(child)
    if len(order) < len(children):
        raise CycleError(find_cycle(parents) or [])
    return order


def find_cycle(parents: Mapping[V, Iterable[V]]) -> list[V] | None:
    """One cycle as a list of vertices in dependency order, or None if acyclic.

    The list reads downstream: each vertex depends on the one before it, and the
    first depends on the last.
    """
    white, grey, black = 0, 1, 2
    colour: dict[V, int] = {}
    for root in parents:
        if colour.get(root, white) != white:
            continue
        colour[root] = grey
        path: list[V] = [root]
        stack = [iter(parents.get(root, ()))]
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                colour[path.pop()] = black
                stack.pop()
                continue
            state = colour.get(nxt, white)
            if state == grey:
                cycle = path[path.index(nxt) :]
                return list(reversed(cycle))
            if state == white:
                colour[nxt] = grey
                path.append(nxt)
                stack.append(iter(parents.get(nxt, ())))
    return None
