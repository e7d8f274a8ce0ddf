"""Operator actions on the store (spec 6): rerun, set success, stop, freeze, backfill, undeploy.

Each action checks its preconditions for every target first and refuses the
whole batch, naming each reason, if any target fails them; then it changes
the state in one transaction together with its audit record, and signals the
scheduler (in this process or another) to look at what changed. A refusal is
audited too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import Connection, Engine, select, update
from sqlalchemy.orm import Session

from opscenter.domain.model import DependencyType, Status
from opscenter.domain.preconditions import (
    FREEZE_FROM,
    KEPT_BELOW,
    RESET_BELOW_FROM,
    SET_SUCCESS_FROM,
    STOP_FROM,
    UNFREEZE_FROM,
    check_action,
    check_below,
    event_refusal,
    read_only_refusal,
)
from opscenter.domain.records import (
    ActionRefused,
    ActionResult,
    BackfillRequest,
    counted,
    not_found,
    with_comment,
)
from opscenter.domain.times import to_local
from opscenter.scheduler import backfill, state
from opscenter.scheduler.logfile import RunLog
from opscenter.scheduler.procs import end_attempts
from opscenter.store import audit, lease
from opscenter.store.batches import chunks
from opscenter.store.db import storable
from opscenter.store.models import (
    AttemptRow,
    BaselineRow,
    EventRow,
    InstanceEdgeRow,
    InstanceRow,
    NodeRow,
    NodeVersionRow,
    WorkspaceRow,
)
from opscenter.store.tx import previewing, writing
from opscenter.store.workspaces import zone_of


@dataclass(frozen=True)
class Actor:
    """Who acts, when, from where: every action is audited with it."""

    user: str
    now: datetime  # naive UTC
    source: str = "cli"


@dataclass(frozen=True)
class _Target:
    id: int
    node: str
    status: Status
    rerun_mode: str
    backfill: bool


def run_audited(
    db: Engine,
    actor: Actor,
    action: str,
    targets: Sequence[int | str],
    body: Callable[[Connection], ActionResult],
    *,
    comment: str = "",
    preview: bool = False,
) -> ActionResult:
    """Do ``body`` in one transaction with its audit record (the operator's comment in its
    detail); audit a refusal on its own. A preview does ``body`` in a transaction that is
    rolled back: exactly what it would do, refusals included, kept and audited nowhere."""
    if preview:
        with previewing(db) as conn:
            return body(conn)

    def audited(conn: Connection, outcome: str, detail: str) -> None:
        audit.record(
            conn,
            at=actor.now,
            user=actor.user,
            action=action,
            targets=list(targets),
            outcome=outcome,
            detail=with_comment(detail, comment),
            source=actor.source,
        )

    try:
        with writing(db) as conn:
            result = body(conn)
            audited(conn, "ok", result.message)
            return result
    except ActionRefused as refused:
        with writing(db) as conn:
            audited(conn, "refused", refused.reason)
        raise


def refuse_readonly(db: Engine, actor: Actor, action: str, targets: Sequence[int | str]) -> None:
    """--readonly is enforced here, below every screen: the attempt is audited and refused."""

    def body(_conn: Connection) -> ActionResult:
        raise ActionRefused(read_only_refusal(action))

    run_audited(db, actor, action, targets, body)


def targets_of(conn: Connection, workspace_id: int, ids: Sequence[int]) -> list[_Target]:
    if not ids:
        raise ActionRefused("no instance given")
    rows = conn.execute(
        select(
            InstanceRow.id,
            NodeRow.name,
            InstanceRow.status,
            NodeVersionRow.rerun_mode,
            InstanceRow.backfill_run_id,
        )
        .join(NodeRow, NodeRow.id == InstanceRow.node_id)
        .join(NodeVersionRow, NodeVersionRow.id == InstanceRow.node_version_id)
        .where(
            InstanceRow.id.in_([i for i in ids if storable(i)]),
            InstanceRow.workspace_id == workspace_id,
        )
    ).all()
    found = {
        r.id: _Target(r.id, r.name, Status(r.status), r.rerun_mode, r.backfill_run_id is not None)
        for r in rows
    }
    missing = [i for i in ids if i not in found]
    if missing:
        raise not_found("instance", missing, _workspace_name(conn, workspace_id))
    return [found[i] for i in dict.fromkeys(ids)]


def _same_cycle_descendants(conn: Connection, ids: Sequence[int]) -> list[int]:
    """Every same-cycle descendant instance, nearest first."""
    seen: dict[int, None] = {}
    frontier = list(ids)
    while frontier:
        nxt: list[int] = []
        for part in chunks(frontier):
            nxt += conn.scalars(
                select(InstanceEdgeRow.downstream_id).where(
                    InstanceEdgeRow.upstream_id.in_(part), InstanceEdgeRow.cross_cycle.is_(False)
                )
            ).all()
        frontier = [i for i in dict.fromkeys(nxt) if i not in seen and i not in ids]
        seen.update(dict.fromkeys(frontier))
    return list(seen)


def _they_run(ids: Sequence[int]) -> str:
    """``it runs`` after one instance, ``they run`` after any other number."""
    return "it runs" if len(ids) == 1 else "they run"


def _their(ids: Sequence[int]) -> str:
    """``its`` for one instance, ``their`` for any other number."""
    return "its" if len(ids) == 1 else "their"


def rerun(
    db: Engine, workspace_id: int, ids: Sequence[int], actor: Actor, *, downstream: bool = False
) -> ActionResult:
    action = "rerun downstream" if downstream else "rerun"
    return run_audited(
        db, actor, action, list(ids), _rerun_body(workspace_id, ids, actor, downstream)
    )


def preview_rerun(
    db: Engine, workspace_id: int, ids: Sequence[int], actor: Actor, *, downstream: bool = False
) -> ActionResult:
    """Exactly what a rerun would reset, or its refusal: it runs, then rolls back."""
    with previewing(db) as conn:
        return _rerun_body(workspace_id, ids, actor, downstream)(conn)


def _rerun_body(
    workspace_id: int, ids: Sequence[int], actor: Actor, downstream: bool
) -> Callable[[Connection], ActionResult]:
    action = "rerun downstream" if downstream else "rerun"

    def body(conn: Connection) -> ActionResult:
        targets = targets_of(conn, workspace_id, ids)
        check_action(action, targets)
        reset = [t.id for t in targets]
        if downstream:
            descendants = _same_cycle_descendants(conn, reset)
            below = targets_of(conn, workspace_id, descendants) if descendants else []
            below = [t for t in below if t.status not in KEPT_BELOW]
            check_below(below)
            reset += [t.id for t in below]
        moved = state.move(
            conn,
            reset,
            Status.NOT_RUN,
            allowed_from=RESET_BELOW_FROM,
            now=actor.now,
            by=actor.user,
            reason=action,
            values={
                "retry_at": None,
                "auto_reruns": 0,
                "set_success": False,
                "finished_at": None,
                "trigger_note": f"{action} by {actor.user}",
            },
        )
        state.signal(conn, workspace_id, "evaluate", moved, by=actor.user, now=actor.now)
        return ActionResult(
            action,
            moved,
            f"{counted(len(moved), 'instance')} reset to NOT_RUN; "
            f"{_they_run(moved)} when {_their(moved)} upstream instances succeed",
        )

    return body


def set_success(db: Engine, workspace_id: int, ids: Sequence[int], actor: Actor) -> ActionResult:
    def body(conn: Connection) -> ActionResult:
        targets = targets_of(conn, workspace_id, ids)
        check_action("set success", targets)
        moved = state.move(
            conn,
            [t.id for t in targets],
            Status.SUCCESS,
            allowed_from=SET_SUCCESS_FROM,
            now=actor.now,
            by=actor.user,
            reason="set success",
            values={"set_success": True, "retry_at": None, "finished_at": actor.now},
        )
        state.signal(
            conn,
            workspace_id,
            "evaluate",
            moved + sorted(state.downstream_of(conn, moved)),
            by=actor.user,
            now=actor.now,
        )
        if any(t.backfill for t in targets):  # a halted backfill date may go on (spec 6.3)
            state.signal(conn, workspace_id, "backfill", [], by=actor.user, now=actor.now)
        return ActionResult(
            "set success",
            moved,
            f"{counted(len(moved), 'instance')} set to SUCCESS; "
            f"{_their(moved)} downstream instances may now run",
        )

    return run_audited(db, actor, "set success", list(ids), body)


def _halt(
    db: Engine, workspace_id: int, ids: Sequence[int], actor: Actor, kind: str
) -> ActionResult:
    """Stop (-> FAILURE) or freeze (-> FROZEN) instances; running ones via the scheduler."""
    allowed = STOP_FROM if kind == "stop" else FREEZE_FROM
    target_status = Status.FAILURE if kind == "stop" else Status.FROZEN
    verb = state.HALTED[kind]
    said = state.halt_reason(kind, actor.user)

    def body(conn: Connection) -> ActionResult:
        targets = targets_of(conn, workspace_id, ids)
        check_action(kind, targets)
        waiting = [t.id for t in targets if t.status is not Status.RUNNING]
        running = [t.id for t in targets if t.status is Status.RUNNING]
        moved = state.move(
            conn,
            waiting,
            target_status,
            allowed_from=allowed,
            now=actor.now,
            by=actor.user,
            reason=said,
            values={"retry_at": None, "finished_at": actor.now},
        )
        message = f"{counted(len(moved), 'instance')} {verb}"
        if running:
            if lease.live_holder(db) is not None:
                # said on the attempt too: a scheduler that dies before it acts on the
                # signal carries the stop or freeze out when it recovers the attempt
                conn.execute(
                    update(AttemptRow)
                    .where(
                        AttemptRow.instance_id.in_(running),
                        AttemptRow.status == Status.RUNNING.value,
                    )
                    .values(reason=said)
                )
                state.signal(conn, workspace_id, kind, running, by=actor.user, now=actor.now)
                being = "is being" if len(running) == 1 else "are being"
                message += (
                    f"; {counted(len(running), 'running instance')} {being} {verb} by the scheduler"
                )
            else:
                _halt_orphans(conn, workspace_id, running, target_status, actor, kind)
                moved += running
                message += (
                    f"; {counted(len(running), 'running instance')} {verb} "
                    "(no scheduler was running)"
                )
        state.signal(conn, workspace_id, "evaluate", moved, by=actor.user, now=actor.now)
        return ActionResult(kind, moved + [i for i in running if i not in moved], message)

    return run_audited(db, actor, kind, list(ids), body)


def _halt_orphans(
    conn: Connection, workspace_id: int, ids: list[int], to: Status, actor: Actor, kind: str
) -> None:
    """No scheduler holds these RUNNING instances: end their processes here (found by their
    environment too, for an attempt whose scheduler died before it recorded the pid)."""
    said = state.halt_reason(kind, actor.user)
    running = (
        Session(bind=conn)
        .execute(
            select(AttemptRow).where(
                AttemptRow.instance_id.in_(ids), AttemptRow.status == "RUNNING"
            )
        )
        .scalars()
        .all()
    )
    zone = zone_of(conn, workspace_id)
    for attempt in running:
        if attempt.log_path:  # decision 13.10: the log says who stopped it, at the world's time
            RunLog(Path(attempt.log_path), lambda: to_local(actor.now, zone)).line(
                f"killed: {said}"
            )
    landing = conn.scalar(select(WorkspaceRow.landing).where(WorkspaceRow.id == workspace_id))
    end_attempts(running, landing)
    for attempt in running:
        conn.execute(
            update(AttemptRow)
            .where(AttemptRow.id == attempt.id)
            .values(status=Status.FAILURE.value, finished_at=actor.now, reason=said)
        )
    state.move(
        conn,
        ids,
        to,
        allowed_from=[Status.RUNNING],
        now=actor.now,
        by=actor.user,
        reason=said,
        values={"finished_at": actor.now},
    )


def stop(db: Engine, workspace_id: int, ids: Sequence[int], actor: Actor) -> ActionResult:
    return _halt(db, workspace_id, ids, actor, "stop")


def freeze(db: Engine, workspace_id: int, ids: Sequence[int], actor: Actor) -> ActionResult:
    return _halt(db, workspace_id, ids, actor, "freeze")


def unfreeze(db: Engine, workspace_id: int, ids: Sequence[int], actor: Actor) -> ActionResult:
    def body(conn: Connection) -> ActionResult:
        targets = targets_of(conn, workspace_id, ids)
        check_action("unfreeze", targets)
        moved = state.move(
            conn,
            [t.id for t in targets],
            Status.NOT_RUN,
            allowed_from=UNFREEZE_FROM,
            now=actor.now,
            by=actor.user,
            reason=f"unfrozen by {actor.user}",
            values={"trigger_note": f"unfrozen by {actor.user}"},
        )
        state.signal(conn, workspace_id, "evaluate", moved, by=actor.user, now=actor.now)
        return ActionResult(
            "unfreeze",
            moved,
            f"{counted(len(moved), 'instance')} unfrozen; {_they_run(moved)} when "
            f"{_their(moved)} upstream instances succeed and {_their(moved)} time has come",
        )

    return run_audited(db, actor, "unfreeze", list(ids), body)


def _node(conn: Connection, workspace_id: int, name: str) -> tuple[NodeRow, NodeVersionRow]:
    row = (
        Session(bind=conn)
        .execute(
            select(NodeRow, NodeVersionRow)
            .join(NodeVersionRow, NodeVersionRow.id == NodeRow.current_version_id)
            .where(NodeRow.workspace_id == workspace_id, NodeRow.name == name)
        )
        .one_or_none()
    )
    if row is None:
        raise not_found("node", [name], _workspace_name(conn, workspace_id))
    if row[0].state != "deployed":
        raise ActionRefused(f"node {name!r} is not deployed")
    return row[0], row[1]


def set_node_frozen(
    db: Engine, workspace_id: int, name: str, actor: Actor, *, frozen: bool
) -> ActionResult:
    action = "freeze node" if frozen else "unfreeze node"

    def body(conn: Connection) -> ActionResult:
        node, version = _node(conn, workspace_id, name)
        if not frozen and version.recurrence == "Pause":
            raise ActionRefused(
                f"node {name} is frozen by its run mode Pause in the workspace; "
                "set recurrence: Normal and deploy"
            )
        if node.frozen == frozen:
            raise ActionRefused(f"node {name} is already {'frozen' if frozen else 'not frozen'}")
        conn.execute(update(NodeRow).where(NodeRow.id == node.id).values(frozen=frozen))
        when = (
            "instances generated from now on (the next day) are FROZEN; today's still run"
            if frozen
            else "instances generated from now on run normally; frozen instances stay frozen"
        )
        return ActionResult(action, [], f"node {name} {'frozen' if frozen else 'unfrozen'}: {when}")

    return run_audited(db, actor, action, [name], body)


def undeploy(db: Engine, workspace_id: int, name: str, actor: Actor) -> ActionResult:
    def body(conn: Connection) -> ActionResult:
        node, _version = _node(conn, workspace_id, name)
        if node.name.endswith("_root") and node.name == _root_name(conn, workspace_id):
            raise ActionRefused("the workspace root node cannot be undeployed")
        children = sorted(
            n
            for n, depends in conn.execute(
                select(NodeRow.name, NodeVersionRow.depends)
                .join(NodeVersionRow, NodeVersionRow.id == NodeRow.current_version_id)
                .where(NodeRow.workspace_id == workspace_id, NodeRow.state == "deployed")
            )
            if any(
                d == name
                and t in (DependencyType.NORMAL.value, DependencyType.CROSS_CYCLE_OTHER.value)
                for t, d in depends
            )
        )
        if children:
            raise ActionRefused(
                f"node {name} has descendant nodes: {', '.join(children)}; undeploy them first"
            )
        conn.execute(
            update(NodeRow)
            .where(NodeRow.id == node.id)
            .values(state="undeployed", undeployed_at=actor.now)
        )
        pending = conn.scalars(
            select(InstanceRow.id).where(
                InstanceRow.node_id == node.id,
                InstanceRow.status.in_([s.value for s in state.OPEN]),
            )
        ).all()
        if pending:
            conn.execute(
                update(InstanceRow)
                .where(InstanceRow.id.in_(pending))
                .values(dry_run=True, dry_run_reason="node undeployed")
            )
            state.signal(conn, workspace_id, "evaluate", pending, by=actor.user, now=actor.now)
        return ActionResult(
            "undeploy",
            list(pending),
            f"node {name} undeployed: no new instances; "
            f"{counted(len(pending), 'pending instance')} will dry-run",
        )

    return run_audited(db, actor, "undeploy", [name], body)


def handle_event(
    db: Engine, workspace_id: int, event_id: int, status: str, actor: Actor
) -> ActionResult:
    """An operator takes an event on (FIXING), closes it (RECOVER) or dismisses it (IGNORE)."""

    def body(conn: Connection) -> ActionResult:
        row = (
            conn.execute(
                select(EventRow.status)
                .join(BaselineRow, BaselineRow.id == EventRow.baseline_id)
                .where(EventRow.id == event_id, BaselineRow.workspace_id == workspace_id)
            ).one_or_none()
            if storable(event_id)
            else None
        )
        if row is None:
            raise not_found("event", [event_id], _workspace_name(conn, workspace_id))
        if reason := event_refusal(event_id, row.status, status):
            raise ActionRefused(reason)
        conn.execute(
            update(EventRow)
            .where(EventRow.id == event_id)
            .values(status=status, updated_at=actor.now, updated_by=actor.user)
        )
        return ActionResult("handle event", [], f"event #{event_id}: {row.status} -> {status}")

    return run_audited(db, actor, "handle event", [event_id, status], body)


def _workspace_name(conn: Connection, workspace_id: int) -> str:
    return str(conn.scalar(select(WorkspaceRow.name).where(WorkspaceRow.id == workspace_id)))


def _root_name(conn: Connection, workspace_id: int) -> str:
    return f"{_workspace_name(conn, workspace_id)}_root"


def create_backfill(
    db: Engine, workspace_id: int, request: BackfillRequest, actor: Actor
) -> ActionResult:
    def body(conn: Connection) -> ActionResult:
        backfill_id, planned = backfill.create(
            conn, workspace_id, request, user=actor.user, now=actor.now
        )
        state.signal(conn, workspace_id, "backfill", [], by=actor.user, now=actor.now)
        return ActionResult(
            "backfill",
            [],
            f"backfill #{backfill_id} created: {planned.describe()}",
            extra={"backfill_id": backfill_id},
        )

    targets = [request.node, f"{request.start}..{request.end}"]
    return run_audited(db, actor, "backfill", targets, body)


def preview_backfill(db: Engine, workspace_id: int, request: BackfillRequest) -> ActionResult:
    with db.connect() as conn:
        planned = backfill.plan(conn, workspace_id, request)
    return ActionResult(
        "backfill preview",
        [],
        planned.describe(),
        extra={"instances": planned.instances, "dates": len(planned.dates)},
    )
