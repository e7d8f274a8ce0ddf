"""Instance state changes in the store, shared by the engine and the actions.

Every change is conditional on the status it comes from (so a rerun racing a
completion cannot overwrite it), is logged as a transition with its time, and
happens inside the caller's write transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, Update, bindparam, insert, select, update
from sqlalchemy.sql.elements import ClauseElement

from opscenter.domain.model import Status
from opscenter.store.batches import Match, OverIds, chunks
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
    if not ids:  # a turn asks for several kinds of move, most often of nothing
        return []
    moved: list[int] = []
    allowed = [s.value for s in allowed_from]
    given = values or {}
    statement = _update_of(len(allowed) == 1, given)
    bound = {"to": to.value, "at": now} | {f"v_{k}": v for k, v in given.items() if not _is_sql(v)}
    for part in chunks(list(ids)):
        if len(allowed) == 1:  # the status it comes from is known: one UPDATE ... RETURNING
            part_ids = list(conn.scalars(*statement.of(part, bound | {"was": allowed[0]})))
            _log(conn, [(i, allowed[0]) for i in part_ids], to, now, by, reason)
            moved.extend(part_ids)
            continue
        rows = conn.execute(_IN_STATUSES, {"ids": part, "allowed": allowed}).all()
        if not rows:
            continue
        part_ids = [r.id for r in rows]
        conn.execute(*statement.of(part_ids, bound))
        _log(conn, [(r.id, r.status) for r in rows], to, now, by, reason)
        moved.extend(part_ids)
    return moved


# A move's statements, built once per shape (from one known status or not, which columns it
# sets): building one cost several times what SQLite took to run it, and a chain's step moves
# each instance twice. Plain values are bound; an SQL expression among them (a column + 1) is
# part of the statement, matched by identity, so give a module-level one.
_IN_STATUSES = select(InstanceRow.id, InstanceRow.status).where(
    InstanceRow.id.in_(bindparam("ids", expanding=True)),
    InstanceRow.status.in_(bindparam("allowed", expanding=True)),
)
_UPDATES: dict[tuple, OverIds[Update]] = {}
_MAX_UPDATES = 256  # a caller giving a fresh expression each call must not grow it forever


def _is_sql(value: object) -> bool:
    return isinstance(value, ClauseElement) or hasattr(value, "__clause_element__")


def _update_of(known: bool, values: dict) -> OverIds[Update]:
    """The UPDATE of a move: from the one status ``was`` with RETURNING if ``known``, else of
    the ids read first; SETs status ``to``, status_at ``at`` and each of ``values``."""
    key = (known, *((k, id(v) if _is_sql(v) else None) for k, v in values.items()))
    statement = _UPDATES.get(key)
    if statement is None:
        if len(_UPDATES) >= _MAX_UPDATES:
            _UPDATES.clear()
        sets = {k: v if _is_sql(v) else bindparam(f"v_{k}") for k, v in values.items()}

        def build(match: Match) -> Update:
            built = (
                update(InstanceRow)
                .where(match(InstanceRow.id))
                .values(status=bindparam("to"), status_at=bindparam("at"), **sets)
            )
            if known:
                built = built.where(InstanceRow.status == bindparam("was"))
                built = built.returning(InstanceRow.id)
            return built

        statement = _UPDATES[key] = OverIds(build)
    return statement


_TRANSITIONS = insert(TransitionRow)


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
            _TRANSITIONS,
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


_BLOCKED = (
    select(InstanceEdgeRow.downstream_id)
    .join(_UPSTREAM, _UPSTREAM.c.id == InstanceEdgeRow.upstream_id)
    .where(
        InstanceEdgeRow.downstream_id.in_(bindparam("ids", expanding=True)),
        _UPSTREAM.c.status != Status.SUCCESS.value,
    )
    .distinct()
)


def blocked(conn: Connection, ids: Sequence[int]) -> set[int]:
    """Those of ``ids`` with an upstream instance that is not SUCCESS (spec 3.2, rule 1)."""
    found: set[int] = set()
    for part in chunks(list(ids)):
        found.update(conn.scalars(_BLOCKED, {"ids": part}))
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


_DOWNSTREAM = OverIds(
    lambda match: select(InstanceEdgeRow.downstream_id).where(match(InstanceEdgeRow.upstream_id))
)


def downstream_of(conn: Connection, ids: Sequence[int]) -> set[int]:
    """Direct downstream instances (same- and cross-cycle)."""
    found: set[int] = set()
    for part in chunks(list(ids)):
        found.update(conn.scalars(*_DOWNSTREAM.of(part)))
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
