"""What a backfill would create (spec 6.3), worked out from the deployed nodes alone.

Pure: the local backend plans from its store, the DataWorks backend from the tasks the
OpenAPI lists, and both refuse and count in the same words. The chosen nodes get
instances on every business date; unchosen nodes between two chosen ones get dry-run
instances so the chain still holds; frozen nodes are generated FROZEN.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, time, timedelta
from zoneinfo import ZoneInfo

from opscenter.domain import dag
from opscenter.domain.cron import parse_cron
from opscenter.domain.records import ActionRefused, BackfillRequest, NotFound, counted
from opscenter.domain.slots import day_slots

MAX_PARALLEL = 10  # decision 13.7
MAX_DATES = 366
# Business dates a backfill may cover: their instances run the day after, in any zone.
FIRST_BIZDATE, LAST_BIZDATE = date(1970, 1, 1), date(9998, 12, 31)


@dataclass(frozen=True)
class PlanNode:
    """What the planner needs of a deployed node."""

    name: str
    cron: str
    upstreams: tuple[str, ...]  # same-cycle (Normal) dependencies only
    frozen: bool


@dataclass(frozen=True)
class BackfillPlan:
    nodes: tuple[str, ...]  # chosen nodes, in dependency order
    dry_nodes: tuple[str, ...]  # unchosen nodes between chosen ones: dry-run
    frozen_nodes: tuple[str, ...]  # their instances are generated FROZEN (decision 13.6)
    dates: tuple[date, ...]  # business dates in execution order
    instances: int  # how many instances the backfill will create
    window: tuple[time, time] | None

    def describe(self) -> str:
        text = (
            f"{counted(self.instances, 'instance')} of {counted(len(self.nodes), 'node')} "
            f"over {counted(len(self.dates), 'business date')}"
        )
        if self.dry_nodes:
            text += f"; dry-run (not selected): {', '.join(self.dry_nodes)}"
        if self.frozen_nodes:
            text += f"; generated FROZEN (node frozen): {', '.join(self.frozen_nodes)}"
        return text


def window_of(request: BackfillRequest) -> tuple[time, time] | None:
    if request.window is None:
        return None
    try:
        start, end = (time.fromisoformat(t) for t in request.window)
    except ValueError:
        raise ActionRefused(f"window {'-'.join(request.window)} is not HH:MM-HH:MM") from None
    if end < start:
        raise ActionRefused("the window ends before it starts")
    return start, end


def plan(nodes: Mapping[str, PlanNode], zone: ZoneInfo, request: BackfillRequest) -> BackfillPlan:
    """Check a request and work out what it would create; refusals say why."""
    if request.node not in nodes:
        raise NotFound(f"node {request.node!r} is not deployed")
    if request.end < request.start:
        raise ActionRefused(f"the range ends ({request.end}) before it starts ({request.start})")
    if request.start < FIRST_BIZDATE or request.end > LAST_BIZDATE:
        raise ActionRefused(f"business dates must lie within {FIRST_BIZDATE}..{LAST_BIZDATE}")
    days = (request.end - request.start).days + 1
    if days > MAX_DATES:
        raise ActionRefused(f"{days} business dates is more than {MAX_DATES} in one backfill")
    if not 1 <= request.parallel <= MAX_PARALLEL:
        raise ActionRefused(f"parallel must be 1..{MAX_PARALLEL}, got {request.parallel}")
    parents = {n.name: list(n.upstreams) for n in nodes.values()}
    children = dag.invert(parents)
    below = dag.closure(children, request.node)
    if request.downstream and request.include:
        raise ActionRefused("give either downstream or an include list, not both")
    for name in (*request.include, *request.exclude):
        if name not in nodes:
            raise NotFound(f"node {name!r} is not deployed")
    stray = [n for n in request.include if n not in below]
    if stray:
        raise ActionRefused(f"not downstream of {request.node}: {', '.join(stray)}")
    chosen = {request.node} | (set(below) if request.downstream else set(request.include))
    chosen -= set(request.exclude) - {request.node}
    if request.node in request.exclude:
        raise ActionRefused("the backfill's own node cannot be excluded")
    between = {
        n
        for n in nodes
        if n not in chosen and n in below and any(c in dag.closure(children, n) for c in chosen)
    }
    order = [n for n in dag.topological_order(parents) if n in chosen or n in between]
    window = window_of(request)
    dates = [request.start + timedelta(days=i) for i in range(days)]
    if request.descending:
        dates.reverse()
    total = 0
    for name in order:
        node = nodes[name]
        schedule = parse_cron(node.cron)
        if window and schedule.cycle_type.many_per_day and name in chosen:
            probe = day_slots(name, node.cron, "Normal", dates[0] + timedelta(days=1), zone, window)
            if not probe:
                raise ActionRefused(
                    f"node {name} has no scheduled time inside the window "
                    f"{window[0]:%H:%M}-{window[1]:%H:%M} ({schedule.describe()})"
                )
        for bizdate in dates:
            total += len(
                day_slots(name, node.cron, "Normal", bizdate + timedelta(days=1), zone, window)
            )
    frozen = tuple(n for n in order if n in chosen and nodes[n].frozen)
    return BackfillPlan(
        nodes=tuple(n for n in order if n in chosen),
        dry_nodes=tuple(n for n in order if n in between),
        frozen_nodes=frozen,
        dates=tuple(dates),
        instances=total,
        window=window,
    )
