"""What an action would do to the baselines: the prediction re-run with the action applied.

An operator about to rerun a key-path instance at 3 a.m. needs to know that the
dashboard baseline moves from 09:18 to 09:41 and goes OVER before pressing `y`.
The protected instances are read as the scheduler's monitor reads them, then
predicted twice: as they are, and as the action leaves them. Nothing is
written; averages come from the node statistics the scheduler publishes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, select

from opscenter.domain.model import Status
from opscenter.domain.records import BaselineImpact, BaselineStatus, Blocker
from opscenter.sla.history import DEFAULT_DURATION
from opscenter.sla.monitor import SlaMonitor, stored_baselines, stored_status
from opscenter.sla.predict import Protected, predict
from opscenter.store.batches import chunks
from opscenter.store.db import storable
from opscenter.store.models import (
    BaselineInstanceRow,
    InstanceRow,
    NodeRow,
    NodeStatsRow,
)

ACTIONS = ("rerun", "set_success", "stop", "freeze", "unfreeze", "remove_upstream")


class StoredAverages:
    """Node averages as the scheduler last published them (the console has no run history)."""

    def __init__(self, conn: Connection, workspace_id: int) -> None:
        self.means = dict(
            conn.execute(
                select(NodeStatsRow.node_id, NodeStatsRow.mean)
                .join(NodeRow, NodeRow.id == NodeStatsRow.node_id)
                .where(NodeRow.workspace_id == workspace_id)
            ).all()
        )

    def average(self, node_id: int, default: timedelta = DEFAULT_DURATION) -> timedelta:
        mean = self.means.get(node_id)
        return timedelta(seconds=mean) if mean is not None else default


def applied(
    item: Protected, action: str, now: datetime, status_of: Mapping[int, Status] | None = None
) -> Protected:
    """The instance as the action leaves it (a refused action is refused later, on `y`).
    ``status_of``: the protected instances' statuses, for a removal of the upstreams not
    SUCCESS (the default choice; a failed instance stays failed, so stays blocking)."""
    if action == "remove_upstream":
        kept = tuple(u for u in item.upstream if (status_of or {}).get(u) is Status.SUCCESS)
        return dataclasses.replace(item, upstream=kept)
    if action == "rerun":
        return dataclasses.replace(item, status=Status.NOT_RUN, started_at=None, finished_at=None)
    if action == "set_success":
        return dataclasses.replace(item, status=Status.SUCCESS, finished_at=now)
    if action == "stop":
        return dataclasses.replace(item, status=Status.FAILURE, finished_at=now)
    if action == "freeze":
        return dataclasses.replace(item, status=Status.FROZEN)
    if action == "unfreeze":
        return dataclasses.replace(item, status=Status.NOT_RUN)
    raise ValueError(f"no baseline impact for {action!r}")


def impacts(
    db: Engine, workspace_id: int, action: str, affected: Sequence[int], now: datetime
) -> list[BaselineImpact]:
    """Every baseline whose protected instances include one of ``affected``."""
    touched = {i for i in affected if storable(i)}
    found: list[BaselineImpact] = []
    with db.connect() as conn:
        bizdates = set()
        for part in chunks(sorted(touched)):
            bizdates |= set(
                conn.scalars(
                    select(InstanceRow.bizdate)
                    .distinct()
                    .where(InstanceRow.id.in_(part), InstanceRow.kind == "periodic")
                )
            )
        if not bizdates:
            return []
        rows = conn.execute(
            stored_baselines(workspace_id).where(BaselineInstanceRow.bizdate.in_(bizdates))
        ).all()
        if not rows:
            return []
        monitor = SlaMonitor(db, workspace_id, StoredAverages(conn, workspace_id))
        for row in rows:
            cycle = row.cycle if row.type == "HOURLY" else None
            protected = monitor.protected(conn, row.nodes, row.bizdate, cycle)
            if not touched.intersection(p.id for p in protected):
                continue
            status_of = {p.id: p.status for p in protected}
            after = [
                applied(p, action, now, status_of) if p.id in touched else p for p in protected
            ]
            status = stored_status(row)
            found.append(
                BaselineImpact(_predicted(status, protected, now), _predicted(status, after, now))
            )
    # the baselines the action moves first: a confirm shows only the first few
    return sorted(found, key=lambda i: _unmoved(i.before, i.after))


def _unmoved(before: BaselineStatus, after: BaselineStatus) -> bool:
    return (before.status, before.finished, before.predicted_finish, before.blocked_by) == (
        after.status,
        after.finished,
        after.predicted_finish,
        after.blocked_by,
    )


def _predicted(stored: BaselineStatus, protected: list[Protected], now: datetime) -> BaselineStatus:
    prediction = predict(protected, now, alert_at=stored.alert_at, committed_at=stored.committed_at)
    by_id = {p.id: p for p in protected}
    return dataclasses.replace(
        stored,
        status=prediction.status,
        finished=prediction.finished,
        predicted_finish=prediction.finish,
        protected=len(protected),
        blocked_by=tuple(Blocker(i, by_id[i].node, by_id[i].status) for i in prediction.blocked_by),
        if_rerun_now=prediction.if_rerun_now,
    )
