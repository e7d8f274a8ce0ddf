"""Intelligent diagnosis over the local store: gather the facts, let domain word them.

The store knows everything the rule asks for (who froze an instance, who holds the
group's slots, when the next automatic rerun is due), so nothing here is unknown; the
checks and their words live once in :mod:`opscenter.domain.diagnosis`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, select

from opscenter.domain.diagnosis import (
    UNKNOWN,
    DiagnosisFacts,
    Freeze,
    Holder,
    RemovedUpstream,
    Upstream,
    walk_upstream,
)
from opscenter.domain.diagnosis import diagnose as decide
from opscenter.domain.model import Recurrence, Status
from opscenter.domain.records import Diagnosis, Removal
from opscenter.store.models import (
    AttemptRow,
    InstanceEdgeRow,
    InstanceRow,
    NodeRow,
    NodeVersionRow,
    RemovedEdgeRow,
    ResourceGroupRow,
    TransitionRow,
)
from opscenter.store.workspaces import zone_of


def _unfinished_upstream(conn: Connection, ids: Sequence[int]) -> dict[int, list[Upstream]]:
    """Each instance's upstream instances that have not succeeded."""
    rows = conn.execute(
        select(
            InstanceEdgeRow.downstream_id,
            InstanceEdgeRow.cross_cycle,
            InstanceRow.id,
            NodeRow.name,
            InstanceRow.status,
            InstanceRow.cyctime,
        )
        .join(InstanceRow, InstanceRow.id == InstanceEdgeRow.upstream_id)
        .join(NodeRow, NodeRow.id == InstanceRow.node_id)
        .where(InstanceEdgeRow.downstream_id.in_(ids), InstanceRow.status != Status.SUCCESS.value)
    ).all()
    found: dict[int, list[Upstream]] = {}
    for r in rows:
        found.setdefault(r.downstream_id, []).append(
            Upstream(r.id, r.name, Status(r.status), r.cyctime, bool(r.cross_cycle))
        )
    return found


def _removed(conn: Connection, instance_id: int) -> list[RemovedUpstream]:
    """The upstream dependencies an operator removed from the instance, in the order removed."""
    rows = conn.execute(
        select(
            RemovedEdgeRow.upstream_id,
            NodeRow.name,
            RemovedEdgeRow.removed_by,
            RemovedEdgeRow.removed_at,
            RemovedEdgeRow.comment,
        )
        .join(InstanceRow, InstanceRow.id == RemovedEdgeRow.upstream_id)
        .join(NodeRow, NodeRow.id == InstanceRow.node_id)
        .where(RemovedEdgeRow.downstream_id == instance_id)
        .order_by(RemovedEdgeRow.removed_at, RemovedEdgeRow.upstream_id)
    ).all()
    return [
        RemovedUpstream(r.upstream_id, r.name, Removal(r.removed_by, r.removed_at, r.comment))
        for r in rows
    ]


def _freeze(conn: Connection, instance_id: int) -> Freeze | None:
    """The operator's freeze of the instance; None when it was generated frozen."""
    row = conn.execute(
        select(TransitionRow.by, TransitionRow.at)
        .where(
            TransitionRow.instance_id == instance_id,
            TransitionRow.to_status == Status.FROZEN.value,
        )
        .order_by(TransitionRow.id.desc())
        .limit(1)
    ).one_or_none()
    return Freeze(row.by, row.at) if row else None


def _holders(conn: Connection, workspace_id: int, group: str) -> list[Holder]:
    """The instances running in the group, each holding one of its slots."""
    rows = conn.execute(
        select(InstanceRow.id, NodeRow.name)
        .join(NodeRow, NodeRow.id == InstanceRow.node_id)
        .where(
            InstanceRow.workspace_id == workspace_id,
            InstanceRow.resource_group == group,
            InstanceRow.status == Status.RUNNING.value,
        )
        .order_by(InstanceRow.cyctime, InstanceRow.id)
    ).all()
    return [Holder(r.id, r.name) for r in rows]


def facts(conn: Connection, instance_id: int, now: datetime) -> DiagnosisFacts:
    """Everything the diagnosis rule asks about one instance; ``now`` is naive UTC."""
    inst = conn.execute(
        select(
            InstanceRow,  # its columns, flat: a Core connection does not build objects
            NodeRow.name.label("node_name"),
            NodeRow.frozen.label("node_frozen"),
            NodeVersionRow.recurrence,
            NodeVersionRow.rerun_mode,
            NodeVersionRow.rerun_times,
        )
        .join(NodeRow, NodeRow.id == InstanceRow.node_id)
        .join(NodeVersionRow, NodeVersionRow.id == InstanceRow.node_version_id)
        .where(InstanceRow.id == instance_id)
    ).one()
    status = Status(inst.status)
    attempt = conn.execute(
        select(AttemptRow.number, AttemptRow.started_at, AttemptRow.reason)
        .where(AttemptRow.instance_id == instance_id)
        .order_by(AttemptRow.number.desc())
        .limit(1)
    ).one_or_none()
    waiting = status is Status.WAIT_RESOURCE
    slots = (
        conn.scalar(
            select(ResourceGroupRow.slots).where(
                ResourceGroupRow.workspace_id == inst.workspace_id,
                ResourceGroupRow.name == inst.resource_group,
            )
        )
        if waiting
        else None
    )
    return DiagnosisFacts(
        instance_id=instance_id,
        node=inst.node_name,
        status=status,
        cyctime=inst.cyctime,
        due_at=inst.due_at,
        now=now,
        resource_group=inst.resource_group,
        upstream=walk_upstream(instance_id, lambda ids: _unfinished_upstream(conn, ids)),
        removed=_removed(conn, instance_id),
        dry_run=inst.dry_run,
        dry_run_reason=inst.dry_run_reason,
        set_success=inst.set_success,
        node_frozen=bool(inst.node_frozen) or inst.recurrence == Recurrence.PAUSE.value,
        frozen_by=_freeze(conn, instance_id) if status is Status.FROZEN else None,
        run_number=attempt.number if attempt else inst.run_number,
        max_attempts=inst.rerun_times + 1,
        rerun_mode=inst.rerun_mode,
        started_at=attempt.started_at if attempt else None,
        last_reason=attempt.reason if attempt else None,
        retry_at=inst.retry_at,
        slots=slots if slots is not None else UNKNOWN,
        slot_holders=_holders(conn, inst.workspace_id, inst.resource_group) if waiting else (),
        waiting_since=inst.status_at,
        zone=zone_of(conn, inst.workspace_id),
    )


def diagnose(conn: Connection, instance_id: int, now: datetime) -> Diagnosis:
    """``now`` is naive UTC."""
    return decide(facts(conn, instance_id, now))
