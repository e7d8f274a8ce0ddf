"""Periodic instance generation for one schedule date (spec 2.3, 4).

Every deployed node gets its instances for the day with their instance edges,
in one transaction. Weekly/monthly/yearly nodes get a dry-run instance on
days they do not run, Skip nodes dry-run, Pause (or frozen) nodes are
generated FROZEN, and nothing is generated outside a node's effective dates.
Generating a day twice creates nothing new: a node that already has instances
that day keeps them.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, and_, insert, select
from sqlalchemy.orm import Session

from opscenter.domain import dag
from opscenter.domain.cron import parse_cron
from opscenter.domain.deps import DayPlan
from opscenter.domain.model import Dependency, DependencyType, Recurrence, Slot, Status
from opscenter.store.models import (
    BaselineRow,
    InstanceEdgeRow,
    InstanceRow,
    NodeRow,
    NodeVersionRow,
    WorkspaceRow,
)


@dataclass(frozen=True)
class Generated:
    day: date
    instances: int
    edges: int


@dataclass(frozen=True)
class _Deployed:
    node: NodeRow
    version: NodeVersionRow

    @property
    def depends(self) -> list[Dependency]:
        return [Dependency(DependencyType(t), n) for t, n in self.version.depends]


def _local_to_utc(wall: datetime, zone: ZoneInfo) -> datetime:
    return wall.replace(tzinfo=zone).astimezone(UTC).replace(tzinfo=None)


def generate_day(engine: Engine, workspace_id: int, day: date, *, now: datetime) -> Generated:
    """Generate periodic instances whose scheduled date is ``day``; ``now`` is naive UTC."""
    with Session(engine) as session, session.begin():
        ws = session.get(WorkspaceRow, workspace_id)
        if ws is None:
            raise LookupError(f"no workspace with id {workspace_id}")
        zone = ZoneInfo(ws.timezone)
        deployed = _deployed_nodes(session, workspace_id)
        by_id = {d.node.id: d for d in deployed}
        existing_today = _existing_slots(session, workspace_id, day, by_id)
        existing_yesterday = _existing_slots(session, workspace_id, day - timedelta(days=1), by_id)

        planned: dict[str, list[tuple[Slot, bool, str]]] = {}
        for item in deployed:
            if item.node.name not in existing_today[0]:
                planned[item.node.name] = _slots_for(item, day, zone)
        today = dict(existing_today[0])
        today.update({name: [e[0] for e in entries] for name, entries in planned.items()})
        plan = DayPlan(today, existing_yesterday[0])

        priorities = _effective_priorities(session, workspace_id, deployed)
        rows = []
        for item in deployed:
            name = item.node.name
            for slot, dry_run, reason in planned.get(name, ()):
                frozen = item.node.frozen or item.version.recurrence == Recurrence.PAUSE.value
                rows.append(
                    {
                        "workspace_id": workspace_id,
                        "node_id": item.node.id,
                        "node_version_id": item.version.id,
                        "kind": "periodic",
                        "bizdate": slot.bizdate,
                        "cyctime": slot.cyctime,
                        "due_at": _local_to_utc(slot.cyctime, zone),
                        "cycle": slot.cycle,
                        "status": Status.FROZEN.value if frozen else Status.NOT_RUN.value,
                        "dry_run": dry_run,
                        "dry_run_reason": reason,
                        "run_number": 0,
                        "priority": priorities.get(name, item.version.priority),
                        "resource_group": item.version.resource_group,
                        "owner": item.version.owner,
                        "set_success": False,
                        "created_at": now,
                        "status_at": now,
                    }
                )
        if rows:
            session.execute(insert(InstanceRow), rows)
        ids = _existing_slots(session, workspace_id, day, by_id)[1] | existing_yesterday[1]

        children: dict[str, list[str]] = defaultdict(list)
        for item in deployed:
            for dep in item.depends:
                if dep.type is DependencyType.NORMAL:
                    children[dep.node].append(item.node.name)
        edges = []
        for item in deployed:
            if item.node.name not in planned:
                continue
            for edge in plan.edges_for(item.node.name, item.depends, children[item.node.name]):
                up, down = ids.get(edge.upstream), ids.get(edge.downstream)
                if up is not None and down is not None:
                    edges.append(
                        {"upstream_id": up, "downstream_id": down, "cross_cycle": edge.cross_cycle}
                    )
        if edges:
            session.execute(insert(InstanceEdgeRow), edges)
    return Generated(day, len(rows), len(edges))


def _deployed_nodes(session: Session, workspace_id: int) -> list[_Deployed]:
    query = (
        select(NodeRow, NodeVersionRow)
        .join(NodeVersionRow, NodeVersionRow.id == NodeRow.current_version_id)
        .where(NodeRow.workspace_id == workspace_id, NodeRow.state == "deployed")
        .order_by(NodeRow.id)
    )
    return [_Deployed(node, version) for node, version in session.execute(query)]


def _slots_for(item: _Deployed, day: date, zone: ZoneInfo) -> list[tuple[Slot, bool, str]]:
    """(slot, dry_run, reason) for each instance the node gets on ``day``."""
    version = item.version
    if (version.start_date and day < version.start_date) or (
        version.end_date and day > version.end_date
    ):
        return []
    schedule = parse_cron(version.cron)
    bizdate = day - timedelta(days=1)
    times = schedule.fire_times_on(day, zone)
    skip = version.recurrence == Recurrence.SKIP.value
    if times:
        reason = "dry-run node" if skip else ""
        return [
            (Slot(item.node.name, t, bizdate, i + 1), skip, reason) for i, t in enumerate(times)
        ]
    if schedule.cycle_type.many_per_day:
        return []
    # weekly/monthly/yearly nodes have a dry-run instance on the days they do not run
    wall = datetime.combine(day, schedule.time_of_day or time(0))
    reason = "dry-run node" if skip else "not a run day"
    return [(Slot(item.node.name, wall, bizdate, 1), True, reason)]


def _existing_slots(
    session: Session, workspace_id: int, day: date, by_id: dict[int, _Deployed]
) -> tuple[dict[str, list[Slot]], dict[Slot, int]]:
    start = datetime.combine(day, time(0))
    query = (
        select(
            InstanceRow.id,
            InstanceRow.node_id,
            InstanceRow.cyctime,
            InstanceRow.bizdate,
            InstanceRow.cycle,
        )
        .where(
            and_(
                InstanceRow.workspace_id == workspace_id,
                InstanceRow.kind == "periodic",
                InstanceRow.cyctime >= start,
                InstanceRow.cyctime < start + timedelta(days=1),
            )
        )
        .order_by(InstanceRow.cyctime, InstanceRow.id)
    )
    slots: dict[str, list[Slot]] = defaultdict(list)
    ids: dict[Slot, int] = {}
    for row in session.execute(query):
        if row.node_id not in by_id:
            continue
        slot = Slot(by_id[row.node_id].node.name, row.cyctime, row.bizdate, row.cycle)
        slots[slot.node].append(slot)
        ids[slot] = row.id
    return dict(slots), ids


def _effective_priorities(
    session: Session, workspace_id: int, deployed: list[_Deployed]
) -> dict[str, int]:
    """A baseline's priority lifts its nodes and all their ancestors (max wins)."""
    parents = {d.node.name: [n for t, n in d.version.depends if t == "Normal"] for d in deployed}
    lifted = {d.node.name: d.version.priority for d in deployed}
    baselines = session.scalars(
        select(BaselineRow).where(BaselineRow.workspace_id == workspace_id, BaselineRow.enabled)
    )
    for baseline in baselines:
        for output in baseline.nodes:
            if output not in lifted:
                continue
            for name in [output, *dag.closure(parents, output)]:
                if name in lifted:
                    lifted[name] = max(lifted[name], baseline.priority)
    return lifted
