"""The local backend's reads of one workspace: nodes, the dashboard, backfills, the audit
log, baselines, events and alerts, each a windowed query answering in a protocol record.

They live beside the backend rather than in ``store/``: they shape rows into the Backend
protocol's records and lean on the baseline monitor's reading of its own rows
(``sla.monitor``), which the store, the bottom layer, may not import. Each takes an open
connection, so the backend can answer one question from one snapshot.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    Connection,
    Row,
    Select,
    String,
    cast,
    func,
    or_,
    select,
    true,
)

from opscenter.backends.local import instances
from opscenter.domain.cron import parse_cron
from opscenter.domain.model import DependencyType, InstanceKind, Status, TriggerType
from opscenter.domain.records import (
    AlertInfo,
    AuditEntry,
    BackfillInfo,
    BackfillRunInfo,
    BaselineInfo,
    BaselineStatus,
    Dashboard,
    EventInfo,
    KeyPathStep,
    NodeChoices,
    NodeErrors,
    NodeFilter,
    NodeInfo,
    Page,
    StatusCounts,
)
from opscenter.domain.times import to_store
from opscenter.sla.monitor import stored_baselines, stored_status
from opscenter.store.db import LARGEST_ID, storable
from opscenter.store.models import (
    AlertRow,
    AttemptRow,
    AuditRow,
    BackfillRow,
    BackfillRunRow,
    BaselineInstanceRow,
    BaselineRow,
    EventRow,
    InstanceRow,
    NodeRow,
    NodeVersionRow,
)

# -- nodes -------------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def _schedule_words(cron: str) -> str:
    """A cron in words; the same few crons recur across thousands of nodes."""
    return parse_cron(cron).describe()


def node_conditions(flt: NodeFilter) -> list[ColumnElement[bool]] | None:
    """The filter as SQL conditions; None when it can match no node."""
    conditions: list[ColumnElement[bool]] = []
    if flt.text:  # node names are ASCII identifiers, which SQL's lower() folds
        conditions.append(func.lower(NodeRow.name).contains(flt.text.lower(), autoescape=True))
    for column, value in (
        (NodeVersionRow.owner, flt.owner),
        (NodeVersionRow.type, flt.type),
        (NodeVersionRow.cycle_type, flt.cycle_type),
        (NodeVersionRow.resource_group, flt.resource_group),
        (NodeVersionRow.recurrence, flt.recurrence),
    ):
        if value:
            conditions.append(column == value)
    if flt.priority is not None:
        if not storable(flt.priority):
            return None
        conditions.append(NodeVersionRow.priority == flt.priority)
    if flt.frozen:
        conditions.append(or_(NodeRow.frozen.is_(True), NodeVersionRow.recurrence == "Pause"))
    if flt.trigger:  # a manual node is one with a workflow
        manual = flt.trigger == TriggerType.MANUAL
        conditions.append(
            NodeVersionRow.workflow.is_not(None) if manual else NodeVersionRow.workflow.is_(None)
        )
    return conditions


def _node_query(workspace_id: int, where: Sequence[ColumnElement[bool]]) -> Select[Any]:
    """Nodes with their current version, as plain rows (no ORM objects)."""
    return (
        select(
            NodeRow.id.label("node_id"),
            NodeRow.name,
            NodeRow.frozen,
            NodeRow.state,
            *(c for c in NodeVersionRow.__table__.c if c.name not in ("id", "node_id")),
        )
        .join(NodeVersionRow, NodeVersionRow.id == NodeRow.current_version_id)
        .where(NodeRow.workspace_id == workspace_id, *where)
    )


def _state(include_undeployed: bool) -> list[ColumnElement[bool]]:
    return [] if include_undeployed else [NodeRow.state == "deployed"]


def nodes(
    conn: Connection,
    workspace_id: int,
    *,
    include_undeployed: bool,
    name: str | None = None,
    where: Sequence[ColumnElement[bool]] = (),
) -> list[NodeInfo]:
    """Every matching node; downstream names come from every deployed node's dependencies,
    read as that one column rather than as whole versions."""
    conditions = [*where, *_state(include_undeployed)]
    if name is not None:
        conditions.append(NodeRow.name == name)
    rows = conn.execute(_node_query(workspace_id, conditions).order_by(NodeRow.name)).all()
    if not rows:
        return []
    edge_query = _edges(workspace_id)
    if name is not None:  # one node: decode only the versions that mention it
        edge_query = edge_query.where(
            cast(NodeVersionRow.depends, String).contains(json.dumps(name), autoescape=True)
        )
    children = _children(conn.execute(edge_query).all(), None)
    return [_node_info(r, children.get(r.name, [])) for r in rows]


def _edges(workspace_id: int) -> Select[Any]:
    """Each deployed node's name and dependency list, to decode in Python (``_children``)."""
    return (
        select(NodeRow.name, NodeVersionRow.depends)
        .join(NodeVersionRow, NodeVersionRow.id == NodeRow.current_version_id)
        .where(NodeRow.workspace_id == workspace_id, NodeRow.state == "deployed")
    )


def _children(edges: Sequence[Any], upstreams: set[str] | None) -> dict[str, list[str]]:
    """Downstream names by upstream (of ``upstreams`` only, unless None) from (child, depends)."""
    children: dict[str, list[str]] = {}
    normal = DependencyType.NORMAL.value
    for child, depends in edges:
        for kind, upstream in depends:
            if kind == normal and (upstreams is None or upstream in upstreams):
                children.setdefault(upstream, []).append(child)
    return children


def _downstreams(
    conn: Connection, workspace_id: int, names: list[str] | None
) -> dict[str, list[str]]:
    """The deployed nodes that depend on each of ``names`` (on any node, if None): SQLite
    walks the dependency lists itself (json_each), decoding none of them in Python."""
    if conn.dialect.name != "sqlite":
        edges = conn.execute(_edges(workspace_id)).all()
        return _children(edges, None if names is None else set(names))
    deployed = (NodeRow.workspace_id == workspace_id, NodeRow.state == "deployed")
    each = func.json_each(NodeVersionRow.depends).table_valued("value").alias("dependency")
    upstream = func.json_extract(each.c.value, "$[1]")
    query = (
        select(upstream, NodeRow.name)
        .select_from(NodeRow)
        .join(NodeVersionRow, NodeVersionRow.id == NodeRow.current_version_id)
        .join(each, true())
        .where(*deployed, func.json_extract(each.c.value, "$[0]") == DependencyType.NORMAL.value)
    )
    if names is not None:
        query = query.where(upstream.in_(names))
    children: dict[str, list[str]] = {}
    for parent, child in conn.execute(query):
        children.setdefault(parent, []).append(child)
    return children


class Downstreams:
    """Who depends on each node, kept while the deployed nodes stay the same.

    A page of the node list names its nodes' downstreams, which only a walk of every
    deployed node's dependencies can tell (40 ms at 10,000 nodes). The first page asks for
    its own names alone; the next read builds the whole map once, and later pages and
    refreshes answer from it until a deploy or an undeploy changes the deployed versions:
    their count and the sum of their ids (version ids only grow, so any such change moves
    one of the two; a freeze changes no dependency).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: tuple[int, ...] | None = None  # the deployed versions last asked about
        self._children: dict[str, list[str]] | None = None  # the whole map, once built

    def of(self, conn: Connection, workspace_id: int, names: list[str]) -> dict[str, list[str]]:
        count, total = conn.execute(
            select(func.count(), func.sum(NodeRow.current_version_id)).where(
                NodeRow.workspace_id == workspace_id, NodeRow.state == "deployed"
            )
        ).one()
        seen = (workspace_id, count, total or 0)
        with self._lock:
            known, warm = self._children, self._seen == seen
            if not warm:
                self._seen, self._children = seen, None
        if not warm:
            return _downstreams(conn, workspace_id, names)
        if known is None:
            known = _downstreams(conn, workspace_id, None)
            with self._lock:
                if self._seen == seen:
                    self._children = known
        return {name: known[name] for name in names if name in known}


def node_page(
    conn: Connection, workspace_id: int, flt: NodeFilter, downstreams: Downstreams
) -> Page[NodeInfo, str]:
    """One window of the filtered nodes ordered by name, and how many match."""
    where = node_conditions(flt)
    if where is None:
        return Page([], 0, None)
    conditions = [*where, *_state(flt.include_undeployed)]
    window = list(conditions)
    if flt.after is not None:
        if flt.descending:
            window.append(NodeRow.name <= flt.after if flt.including else NodeRow.name < flt.after)
        else:
            window.append(NodeRow.name >= flt.after if flt.including else NodeRow.name > flt.after)
    order = NodeRow.name.desc() if flt.descending else NodeRow.name
    size = instances.limit(max(0, flt.limit))
    rows = conn.execute(_node_query(workspace_id, window).order_by(order).limit(size + 1)).all()
    more = len(rows) > size
    rows = rows[:size]
    children = downstreams.of(conn, workspace_id, [r.name for r in rows]) if rows else {}
    items = [_node_info(r, children.get(r.name, [])) for r in rows]
    whole = flt.after is None and not more  # the page is every match: no count needed
    total = len(items) if whole else _node_count(conn, workspace_id, conditions)
    return Page(items, total, items[-1].name if more and items else None)


def _node_count(conn: Connection, workspace_id: int, where: list[ColumnElement[bool]]) -> int:
    query = (
        select(func.count())
        .select_from(NodeRow)
        .join(NodeVersionRow, NodeVersionRow.id == NodeRow.current_version_id)
        .where(NodeRow.workspace_id == workspace_id, *where)
    )
    return conn.scalar(query) or 0


def node_choices(conn: Connection, workspace_id: int) -> NodeChoices:
    """Each filter's values among the workspace's nodes, undeployed too: a few DISTINCTs."""

    def distinct(column: Any) -> list[Any]:
        query = (
            select(column)
            .distinct()
            .join(NodeRow, NodeRow.current_version_id == NodeVersionRow.id)
            .where(NodeRow.workspace_id == workspace_id)
        )
        return sorted(v for v in conn.scalars(query) if v is not None)

    return NodeChoices(
        owners=tuple(distinct(NodeVersionRow.owner)),
        types=tuple(distinct(NodeVersionRow.type)),
        cycle_types=tuple(distinct(NodeVersionRow.cycle_type)),
        priorities=tuple(distinct(NodeVersionRow.priority)),
        resource_groups=tuple(distinct(NodeVersionRow.resource_group)),
    )


def node_name(conn: Connection, workspace_id: int, node_id: int) -> str | None:
    """The name of the node of this workspace with this id (its primary key), or None."""
    if not storable(node_id):
        return None
    return conn.scalar(
        select(NodeRow.name).where(NodeRow.id == node_id, NodeRow.workspace_id == workspace_id)
    )


def _node_info(row: Row[Any], downstreams: list[str]) -> NodeInfo:
    normal = DependencyType.NORMAL.value
    return NodeInfo(
        id=row.node_id,
        name=row.name,
        type=row.type,
        owner=row.owner,
        description=row.description,
        priority=row.priority,
        resource_group=row.resource_group,
        cron=row.cron,
        cycle_type=row.cycle_type,
        schedule="manually triggered" if row.workflow is not None else _schedule_words(row.cron),
        start_date=row.start_date,
        end_date=row.end_date,
        recurrence=row.recurrence,
        instance_mode=row.instance_mode,
        rerun_mode=row.rerun_mode,
        rerun_times=row.rerun_times,
        rerun_interval=row.rerun_interval,
        timeout=row.timeout,
        parameters=dict(row.parameters),
        upstreams=tuple(n for t, n in row.depends if t == normal),
        downstreams=tuple(sorted(downstreams)),
        cross_cycle=tuple((t, n) for t, n in row.depends if t != normal),
        code=row.code,
        code_file=row.code_file,
        frozen=bool(row.frozen) or row.recurrence == "Pause",
        state=row.state,
        version=row.version,
        deployed_at=row.deployed_at,
        trigger=TriggerType.SCHEDULER if row.workflow is None else TriggerType.MANUAL,
        workflow=row.workflow or "",
    )


# -- the dashboard -----------------------------------------------------------------------


def dashboard(
    conn: Connection,
    workspace_id: int,
    bizdate: date,
    now: datetime,
    zone: ZoneInfo,
    *,
    counts: StatusCounts,
    baselines: list[BaselineStatus],
) -> Dashboard:
    """The overview an on-call engineer opens first; a handful of aggregate queries.
    ``now`` is aware; ``counts`` and ``baselines`` are read by the backend's own methods."""
    store_now = to_store(now)
    today = now.astimezone(zone).date()
    periodic = (
        InstanceRow.workspace_id == workspace_id,
        InstanceRow.kind == InstanceKind.PERIODIC.value,
    )
    needs_action = [
        instances.instance_info(r)
        for r in conn.execute(
            instances.instance_query()
            .where(
                *periodic,
                InstanceRow.bizdate == bizdate,
                InstanceRow.status == Status.FAILURE.value,
                InstanceRow.retry_at.is_(None),
            )
            .order_by(InstanceRow.finished_at.desc())
            .limit(20)
        )
    ]
    since = store_now - timedelta(days=30)
    top_errors = [
        NodeErrors(name, owner, failures)
        for name, owner, failures in conn.execute(
            select(NodeRow.name, InstanceRow.owner, func.count())
            .select_from(AttemptRow)
            .join(InstanceRow, InstanceRow.id == AttemptRow.instance_id)
            .join(NodeRow, NodeRow.id == InstanceRow.node_id)
            .where(
                *periodic,
                AttemptRow.status == Status.FAILURE.value,
                AttemptRow.started_at >= since,
            )
            .group_by(NodeRow.name, InstanceRow.owner)
            .order_by(func.count().desc(), NodeRow.name)
            .limit(10)
        )
    ]
    slowest = [
        instances.instance_info(r)
        for r in conn.execute(
            instances.instance_query()
            .where(
                *periodic,
                InstanceRow.bizdate == bizdate,
                InstanceRow.started_at.is_not(None),
                InstanceRow.dry_run.is_(False),
                NodeVersionRow.type != "virtual",  # they do not run
            )
            .order_by(_run_time(conn, store_now).desc())
            .limit(10)
        )
    ]
    reasons = dict(
        conn.execute(
            select(AttemptRow.instance_id, AttemptRow.reason)
            .join(InstanceRow, InstanceRow.id == AttemptRow.instance_id)
            .where(
                AttemptRow.instance_id.in_([i.id for i in needs_action]),
                AttemptRow.number == InstanceRow.run_number,
            )
        ).all()
    )
    return Dashboard(
        counts=counts,
        needs_action=needs_action,
        baselines=baselines,
        top_errors=top_errors,
        slowest=slowest,
        succeeded_per_hour=_hourly_successes(conn, workspace_id, today, zone),
        succeeded_per_hour_before=_hourly_successes(
            conn, workspace_id, today - timedelta(days=1), zone
        ),
        now=now,
        failure_reasons=reasons,
    )


def _run_time(conn: Connection, now: datetime) -> ColumnElement[Any]:
    """How long an instance has run (or ran), as something SQL can order by."""
    finished = func.coalesce(InstanceRow.finished_at, now)
    if conn.dialect.name == "sqlite":  # datetimes are text there: compare as Julian days
        return func.julianday(finished) - func.julianday(InstanceRow.started_at)
    return finished - InstanceRow.started_at


def _hourly_successes(conn: Connection, workspace_id: int, day: date, zone: ZoneInfo) -> list[int]:
    """Instances that succeeded in each hour of ``day`` (workspace time)."""
    start = datetime.combine(day, datetime.min.time()).replace(tzinfo=zone)
    start_utc = to_store(start)
    hours = [0] * 24
    for finished in conn.scalars(
        select(InstanceRow.finished_at).where(
            InstanceRow.workspace_id == workspace_id,
            InstanceRow.status == Status.SUCCESS.value,
            InstanceRow.dry_run.is_(False),
            InstanceRow.finished_at >= start_utc,
            InstanceRow.finished_at < start_utc + timedelta(days=1),
        )
    ):
        if finished is not None:  # (the window's bounds pass no NULL)
            hour = int((finished - start_utc).total_seconds() // 3600)
            hours[min(hour, 23)] += 1
    return hours


# -- backfills and the audit log ---------------------------------------------------------


def backfill_ids(conn: Connection, workspace_id: int, limit: int) -> list[int]:
    """The newest backfills' ids, newest first."""
    return list(
        conn.scalars(
            select(BackfillRow.id)
            .where(BackfillRow.workspace_id == workspace_id)
            .order_by(BackfillRow.id.desc())
            .limit(instances.limit(limit))
        )
    )


def backfill(conn: Connection, workspace_id: int, backfill_id: int) -> BackfillInfo | None:
    """A backfill with its runs (business dates) and their instances by status."""
    if not storable(backfill_id):
        return None
    row = conn.execute(
        select(BackfillRow).where(
            BackfillRow.id == backfill_id, BackfillRow.workspace_id == workspace_id
        )
    ).one_or_none()
    if row is None:
        return None
    runs = conn.execute(
        select(BackfillRunRow)
        .where(BackfillRunRow.backfill_id == backfill_id)
        .order_by(BackfillRunRow.position)
    ).all()
    counts: dict[int, dict[Status, int]] = {r.id: dict.fromkeys(Status, 0) for r in runs}
    for run_id, status, count in conn.execute(
        select(InstanceRow.backfill_run_id, InstanceRow.status, func.count())
        .where(InstanceRow.backfill_run_id.in_(list(counts)))
        .group_by(InstanceRow.backfill_run_id, InstanceRow.status)
    ):
        if run_id is not None:  # (the filter names runs only)
            counts[run_id][Status(status)] = count
    options = row.options
    return BackfillInfo(
        id=row.id,
        name=row.name,
        created_by=row.created_by,
        created_at=row.created_at,
        nodes=tuple(options["nodes"]),
        parallel=options["parallel"],
        descending=options["descending"],
        window=tuple(options["window"]) if options.get("window") else None,
        status=row.status,
        runs=[
            BackfillRunInfo(
                r.bizdate, r.position, r.status, counts[r.id], r.started_at, r.finished_at
            )
            for r in runs
        ],
    )


def audit_log(conn: Connection, limit: int, before_id: int | None) -> list[AuditEntry]:
    query = select(AuditRow).order_by(AuditRow.id.desc()).limit(instances.limit(limit))
    if before_id is not None:
        query = query.where(AuditRow.id < min(max(before_id, 0), LARGEST_ID))
    return [
        AuditEntry(
            r.id, r.at, r.user, r.action, list(r.targets), r.outcome, r.detail, r.source, r.wall_at
        )
        for r in conn.execute(query)
    ]


# -- baselines, events and alerts --------------------------------------------------------


def baselines(
    conn: Connection, workspace_id: int, bizdate: date, now: datetime
) -> list[BaselineStatus]:
    """The baselines of a business date as the monitor last stored them (``now`` naive UTC)."""
    rows = conn.execute(
        stored_baselines(workspace_id).where(BaselineInstanceRow.bizdate == bizdate)
    ).all()
    keys = instances.by_id(conn, [b.key_instance_id for b in rows if b.key_instance_id])
    return [stored_status(r, keys.get(r.key_instance_id), now) for r in rows]


def key_path(
    conn: Connection, workspace_id: int, name: str, bizdate: date, cycle: int
) -> list[KeyPathStep]:
    """The baseline instance's stored key path; a step whose instance is gone is left out."""
    row = conn.execute(
        select(BaselineInstanceRow.key_path)
        .join(BaselineRow, BaselineRow.id == BaselineInstanceRow.baseline_id)
        .where(
            BaselineRow.workspace_id == workspace_id,
            BaselineRow.name == name,
            BaselineInstanceRow.bizdate == bizdate,
            BaselineInstanceRow.cycle == cycle,
        )
    ).one()
    steps = row.key_path or []
    infos = instances.by_id(conn, [s["id"] for s in steps])
    return [
        KeyPathStep(
            infos[s["id"]], datetime.fromisoformat(s["start"]), datetime.fromisoformat(s["finish"])
        )
        for s in steps
        if s["id"] in infos
    ]


def baseline_definitions(conn: Connection, workspace_id: int) -> list[BaselineInfo]:
    return [
        BaselineInfo(
            r.id,
            r.name,
            r.owner,
            r.priority,
            r.type,
            r.margin,
            r.enabled,
            tuple(r.nodes),
            tuple(r.committed_times),
        )
        for r in conn.execute(
            select(BaselineRow)
            .where(BaselineRow.workspace_id == workspace_id)
            .order_by(BaselineRow.id)
        )
    ]


def events(conn: Connection, workspace_id: int, limit: int, open_only: bool) -> list[EventInfo]:
    query = (
        select(
            EventRow,
            BaselineRow.name.label("baseline"),
            BaselineInstanceRow.bizdate,
            BaselineInstanceRow.cycle,
            NodeRow.name.label("node"),
        )
        .join(BaselineRow, BaselineRow.id == EventRow.baseline_id)
        .join(BaselineInstanceRow, BaselineInstanceRow.id == EventRow.baseline_instance_id)
        .join(InstanceRow, InstanceRow.id == EventRow.instance_id)
        .join(NodeRow, NodeRow.id == InstanceRow.node_id)
        .where(BaselineRow.workspace_id == workspace_id)
        .order_by(EventRow.id.desc())
        .limit(instances.limit(limit))
    )
    if open_only:
        query = query.where(EventRow.status.in_(["NEW", "FIXING"]))
    return [
        EventInfo(
            r.id,
            r.baseline,
            r.bizdate,
            r.instance_id,
            r.node,
            r.kind,
            r.status,
            r.message,
            r.created_at,
            r.updated_at,
            r.updated_by,
            cycle=r.cycle,
        )
        for r in conn.execute(query)
    ]


def alerts(conn: Connection, workspace_id: int, limit: int) -> list[AlertInfo]:
    return [
        AlertInfo(
            r.id,
            r.rule,
            r.kind,
            r.target,
            r.message,
            r.first_at,
            r.last_sent_at,
            r.sent_count,
            r.last_error,
            r.resolved_at,
        )
        for r in conn.execute(
            select(AlertRow)
            .where(AlertRow.workspace_id == workspace_id)
            .order_by(AlertRow.id.desc())
            .limit(instances.limit(limit))
        )
    ]
