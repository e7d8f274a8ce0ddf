"""Intelligent diagnosis: "why isn't it running?" (spec 8).

Checks in the order an on-call engineer would: frozen? upstream not
successful (walking up to the deepest blocker and naming it)? waiting for its
scheduled time? waiting for a slot (naming the group and who holds it)?
running or failed (with the last error)?
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, select

from opscenter.domain.model import Status
from opscenter.domain.records import Diagnosis, DiagnosisStep
from opscenter.store.models import (
    AttemptRow,
    InstanceEdgeRow,
    InstanceRow,
    NodeRow,
    ResourceGroupRow,
    TransitionRow,
)

MAX_WALK = 5000  # ancestors examined when looking for the deepest blocker


def _label(row) -> str:  # noqa: ANN001
    return f"{row.name} #{row.id} ({Status(row.status).label}, cyctime {row.cyctime:%m-%d %H:%M})"


def _minutes(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes // 60}h{minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m"


def _instances(conn: Connection, ids: list[int]) -> list:
    return conn.execute(
        select(
            InstanceRow.id,
            NodeRow.name,
            InstanceRow.status,
            InstanceRow.cyctime,
            InstanceRow.resource_group,
            InstanceRow.started_at,
        )
        .join(NodeRow, NodeRow.id == InstanceRow.node_id)
        .where(InstanceRow.id.in_(ids))
        .order_by(InstanceRow.cyctime, InstanceRow.id)
    ).all()


def _unfinished_upstream(conn: Connection, ids: list[int]) -> list:
    return conn.execute(
        select(InstanceEdgeRow.downstream_id, InstanceRow.id, InstanceRow.status)
        .join(InstanceRow, InstanceRow.id == InstanceEdgeRow.upstream_id)
        .where(InstanceEdgeRow.downstream_id.in_(ids), InstanceRow.status != Status.SUCCESS.value)
    ).all()


def _deepest_blockers(conn: Connection, instance_id: int) -> tuple[list[int], list[int]]:
    """(direct unfinished upstreams, the deepest ones: unfinished with no unfinished upstream)."""
    direct = [r.id for r in _unfinished_upstream(conn, [instance_id])]
    seen, frontier, deepest = set(direct), list(direct), []
    while frontier and len(seen) < MAX_WALK:
        rows = _unfinished_upstream(conn, frontier)
        has_parent = {r.downstream_id for r in rows}
        deepest += [i for i in frontier if i not in has_parent]
        frontier = [r.id for r in rows if r.id not in seen]
        seen.update(frontier)
    deepest += frontier
    return direct, deepest


def diagnose(conn: Connection, instance_id: int, now: datetime) -> Diagnosis:
    """``now`` is naive UTC."""
    inst = conn.execute(
        select(InstanceRow, NodeRow.name)
        .join(NodeRow, NodeRow.id == InstanceRow.node_id)
        .where(InstanceRow.id == instance_id)
    ).one()
    status = Status(inst.status)
    steps: list[DiagnosisStep] = []

    if status is Status.FROZEN:
        by = conn.execute(
            select(TransitionRow.by, TransitionRow.at)
            .where(
                TransitionRow.instance_id == instance_id,
                TransitionRow.to_status == Status.FROZEN.value,
            )
            .order_by(TransitionRow.id.desc())
            .limit(1)
        ).one_or_none()
        who = f" by {by.by} at {by.at:%m-%d %H:%M} UTC" if by else " (its node is frozen)"
        steps.append(
            DiagnosisStep("frozen", False, f"frozen{who}; it blocks its downstream until unfrozen")
        )
    else:
        steps.append(DiagnosisStep("frozen", True, "not frozen"))

    direct, deepest = _deepest_blockers(conn, instance_id)
    if direct:
        blockers = _instances(conn, deepest or direct)
        names = "; ".join(_label(b) for b in blockers[:5])
        more = f" and {len(blockers) - 5} more" if len(blockers) > 5 else ""
        steps.append(
            DiagnosisStep(
                "upstream",
                False,
                f"waiting for {len(direct)} upstream instance(s); "
                f"the deepest blocker: {names}{more}",
                tuple(b.id for b in blockers),
            )
        )
    else:
        steps.append(DiagnosisStep("upstream", True, "every upstream instance succeeded"))

    if inst.due_at > now:
        steps.append(
            DiagnosisStep(
                "time",
                False,
                f"scheduled for {inst.cyctime:%Y-%m-%d %H:%M}, in {_minutes(inst.due_at - now)}",
            )
        )
    else:
        steps.append(DiagnosisStep("time", True, f"its time {inst.cyctime:%m-%d %H:%M} has come"))

    if status is Status.WAIT_RESOURCE:
        slots = conn.scalar(
            select(ResourceGroupRow.slots).where(
                ResourceGroupRow.workspace_id == inst.workspace_id,
                ResourceGroupRow.name == inst.resource_group,
            )
        )
        holders = _instances(
            conn,
            list(
                conn.scalars(
                    select(InstanceRow.id).where(
                        InstanceRow.workspace_id == inst.workspace_id,
                        InstanceRow.resource_group == inst.resource_group,
                        InstanceRow.status == Status.RUNNING.value,
                    )
                )
            ),
        )
        held = "; ".join(f"{h.name} #{h.id}" for h in holders[:5]) or "nobody (a slot frees soon)"
        steps.append(
            DiagnosisStep(
                "resource",
                False,
                f"waiting for a slot in resource group {inst.resource_group} "
                f"({slots} slots, since {inst.status_at:%H:%M} UTC); held by: {held}",
                tuple(h.id for h in holders),
            )
        )
    else:
        steps.append(DiagnosisStep("resource", True, f"resource group {inst.resource_group}"))

    steps.append(_execution(conn, inst, status, now))
    failing = next((s for s in steps if not s.ok), None)
    summary = failing.message if failing else steps[-1].message
    return Diagnosis(instance_id, summary, steps)


def _execution(conn: Connection, inst, status: Status, now: datetime) -> DiagnosisStep:  # noqa: ANN001
    attempt = conn.execute(
        select(AttemptRow)
        .where(AttemptRow.instance_id == inst.id)
        .order_by(AttemptRow.number.desc())
        .limit(1)
    ).one_or_none()
    if status is Status.RUNNING and attempt:
        return DiagnosisStep(
            "execution",
            True,
            f"running for {_minutes(now - attempt.started_at)} (attempt {attempt.number})",
        )
    if status is Status.FAILURE:
        # the attempt's reason carries the process's last words (exit code 1: ERROR: ...)
        detail = attempt.reason if attempt else "stopped before it ran"
        retry = f"; auto rerun at {inst.retry_at:%H:%M} UTC" if inst.retry_at else ""
        return DiagnosisStep("execution", False, f"failed: {detail}{retry}")
    if status is Status.SUCCESS:
        how = (
            "dry-run: succeeded without running"
            if inst.dry_run
            else "set to success by an operator"
            if inst.set_success
            else "succeeded"
        )
        return DiagnosisStep("execution", True, how)
    return DiagnosisStep("execution", True, "has not started")
