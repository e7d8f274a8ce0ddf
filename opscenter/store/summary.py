"""A status summary for one business date: what an operator checks first.

Counts by status (the dashboard's buckets, spec 3.1), the deployed nodes,
the baselines, and the instances due next.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, func, select
from sqlalchemy.orm import Session

from opscenter.domain.model import Status
from opscenter.domain.records import StatusCounts
from opscenter.domain.rules import minutes_text
from opscenter.store import lease
from opscenter.store.models import (
    BaselineRow,
    InstanceRow,
    NodeRow,
    NodeVersionRow,
    TransitionRow,
    WorkspaceRow,
)


@dataclass(frozen=True)
class Upcoming:
    node: str
    cyctime: datetime
    status: Status
    dry_run: bool


@dataclass(frozen=True)
class Summary:
    workspace: str
    timezone: str
    bizdate: date
    now_local: datetime
    counts: dict[Status, int]
    dry_run: int
    nodes_by_type: dict[str, int]
    frozen_nodes: int
    baselines: list[
        tuple[str, int, str, int, list[str]]
    ]  # name, priority, committed, margin, nodes
    upcoming: list[Upcoming]
    scheduler: str  # who holds the scheduler lease, or how to start one

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def as_json(self) -> dict:
        return {
            "workspace": self.workspace,
            "scheduler": self.scheduler,
            "bizdate": self.bizdate.isoformat(),
            "counts": {s.value: n for s, n in self.counts.items()} | {"TOTAL": self.total},
            "dry_run": self.dry_run,
            "nodes_by_type": self.nodes_by_type,
            "frozen_nodes": self.frozen_nodes,
            "baselines": [
                {"name": n, "priority": p, "committed": c, "margin": m, "nodes": ns}
                for n, p, c, m, ns in self.baselines
            ],
            "upcoming": [
                {"node": u.node, "cyctime": u.cyctime.isoformat(sep=" "), "status": u.status.value}
                for u in self.upcoming
            ],
        }


def workspace_id(engine: Engine, name: str) -> int | None:
    with Session(engine) as session:
        return session.scalar(select(WorkspaceRow.id).where(WorkspaceRow.name == name))


def workspace_timezone(engine: Engine, workspace_id: int) -> str:
    with engine.connect() as conn:
        return conn.scalar(select(WorkspaceRow.timezone).where(WorkspaceRow.id == workspace_id))


def last_activity(engine: Engine, workspace_id: int) -> datetime | None:
    """The last status change in the workspace (naive UTC): where a demo's day got to."""
    with engine.connect() as conn:
        return conn.scalar(
            select(func.max(TransitionRow.at))
            .join(InstanceRow, InstanceRow.id == TransitionRow.instance_id)
            .where(InstanceRow.workspace_id == workspace_id)
        )


def _of_day(workspace_id: int, bizdate: date) -> tuple:
    """The periodic instances of one business date: what dashboards count."""
    return (
        InstanceRow.workspace_id == workspace_id,
        InstanceRow.bizdate == bizdate,
        InstanceRow.kind == "periodic",
    )


def status_counts(conn: Connection, workspace_id: int, bizdate: date) -> StatusCounts:
    """Periodic instances of a business date by status: the dashboard's buckets (spec 3.1)."""
    of_day = _of_day(workspace_id, bizdate)
    counts = dict.fromkeys(Status, 0)
    for status, count in conn.execute(
        select(InstanceRow.status, func.count()).where(*of_day).group_by(InstanceRow.status)
    ):
        counts[Status(status)] = count
    dry_run = conn.scalar(select(func.count()).where(*of_day, InstanceRow.dry_run)) or 0
    return StatusCounts(bizdate, counts, dry_run)


def collect(engine: Engine, workspace_id: int, bizdate: date, now: datetime) -> Summary:
    """``now`` is aware; the summary shows it in the workspace time zone."""
    with Session(engine) as session:
        ws = session.get(WorkspaceRow, workspace_id)
        if ws is None:
            raise LookupError(f"no workspace with id {workspace_id}")
        of_day = _of_day(workspace_id, bizdate)
        tally = status_counts(session.connection(), workspace_id, bizdate)
        counts, dry_run = tally.counts, tally.dry_run
        types: Counter[str] = Counter()
        frozen = 0
        for kind, is_frozen, recurrence in session.execute(
            select(NodeVersionRow.type, NodeRow.frozen, NodeVersionRow.recurrence)
            .join(NodeVersionRow, NodeVersionRow.id == NodeRow.current_version_id)
            .where(NodeRow.workspace_id == workspace_id, NodeRow.state == "deployed")
        ):
            types[kind] += 1
            frozen += bool(is_frozen or recurrence == "Pause")
        baselines = [
            (b.name, b.priority, ", ".join(b.committed_times), b.margin, list(b.nodes))
            for b in session.scalars(
                select(BaselineRow)
                .where(BaselineRow.workspace_id == workspace_id, BaselineRow.enabled)
                .order_by(BaselineRow.priority.desc(), BaselineRow.name)
            )
        ]
        open_statuses = [s.value for s in Status if not s.finished and s is not Status.FROZEN]
        upcoming = [
            Upcoming(name, cyctime, Status(status), dry)
            for name, cyctime, status, dry in session.execute(
                select(NodeRow.name, InstanceRow.cyctime, InstanceRow.status, InstanceRow.dry_run)
                .join(NodeRow, NodeRow.id == InstanceRow.node_id)
                .where(*of_day, InstanceRow.status.in_(open_statuses))
                .order_by(InstanceRow.due_at, InstanceRow.priority.desc(), InstanceRow.id)
                .limit(5)
            )
        ]
    zone = ZoneInfo(ws.timezone)
    return Summary(
        workspace=ws.name,
        timezone=ws.timezone,
        bizdate=bizdate,
        now_local=now.astimezone(zone).replace(tzinfo=None),
        counts=counts,
        dry_run=dry_run,
        nodes_by_type=dict(sorted(types.items())),
        frozen_nodes=frozen,
        baselines=baselines,
        upcoming=upcoming,
        scheduler=_scheduler_state(engine),
    )


def _scheduler_state(engine: Engine) -> str:
    holder = lease.live_holder(engine)
    if holder is None:
        return "not running (start it with 'opscenter scheduler')"
    return f"{holder.holder}, heartbeat {holder.heartbeat_at:%H:%M:%S} UTC"


def render(summary: Summary) -> str:
    """Plain text, readable without colour: each status has its glyph and its word."""
    lines = [
        f"Now {summary.now_local:%Y-%m-%d %H:%M} {summary.timezone}",
        f"Scheduler: {summary.scheduler}",
        "",
        f"Instances · bizdate {summary.bizdate} · {summary.total} total "
        f"({summary.dry_run} dry-run)",
    ]
    width = max(summary.counts.values(), default=0)
    for status, count in summary.counts.items():
        bar = "█" * round(20 * count / width) if width else ""
        lines.append(f"  {status.label:<16}{count:>6}  {bar}")
    node_types = ", ".join(f"{n} {t}" for t, n in summary.nodes_by_type.items())
    total_nodes = sum(summary.nodes_by_type.values())
    lines += ["", f"Nodes · {total_nodes} deployed ({node_types}) · {summary.frozen_nodes} frozen"]
    if summary.baselines:
        lines += ["", "Baselines"]
        for name, priority, committed, margin, nodes in summary.baselines:
            lines.append(
                f"  {name:<18} priority {priority}  committed {committed}  "
                f"margin {minutes_text(margin)}"
            )
            lines.append(f"  {'':<18} protects {', '.join(nodes)}")
    if summary.upcoming:
        lines += ["", "Due next"]
        for item in summary.upcoming:
            note = " (dry-run)" if item.dry_run else ""
            lines.append(f"  {item.cyctime:%m-%d %H:%M}  {item.status.label:<16}{item.node}{note}")
    return "\n".join(lines)
