"""Data backfill (spec 6.3): chosen nodes over a range of business dates.

A backfill has one run per business date, executed in ascending or descending
order with 1..10 dates in flight. A run's instances are generated when the run
starts: the chosen nodes, plus dry-run instances for unchosen nodes between
them so the chain still holds. Periodic instances are never touched. A failed
date holds its place until it is rerun or set to success (decision: serial
mode halts on failure).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from sqlalchemy import Connection, func, insert, select, update
from sqlalchemy.orm import Session

from opscenter.domain import backfill_plan
from opscenter.domain.backfill_plan import BackfillPlan, PlanNode
from opscenter.domain.deps import Cadence, backfill_edges, cadence_of
from opscenter.domain.model import Dependency, DependencyType, Recurrence, Slot, Status
from opscenter.domain.records import ActionRefused, BackfillRequest
from opscenter.domain.slots import day_slots
from opscenter.domain.times import wall_to_store
from opscenter.store.models import (
    BackfillRow,
    BackfillRunRow,
    InstanceEdgeRow,
    InstanceRow,
    NodeRow,
    NodeVersionRow,
)
from opscenter.store.tx import inserted_id
from opscenter.store.workspaces import zone_of


@dataclass(frozen=True)
class _Node:
    id: int
    name: str
    version: NodeVersionRow
    frozen: bool

    @property
    def normal_upstreams(self) -> list[str]:
        return [n for t, n in self.version.depends if t == DependencyType.NORMAL.value]

    @property
    def depends(self) -> list[Dependency]:
        return [Dependency(DependencyType(t), n) for t, n in self.version.depends]

    @property
    def cadence(self) -> Cadence:
        return cadence_of(self.version.cron, self.depends)


def _deployed(conn: Connection, workspace_id: int) -> dict[str, _Node]:
    rows = (
        Session(bind=conn)
        .execute(
            select(NodeRow, NodeVersionRow)
            .join(NodeVersionRow, NodeVersionRow.id == NodeRow.current_version_id)
            .where(NodeRow.workspace_id == workspace_id, NodeRow.state == "deployed")
        )
        .all()
    )
    return {n.name: _Node(n.id, n.name, v, bool(n.frozen)) for n, v in rows}


def plan(conn: Connection, workspace_id: int, request: BackfillRequest) -> BackfillPlan:
    """Check a request against the deployed nodes and work out what it would create."""
    zone = zone_of(conn, workspace_id)
    deployed = _deployed(conn, workspace_id)
    asked = deployed.get(request.node)
    if asked is not None and asked.version.workflow is not None:
        raise ActionRefused(
            f"node {request.node} is manually triggered and has no schedule to backfill: "
            f"run its workflow {asked.version.workflow} for each business date instead"
        )
    nodes = {
        name: PlanNode(
            name,
            node.version.cron,
            tuple(node.normal_upstreams),
            node.frozen or node.version.recurrence == Recurrence.PAUSE.value,
        )
        for name, node in deployed.items()
    }
    return backfill_plan.plan(nodes, zone, request)


def create(
    conn: Connection, workspace_id: int, request: BackfillRequest, *, user: str, now: datetime
) -> tuple[int, BackfillPlan]:
    """Record the backfill and its runs; the scheduler starts them (advance)."""
    planned = plan(conn, workspace_id, request)
    name = request.name or (f"backfill {request.node} {request.start:%Y%m%d}-{request.end:%Y%m%d}")
    options = {
        "node": request.node,
        "nodes": list(planned.nodes),
        "dry_nodes": list(planned.dry_nodes),
        "start": request.start.isoformat(),
        "end": request.end.isoformat(),
        "parallel": request.parallel,
        "descending": request.descending,
        "window": [t.strftime("%H:%M") for t in planned.window] if planned.window else None,
    }
    backfill_id = inserted_id(
        conn.execute(
            insert(BackfillRow).values(
                workspace_id=workspace_id,
                name=name,
                created_at=now,
                created_by=user,
                options=options,
                status="RUNNING",
            )
        )
    )
    conn.execute(
        insert(BackfillRunRow),
        [
            {"backfill_id": backfill_id, "bizdate": d, "position": i, "status": "WAITING"}
            for i, d in enumerate(planned.dates)
        ],
    )
    return backfill_id, planned


def advance(
    conn: Connection, workspace_id: int, now: datetime, touched_runs: set[int] | None = None
) -> list[int]:
    """Update run statuses from their instances and start runs that may start.

    ``touched_runs`` limits the work to the runs whose instances just changed (the
    scheduler knows them); None looks at every open backfill. Returns the ids of
    instances created, for the scheduler to evaluate.
    """
    if touched_runs is not None and not _runs_changed(conn, touched_runs):
        return []  # the common turn: runs still running (no run can start, none has ended)
    created: list[int] = []
    session = Session(bind=conn)
    query = select(BackfillRow).where(
        BackfillRow.workspace_id == workspace_id, BackfillRow.status.in_(["RUNNING", "FAILURE"])
    )
    if touched_runs is not None:
        owners = select(BackfillRunRow.backfill_id).where(BackfillRunRow.id.in_(touched_runs))
        query = query.where(BackfillRow.id.in_(owners))
    backfills = session.execute(query).scalars().all()
    for backfill in backfills:
        runs = (
            session.execute(
                select(BackfillRunRow)
                .where(BackfillRunRow.backfill_id == backfill.id)
                .order_by(BackfillRunRow.position)
            )
            .scalars()
            .all()
        )
        for run in runs:
            if touched_runs is not None and run.id not in touched_runs:
                continue
            if run.status in ("RUNNING", "FAILURE", "SUCCESS"):
                status = _run_status(conn, run.id)
                if status != run.status:
                    conn.execute(
                        update(BackfillRunRow)
                        .where(BackfillRunRow.id == run.id)
                        .values(status=status, finished_at=now if status == "SUCCESS" else None)
                    )
                    run.status = status
        open_runs = sum(r.status in ("RUNNING", "FAILURE") for r in runs)
        for run in runs:
            if run.status != "WAITING" or open_runs >= backfill.options["parallel"]:
                continue
            created += _start_run(conn, workspace_id, backfill, run, now)
            run.status = "RUNNING"
            open_runs += 1
        statuses = {r.status for r in runs}
        overall = (
            "SUCCESS"
            if statuses == {"SUCCESS"}
            else "FAILURE"
            if "FAILURE" in statuses
            else "RUNNING"
        )
        if overall != backfill.status:
            conn.execute(
                update(BackfillRow).where(BackfillRow.id == backfill.id).values(status=overall)
            )
    return created


_COUNTS = (
    func.count(),
    func.count().filter(InstanceRow.status == Status.SUCCESS.value),
    func.count().filter(InstanceRow.status == Status.FAILURE.value, InstanceRow.retry_at.is_(None)),
)


def _status_of(total: int, done: int, failed: int) -> str:
    """A run's status from its instances: all succeeded, one failed for good, or running."""
    if total == done:
        return "SUCCESS"
    return "FAILURE" if failed else "RUNNING"


def _run_status(conn: Connection, run_id: int) -> str:
    counts = conn.execute(select(*_COUNTS).where(InstanceRow.backfill_run_id == run_id)).one()
    return _status_of(*counts)


def _runs_changed(conn: Connection, run_ids: set[int]) -> bool:
    """Whether any of these runs' status is not what its instances now say (or it is not
    running, so that advancing may start the next): one query for all of them."""
    recorded: dict[int | None, str] = dict(
        conn.execute(
            select(BackfillRunRow.id, BackfillRunRow.status).where(BackfillRunRow.id.in_(run_ids))
        ).all()
    )
    if any(status not in ("RUNNING", "FAILURE") for status in recorded.values()):
        return True
    counted = conn.execute(
        select(InstanceRow.backfill_run_id, *_COUNTS)
        .where(InstanceRow.backfill_run_id.in_(run_ids))
        .group_by(InstanceRow.backfill_run_id)
    ).all()
    return any(_status_of(*counts) != recorded[run] for run, *counts in counted)


def _start_run(
    conn: Connection, workspace_id: int, backfill: BackfillRow, run: BackfillRunRow, now: datetime
) -> list[int]:
    """Generate the run's instances and edges; returns the new instance ids."""
    options = backfill.options
    nodes = _deployed(conn, workspace_id)
    zone = zone_of(conn, workspace_id)
    window = None
    if options["window"]:
        start, end = options["window"]
        window = (time.fromisoformat(start), time.fromisoformat(end))
    day = run.bizdate + timedelta(days=1)  # $[...] is the selected date + 1 at the node's time
    chosen = [n for n in options["nodes"] if n in nodes]
    dry_nodes = [n for n in options["dry_nodes"] if n in nodes]
    slots: dict[str, list[tuple[Slot, bool, str]]] = {}
    for name in chosen + dry_nodes:
        planned = day_slots(
            name, nodes[name].version.cron, nodes[name].version.recurrence, day, zone, window
        )
        if name in dry_nodes:
            planned = [(slot, True, "not selected in backfill") for slot, _dry, _why in planned]
        slots[name] = planned
    rows = []
    for name, planned in slots.items():
        node = nodes[name]
        frozen = node.frozen or node.version.recurrence == Recurrence.PAUSE.value
        for slot, dry, why in planned:
            rows.append(
                {
                    "workspace_id": workspace_id,
                    "node_id": node.id,
                    "node_version_id": node.version.id,
                    "kind": "backfill",
                    "backfill_run_id": run.id,
                    "bizdate": run.bizdate,
                    "cyctime": slot.cyctime,
                    "due_at": wall_to_store(slot.cyctime, zone),
                    "cycle": slot.cycle,
                    "status": Status.FROZEN.value if frozen and not dry else Status.NOT_RUN.value,
                    "dry_run": dry,
                    "dry_run_reason": why,
                    "run_number": 0,
                    "auto_reruns": 0,
                    "priority": node.version.priority,
                    "resource_group": node.version.resource_group,
                    "owner": node.version.owner,
                    "set_success": False,
                    "created_at": now,
                    "status_at": now,
                    "trigger_note": f"backfill {backfill.name} by {backfill.created_by}",
                }
            )
    if rows:
        conn.execute(insert(InstanceRow), rows)
    ids = {
        Slot(name, cyctime, run.bizdate, cycle): instance_id
        for instance_id, name, cyctime, cycle in conn.execute(
            select(InstanceRow.id, NodeRow.name, InstanceRow.cyctime, InstanceRow.cycle)
            .join(NodeRow, NodeRow.id == InstanceRow.node_id)
            .where(InstanceRow.backfill_run_id == run.id)
        )
    }
    edges = backfill_edges(
        {name: [s for s, _d, _w in planned] for name, planned in slots.items()},
        {name: nodes[name].cadence for name in slots},
        {name: nodes[name].depends for name in slots},
    )
    if edges:
        conn.execute(
            insert(InstanceEdgeRow),
            [
                {
                    "upstream_id": ids[e.upstream],
                    "downstream_id": ids[e.downstream],
                    "cross_cycle": e.cross_cycle,
                }
                for e in edges
            ],
        )
    conn.execute(
        update(BackfillRunRow)
        .where(BackfillRunRow.id == run.id)
        .values(status="RUNNING", started_at=now)
    )
    return list(ids.values())
