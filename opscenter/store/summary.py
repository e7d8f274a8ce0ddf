"""Store facts behind the summary: whether a workspace is deployed, its zone, where its day
got to, and its instances of a business date counted by status (the dashboard's buckets,
spec 3.1). The summary itself is the ``status`` verb, over any backend.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, func, select
from sqlalchemy.orm import Session

from opscenter.domain.model import Status
from opscenter.domain.records import StatusCounts
from opscenter.store.models import InstanceRow, TransitionRow, WorkspaceRow
from opscenter.store.workspaces import zone_of


def workspace_id(engine: Engine, name: str) -> int | None:
    with Session(engine) as session:
        return session.scalar(select(WorkspaceRow.id).where(WorkspaceRow.name == name))


def workspace_zone(engine: Engine, workspace_id: int) -> ZoneInfo:
    """The deployed workspace's zone (``zone_of``, on a connection of its own)."""
    with engine.connect() as conn:
        return zone_of(conn, workspace_id)


def last_activity(engine: Engine, workspace_id: int) -> datetime | None:
    """The last status change in the workspace (naive UTC): where a demo's day got to."""
    with engine.connect() as conn:
        return conn.scalar(
            select(func.max(TransitionRow.at))
            .join(InstanceRow, InstanceRow.id == TransitionRow.instance_id)
            .where(InstanceRow.workspace_id == workspace_id)
        )


def _of_day(workspace_id: int, bizdate: date) -> tuple:
    """The periodic instances of one business date: what dashboards count."""
    return (
        InstanceRow.workspace_id == workspace_id,
        InstanceRow.bizdate == bizdate,
        InstanceRow.kind == "periodic",
    )


def status_counts(conn: Connection, workspace_id: int, bizdate: date) -> StatusCounts:
    """Periodic instances of a business date by status: the dashboard's buckets (spec 3.1)."""
    of_day = _of_day(workspace_id, bizdate)
    counts = dict.fromkeys(Status, 0)
    for status, count in conn.execute(
        select(InstanceRow.status, func.count()).where(*of_day).group_by(InstanceRow.status)
    ):
        counts[Status(status)] = count
    dry_run = conn.scalar(select(func.count()).where(*of_day, InstanceRow.dry_run)) or 0
    return StatusCounts(bizdate, counts, dry_run)
