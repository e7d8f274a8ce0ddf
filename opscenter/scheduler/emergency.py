"""Emergency operations on instances (spec 6.1): remove upstream dependencies of one
instance; change the priority or resource group of instances not finished.

They work like the other actions (scheduler.actions): preconditions checked inside the
transaction, conditional writes, an audit row with who, when and the operator's comment
(a refusal is audited too), and a signal so a running scheduler looks again at once. A
preview runs the same body and rolls it back: what it answers is what would be done.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, Engine, delete, insert, select, update

from opscenter.domain.model import Status
from opscenter.domain.preconditions import (
    UPDATE_FROM,
    check_action,
    priority_refusal,
    upstreams_to_remove,
)
from opscenter.domain.records import ActionRefused, ActionResult, counted
from opscenter.scheduler import state
from opscenter.scheduler.actions import Actor, run_audited, targets_of
from opscenter.store.models import (
    InstanceEdgeRow,
    InstanceRow,
    NodeRow,
    RemovedEdgeRow,
    ResourceGroupRow,
)

REMOVE_UPSTREAM = "remove upstream"
UPDATE = "update"


def remove_upstream(
    db: Engine,
    workspace_id: int,
    instance_id: int,
    upstream_ids: Sequence[int] | None,
    actor: Actor,
    *,
    comment: str = "",
    preview: bool = False,
) -> ActionResult:
    """Move the chosen upstream edges of this one instance (default: its upstream instances
    not SUCCESS) out of ``instance_edges`` into ``removed_dependencies``, with who, when and
    why; ``affected``: the upstream instance ids removed."""

    def body(conn: Connection) -> ActionResult:
        [target] = targets_of(conn, workspace_id, [instance_id])
        check_action(REMOVE_UPSTREAM, [target])
        upstream = {
            r.id: r
            for r in conn.execute(
                select(
                    InstanceRow.id, NodeRow.name, InstanceRow.status, InstanceEdgeRow.cross_cycle
                )
                .join(InstanceRow, InstanceRow.id == InstanceEdgeRow.upstream_id)
                .join(NodeRow, NodeRow.id == InstanceRow.node_id)
                .where(InstanceEdgeRow.downstream_id == instance_id)
            )
        }
        this = f"#{instance_id} {target.node}"
        chosen = upstreams_to_remove(
            this,
            {i: Status(r.status) for i, r in upstream.items()},
            upstream_ids,
        )
        conn.execute(
            delete(InstanceEdgeRow).where(
                InstanceEdgeRow.downstream_id == instance_id,
                InstanceEdgeRow.upstream_id.in_(chosen),
            )
        )
        conn.execute(
            insert(RemovedEdgeRow),
            [
                {
                    "upstream_id": i,
                    "downstream_id": instance_id,
                    "cross_cycle": bool(upstream[i].cross_cycle),
                    "removed_by": actor.user,
                    "removed_at": actor.now,
                    "comment": comment,
                }
                for i in chosen
            ],
        )
        state.signal(conn, workspace_id, "evaluate", [instance_id], by=actor.user, now=actor.now)
        names = ", ".join(f"{upstream[i].name} #{i}" for i in chosen)
        then = (
            "it stays FAILURE: rerun it to run without them"
            if target.status is Status.FAILURE
            else "it runs when its remaining conditions hold"
        )
        return ActionResult(
            REMOVE_UPSTREAM,
            chosen,
            f"{counted(len(chosen), 'upstream')} of {this} removed ({names}); {then}",
        )

    return run_audited(
        db, actor, REMOVE_UPSTREAM, [instance_id], body, comment=comment, preview=preview
    )


def update_instances(
    db: Engine,
    workspace_id: int,
    ids: Sequence[int],
    actor: Actor,
    *,
    priority: int | None = None,
    resource_group: str | None = None,
    comment: str = "",
    preview: bool = False,
) -> ActionResult:
    """Give instances not finished a new priority or resource group; the scheduler queues
    them again at once, so dispatch order and slots follow on its next turn."""

    def body(conn: Connection) -> ActionResult:
        if priority is None and resource_group is None:
            raise ActionRefused("nothing to change: give a priority or a resource group")
        if priority is not None and (reason := priority_refusal(priority)):
            raise ActionRefused(reason)
        if resource_group is not None:
            known = list(
                conn.scalars(
                    select(ResourceGroupRow.name)
                    .where(ResourceGroupRow.workspace_id == workspace_id)
                    .order_by(ResourceGroupRow.name)
                )
            )
            if resource_group not in known:
                raise ActionRefused(
                    f"resource group {resource_group!r} is not one the workspace declares: "
                    f"{', '.join(known)}"
                )
        targets = targets_of(conn, workspace_id, ids)
        check_action(UPDATE, targets)
        values: dict[str, int | str] = {}
        said: list[str] = []
        if priority is not None:
            values["priority"] = priority
            said.append(f"priority {priority}")
        if resource_group is not None:
            values["resource_group"] = resource_group
            said.append(f"resource group {resource_group}")
        changed = list(
            conn.scalars(
                update(InstanceRow)
                .where(
                    InstanceRow.id.in_([t.id for t in targets]),
                    InstanceRow.status.in_([s.value for s in UPDATE_FROM]),
                )
                .values(**values)
                .returning(InstanceRow.id)
            )
        )
        state.signal(conn, workspace_id, "evaluate", changed, by=actor.user, now=actor.now)
        running = [t.id for t in targets if t.status is Status.RUNNING and t.id in changed]
        kept = ""
        if running:
            keeps = "keeps its slot until it ends" if len(running) == 1 else "keep theirs"
            kept = f"; {counted(len(running), 'running instance')} {keeps}"
        return ActionResult(
            UPDATE,
            sorted(changed),
            f"{counted(len(changed), 'instance')} now {' and '.join(said)}; "
            f"the scheduler dispatches by it from its next turn{kept}",
        )

    return run_audited(db, actor, UPDATE, list(ids), body, comment=comment, preview=preview)
