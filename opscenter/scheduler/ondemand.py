"""Runs on demand (spec 6.5): a test run of an auto triggered node, and runs of manually
triggered workflows, each for a business date an operator picks.

Their instances are created at once, due now, with the date's scheduling parameters
(cyctime and bizdate as a periodic instance of that date would have), and run like any
other. A test instance waits for nothing and nothing waits for it: it tests the node, not
the pipeline. A manual run wires the chosen nodes of one workflow by their dependencies
among themselves. Neither kind is periodic, so custom alert rules never watch them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import date, datetime, time, timedelta

from sqlalchemy import Connection, Engine, insert, select
from sqlalchemy.orm import Session

from opscenter.domain.model import DependencyType, InstanceKind, Recurrence, Status
from opscenter.domain.records import ActionRefused, ActionResult, counted, not_found
from opscenter.domain.slots import day_slots
from opscenter.domain.times import show_wall
from opscenter.scheduler import actions, state
from opscenter.store.models import (
    InstanceEdgeRow,
    InstanceRow,
    NodeRow,
    NodeVersionRow,
    WorkspaceRow,
)
from opscenter.store.tx import inserted_id
from opscenter.store.workspaces import zone_of

_NOTE_LENGTH = 256  # InstanceRow.trigger_note


def test_run(
    db: Engine,
    workspace_id: int,
    node: str,
    bizdate: date,
    actor: actions.Actor,
    *,
    comment: str = "",
    preview: bool = False,
) -> ActionResult:
    """One TEST instance of an auto triggered node, due now, at the node's time on the
    day after ``bizdate``. It runs even if the node is frozen or a dry-run node: the
    operator asked to see its code run."""

    def body(conn: Connection) -> ActionResult:
        row, version = _deployed(conn, workspace_id, node)
        if version.workflow is not None:
            raise ActionRefused(
                f"node {node} is manually triggered and has no schedule to test: "
                f"run its workflow {version.workflow} for {bizdate} instead (a manual run)"
            )
        zone = zone_of(conn, workspace_id)
        slots = day_slots(node, version.cron, Recurrence.NORMAL.value, _schedule_day(bizdate), zone)
        cyctime, cycle = (
            (slots[0][0].cyctime, slots[0][0].cycle) if slots else (_midnight(bizdate), 1)
        )
        note = _note(f"test run by {actor.user}", comment)
        instance_id = _create(
            conn,
            workspace_id,
            row,
            version,
            InstanceKind.TEST,
            bizdate,
            cyctime,
            cycle,
            actor,
            note,
        )
        state.signal(conn, workspace_id, "evaluate", [instance_id], by=actor.user, now=actor.now)
        return ActionResult(
            "test run",
            [instance_id],
            f"a test instance of {node} for business date {bizdate} "
            f"(cyctime {show_wall(cyctime, zone)}): it runs now, waits for no upstream, "
            "and nothing waits for it",
        )

    targets = [node, bizdate.isoformat()]
    return _perform(db, actor, "test run", targets, body, comment=comment, preview=preview)


def run_manual(
    db: Engine,
    workspace_id: int,
    workflow: str,
    bizdate: date,
    nodes: Sequence[str],
    actor: actions.Actor,
    *,
    comment: str = "",
    preview: bool = False,
) -> ActionResult:
    """MANUAL instances of a manual workflow's nodes (or of ``nodes`` of it), due now, with
    same-cycle edges among them, so they run in dependency order. A frozen node's instance
    is FROZEN and a dry-run (Skip) node's dry-runs, as its run mode says."""

    def body(conn: Connection) -> ActionResult:
        members = _workflow(conn, workspace_id, workflow)
        stray = [n for n in nodes if n not in members]
        if stray:
            raise ActionRefused(
                f"not in manual workflow {workflow}: {', '.join(stray)} "
                f"(its nodes: {', '.join(sorted(members))})"
            )
        chosen = [n for n in sorted(members) if not nodes or n in nodes]
        note = _note(f"manual run of workflow {workflow} by {actor.user}", comment)
        ids: dict[str, int] = {}
        for name in chosen:
            row, version = members[name]
            ids[name] = _create(
                conn,
                workspace_id,
                row,
                version,
                InstanceKind.MANUAL,
                bizdate,
                _midnight(bizdate),
                1,
                actor,
                note,
                honour_run_mode=True,
            )
        edges = [
            {"upstream_id": ids[up], "downstream_id": ids[name], "cross_cycle": False}
            for name in chosen
            for kind, up in members[name][1].depends
            if kind == DependencyType.NORMAL.value and up in ids
        ]
        if edges:
            conn.execute(insert(InstanceEdgeRow), edges)
        created = list(ids.values())
        state.signal(conn, workspace_id, "evaluate", created, by=actor.user, now=actor.now)
        return ActionResult(
            "run manual",
            created,
            f"{counted(len(created), 'manual instance')} of workflow {workflow} for business "
            f"date {bizdate} ({', '.join(chosen)}), run in dependency order",
        )

    targets = [workflow, *nodes, bizdate.isoformat()]
    return _perform(db, actor, "run manual", targets, body, comment=comment, preview=preview)


def _perform(
    db: Engine,
    actor: actions.Actor,
    action: str,
    targets: Sequence[int | str],
    body: Callable[[Connection], ActionResult],
    *,
    comment: str,
    preview: bool,
) -> ActionResult:
    """The action audited with its comment; a preview says what it would create."""
    if preview:
        would = actions.run_audited(db, actor, action, targets, body, preview=True)
        return ActionResult(
            f"{action} preview",
            [],
            f"would create {would.message}",
            extra={"instances": len(would.affected)},
        )

    def created(conn: Connection) -> ActionResult:
        result = body(conn)
        return replace(result, message=f"created {result.message}")

    return actions.run_audited(db, actor, action, targets, created, comment=comment)


def _deployed(conn: Connection, workspace_id: int, name: str) -> tuple[NodeRow, NodeVersionRow]:
    query = (
        select(NodeRow, NodeVersionRow)
        .join(NodeVersionRow, NodeVersionRow.id == NodeRow.current_version_id)
        .where(NodeRow.workspace_id == workspace_id, NodeRow.name == name)
    )
    found = Session(bind=conn).execute(query).one_or_none()
    if found is None:
        raise not_found("node", [name], _workspace_name(conn, workspace_id))
    row, version = found
    if row.state != "deployed":
        raise ActionRefused(
            f"node {name} is not deployed: add it back to the workspace and deploy it first"
        )
    return row, version


def _workflow(
    conn: Connection, workspace_id: int, workflow: str
) -> dict[str, tuple[NodeRow, NodeVersionRow]]:
    """The deployed nodes of a manual workflow by name; refuses one that has none."""
    rows = (
        Session(bind=conn)
        .execute(
            select(NodeRow, NodeVersionRow)
            .join(NodeVersionRow, NodeVersionRow.id == NodeRow.current_version_id)
            .where(
                NodeRow.workspace_id == workspace_id,
                NodeRow.state == "deployed",
                NodeVersionRow.workflow.is_not(None),
            )
        )
        .all()
    )
    members = {row.name: (row, version) for row, version in rows if version.workflow == workflow}
    if not members:
        known = sorted({version.workflow for _row, version in rows if version.workflow})
        raise ActionRefused(
            f"no manual workflow {workflow!r} in workspace {_workspace_name(conn, workspace_id)}"
            + (f" (its manual workflows: {', '.join(known)})" if known else ": it has none")
        )
    return members


def _create(
    conn: Connection,
    workspace_id: int,
    node: NodeRow,
    version: NodeVersionRow,
    kind: InstanceKind,
    bizdate: date,
    cyctime: datetime,
    cycle: int,
    actor: actions.Actor,
    note: str,
    *,
    honour_run_mode: bool = False,
) -> int:
    frozen = honour_run_mode and (node.frozen or version.recurrence == Recurrence.PAUSE.value)
    dry = honour_run_mode and version.recurrence == Recurrence.SKIP.value
    return inserted_id(
        conn.execute(
            insert(InstanceRow).values(
                workspace_id=workspace_id,
                node_id=node.id,
                node_version_id=version.id,
                kind=kind.value,
                bizdate=bizdate,
                cyctime=cyctime,
                due_at=actor.now,  # on demand: due at once, whatever the cyctime says
                cycle=cycle,
                status=Status.FROZEN.value if frozen else Status.NOT_RUN.value,
                dry_run=dry,
                dry_run_reason="run mode Skip" if dry else "",
                run_number=0,
                auto_reruns=0,
                priority=version.priority,
                resource_group=version.resource_group,
                owner=version.owner,
                set_success=False,
                created_at=actor.now,
                status_at=actor.now,
                trigger_note=note,
            )
        )
    )


def _schedule_day(bizdate: date) -> date:
    """A business date's instances are scheduled the day after it (spec 1)."""
    return bizdate + timedelta(days=1)


def _midnight(bizdate: date) -> datetime:
    """The cyctime of a run that has no schedule: the start of its schedule day."""
    return datetime.combine(_schedule_day(bizdate), time(0))


def _note(what: str, comment: str) -> str:
    return (f"{what}: {comment}" if comment else what)[:_NOTE_LENGTH]


def _workspace_name(conn: Connection, workspace_id: int) -> str:
    return str(conn.scalar(select(WorkspaceRow.name).where(WorkspaceRow.id == workspace_id)))
