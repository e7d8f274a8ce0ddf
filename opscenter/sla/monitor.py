"""Baseline instances, their predictions and their events, kept up to date by the scheduler.

For each baseline and business date (and cycle, for hourly baselines) the
monitor finds the protected instances (the baseline's output nodes' instances
and all their same-cycle ancestors), predicts (predict.py), stores status,
predicted finish and key path, and raises events on key-path instances:
ERROR when one fails, SLOW when one runs much longer than usual (decision
13.10). An event whose instance then succeeds is marked RECOVER.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Protocol

from sqlalchemy import Connection, Engine, Row, Select, insert, select, update

from opscenter.domain.model import NodeType, Status
from opscenter.domain.records import BaselineStatus, Blocker, InstanceInfo
from opscenter.domain.rules import committed_moment, duration_text, is_slow
from opscenter.domain.times import to_local
from opscenter.sla.predict import Prediction, Protected, predict
from opscenter.store.batches import chunks
from opscenter.store.models import (
    BaselineInstanceRow,
    BaselineRow,
    EventRow,
    InstanceEdgeRow,
    InstanceRow,
    NodeRow,
    NodeVersionRow,
)
from opscenter.store.tx import inserted_id, writing
from opscenter.store.workspaces import zone_of

ACTIVE_DAYS = 2  # business dates looked after: yesterday's and today's


@dataclass(frozen=True)
class Change:
    """A baseline instance whose status changed: what alert rules look at."""

    baseline: str
    baseline_instance_id: int
    bizdate: date
    cycle: int
    before: str
    after: str


@dataclass(frozen=True)
class _Plan:
    """A baseline instance's prediction, made outside the write lock, waiting to be stored."""

    baseline_id: int
    name: str
    bizdate: date
    cycle: int
    committed: datetime
    alert: datetime
    protected: list[Protected]
    prediction: Prediction


def stored_baselines(workspace_id: int) -> Select:
    """The enabled baselines' stored instances (what the monitor wrote), highest priority
    first; narrow it with ``.where`` and read each row with ``stored_status``."""
    return (
        select(
            BaselineInstanceRow,
            BaselineRow.name,
            BaselineRow.owner,
            BaselineRow.priority,
            BaselineRow.type,
            BaselineRow.nodes,
        )
        .join(BaselineRow, BaselineRow.id == BaselineInstanceRow.baseline_id)
        .where(BaselineRow.workspace_id == workspace_id, BaselineRow.enabled)
        .order_by(
            BaselineRow.priority.desc(),
            BaselineRow.name,
            BaselineInstanceRow.bizdate,
            BaselineInstanceRow.cycle,
        )
    )


def stored_status(
    row: Row, key_instance: InstanceInfo | None = None, now: datetime | None = None
) -> BaselineStatus:
    """A row of ``stored_baselines`` as the console shows it. Given ``now`` (naive UTC), an
    unfinished baseline never shows a finish earlier than now: the stored prediction was
    made a moment ago, and a world that moved on since must not read as already done."""
    predicted = row.predicted_finish
    if now is not None and predicted is not None and not row.finished and predicted < now:
        predicted = now
    blocked = tuple(Blocker(b["id"], b["node"], Status(b["status"])) for b in row.blocked_by or ())
    return BaselineStatus(
        row.name,
        row.owner,
        row.priority,
        row.type,
        row.bizdate,
        row.cycle,
        row.status,
        row.finished,
        row.committed_at,
        row.alert_at,
        predicted,
        key_instance,
        row.protected,
        tuple(row.nodes),
        blocked,
        row.if_rerun_now,
    )


class Averages(Protocol):
    """How long a node's run is expected to take: the run history, or its published stats."""

    def average(self, node_id: int) -> timedelta: ...


class SlaMonitor:
    def __init__(self, db: Engine, workspace_id: int, history: Averages) -> None:
        self.db = db
        self.workspace_id = workspace_id
        self.history = history
        with db.connect() as conn:
            self.zone = zone_of(conn, workspace_id)

    def update(self, now: datetime) -> list[Change]:
        """Recompute every baseline instance of the active business dates; ``now`` naive UTC.

        Reading and predicting happen outside the write lock (a baseline may protect
        thousands of instances); only the results are written in one short transaction.
        """
        today = to_local(now, self.zone).date()
        bizdates = [today - timedelta(days=d) for d in range(1, ACTIVE_DAYS + 1)] + [today]
        plans: list[_Plan] = []
        with self.db.connect() as conn:
            baselines = conn.execute(
                select(BaselineRow).where(
                    BaselineRow.workspace_id == self.workspace_id, BaselineRow.enabled
                )
            ).all()
            for baseline in baselines:
                for bizdate in bizdates:
                    for cycle, hhmm in enumerate(baseline.committed_times, start=1):
                        plan = self._plan(conn, baseline, bizdate, cycle, hhmm, now)
                        if plan:
                            plans.append(plan)
        changes: list[Change] = []
        if plans:
            with writing(self.db) as conn:
                for plan in plans:
                    change = self._store(conn, plan, now)
                    if change:
                        changes.append(change)
        return changes

    def _plan(
        self,
        conn: Connection,
        baseline,
        bizdate: date,
        cycle: int,
        hhmm: str,  # noqa: ANN001
        now: datetime,
    ) -> _Plan | None:
        protected = self.protected(
            conn, baseline.nodes, bizdate, cycle if baseline.type == "HOURLY" else None
        )
        if not protected:
            return None  # nothing generated for that business date yet
        committed = committed_moment(bizdate, hhmm, self.zone)
        alert = committed - timedelta(minutes=baseline.margin)
        prediction = predict(protected, now, alert_at=alert, committed_at=committed)
        return _Plan(
            baseline.id, baseline.name, bizdate, cycle, committed, alert, protected, prediction
        )

    def _store(self, conn: Connection, plan: _Plan, now: datetime) -> Change | None:
        prediction = plan.prediction
        by_id = {p.id: p for p in plan.protected}
        row = conn.execute(
            select(BaselineInstanceRow).where(
                BaselineInstanceRow.baseline_id == plan.baseline_id,
                BaselineInstanceRow.bizdate == plan.bizdate,
                BaselineInstanceRow.cycle == plan.cycle,
            )
        ).one_or_none()
        values = {
            "committed_at": plan.committed,
            "alert_at": plan.alert,
            "status": prediction.status,
            "finished": prediction.finished,
            "predicted_finish": prediction.finish,
            "key_path": [
                {
                    "id": i,
                    "start": prediction.est_start[i].isoformat(),
                    "finish": prediction.est_finish[i].isoformat(),
                }
                for i in prediction.key_path
            ],
            "key_instance_id": prediction.key_instance,
            "protected": len(plan.protected),
            "blocked_by": [
                {"id": i, "node": by_id[i].node, "status": by_id[i].status.value}
                for i in prediction.blocked_by
            ]
            or None,
            "if_rerun_now": prediction.if_rerun_now,
            "updated_at": now,
        }
        if row is None:
            instance_id = inserted_id(
                conn.execute(
                    insert(BaselineInstanceRow).values(
                        baseline_id=plan.baseline_id,
                        bizdate=plan.bizdate,
                        cycle=plan.cycle,
                        **values,
                    )
                )
            )
            before = ""
        else:
            instance_id, before = row.id, row.status
            if row.finished and prediction.finished and row.status == prediction.status:
                return None  # settled
            conn.execute(
                update(BaselineInstanceRow).where(BaselineInstanceRow.id == row.id).values(**values)
            )
        self._events(conn, plan.baseline_id, instance_id, plan.protected, prediction, now)
        if before != prediction.status:
            return Change(
                plan.name, instance_id, plan.bizdate, plan.cycle, before, prediction.status
            )
        return None

    def protected(
        self, conn: Connection, nodes: list[str], bizdate: date, cycle: int | None
    ) -> list[Protected]:
        """The output nodes' periodic instances of the date and all their same-cycle ancestors."""
        query = (
            select(InstanceRow.id)
            .join(NodeRow, NodeRow.id == InstanceRow.node_id)
            .where(
                InstanceRow.workspace_id == self.workspace_id,
                InstanceRow.kind == "periodic",
                InstanceRow.bizdate == bizdate,
                NodeRow.name.in_(nodes),
            )
        )
        if cycle is not None:
            query = query.where(InstanceRow.cycle == cycle)
        outputs = set(conn.scalars(query))
        if not outputs:
            return []
        parents: dict[int, list[int]] = {}
        frontier = list(outputs)
        while frontier:
            rows: list[Row[int, int]] = []
            for part in chunks(frontier):
                rows += conn.execute(
                    select(InstanceEdgeRow.downstream_id, InstanceEdgeRow.upstream_id).where(
                        InstanceEdgeRow.downstream_id.in_(part),
                        InstanceEdgeRow.cross_cycle.is_(False),
                    )
                ).all()
            for down in frontier:
                parents.setdefault(down, [])
            nxt = []
            for down, up in rows:
                parents[down].append(up)
                if up not in parents:
                    parents[up] = []
                    nxt.append(up)
            frontier = nxt
        found: list[Protected] = []
        ids = list(parents)
        for part in chunks(ids):
            for r in conn.execute(
                select(
                    InstanceRow.id,
                    InstanceRow.node_id,
                    NodeRow.name,
                    InstanceRow.due_at,
                    InstanceRow.status,
                    InstanceRow.started_at,
                    InstanceRow.finished_at,
                    InstanceRow.retry_at,
                    InstanceRow.dry_run,
                    NodeVersionRow.type,
                )
                .join(NodeRow, NodeRow.id == InstanceRow.node_id)
                .join(NodeVersionRow, NodeVersionRow.id == InstanceRow.node_version_id)
                .where(InstanceRow.id.in_(part))
            ):
                # a dry-run or virtual instance succeeds without running: it takes no time
                instant = r.dry_run or r.type == NodeType.VIRTUAL.value
                average = timedelta(0) if instant else self.history.average(r.node_id)
                found.append(
                    Protected(
                        r.id,
                        r.name,
                        r.due_at,
                        Status(r.status),
                        r.started_at,
                        r.finished_at,
                        average,
                        tuple(parents[r.id]),
                        r.id in outputs,
                        r.retry_at,
                    )
                )
        return found

    def _events(
        self,
        conn: Connection,
        baseline_id: int,
        baseline_instance_id: int,
        protected: list[Protected],
        prediction: Prediction,
        now: datetime,
    ) -> None:
        by_id = {p.id: p for p in protected}
        existing = {
            (r.instance_id, r.kind): r
            for r in conn.execute(
                select(EventRow).where(EventRow.baseline_instance_id == baseline_instance_id)
            )
        }
        # a failed blocker raises ERROR wherever it is: the optimistic key path may miss it
        failed_blockers = [i for i in prediction.blocked_by if by_id[i].status is Status.FAILURE]
        for instance_id in dict.fromkeys([*prediction.key_path, *failed_blockers]):
            item = by_id[instance_id]
            raised: list[tuple[str, str]] = []
            if item.status is Status.FAILURE and item.blocks:
                raised.append(("ERROR", f"{item.node} #{item.id} failed and blocks the baseline"))
            elif item.status is Status.FAILURE:
                raised.append(("ERROR", f"{item.node} #{item.id} failed on the key path"))
            if item.status is Status.RUNNING and item.started_at:
                elapsed = now - item.started_at
                if is_slow(elapsed, item.average):
                    raised.append(
                        (
                            "SLOW",
                            f"{item.node} #{item.id} has run {duration_text(elapsed)}, "
                            f"usually {duration_text(item.average)}",
                        )
                    )
            for kind, message in raised:
                if (instance_id, kind) not in existing:
                    conn.execute(
                        insert(EventRow).values(
                            baseline_id=baseline_id,
                            baseline_instance_id=baseline_instance_id,
                            instance_id=instance_id,
                            kind=kind,
                            status="NEW",
                            message=message,
                            created_at=now,
                            updated_at=now,
                            updated_by="scheduler",
                        )
                    )
        for (instance_id, _kind), event in existing.items():
            found = by_id.get(instance_id)
            if found and found.status is Status.SUCCESS and event.status in ("NEW", "FIXING"):
                conn.execute(
                    update(EventRow)
                    .where(EventRow.id == event.id)
                    .values(status="RECOVER", updated_at=now, updated_by="scheduler")
                )
