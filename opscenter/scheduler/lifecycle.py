"""An attempt's beginning and end as the store records them.

Begun: ready instances go RUNNING with their attempt rows, in one batch, since
per-instance overhead bounds a scheduler's hand-off. Ended: the attempt row gets its
outcome and the instance goes SUCCESS, FROZEN (an operator froze it while it ran) or
FAILURE, with an automatic rerun scheduled if its node has one left. These are pure
store transitions in the caller's transaction, shared by the engine and its recovery
after a crash; what runs in memory stays the engine's.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy import Connection, Row, bindparam, insert, select, update

from opscenter.domain.model import RerunMode, Status
from opscenter.scheduler import state
from opscenter.scheduler.attempt import Outcome
from opscenter.store.batches import OverIds, among
from opscenter.store.lease import host_name
from opscenter.store.models import AttemptRow, InstanceRow, NodeRow, NodeVersionRow

READY_FROM = (Status.NOT_RUN, Status.WAIT_TIME, Status.WAIT_RESOURCE)
READY_VALUES = [s.value for s in READY_FROM]
_CURRENT = NodeVersionRow.__table__.alias("current_version")  # the code an attempt runs
_HOST = host_name()  # the name this host goes by in the lease: one name per host
# a row of begin()'s query: what the engine needs to launch the attempt
StartRow = Row[*tuple[Any, ...]]


class Start(NamedTuple):
    """An attempt ``begin`` started, to launch: its instance's row, its id, its log."""

    row: StartRow
    attempt_id: int
    log_path: Path


# The statements of every attempt's start and end, built once: building a statement costs
# several times what SQLite takes to run it, and a turn of the chain runs a dozen.
_READY_TO_START = OverIds(
    lambda match: (
        select(
            InstanceRow.id,
            InstanceRow.status,
            InstanceRow.node_id,
            InstanceRow.run_number,
            InstanceRow.trigger_note,
            InstanceRow.resource_group,
            InstanceRow.cyctime,
            InstanceRow.bizdate,
            InstanceRow.backfill_run_id,
            NodeRow.name,
            NodeVersionRow.type,
            NodeVersionRow.parameters,
            NodeVersionRow.timeout,
            _CURRENT.c.code,
        )
        .join(NodeRow, NodeRow.id == InstanceRow.node_id)
        .join(NodeVersionRow, NodeVersionRow.id == InstanceRow.node_version_id)
        .join(_CURRENT, _CURRENT.c.id == NodeRow.current_version_id)
        .where(match(InstanceRow.id), among(InstanceRow.status, READY_VALUES))
    )
)
# each row names its instance, so the order RETURNING gives them in does not matter:
# asking for parameter order makes SQLite's driver insert them one by one
_NEW_ATTEMPTS = insert(AttemptRow).returning(AttemptRow.instance_id, AttemptRow.id)
_PIDS = (
    update(AttemptRow)
    .where(AttemptRow.instance_id == bindparam("i"), AttemptRow.number == bindparam("n"))
    .values(pid=bindparam("pid"), pid_start=bindparam("start"))
)
_END = (
    update(AttemptRow)
    .where(
        AttemptRow.instance_id == bindparam("i"),
        AttemptRow.number == bindparam("n"),
        AttemptRow.status == Status.RUNNING.value,
    )
    .values(
        status=bindparam("to"),
        finished_at=bindparam("at"),
        exit_code=bindparam("code"),
        reason=bindparam("why"),
    )
)
# the same, with the process that ran it, when its pid is recorded in the turn it ended in
# (a short attempt's always is): one statement instead of two on the chain's hand-off
_END_WITH_PID = _END.values(pid=bindparam("pid"), pid_start=bindparam("start"))

# the run number an attempt's start sets, one expression for every start: state.move builds
# its statement once per expression
_NEXT_RUN = InstanceRow.run_number + 1


def begin(
    conn: Connection, ids: list[int], fresh: set[int], now: datetime, *, by: str, logs: Path
) -> list[Start]:
    """Start attempts of those of ``ids`` still ready, in the caller's transaction; returns
    them, to launch. An instance not in ``fresh`` (just found ready)
    may have had an upstream reset while it queued: it is checked again."""
    rows = conn.execute(*_READY_TO_START.of(ids)).all()
    stale = [r.id for r in rows if r.id not in fresh]
    stuck = state.blocked(conn, stale) if stale else set()
    state.move(
        conn,
        sorted(stuck),
        Status.NOT_RUN,
        allowed_from=READY_FROM,
        now=now,
        reason="upstream not successful",
    )
    # moved by the status each was read in (the write lock is held since): a move from one
    # known status is one UPDATE ... RETURNING, where a move from any of three reads first
    by_status: dict[str, list[int]] = {}
    for r in rows:
        if r.id not in stuck:
            by_status.setdefault(r.status, []).append(r.id)
    moved: set[int] = set()
    for status, ready in by_status.items():
        moved.update(
            state.move(
                conn,
                ready,
                Status.RUNNING,
                allowed_from=[Status(status)],
                now=now,
                values={
                    "run_number": _NEXT_RUN,
                    "started_at": now,
                    "finished_at": None,
                    "retry_at": None,
                    "trigger_note": "",
                },
            )
        )
    started = [(r, log_path(logs, r)) for r in rows if r.id in moved]
    if not started:
        return []
    attempt_ids = dict(
        conn.execute(
            _NEW_ATTEMPTS,
            [
                {
                    "instance_id": r.id,
                    "number": r.run_number + 1,
                    "status": Status.RUNNING.value,
                    "triggered_by": r.trigger_note or by,
                    "started_at": now,
                    "host": _HOST,
                    "log_path": str(path),
                    "reason": "",
                }
                for r, path in started
            ],
        ).all()
    )
    return [Start(row, attempt_ids[row.id], path) for row, path in started]


def log_path(logs: Path, row: StartRow) -> Path:
    """Where the attempt ``begin`` starts for ``row`` (a row of its query) writes its log:
    ``<bizdate>/<node>.<instance id>.<attempt>.log``, one folder a day. (A folder per node
    made a mkdir of every node's first attempt of a day, which cost a chain's hand-off
    more than anything else it writes.)"""
    return logs / f"{row.bizdate:%Y%m%d}/{row.name}.{row.id}.{row.run_number + 1}.log"


def record_pids(conn: Connection, pids: Sequence[dict[str, Any]]) -> None:
    """The process (``pid`` and its ``start`` time) of attempt ``n`` of instance ``i``:
    recovery ends a dead scheduler's processes by these."""
    conn.execute(_PIDS, pids)


# an attempt's end as the engine reports it: instance, attempt number, outcome, and its
# process (``pid`` and ``start``, as ``record_pids`` takes them) if not recorded yet
End = tuple[int, int, Outcome, dict[str, Any] | None]


def record_ends(conn: Connection, ends: Sequence[End], now: datetime) -> None:
    """The RUNNING attempts' rows get their outcomes, with their processes where given: one
    statement for those without, one for those with (a short attempt's pid and end come
    in one turn)."""
    plain: list[dict[str, Any]] = []
    with_pid: list[dict[str, Any]] = []
    for instance_id, number, outcome, process in ends:
        values = {
            "i": instance_id,
            "n": number,
            "to": Status.SUCCESS.value if outcome.success else Status.FAILURE.value,
            "at": now,
            "code": outcome.exit_code,
            "why": outcome.reason,
        }
        if process is None:
            plain.append(values)
        else:
            with_pid.append(values | process)
    if plain:
        conn.execute(_END, plain)
    if with_pid and conn.execute(_END_WITH_PID, with_pid).rowcount != len(with_pid):
        # some ended otherwise (a stop took them first), or the driver cannot count an
        # executemany: their processes are recorded all the same
        conn.execute(_PIDS, [{k: v[k] for k in ("i", "n", "pid", "start")} for v in with_pid])


def succeed(conn: Connection, instance_ids: list[int], now: datetime) -> list[int]:
    """RUNNING -> SUCCESS for those still RUNNING (each finished before a stop or freeze
    could take effect); the ids moved."""
    if not instance_ids:
        return []
    return state.move(
        conn,
        instance_ids,
        Status.SUCCESS,
        allowed_from=[Status.RUNNING],
        now=now,
        values={"finished_at": now},
    )


def end_failed(
    conn: Connection,
    instance_id: int,
    now: datetime,
    reason: str,
    *,
    halted: tuple[str, str] | None,
    by: str,
) -> datetime | None:
    """A RUNNING instance whose attempt failed: FROZEN if an operator froze it, else FAILURE
    (by the operator who stopped it, with no automatic rerun; else by ``by``, with one if
    its node has one left). Returns when that rerun is due, if one was scheduled."""
    if halted is not None and halted[0] == "freeze":
        state.move(
            conn,
            [instance_id],
            Status.FROZEN,
            allowed_from=[Status.RUNNING],
            now=now,
            by=halted[1],
            reason=reason,
            values={"finished_at": now},
        )
        return None
    return _fail(
        conn,
        instance_id,
        now,
        reason,
        by=halted[1] if halted else by,
        retry=halted is None,
    )


def _fail(
    conn: Connection, instance_id: int, now: datetime, reason: str, *, by: str, retry: bool
) -> datetime | None:
    """RUNNING -> FAILURE; schedules an auto rerun if the node has one left."""
    row = conn.execute(
        select(
            InstanceRow.auto_reruns,
            NodeVersionRow.rerun_times,
            NodeVersionRow.rerun_interval,
            NodeVersionRow.rerun_mode,
        )
        .join(NodeVersionRow, NodeVersionRow.id == InstanceRow.node_version_id)
        .where(InstanceRow.id == instance_id)
    ).one()
    again = retry and row.rerun_mode != RerunMode.DENIED.value and row.auto_reruns < row.rerun_times
    values: dict[str, Any] = {"finished_at": now}
    retry_at = None
    if again:
        retry_at = now + timedelta(seconds=row.rerun_interval)
        values |= {
            "retry_at": retry_at,
            "auto_reruns": row.auto_reruns + 1,
            "trigger_note": f"auto rerun {row.auto_reruns + 1}/{row.rerun_times}",
        }
    moved = state.move(
        conn,
        [instance_id],
        Status.FAILURE,
        allowed_from=[Status.RUNNING],
        now=now,
        by=by,
        reason=reason,
        values=values,
    )
    return retry_at if moved else None
