"""Instance state changes in the store, shared by the engine and the actions.

Every change is conditional on the status it comes from (so a rerun racing a
completion cannot overwrite it), is logged as a transition with its time, and
happens inside the caller's write transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, insert, select, update

from opscenter.domain.model import Status
from opscenter.store.batches import chunks
from opscenter.store.models import InstanceEdgeRow, InstanceRow, SignalRow, TransitionRow

_UPSTREAM = InstanceRow.__table__.alias("upstream")
OPEN = (Status.NOT_RUN, Status.WAIT_TIME, Status.WAIT_RESOURCE)
HALTED = {"stop": "stopped", "freeze": "frozen"}  # an operator's halt, as a reason says it


def halt_reason(kind: str, user: str) -> str:
    """ "stopped by X" / "frozen by X": also written on a running attempt, so a scheduler
    that dies before it acts on the request carries it out when it recovers the attempt."""
    return f"{HALTED[kind]} by {user}"


def asked_to_halt(reason: str) -> tuple[str, str] | None:
    """(stop | freeze, who) when ``reason`` is an operator's halt (``halt_reason``)."""
    for kind, verb in HALTED.items():
        if reason.startswith(f"{verb} by "):
            return kind, reason.removeprefix(f"{verb} by ")
    return None


def move(
    conn: Connection,
    ids: Sequence[int],
    to: Status,
    *,
    allowed_from: Sequence[Status],
    now: datetime,
    by: str = "scheduler",
    reason: str = "",
    values: dict | None = None,
) -> list[int]:
    """Move those of ``ids`` whose status is in ``allowed_from`` to ``to``; returns them."""
    moved: list[int] = []
    allowed = [s.value for s in allowed_from]
    for part in chunks(list(ids)):
        if len(allowed) == 1:  # the status it comes from is known: one UPDATE ... RETURNING
            part_ids = list(
                conn.scalars(
                    update(InstanceRow)
                    .where(InstanceRow.id.in_(part), InstanceRow.status == allowed[0])
                    .values(status=to.value, status_at=now, **(values or {}))
                    .returning(InstanceRow.id)
                )
            )
            _log(conn, [(i, allowed[0]) for i in part_ids], to, now, by, reason)
            moved.extend(part_ids)
            continue
        rows = conn.execute(
            select(InstanceRow.id, InstanceRow.status).where(
                InstanceRow.id.in_(part), InstanceRow.status.in_(allowed)
            )
        ).all()
        if not rows:
            continue
        part_ids = [r.id for r in rows]
        conn.execute(
            update(InstanceRow)
            .where(InstanceRow.id.in_(part_ids))
            .values(status=to.value, status_at=now, **(values or {}))
        )
        _log(conn, [(r.id, r.status) for r in rows], to, now, by, reason)
        moved.extend(part_ids)
    return moved


def _log(
    conn: Connection,
    changed: list[tuple[int, str]],
    to: Status,
    now: datetime,
    by: str,
    reason: str,
) -> None:
    if changed:
        conn.execute(
            insert(TransitionRow),
            [
                {
                    "instance_id": i,
                    "at": now,
                    "from_status": was,
                    "to_status": to.value,
                    "by": by,
                    "reason": reason,
                }
                for i, was in changed
            ],
        )


def blocked(conn: Connection, ids: Sequence[int]) -> set[int]:
    """Those of ``ids`` with an upstream instance that is not SUCCESS (spec 3.2, rule 1)."""
    found: set[int] = set()
    upstream = _UPSTREAM
    for part in chunks(list(ids)):
        found.update(
            conn.scalars(
                select(InstanceEdgeRow.downstream_id)
                .join(upstream, upstream.c.id == InstanceEdgeRow.upstream_id)
                .where(
                    InstanceEdgeRow.downstream_id.in_(part),
                    upstream.c.status != Status.SUCCESS.value,
                )
                .distinct()
            )
        )
    return found


def has_unfinished_upstream():  # noqa: ANN201 - a SQL boolean for a query over InstanceRow
    """EXISTS an upstream of the row's instance that is not SUCCESS (spec 3.2, rule 1)."""
    return (
        select(1)
        .select_from(InstanceEdgeRow)
        .join(_UPSTREAM, _UPSTREAM.c.id == InstanceEdgeRow.upstream_id)
        .where(
            InstanceEdgeRow.downstream_id == InstanceRow.id,
            _UPSTREAM.c.status != Status.SUCCESS.value,
        )
        .exists()
    )


def downstream_of(conn: Connection, ids: Sequence[int]) -> set[int]:
    """Direct downstream instances (same- and cross-cycle)."""
    found: set[int] = set()
    for part in chunks(list(ids)):
        found.update(
            conn.scalars(
                select(InstanceEdgeRow.downstream_id).where(InstanceEdgeRow.upstream_id.in_(part))
            )
        )
    return found


def signal(
    conn: Connection, workspace_id: int, kind: str, ids: Sequence[int], *, by: str, now: datetime
) -> None:
    """Tell the scheduler (in this process or another) to look at these instances."""
    conn.execute(
        insert(SignalRow).values(
            workspace_id=workspace_id, kind=kind, instance_ids=list(ids), by=by, at=now
        )
    )
