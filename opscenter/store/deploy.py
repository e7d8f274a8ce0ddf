"""Deploying a loaded workspace into the store.

A deploy compares each node's definition with its current version by digest:
new nodes are added, changed ones get a new version, nodes missing from the
workspace are marked undeployed (their history stays). Re-deploying an
unchanged workspace writes nothing but the workspace row's folder/paths.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, bindparam, insert, select, update
from sqlalchemy.orm import Session

from opscenter.domain.cron import parse_cron
from opscenter.domain.model import MANUAL_CYCLE, Dependency, Node, TriggerType, Workspace
from opscenter.store import audit
from opscenter.store.models import (
    BaselineRow,
    InstanceRow,
    NodeRow,
    NodeVersionRow,
    ResourceGroupRow,
    SignalRow,
    WorkspaceRow,
    table_of,
)
from opscenter.store.tx import writing_session

_NOT_YET_RUN = ("NOT_RUN", "WAIT_TIME", "WAIT_RESOURCE")


@dataclass
class DeployReport:
    workspace: str
    workspace_id: int
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    @property
    def summary(self) -> str:
        return (
            f"workspace {self.workspace}: {len(self.added)} added, {len(self.changed)} changed, "
            f"{len(self.removed)} removed, {len(self.unchanged)} unchanged"
        )


_NODE_FIELDS = tuple(f.name for f in fields(Node))
_DEPENDENCY_FIELDS = tuple(f.name for f in fields(Dependency))


def node_digest(node: Node) -> str:
    """A stable fingerprint of everything that defines a node.

    The payload is what ``json.dumps(asdict(node))`` gave when stores were first deployed
    (a redeploy must not call their nodes changed), built without asdict's deep copies,
    which cost most of a 10,000-node redeploy. The trigger fields count only for a manual
    node, so an auto triggered node deployed before they existed keeps its digest."""
    payload = {name: getattr(node, name) for name in _NODE_FIELDS}
    payload["depends"] = [
        {name: getattr(dep, name) for name in _DEPENDENCY_FIELDS} for dep in node.depends
    ]
    if node.trigger is TriggerType.SCHEDULER:
        del payload["trigger"], payload["workflow"]
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def deploy(
    engine: Engine,
    workspace: Workspace,
    folder: Path,
    *,
    data_dir: Path,
    now: datetime,
    user: str,
) -> DeployReport:
    """Deploy in one transaction; ``now`` is naive UTC.

    Relative warehouse and landing paths resolve against ``data_dir`` (beside
    the state database), so running a workspace never writes into its sources.
    """
    folder, data_dir = folder.resolve(), data_dir.resolve()
    # the write lock up front: it reads before it writes, and a deferred transaction that
    # does so fails at once ("database is locked") if another process wrote meanwhile
    with writing_session(engine) as session:
        ws = session.scalar(select(WorkspaceRow).where(WorkspaceRow.name == workspace.name))
        is_new = ws is None
        if ws is None:
            ws = WorkspaceRow(name=workspace.name, deployed_at=now, deployed_by=user)
            session.add(ws)
        ws.timezone = workspace.timezone
        ws.folder = str(folder)
        ws.warehouse = str(data_dir / workspace.warehouse)
        ws.landing = str(data_dir / workspace.landing)
        ws.parameters = dict(workspace.parameters)
        ws.alert_rules = [asdict(rule) for rule in workspace.alerts]
        session.flush()
        _sync_groups(session, ws.id, workspace)
        report = DeployReport(workspace.name, ws.id)
        _sync_nodes(session, ws.id, workspace, now, user, report)
        _sync_baselines(session, ws.id, workspace, now)
        if not is_new and (report.added or report.changed or report.removed):
            ws.deployed_at, ws.deployed_by = now, user
        if report.removed:
            _zero_load(session, ws.id, report.removed)
        if report.added or report.changed or report.removed:
            # a running scheduler generates today's instances of Immediately-mode nodes
            # and lets the pending instances of undeployed ones dry-run
            session.add(
                SignalRow(workspace_id=ws.id, kind="generate", instance_ids=[], by=user, at=now)
            )
        audit.record(
            session,
            at=now,
            user=user,
            action="deploy",
            targets=[workspace.name],
            outcome="ok",
            detail=report.summary,
        )
    return report


def _zero_load(session: Session, workspace_id: int, removed: list[str]) -> None:
    """Instances of undeployed nodes that have not run yet dry-run (spec 6.4)."""
    node_ids = select(NodeRow.id).where(
        NodeRow.workspace_id == workspace_id, NodeRow.name.in_(removed)
    )
    session.execute(
        update(InstanceRow)
        .where(InstanceRow.node_id.in_(node_ids), InstanceRow.status.in_(_NOT_YET_RUN))
        .values(dry_run=True, dry_run_reason="node undeployed")
    )


def _sync_groups(session: Session, workspace_id: int, workspace: Workspace) -> None:
    existing = {
        g.name: g
        for g in session.scalars(
            select(ResourceGroupRow).where(ResourceGroupRow.workspace_id == workspace_id)
        )
    }
    for group in workspace.resource_groups:
        row = existing.pop(group.name, None)
        if row is None:
            session.add(
                ResourceGroupRow(workspace_id=workspace_id, name=group.name, slots=group.slots)
            )
        elif row.slots != group.slots:
            row.slots = group.slots
    for row in existing.values():
        session.delete(row)


def _sync_nodes(
    session: Session,
    workspace_id: int,
    workspace: Workspace,
    now: datetime,
    user: str,
    report: DeployReport,
) -> None:
    """Compare each node's digest with its current version's, read in one query, and write
    what changed in a few bulk statements: a redeploy of 10,000 nodes with one changed
    writes one version row and one node row, and no statement is sent per node."""
    conn = session.connection()
    nodes, versions = table_of(NodeRow), table_of(NodeVersionRow)
    current = versions.alias("current_version")
    known = {
        row.name: row
        for row in conn.execute(
            select(
                nodes.c.id,
                nodes.c.name,
                nodes.c.state,
                current.c.version,
                current.c.digest,
            )
            .outerjoin(current, current.c.id == nodes.c.current_version_id)
            .where(nodes.c.workspace_id == workspace_id)
        )
    }
    fresh: list[tuple[Node, str]] = []  # (node, digest) of nodes the store does not have
    changed: list[tuple[Node, str, int, int]] = []  # ... with node id and version number
    for node in workspace.nodes:
        digest = node_digest(node)
        row = known.pop(node.name, None)
        if row is None:
            fresh.append((node, digest))
            report.added.append(node.name)
        elif row.state == "deployed" and row.digest == digest:
            report.unchanged.append(node.name)
        else:
            changed.append((node, digest, row.id, (row.version or 0) + 1))
            report.changed.append(node.name)
    if fresh:
        # the new rows' ids come back with the insert: no re-read of the workspace's nodes
        ids: dict[str, int] = dict(
            conn.execute(
                insert(nodes).returning(nodes.c.name, nodes.c.id),
                [
                    {"workspace_id": workspace_id, "name": node.name, "created_at": now}
                    for node, _ in fresh
                ],
            ).all()
        )
        changed += [(node, digest, ids[node.name], 1) for node, digest in fresh]
    if changed:
        made = conn.execute(
            insert(versions).returning(versions.c.node_id, versions.c.id),
            [
                _version_values(node, digest, node_id, number, now, user)
                for node, digest, node_id, number in changed
            ],
        ).all()
        conn.execute(
            update(nodes)
            .where(nodes.c.id == bindparam("node_id"))
            .values(
                current_version_id=bindparam("version_id"), state="deployed", undeployed_at=None
            ),
            [{"node_id": node_id, "version_id": version_id} for node_id, version_id in made],
        )
    gone = [row for row in known.values() if row.state == "deployed"]
    if gone:
        conn.execute(
            update(nodes)
            .where(nodes.c.id.in_([row.id for row in gone]))
            .values(state="undeployed", undeployed_at=now)
        )
        report.removed += [row.name for row in gone]


def _version_values(
    node: Node, digest: str, node_id: int, number: int, now: datetime, user: str
) -> dict[str, Any]:
    """The columns of ``node``'s version row ``number``."""
    manual = node.trigger is TriggerType.MANUAL
    return {
        "node_id": node_id,
        "version": number,
        "digest": digest,
        "deployed_at": now,
        "deployed_by": user,
        "type": node.type.value,
        "owner": node.owner,
        "description": node.description,
        "priority": node.priority,
        "resource_group": node.resource_group,
        "cron": node.cron,
        "cycle_type": MANUAL_CYCLE if manual else parse_cron(node.cron).cycle_type.value,
        "start_date": node.start_date,
        "end_date": node.end_date,
        "recurrence": node.recurrence.value,
        "instance_mode": node.instance_mode.value,
        "rerun_mode": node.rerun_mode.value,
        "rerun_times": node.rerun_times,
        "rerun_interval": node.rerun_interval,
        "timeout": node.timeout,
        "parameters": dict(node.parameters),
        "depends": [[d.type.value, d.node] for d in node.depends],
        "code": node.code,
        "code_file": node.code_file,
        "workflow": node.workflow if manual else None,
    }


def _sync_baselines(
    session: Session, workspace_id: int, workspace: Workspace, now: datetime
) -> None:
    existing = {
        b.name: b
        for b in session.scalars(
            select(BaselineRow).where(BaselineRow.workspace_id == workspace_id)
        )
    }
    for baseline in workspace.baselines:
        row = existing.pop(baseline.name, None)
        values = {
            "owner": baseline.owner,
            "priority": baseline.priority,
            "type": baseline.type,
            "committed_times": list(baseline.committed_times),
            "margin": baseline.margin,
            "nodes": list(baseline.nodes),
        }
        if row is None:
            session.add(
                BaselineRow(workspace_id=workspace_id, name=baseline.name, updated_at=now, **values)
            )
        elif any(getattr(row, k) != v for k, v in values.items()) or not row.enabled:
            for key, value in values.items():
                setattr(row, key, value)
            row.enabled, row.updated_at = True, now
    for row in existing.values():
        row.enabled = False
