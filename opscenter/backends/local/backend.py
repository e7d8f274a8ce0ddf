"""The local backend: the Backend protocol over the SQLite store and the embedded engine.

Reads are windowed queries; actions go through scheduler.actions, which check
preconditions, write state and audit in one transaction, and signal the
scheduler. ``readonly`` is enforced here, below every screen and verb.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Engine, String, and_, cast, func, or_, select

from opscenter.domain.clock import Clock
from opscenter.domain.cron import parse_cron
from opscenter.domain.model import DependencyType, InstanceKind, NodeType, Status
from opscenter.domain.params import resolve
from opscenter.domain.records import (
    ActionRefused,
    ActionResult,
    AlertInfo,
    AttemptInfo,
    AuditEntry,
    BackfillInfo,
    BackfillRequest,
    BackfillRunInfo,
    BaselineDetail,
    BaselineImpact,
    BaselineStatus,
    Dashboard,
    Diagnosis,
    EventInfo,
    InstanceFilter,
    InstanceInfo,
    KeyPathStep,
    LogPage,
    NodeErrors,
    NodeFilter,
    NodeInfo,
    Page,
    Relative,
    StatusCounts,
    WorkspaceInfo,
    no_attempt,
    no_baseline,
    not_found,
)
from opscenter.domain.times import to_local, to_store
from opscenter.scheduler import actions
from opscenter.scheduler.diagnosis import diagnose
from opscenter.scheduler.logfile import quiet_log, read_page, text_page
from opscenter.scheduler.worldclock import StoreClock
from opscenter.sla import impact
from opscenter.sla.monitor import stored_baselines, stored_status
from opscenter.store import lease
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
    InstanceEdgeRow,
    InstanceRow,
    NodeRow,
    NodeStatsRow,
    NodeVersionRow,
    WorkspaceRow,
)
from opscenter.store.summary import status_counts

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


def _instance_query():  # noqa: ANN202 - a SQLAlchemy Select
    return (
        select(*_INSTANCE_COLUMNS)
        .join(NodeRow, NodeRow.id == InstanceRow.node_id)
        .join(NodeVersionRow, NodeVersionRow.id == InstanceRow.node_version_id)
        .outerjoin(BackfillRunRow, BackfillRunRow.id == InstanceRow.backfill_run_id)
        .outerjoin(NodeStatsRow, NodeStatsRow.node_id == InstanceRow.node_id)
    )


def instance_info(row) -> InstanceInfo:  # noqa: ANN001 - a Row of _INSTANCE_COLUMNS
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


def _run_time(conn, now: datetime):  # noqa: ANN001, ANN202 - a SQL expression
    """How long an instance has run (or ran), as something SQL can order by."""
    finished = func.coalesce(InstanceRow.finished_at, now)
    if conn.dialect.name == "sqlite":  # datetimes are text there: compare as Julian days
        return func.julianday(finished) - func.julianday(InstanceRow.started_at)
    return finished - InstanceRow.started_at


def _limit(count: int) -> int:
    """A page size SQLite can bind (and add one to): any larger one means all rows."""
    return min(count, LARGEST_ID - 1)


SEARCH_BY_IDS = 500  # a name search matching at most this many nodes filters by node id


@lru_cache(maxsize=4096)
def _schedule_words(cron: str) -> str:
    """A cron in words; the same few crons recur across thousands of nodes."""
    return parse_cron(cron).describe()


def _quiet_pages(instance_id: int, data: bytes, limit: int = 65536) -> Iterator[LogPage]:
    """A rendered log (attempt 0) page by page: follow_log's pages of a log that is whole."""
    offset = 0
    while offset < len(data):
        text, next_offset = text_page(data, offset, limit)
        yield LogPage(instance_id, 0, text, offset, next_offset, len(data))
        offset = next_offset


class LocalBackend:
    """One workspace in one store. ``on_change`` is called after every action (engine.wake)."""

    def __init__(
        self,
        db: Engine,
        workspace: str,
        clock: Clock,
        *,
        user: str,
        readonly: bool = False,
        source: str = "cli",
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.user = user
        self.readonly = readonly
        self.source = source
        self.on_change = on_change
        with db.connect() as conn:
            row = conn.execute(
                select(WorkspaceRow).where(WorkspaceRow.name == workspace)
            ).one_or_none()
        if row is None:
            raise ActionRefused(f"workspace {workspace!r} is not deployed in this store")
        self.workspace_id = row.id
        self._workspace_name = row.name
        self._timezone = row.timezone

    # -- reading ------------------------------------------------------------------

    def workspace(self) -> WorkspaceInfo:
        holder = lease.live_holder(self.db)
        stopped = self.clock.stopped_at() if isinstance(self.clock, StoreClock) else None
        return WorkspaceInfo(
            self._workspace_name,
            self._timezone,
            "local",
            self.readonly,
            holder.holder if holder else "",
            speed=self.clock.speed,
            stopped_at=stopped,
        )

    def now(self) -> datetime:
        return self.clock.now()

    def list_nodes(self, flt: NodeFilter | None = None) -> list[NodeInfo]:
        """Filtered in SQL: a 10,000-node workspace is read whole only when asked for whole."""
        flt = flt or NodeFilter()
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
                return []
            conditions.append(NodeVersionRow.priority == flt.priority)
        return self._nodes(include_undeployed=flt.include_undeployed, where=conditions)

    def get_node(self, name: str) -> NodeInfo:
        found = self._nodes(include_undeployed=True, name=name)
        if not found:
            raise not_found("node", [name], self._workspace_name)
        return found[0]

    def _nodes(
        self,
        *,
        include_undeployed: bool,
        name: str | None = None,
        where: Sequence[ColumnElement[bool]] = (),
    ) -> list[NodeInfo]:
        """Nodes with their current version, as plain rows (no ORM objects: a list of
        10,000 is read every refresh); downstream names come from every deployed node's
        dependencies, read as that one column rather than as whole versions."""
        query = (
            select(
                NodeRow.id.label("node_id"),
                NodeRow.name,
                NodeRow.frozen,
                NodeRow.state,
                *(c for c in NodeVersionRow.__table__.c if c.name not in ("id", "node_id")),
            )
            .join(NodeVersionRow, NodeVersionRow.id == NodeRow.current_version_id)
            .where(NodeRow.workspace_id == self.workspace_id, *where)
            .order_by(NodeRow.name)
        )
        if name is not None:
            query = query.where(NodeRow.name == name)
        if not include_undeployed:
            query = query.where(NodeRow.state == "deployed")
        edge_query = (
            select(NodeRow.name, NodeVersionRow.depends)
            .join(NodeVersionRow, NodeVersionRow.id == NodeRow.current_version_id)
            .where(NodeRow.workspace_id == self.workspace_id, NodeRow.state == "deployed")
        )
        if name is not None:  # one node: decode only the versions that mention it
            edge_query = edge_query.where(
                cast(NodeVersionRow.depends, String).contains(json.dumps(name), autoescape=True)
            )
        with self.db.connect() as conn:
            rows = conn.execute(query).all()
            edges = conn.execute(edge_query).all() if rows else []
        children: dict[str, list[str]] = {}
        normal = DependencyType.NORMAL.value
        for child, depends in edges:
            for kind, upstream in depends:
                if kind == normal:
                    children.setdefault(upstream, []).append(child)
        return [self._node_info(r, children.get(r.name, [])) for r in rows]

    @staticmethod
    def _node_info(row: Any, downstreams: list[str]) -> NodeInfo:
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
            schedule=_schedule_words(row.cron),
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
        )

    def list_instances(self, flt: InstanceFilter) -> Page:
        conditions = [InstanceRow.workspace_id == self.workspace_id]
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
            conditions.append(self._name_search(flt.text))
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
        with self.db.connect() as conn:
            rows = conn.execute(
                _instance_query().where(*window).order_by(*order).limit(_limit(flt.limit) + 1)
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
        return Page(
            items, total or 0, (items[-1].cyctime, items[-1].id) if more and items else None
        )

    def _name_search(self, text: str) -> ColumnElement[bool]:
        """Node names containing ``text``: as node ids when few match, so SQLite walks the
        (node, cyctime) index instead of scanning every instance for a rare name."""
        with self.db.connect() as conn:
            ids = conn.scalars(
                select(NodeRow.id)
                .where(
                    NodeRow.workspace_id == self.workspace_id,
                    NodeRow.name.contains(text, autoescape=True),
                )
                .limit(SEARCH_BY_IDS + 1)
            ).all()
        if len(ids) <= SEARCH_BY_IDS:
            return InstanceRow.node_id.in_(ids)
        return NodeRow.name.contains(text, autoescape=True)

    def get_instance(self, instance_id: int) -> InstanceInfo:
        if not storable(instance_id):
            raise not_found("instance", [instance_id], self._workspace_name)
        with self.db.connect() as conn:
            row = conn.execute(
                _instance_query().where(
                    InstanceRow.id == instance_id, InstanceRow.workspace_id == self.workspace_id
                )
            ).one_or_none()
        if row is None:
            raise not_found("instance", [instance_id], self._workspace_name)
        return instance_info(row)

    def parameters(self, instance_id: int) -> dict[str, str]:
        """The scheduling parameters as this instance runs with them: the workspace's and
        its node version's assignments, rendered for its cyctime, bizdate and job."""
        if not storable(instance_id):
            raise not_found("instance", [instance_id], self._workspace_name)
        with self.db.connect() as conn:
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
                .where(InstanceRow.id == instance_id, InstanceRow.workspace_id == self.workspace_id)
            ).first()
        if row is None:
            raise not_found("instance", [instance_id], self._workspace_name)
        return resolve(
            {**(row.workspace_parameters or {}), **(row.parameters or {})},
            row.cyctime,
            bizdate=row.bizdate,
            node_id=row.node_id,
            instance_id=instance_id,
            job_id=row.backfill_run_id or 0,
        )

    def attempts(self, instance_id: int) -> list[AttemptInfo]:
        self.get_instance(instance_id)
        with self.db.connect() as conn:
            rows = conn.execute(
                select(AttemptRow)
                .where(AttemptRow.instance_id == instance_id)
                .order_by(AttemptRow.number)
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
            )
            for r in rows
        ]

    def _attempt(self, instance_id: int, attempt: int | None) -> AttemptInfo:
        found = self.attempts(instance_id)
        if not found:
            raise ActionRefused(f"instance #{instance_id} has not run yet: no log")
        if attempt is None:
            return found[-1]
        for item in found:
            if item.number == attempt:
                return item
        raise no_attempt(instance_id, attempt, len(found))

    def _quiet_log(self, instance_id: int) -> bytes | None:
        """The log of an instance that succeeded without running (a dry-run, a virtual node),
        rendered from the store's facts; None for one that ran or has not finished.

        Such an instance has no attempt and no file: a file written as it settles would
        repeat what its row says, cost the scheduler a write per virtual node, and be
        missing for the instances settled before it existed. Rendered, it is the same text
        from any process, before or after a restart.
        """
        info = self.get_instance(instance_id)
        quiet = info.dry_run or info.node_type == NodeType.VIRTUAL.value
        settled = info.finished_at
        if info.status is not Status.SUCCESS or not quiet or info.set_success or settled is None:
            return None
        with self.db.connect() as conn:
            last_start = conn.scalar(
                select(func.max(AttemptRow.started_at)).where(AttemptRow.instance_id == instance_id)
            )
            if last_start is not None and last_start >= (info.started_at or settled):
                return None  # it succeeded by running: its attempt has the log
            cron = conn.scalar(
                select(NodeVersionRow.cron)
                .join(InstanceRow, InstanceRow.node_version_id == NodeVersionRow.id)
                .where(InstanceRow.id == instance_id)
            )
        text = quiet_log(
            node=info.node,
            node_type=info.node_type,
            dry_run=info.dry_run,
            dry_run_reason=info.dry_run_reason,
            cron=cron or "",
            cyctime=info.cyctime,
            settled=to_local(settled, ZoneInfo(self._timezone)),
            backfill_id=info.backfill_id,
        )
        return text.encode("utf-8")

    def read_log(
        self, instance_id: int, attempt: int | None = None, offset: int = 0, limit: int = 65536
    ) -> LogPage:
        """A page of an attempt's log (the latest when ``attempt`` is None). An instance that
        succeeded without running has no attempt: unnamed, its log is a rendered note of why
        (attempt 0), after any attempt it had before."""
        if attempt is None and (quiet := self._quiet_log(instance_id)) is not None:
            text, next_offset = text_page(quiet, offset, limit)
            return LogPage(instance_id, 0, text, offset, next_offset, len(quiet))
        chosen = self._attempt(instance_id, attempt)
        path = Path(chosen.log_path)
        if (
            not path.exists() and chosen.status is not Status.RUNNING
        ):  # (a starting one has none yet)
            raise ActionRefused(
                f"the log of attempt {chosen.number} of #{instance_id} is gone: {path} "
                "(logs are files beside the state database; was it cleaned up?)"
            )
        text, next_offset = read_page(path, offset, limit)
        size = path.stat().st_size if path.exists() else 0
        return LogPage(instance_id, chosen.number, text, offset, next_offset, size)

    def follow_log(
        self, instance_id: int, attempt: int | None = None, poll: float = 0.2
    ) -> Iterator[LogPage]:
        """Pages as the log grows; ends when the attempt has finished and all is read."""
        quiet = self._quiet_log(instance_id) if attempt is None else None
        if quiet is not None:
            yield from _quiet_pages(instance_id, quiet)  # it will not grow: read it once
            return
        number = self._attempt(instance_id, attempt).number
        offset = 0
        while True:
            page = self.read_log(instance_id, number, offset)
            if page.text:
                yield page
            offset = page.next_offset
            if page.at_end:
                current = self._attempt(instance_id, number)
                if current.status is not Status.RUNNING:
                    last = self.read_log(instance_id, number, offset)
                    if last.text:
                        yield last
                    return
                time.sleep(poll)

    def relatives(
        self, instance_id: int, direction: str = "down", levels: int = 1
    ) -> list[Relative]:
        self.get_instance(instance_id)
        near, far = (
            (InstanceEdgeRow.upstream_id, InstanceEdgeRow.downstream_id)
            if direction == "down"
            else (InstanceEdgeRow.downstream_id, InstanceEdgeRow.upstream_id)
        )
        found: list[tuple[int, int, int, bool]] = []
        seen = {instance_id}
        frontier = [instance_id]
        with self.db.connect() as conn:
            for level in range(1, levels + 1):
                if not frontier:
                    break
                rows = conn.execute(
                    select(near, far, InstanceEdgeRow.cross_cycle).where(near.in_(frontier))
                ).all()
                frontier = []
                for via, other, cross in rows:
                    if other not in seen:
                        seen.add(other)
                        frontier.append(other)
                        found.append((level, other, via, cross))
            infos = {
                r.id: instance_info(r)
                for r in conn.execute(
                    _instance_query().where(InstanceRow.id.in_([f[1] for f in found]))
                )
            }
        return [Relative(level, infos[other], via, cross) for level, other, via, cross in found]

    def diagnose(self, instance_id: int) -> Diagnosis:
        self.get_instance(instance_id)
        with self.db.connect() as conn:
            return diagnose(conn, instance_id, self._now())

    def status_counts(self, bizdate: date) -> StatusCounts:
        with self.db.connect() as conn:
            return status_counts(conn, self.workspace_id, bizdate)

    def dashboard(self, bizdate: date) -> Dashboard:
        """The overview an on-call engineer opens first; a handful of aggregate queries."""
        now = self.clock.now()
        zone = ZoneInfo(self._timezone)
        today = now.astimezone(zone).date()
        with self.db.connect() as conn:
            periodic = (
                InstanceRow.workspace_id == self.workspace_id,
                InstanceRow.kind == InstanceKind.PERIODIC.value,
            )
            needs_action = [
                instance_info(r)
                for r in conn.execute(
                    _instance_query()
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
            since = self._now() - timedelta(days=30)
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
            elapsed = _run_time(conn, self._now())
            slowest = [
                instance_info(r)
                for r in conn.execute(
                    _instance_query()
                    .where(
                        *periodic,
                        InstanceRow.bizdate == bizdate,
                        InstanceRow.started_at.is_not(None),
                        InstanceRow.dry_run.is_(False),
                        NodeVersionRow.type != "virtual",  # they do not run
                    )
                    .order_by(elapsed.desc())
                    .limit(10)
                )
            ]
            trend = [
                self._hourly_successes(conn, day, zone)
                for day in (today, today - timedelta(days=1))
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
            counts=self.status_counts(bizdate),
            needs_action=needs_action,
            baselines=self.list_baselines(bizdate),
            top_errors=top_errors,
            slowest=slowest,
            succeeded_per_hour=trend[0],
            succeeded_per_hour_before=trend[1],
            now=now,
            failure_reasons=reasons,
        )

    def _hourly_successes(self, conn, day: date, zone: ZoneInfo) -> list[int]:  # noqa: ANN001
        """Instances that succeeded in each hour of ``day`` (workspace time)."""
        start = datetime.combine(day, datetime.min.time()).replace(tzinfo=zone)
        start_utc = to_store(start)
        hours = [0] * 24
        for (finished,) in conn.execute(
            select(InstanceRow.finished_at).where(
                InstanceRow.workspace_id == self.workspace_id,
                InstanceRow.status == Status.SUCCESS.value,
                InstanceRow.dry_run.is_(False),
                InstanceRow.finished_at >= start_utc,
                InstanceRow.finished_at < start_utc + timedelta(days=1),
            )
        ):
            hour = int((finished - start_utc).total_seconds() // 3600)
            hours[min(hour, 23)] += 1
        return hours

    def list_backfills(self, limit: int = 50) -> list[BackfillInfo]:
        with self.db.connect() as conn:
            ids = conn.scalars(
                select(BackfillRow.id)
                .where(BackfillRow.workspace_id == self.workspace_id)
                .order_by(BackfillRow.id.desc())
                .limit(_limit(limit))
            ).all()
        return [self.get_backfill(i) for i in ids]

    def get_backfill(self, backfill_id: int) -> BackfillInfo:
        if not storable(backfill_id):
            raise not_found("backfill", [backfill_id], self._workspace_name)
        with self.db.connect() as conn:
            row = conn.execute(
                select(BackfillRow).where(
                    BackfillRow.id == backfill_id, BackfillRow.workspace_id == self.workspace_id
                )
            ).one_or_none()
            if row is None:
                raise not_found("backfill", [backfill_id], self._workspace_name)
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
            runs=[BackfillRunInfo(r.bizdate, r.position, r.status, counts[r.id]) for r in runs],
        )

    def audit_log(self, limit: int = 100, before_id: int | None = None) -> list[AuditEntry]:
        query = select(AuditRow).order_by(AuditRow.id.desc()).limit(_limit(limit))
        if before_id is not None:
            query = query.where(AuditRow.id < min(max(before_id, 0), LARGEST_ID))
        with self.db.connect() as conn:
            rows = conn.execute(query).all()
        return [
            AuditEntry(
                r.id,
                r.at,
                r.user,
                r.action,
                list(r.targets),
                r.outcome,
                r.detail,
                r.source,
                r.wall_at,
            )
            for r in rows
        ]

    def list_baselines(self, bizdate: date) -> list[BaselineStatus]:
        with self.db.connect() as conn:
            rows = conn.execute(
                stored_baselines(self.workspace_id).where(BaselineInstanceRow.bizdate == bizdate)
            ).all()
            keys = {
                r.id: instance_info(r)
                for r in conn.execute(
                    _instance_query().where(
                        InstanceRow.id.in_([b.key_instance_id for b in rows if b.key_instance_id])
                    )
                )
            }
        now = self._now()
        return [stored_status(r, keys.get(r.key_instance_id), now) for r in rows]

    def get_baseline(self, name: str, bizdate: date, cycle: int = 1) -> BaselineDetail:
        found = [b for b in self.list_baselines(bizdate) if b.name == name and b.cycle == cycle]
        if not found:
            raise no_baseline(name, bizdate, cycle)
        with self.db.connect() as conn:
            row = conn.execute(
                select(BaselineInstanceRow.id, BaselineInstanceRow.key_path)
                .join(BaselineRow, BaselineRow.id == BaselineInstanceRow.baseline_id)
                .where(
                    BaselineRow.workspace_id == self.workspace_id,
                    BaselineRow.name == name,
                    BaselineInstanceRow.bizdate == bizdate,
                    BaselineInstanceRow.cycle == cycle,
                )
            ).one()
            steps = row.key_path or []
            infos = {
                r.id: instance_info(r)
                for r in conn.execute(
                    _instance_query().where(InstanceRow.id.in_([s["id"] for s in steps]))
                )
            }
        path = [
            KeyPathStep(
                infos[s["id"]],
                datetime.fromisoformat(s["start"]),
                datetime.fromisoformat(s["finish"]),
            )
            for s in steps
            if s["id"] in infos
        ]
        events = [
            e for e in self.list_events(limit=500) if e.baseline == name and e.bizdate == bizdate
        ]
        return BaselineDetail(found[0], path, events)

    def list_events(self, limit: int = 100, open_only: bool = False) -> list[EventInfo]:
        query = (
            select(
                EventRow,
                BaselineRow.name.label("baseline"),
                BaselineInstanceRow.bizdate,
                NodeRow.name.label("node"),
            )
            .join(BaselineRow, BaselineRow.id == EventRow.baseline_id)
            .join(BaselineInstanceRow, BaselineInstanceRow.id == EventRow.baseline_instance_id)
            .join(InstanceRow, InstanceRow.id == EventRow.instance_id)
            .join(NodeRow, NodeRow.id == InstanceRow.node_id)
            .where(BaselineRow.workspace_id == self.workspace_id)
            .order_by(EventRow.id.desc())
            .limit(_limit(limit))
        )
        if open_only:
            query = query.where(EventRow.status.in_(["NEW", "FIXING"]))
        with self.db.connect() as conn:
            rows = conn.execute(query).all()
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
            )
            for r in rows
        ]

    def list_alerts(self, limit: int = 100) -> list[AlertInfo]:
        with self.db.connect() as conn:
            rows = conn.execute(
                select(AlertRow)
                .where(AlertRow.workspace_id == self.workspace_id)
                .order_by(AlertRow.id.desc())
                .limit(_limit(limit))
            ).all()
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
            for r in rows
        ]

    # -- acting -------------------------------------------------------------------

    def _now(self) -> datetime:
        return to_store(self.clock.now())

    def _act(
        self,
        action: str,
        targets: Sequence[int | str],
        call: Callable[[actions.Actor], ActionResult],
    ) -> ActionResult:
        actor = actions.Actor(self.user, self._now(), self.source)
        if self.readonly:
            actions.refuse_readonly(self.db, actor, action, targets)
        result = call(actor)
        if self.on_change:
            self.on_change()
        return result

    def rerun(self, instance_ids: Sequence[int], downstream: bool = False) -> ActionResult:
        name = "rerun downstream" if downstream else "rerun"
        return self._act(
            name,
            instance_ids,
            lambda a: actions.rerun(
                self.db, self.workspace_id, instance_ids, a, downstream=downstream
            ),
        )

    def preview_rerun(self, instance_ids: Sequence[int], downstream: bool = False) -> ActionResult:
        actor = actions.Actor(self.user, self._now(), self.source)
        return actions.preview_rerun(
            self.db, self.workspace_id, instance_ids, actor, downstream=downstream
        )

    def baseline_impact(
        self, action: str, instance_ids: Sequence[int], downstream: bool = False
    ) -> list[BaselineImpact] | None:
        if action not in impact.ACTIONS:
            return None
        affected = list(instance_ids)
        if action == "rerun" and downstream:
            affected = self.preview_rerun(instance_ids, downstream=True).affected
        return impact.impacts(self.db, self.workspace_id, action, affected, self._now())

    def set_success(self, instance_ids: Sequence[int]) -> ActionResult:
        return self._act(
            "set success",
            instance_ids,
            lambda a: actions.set_success(self.db, self.workspace_id, instance_ids, a),
        )

    def stop(self, instance_ids: Sequence[int]) -> ActionResult:
        return self._act(
            "stop",
            instance_ids,
            lambda a: actions.stop(self.db, self.workspace_id, instance_ids, a),
        )

    def freeze(self, instance_ids: Sequence[int]) -> ActionResult:
        return self._act(
            "freeze",
            instance_ids,
            lambda a: actions.freeze(self.db, self.workspace_id, instance_ids, a),
        )

    def unfreeze(self, instance_ids: Sequence[int]) -> ActionResult:
        return self._act(
            "unfreeze",
            instance_ids,
            lambda a: actions.unfreeze(self.db, self.workspace_id, instance_ids, a),
        )

    def freeze_node(self, node: str) -> ActionResult:
        return self._act(
            "freeze node",
            [node],
            lambda a: actions.set_node_frozen(self.db, self.workspace_id, node, a, frozen=True),
        )

    def unfreeze_node(self, node: str) -> ActionResult:
        return self._act(
            "unfreeze node",
            [node],
            lambda a: actions.set_node_frozen(self.db, self.workspace_id, node, a, frozen=False),
        )

    def preview_backfill(self, request: BackfillRequest) -> ActionResult:
        return actions.preview_backfill(self.db, self.workspace_id, request)

    def backfill(self, request: BackfillRequest) -> ActionResult:
        targets = [request.node, f"{request.start}..{request.end}"]
        return self._act(
            "backfill",
            targets,
            lambda a: actions.create_backfill(self.db, self.workspace_id, request, a),
        )

    def handle_event(self, event_id: int, status: str) -> ActionResult:
        return self._act(
            "handle event",
            [event_id, status],
            lambda a: actions.handle_event(self.db, self.workspace_id, event_id, status, a),
        )

    def undeploy(self, node: str) -> ActionResult:
        return self._act(
            "undeploy", [node], lambda a: actions.undeploy(self.db, self.workspace_id, node, a)
        )

    def record_refusal(self, action: str, targets: Sequence[int | str], reason: str) -> None:
        """A refusal the console made itself, audited as ``actions`` audits its own."""
        from opscenter.store import audit
        from opscenter.store.tx import writing

        with writing(self.db) as conn:
            audit.record(
                conn,
                at=self._now(),
                user=self.user,
                action=action,
                targets=list(targets),
                outcome="refused",
                detail=reason,
                source="tui",
            )
