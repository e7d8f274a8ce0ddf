"""Instances read from the store as the Backend protocol's records.

Most of the local backend's answers carry instances (lists, relatives, baselines' key
instances, the dashboard), so the one query that reads an instance with its node, version,
backfill and duration statistics lives here, beside the windowed list and the reads of one
instance. They are the local backend's queries, not the store's: they answer in the
protocol's records, which no other layer reads them as.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, Select, and_, func, or_, select

from opscenter.domain.model import InstanceKind, Status
from opscenter.domain.params import resolve
from opscenter.domain.records import (
    AttemptInfo,
    InstanceFilter,
    InstanceInfo,
    Page,
    Relative,
    Removal,
)
from opscenter.store.db import LARGEST_ID, storable
from opscenter.store.models import (
    AttemptRow,
    BackfillRunRow,
    InstanceEdgeRow,
    InstanceRow,
    NodeRow,
    NodeStatsRow,
    NodeVersionRow,
    RemovedEdgeRow,
    WorkspaceRow,
)

_INSTANCE_COLUMNS = (
    InstanceRow.id,
    InstanceRow.node_id,
    NodeRow.name.label("node"),
    NodeVersionRow.type.label("node_type"),
    NodeVersionRow.rerun_times,
    InstanceRow.kind,
    InstanceRow.backfill_run_id,
    BackfillRunRow.backfill_id,
    InstanceRow.bizdate,
    InstanceRow.cyctime,
    InstanceRow.cycle,
    InstanceRow.status,
    InstanceRow.dry_run,
    InstanceRow.dry_run_reason,
    InstanceRow.run_number,
    InstanceRow.priority,
    InstanceRow.resource_group,
    InstanceRow.owner,
    InstanceRow.set_success,
    InstanceRow.started_at,
    InstanceRow.finished_at,
    InstanceRow.retry_at,
    NodeStatsRow.mean.label("average"),
)

SEARCH_BY_IDS = 500  # a name search matching at most this many nodes filters by node id


def instance_query() -> Select:
    """Instances as ``instance_info`` reads them; narrow it with ``.where``."""
    return (
        select(*_INSTANCE_COLUMNS)
        .join(NodeRow, NodeRow.id == InstanceRow.node_id)
        .join(NodeVersionRow, NodeVersionRow.id == InstanceRow.node_version_id)
        .outerjoin(BackfillRunRow, BackfillRunRow.id == InstanceRow.backfill_run_id)
        .outerjoin(NodeStatsRow, NodeStatsRow.node_id == InstanceRow.node_id)
    )


def instance_info(row: Row[Any]) -> InstanceInfo:
    """A row of ``instance_query``."""
    return InstanceInfo(
        id=row.id,
        node_id=row.node_id,
        node=row.node,
        node_type=row.node_type,
        kind=InstanceKind(row.kind),
        backfill_id=row.backfill_id,
        bizdate=row.bizdate,
        cyctime=row.cyctime,
        cycle=row.cycle,
        status=Status(row.status),
        dry_run=row.dry_run,
        dry_run_reason=row.dry_run_reason,
        run_number=row.run_number,
        max_attempts=row.rerun_times + 1,
        priority=row.priority,
        resource_group=row.resource_group,
        owner=row.owner,
        set_success=row.set_success,
        started_at=row.started_at,
        finished_at=row.finished_at,
        retry_at=row.retry_at,
        average=row.average,
    )


def by_id(conn: Connection, ids: Sequence[int]) -> dict[int, InstanceInfo]:
    """The instances with these ids (any missing is left out)."""
    return {
        r.id: instance_info(r)
        for r in conn.execute(instance_query().where(InstanceRow.id.in_(list(ids))))
    }


def limit(count: int) -> int:
    """A page size SQLite can bind (and add one to): any larger one means all rows."""
    return min(count, LARGEST_ID - 1)


def page(conn: Connection, workspace_id: int, flt: InstanceFilter) -> Page:
    """One window of the filtered list, ordered by (cyctime, id), with the total count."""
    conditions = [InstanceRow.workspace_id == workspace_id]
    if flt.bizdate:
        conditions.append(InstanceRow.bizdate == flt.bizdate)
    if flt.statuses:
        conditions.append(InstanceRow.status.in_([s.value for s in flt.statuses]))
    if flt.node:
        conditions.append(NodeRow.name == flt.node)
    if flt.owner:
        conditions.append(InstanceRow.owner == flt.owner)
    if flt.kind:
        conditions.append(InstanceRow.kind == flt.kind.value)
    if flt.backfill_id is not None:
        if not storable(flt.backfill_id):
            return Page([], 0, None)
        conditions.append(BackfillRunRow.backfill_id == flt.backfill_id)
    if flt.text:
        conditions.append(_name_search(conn, workspace_id, flt.text))
    window = list(conditions)
    if flt.after:
        cyctime, last_id = flt.after
        if flt.descending:
            window.append(
                or_(
                    InstanceRow.cyctime < cyctime,
                    and_(InstanceRow.cyctime == cyctime, InstanceRow.id < last_id),
                )
            )
        else:
            window.append(
                or_(
                    InstanceRow.cyctime > cyctime,
                    and_(InstanceRow.cyctime == cyctime, InstanceRow.id > last_id),
                )
            )
    order = (
        (InstanceRow.cyctime.desc(), InstanceRow.id.desc())
        if flt.descending
        else (InstanceRow.cyctime, InstanceRow.id)
    )
    rows = conn.execute(
        instance_query().where(*window).order_by(*order).limit(limit(flt.limit) + 1)
    ).all()
    total = conn.scalar(
        select(func.count())
        .select_from(InstanceRow)
        .join(NodeRow, NodeRow.id == InstanceRow.node_id)
        .outerjoin(BackfillRunRow, BackfillRunRow.id == InstanceRow.backfill_run_id)
        .where(*conditions)
    )
    items = [instance_info(r) for r in rows[: flt.limit]]
    more = len(rows) > flt.limit
    return Page(items, total or 0, (items[-1].cyctime, items[-1].id) if more and items else None)


def _name_search(conn: Connection, workspace_id: int, text: str) -> ColumnElement[bool]:
    """Node names containing ``text``: as node ids when few match, so SQLite walks the
    (node, cyctime) index instead of scanning every instance for a rare name."""
    ids = conn.scalars(
        select(NodeRow.id)
        .where(
            NodeRow.workspace_id == workspace_id,
            NodeRow.name.contains(text, autoescape=True),
        )
        .limit(SEARCH_BY_IDS + 1)
    ).all()
    if len(ids) <= SEARCH_BY_IDS:
        return InstanceRow.node_id.in_(ids)
    return NodeRow.name.contains(text, autoescape=True)


def one(conn: Connection, workspace_id: int, instance_id: int) -> InstanceInfo | None:
    """The instance of this workspace with this id, or None."""
    if not storable(instance_id):
        return None
    row = conn.execute(
        instance_query().where(
            InstanceRow.id == instance_id, InstanceRow.workspace_id == workspace_id
        )
    ).one_or_none()
    return None if row is None else instance_info(row)


def parameters(conn: Connection, workspace_id: int, instance_id: int) -> dict[str, str] | None:
    """The workspace's and the node version's assignments, rendered for the instance's
    cyctime, bizdate and job; None for no such instance."""
    if not storable(instance_id):
        return None
    row = conn.execute(
        select(
            InstanceRow.cyctime,
            InstanceRow.bizdate,
            InstanceRow.node_id,
            InstanceRow.backfill_run_id,
            NodeVersionRow.parameters,
            WorkspaceRow.parameters.label("workspace_parameters"),
        )
        .join(NodeVersionRow, NodeVersionRow.id == InstanceRow.node_version_id)
        .join(WorkspaceRow, WorkspaceRow.id == InstanceRow.workspace_id)
        .where(InstanceRow.id == instance_id, InstanceRow.workspace_id == workspace_id)
    ).first()
    if row is None:
        return None
    return resolve(
        {**(row.workspace_parameters or {}), **(row.parameters or {})},
        row.cyctime,
        bizdate=row.bizdate,
        node_id=row.node_id,
        instance_id=instance_id,
        job_id=row.backfill_run_id or 0,
    )


def attempts(conn: Connection, instance_id: int) -> list[AttemptInfo]:
    rows = conn.execute(
        select(AttemptRow).where(AttemptRow.instance_id == instance_id).order_by(AttemptRow.number)
    ).all()
    return [
        AttemptInfo(
            r.instance_id,
            r.number,
            Status(r.status),
            r.triggered_by,
            r.started_at,
            r.finished_at,
            r.exit_code,
            r.reason,
            r.log_path,
            r.pid,
            r.host,
        )
        for r in rows
    ]


def last_attempt_start(conn: Connection, instance_id: int) -> datetime | None:
    return conn.scalar(
        select(func.max(AttemptRow.started_at)).where(AttemptRow.instance_id == instance_id)
    )


def cron(conn: Connection, instance_id: int) -> str:
    """The cron of the node version the instance was generated from."""
    found = conn.scalar(
        select(NodeVersionRow.cron)
        .join(InstanceRow, InstanceRow.node_version_id == NodeVersionRow.id)
        .where(InstanceRow.id == instance_id)
    )
    return found or ""


def relatives(conn: Connection, instance_id: int, direction: str, levels: int) -> list[Relative]:
    """Instances ``levels`` edges up or down, breadth first, each once at its nearest level;
    an edge an operator removed is there too, with its removal (the DAG draws it dashed)."""
    edges, removed = InstanceEdgeRow, RemovedEdgeRow
    down = direction == "down"
    near, far = (
        (edges.upstream_id, edges.downstream_id)
        if down
        else (edges.downstream_id, edges.upstream_id)
    )
    gone_near, gone_far = (
        (removed.upstream_id, removed.downstream_id)
        if down
        else (removed.downstream_id, removed.upstream_id)
    )
    found: list[tuple[int, int, int, bool, Removal | None]] = []
    seen = {instance_id}
    frontier = [instance_id]
    for level in range(1, levels + 1):
        if not frontier:
            break
        rows: list[tuple[int, int, bool, Removal | None]] = [
            (via, other, cross, None)
            for via, other, cross in conn.execute(
                select(near, far, edges.cross_cycle).where(near.in_(frontier))
            )
        ]
        rows += [
            (r.via, r.other, r.cross_cycle, Removal(r.removed_by, r.removed_at, r.comment))
            for r in conn.execute(
                select(
                    gone_near.label("via"),
                    gone_far.label("other"),
                    removed.cross_cycle,
                    removed.removed_by,
                    removed.removed_at,
                    removed.comment,
                ).where(gone_near.in_(frontier))
            )
        ]
        frontier = []
        for via, other, cross, removal in rows:
            if other not in seen:
                seen.add(other)
                frontier.append(other)
                found.append((level, other, via, cross, removal))
    infos = by_id(conn, [f[1] for f in found])
    return [
        Relative(level, infos[other], via, cross, removal)
        for level, other, via, cross, removal in found
    ]
