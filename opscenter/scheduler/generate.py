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

from sqlalchemy import Engine, and_, delete, insert, select
from sqlalchemy.orm import Session

from opscenter.domain import dag
from opscenter.domain.cron import parse_cron
from opscenter.domain.deps import DayPlan
from opscenter.domain.model import (
    Dependency,
    DependencyType,
    InstanceMode,
    Recurrence,
    Slot,
    Status,
)
from opscenter.store.models import (
    BaselineRow,
    GenerationRow,
    InstanceEdgeRow,
    InstanceRow,
    NodeRow,
    NodeVersionRow,
    WorkspaceRow,
)
from opscenter.store.tx import writing_session

CHUNK = 5000  # rows per INSERT batch
GENERATION_TIME = time(23, 30)  # nightly generation of the next day (decision 13.1)
IMMEDIATE_BUFFER = timedelta(minutes=10)  # Immediately mode: slots this close are expired


@dataclass(frozen=True)
class Generated:
    day: date
    instances: int
    edges: int


@dataclass(frozen=True)
class _Deployed:
    node: NodeRow
    version: NodeVersionRow
    # Immediately mode, new node deployed today: slots up to this wall time are expired
    expired_until: datetime | None = None

    @property
    def depends(self) -> list[Dependency]:
        return [Dependency(DependencyType(t), n) for t, n in self.version.depends]


def local_to_utc(wall: datetime, zone: ZoneInfo) -> datetime:
    return wall.replace(tzinfo=zone).astimezone(UTC).replace(tzinfo=None)


def generation_cutoff(day: date, zone: ZoneInfo) -> datetime:
    """When the instances of ``day`` are fixed: 23:30 the evening before (naive UTC)."""
    return local_to_utc(datetime.combine(day - timedelta(days=1), GENERATION_TIME), zone)


def next_generation_at(now: datetime, zone: ZoneInfo) -> tuple[datetime, date]:
    """The next nightly run after ``now`` (naive UTC) and the schedule date it generates."""
    local = now.replace(tzinfo=UTC).astimezone(zone).replace(tzinfo=None)
    run = datetime.combine(local.date(), GENERATION_TIME)
    if run <= local:
        run += timedelta(days=1)
    return local_to_utc(run, zone), run.date() + timedelta(days=1)


def generate_day(
    engine: Engine, workspace_id: int, day: date, *, now: datetime, bootstrap: bool = False
) -> Generated:
    """Generate periodic instances whose scheduled date is ``day``; ``now`` is naive UTC.

    Each node uses the version in effect for that day (spec 2.3): T+1 versions
    deployed before the cutoff (23:30 the evening before), Immediately versions
    also when deployed on the day itself before 23:30. ``bootstrap`` (the first
    start of a workspace) lets today's instances use what was just deployed, so
    a new installation is alive at once.
    """
    with writing_session(engine) as session:
        ws = session.get(WorkspaceRow, workspace_id)
        if ws is None:
            raise LookupError(f"no workspace with id {workspace_id}")
        zone = ZoneInfo(ws.timezone)
        deployed = _deployed_nodes(session, workspace_id, day, zone, bootstrap=bootstrap)
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
                        "due_at": local_to_utc(slot.cyctime, zone),
                        "cycle": slot.cycle,
                        "status": Status.FROZEN.value if frozen else Status.NOT_RUN.value,
                        "dry_run": dry_run,
                        "dry_run_reason": reason,
                        "run_number": 0,
                        "auto_reruns": 0,
                        "trigger_note": "",
                        "priority": priorities.get(name, item.version.priority),
                        "resource_group": item.version.resource_group,
                        "owner": item.version.owner,
                        "set_success": False,
                        "created_at": now,
                        "status_at": now,
                    }
                )
        connection = session.connection()
        for start in range(0, len(rows), CHUNK):  # Core, in chunks: the 10k-node day is 55k rows
            connection.execute(insert(InstanceRow.__table__), rows[start : start + CHUNK])
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
        for start in range(0, len(edges), CHUNK):
            connection.execute(insert(InstanceEdgeRow.__table__), edges[start : start + CHUNK])
        _mark_generated(connection, workspace_id, day, now)
    return Generated(day, len(rows), len(edges))


def _mark_generated(connection, workspace_id: int, day: date, now: datetime) -> None:  # noqa: ANN001
    connection.execute(
        delete(GenerationRow).where(
            GenerationRow.workspace_id == workspace_id, GenerationRow.day == day
        )
    )
    connection.execute(
        insert(GenerationRow).values(workspace_id=workspace_id, day=day, generated_at=now)
    )


def _deployed_nodes(
    session: Session, workspace_id: int, day: date, zone: ZoneInfo, *, bootstrap: bool
) -> list[_Deployed]:
    """Each node with the version in effect on ``day``, or nothing if none is yet."""
    cutoff = generation_cutoff(day, zone)
    nodes = session.scalars(
        select(NodeRow)
        .where(NodeRow.workspace_id == workspace_id)
        .where((NodeRow.state == "deployed") | (NodeRow.undeployed_at > cutoff))
        .order_by(NodeRow.id)
    ).all()
    versions: dict[int, list[NodeVersionRow]] = defaultdict(list)
    for version in session.scalars(
        select(NodeVersionRow)
        .where(NodeVersionRow.node_id.in_([n.id for n in nodes]))
        .order_by(NodeVersionRow.version)
    ):
        versions[version.node_id].append(version)
    chosen: list[_Deployed] = []
    for node in nodes:
        eligible = [v for v in versions[node.id] if _in_effect(v, day, cutoff, zone)]
        if not eligible and bootstrap and node.state == "deployed":
            eligible = versions[node.id][-1:]
        if not eligible:
            continue
        version = eligible[-1]
        expired_until = None
        immediate = version.instance_mode == InstanceMode.IMMEDIATELY.value
        if immediate and version.deployed_at >= cutoff and len(eligible) == 1:
            deployed_local = version.deployed_at.replace(tzinfo=UTC).astimezone(zone)
            expired_until = deployed_local.replace(tzinfo=None) + IMMEDIATE_BUFFER
        chosen.append(_Deployed(node, version, expired_until))
    return chosen


def _in_effect(version: NodeVersionRow, day: date, cutoff: datetime, zone: ZoneInfo) -> bool:
    if version.deployed_at < cutoff:
        return True
    if version.instance_mode != InstanceMode.IMMEDIATELY.value:
        return False
    local = version.deployed_at.replace(tzinfo=UTC).astimezone(zone)
    return local.date() == day and local.time() < GENERATION_TIME


def _slots_for(item: _Deployed, day: date, zone: ZoneInfo) -> list[tuple[Slot, bool, str]]:
    """(slot, dry_run, reason) for each periodic instance the node gets on ``day``."""
    version = item.version
    if (version.start_date and day < version.start_date) or (
        version.end_date and day > version.end_date
    ):
        return []
    planned = day_slots(item.node.name, version.cron, version.recurrence, day, zone)
    if item.expired_until is None:
        return planned
    return [
        (slot, True, "expired")
        if not dry and slot.cyctime <= item.expired_until
        else (slot, dry, why)
        for slot, dry, why in planned
    ]


def day_slots(
    node: str,
    cron: str,
    recurrence: str,
    day: date,
    zone: ZoneInfo,
    window: tuple[time, time] | None = None,
) -> list[tuple[Slot, bool, str]]:
    """The node's instances for schedule date ``day`` as (slot, dry_run, reason).

    Weekly/monthly/yearly nodes get a dry-run instance on the days they do not
    run; Skip nodes dry-run. ``window`` keeps only the slots of a node with many
    a day whose time of day falls inside it (backfill, spec 6.3).
    """
    schedule = parse_cron(cron)
    bizdate = day - timedelta(days=1)
    times = schedule.fire_times_on(day, zone)
    skip = recurrence == Recurrence.SKIP.value
    if times:
        numbered = list(enumerate(times, start=1))  # the cycle number stays the slot's own
        if window and schedule.cycle_type.many_per_day:
            numbered = [(n, t) for n, t in numbered if window[0] <= t.time() <= window[1]]
        reason = "dry-run node" if skip else ""
        return [(Slot(node, t, bizdate, n), skip, reason) for n, t in numbered]
    if schedule.cycle_type.many_per_day:
        return []
    wall = datetime.combine(day, schedule.time_of_day or time(0))
    return [(Slot(node, wall, bizdate, 1), True, "dry-run node" if skip else "not a run day")]


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


def ensure_generated(engine: Engine, workspace_id: int, now: datetime) -> list[Generated]:
    """What a starting scheduler does: today's instances exist, and tomorrow's after 23:30.

    On the very first start (no instance yet) today is generated from what was
    just deployed, whatever its instance mode, so a new workspace is alive at once.
    """
    with Session(engine) as session:
        ws = session.get(WorkspaceRow, workspace_id)
        zone, deployed_at = ZoneInfo(ws.timezone), ws.deployed_at
        first = (
            session.scalar(
                select(InstanceRow.id).where(InstanceRow.workspace_id == workspace_id).limit(1)
            )
            is None
        )
        done = dict(
            session.execute(
                select(GenerationRow.day, GenerationRow.generated_at).where(
                    GenerationRow.workspace_id == workspace_id
                )
            ).all()
        )
    local = now.replace(tzinfo=UTC).astimezone(zone)
    days = [local.date()]
    if local.time() >= GENERATION_TIME:
        days.append(local.date() + timedelta(days=1))
    # a day generated since the last deploy has nothing new to generate
    todo = [d for d in days if d not in done or done[d] < deployed_at]
    return [generate_day(engine, workspace_id, day, now=now, bootstrap=first) for day in todo]
