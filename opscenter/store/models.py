"""The state store's tables (SQLAlchemy 2.x typed models).

Times: ``cyctime`` is the naive wall-clock time in the workspace timezone (what
operators read and what parameters are computed from); every moment something
happened (``*_at``) is naive UTC. ``due_at`` is the cyctime as UTC so that the
scheduler compares like with like.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

SCHEMA_VERSION = 1
"""What ``meta`` says of every store made before migrations and of the baseline revision:
opscenter before migrations opens a store of this version only. The schema's revision is
Alembic's (``alembic_version``, see store/migrations): change the models with a migration."""


class Base(DeclarativeBase):
    pass


def table_of(row: type[Base]) -> Table:
    """The Core table behind an ORM class, typed as one (``__table__`` is typed as any
    FromClause), for the bulk statements that skip the ORM."""
    table = row.__table__
    assert isinstance(table, Table)
    return table


class Meta(Base):
    """Key/value facts about the database itself, such as the schema version."""

    __tablename__ = "meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class WorkspaceRow(Base):
    __tablename__ = "workspaces"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    timezone: Mapped[str] = mapped_column(String(64))
    folder: Mapped[str] = mapped_column(Text)  # where workspace.yaml was deployed from
    warehouse: Mapped[str] = mapped_column(Text)  # absolute path of the DuckDB file
    landing: Mapped[str] = mapped_column(Text)  # absolute path of the landing folder
    parameters: Mapped[dict] = mapped_column(JSON, default=dict)
    alert_rules: Mapped[list] = mapped_column(JSON, default=list)  # AlertRule fields
    scheduling_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    deployed_at: Mapped[datetime] = mapped_column(DateTime)
    deployed_by: Mapped[str] = mapped_column(String(128))


class ResourceGroupRow(Base):
    __tablename__ = "resource_groups"
    __table_args__ = (UniqueConstraint("workspace_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(128))
    slots: Mapped[int] = mapped_column(Integer)


class NodeRow(Base):
    """A node's identity: its id (``$nodeid``) never changes across deploys."""

    __tablename__ = "nodes"
    __table_args__ = (UniqueConstraint("workspace_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(256))
    current_version_id: Mapped[int | None] = mapped_column(Integer)
    # deployed | undeployed
    state: Mapped[str] = mapped_column(String(16), default="deployed")
    # Operation Center freeze of the node (spec 6.2); overrides the deployed recurrence
    frozen: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    undeployed_at: Mapped[datetime | None] = mapped_column(DateTime)


class NodeVersionRow(Base):
    """Every deploy that changes a node makes a new version; instances keep theirs."""

    __tablename__ = "node_versions"
    __table_args__ = (UniqueConstraint("node_id", "version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    node_id: Mapped[int] = mapped_column(ForeignKey("nodes.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    digest: Mapped[str] = mapped_column(String(64))
    deployed_at: Mapped[datetime] = mapped_column(DateTime)
    deployed_by: Mapped[str] = mapped_column(String(128))
    type: Mapped[str] = mapped_column(String(16))
    owner: Mapped[str] = mapped_column(String(128), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    priority: Mapped[int] = mapped_column(Integer, default=1)
    resource_group: Mapped[str] = mapped_column(String(128))
    cron: Mapped[str] = mapped_column(String(128))
    cycle_type: Mapped[str] = mapped_column(String(16))
    start_date: Mapped[date | None] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    recurrence: Mapped[str] = mapped_column(String(16))
    instance_mode: Mapped[str] = mapped_column(String(16))
    rerun_mode: Mapped[str] = mapped_column(String(16))
    rerun_times: Mapped[int] = mapped_column(Integer)
    rerun_interval: Mapped[int] = mapped_column(Integer)
    timeout: Mapped[int | None] = mapped_column(Integer)
    parameters: Mapped[dict] = mapped_column(JSON)
    depends: Mapped[list] = mapped_column(JSON)  # [[type, node], ...]
    code: Mapped[str] = mapped_column(Text, default="")
    code_file: Mapped[str] = mapped_column(Text, default="")
    # the manual workflow of a manually triggered node (cron ""), None for an auto triggered
    # one; a store of version 1 made before it gains it in the baseline migration
    workflow: Mapped[str | None] = mapped_column(String(256))


class InstanceRow(Base):
    __tablename__ = "instances"
    __table_args__ = (
        # one periodic instance per node and cyctime; one backfill instance per run
        Index(
            "uq_instances_periodic",
            "node_id",
            "cyctime",
            unique=True,
            sqlite_where=text("kind = 'periodic'"),
            postgresql_where=text("kind = 'periodic'"),
        ),
        Index(
            "uq_instances_backfill",
            "backfill_run_id",
            "node_id",
            "cyctime",
            unique=True,
            sqlite_where=text("backfill_run_id IS NOT NULL"),
            postgresql_where=text("backfill_run_id IS NOT NULL"),
        ),
        Index("ix_instances_bizdate_status", "bizdate", "status"),
        Index("ix_instances_node_cyctime", "node_id", "cyctime"),
        Index("ix_instances_cyctime", "cyctime"),
        Index("ix_instances_status_due", "status", "due_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    node_id: Mapped[int] = mapped_column(ForeignKey("nodes.id", ondelete="CASCADE"))
    node_version_id: Mapped[int] = mapped_column(ForeignKey("node_versions.id"))
    kind: Mapped[str] = mapped_column(String(16))  # periodic | backfill | manual
    backfill_run_id: Mapped[int | None] = mapped_column(ForeignKey("backfill_runs.id"))
    bizdate: Mapped[date] = mapped_column(Date)
    cyctime: Mapped[datetime] = mapped_column(DateTime)
    due_at: Mapped[datetime] = mapped_column(DateTime)
    cycle: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)
    dry_run_reason: Mapped[str] = mapped_column(String(64), default="")
    run_number: Mapped[int] = mapped_column(Integer, default=0)  # attempts started so far
    auto_reruns: Mapped[int] = mapped_column(Integer, default=0)  # since the last manual action
    priority: Mapped[int] = mapped_column(Integer, default=1)
    resource_group: Mapped[str] = mapped_column(String(128))
    owner: Mapped[str] = mapped_column(String(128), default="")
    set_success: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    status_at: Mapped[datetime] = mapped_column(DateTime)  # when status last changed
    started_at: Mapped[datetime | None] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    retry_at: Mapped[datetime | None] = mapped_column(DateTime)  # next auto rerun
    # who or what the next attempt is triggered by (shown in its log header)
    trigger_note: Mapped[str] = mapped_column(String(256), default="")


class TransitionRow(Base):
    """Every status change of an instance: the operation log of instance details."""

    __tablename__ = "instance_transitions"
    __table_args__ = (Index("ix_transitions_instance", "instance_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("instances.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(DateTime)
    from_status: Mapped[str] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    by: Mapped[str] = mapped_column(String(128), default="scheduler")
    reason: Mapped[str] = mapped_column(Text, default="")


class SignalRow(Base):
    """A note from an action to the running scheduler: re-evaluate, stop or freeze these.

    Actions may run in another process (the CLI, a second console); the
    scheduler polls this table, so it reacts within a fraction of a second.
    """

    __tablename__ = "signals"
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))  # evaluate | stop | freeze | backfill
    instance_ids: Mapped[list] = mapped_column(JSON)
    by: Mapped[str] = mapped_column(String(128))
    at: Mapped[datetime] = mapped_column(DateTime)


class GenerationRow(Base):
    """When a schedule date's periodic instances were last generated."""

    __tablename__ = "generations"
    workspace_id: Mapped[int] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    generated_at: Mapped[datetime] = mapped_column(DateTime)


class InstanceEdgeRow(Base):
    __tablename__ = "instance_edges"
    __table_args__ = (Index("ix_edges_downstream", "downstream_id"),)
    upstream_id: Mapped[int] = mapped_column(
        ForeignKey("instances.id", ondelete="CASCADE"), primary_key=True
    )
    downstream_id: Mapped[int] = mapped_column(
        ForeignKey("instances.id", ondelete="CASCADE"), primary_key=True
    )
    cross_cycle: Mapped[bool] = mapped_column(Boolean, default=False)


class AttemptRow(Base):
    """One execution of an instance; RunNumber in DataWorks terms."""

    __tablename__ = "attempts"
    __table_args__ = (UniqueConstraint("instance_id", "number"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("instances.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))  # RUNNING | SUCCESS | FAILURE
    triggered_by: Mapped[str] = mapped_column(String(128))
    started_at: Mapped[datetime] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    exit_code: Mapped[int | None] = mapped_column(Integer)
    pid: Mapped[int | None] = mapped_column(Integer)
    # the process's start time (clock ticks since boot): tells a live pid from a reused one
    pid_start: Mapped[int | None] = mapped_column(Integer)
    host: Mapped[str] = mapped_column(String(256), default="")
    reason: Mapped[str] = mapped_column(Text, default="")
    log_path: Mapped[str] = mapped_column(Text, default="")


class BackfillRow(Base):
    __tablename__ = "backfills"
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    created_by: Mapped[str] = mapped_column(String(128))
    options: Mapped[dict] = mapped_column(JSON)  # nodes, dates, order, parallel, window
    status: Mapped[str] = mapped_column(String(16))


class BackfillRunRow(Base):
    """One business date of a backfill."""

    __tablename__ = "backfill_runs"
    __table_args__ = (UniqueConstraint("backfill_id", "bizdate"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    backfill_id: Mapped[int] = mapped_column(ForeignKey("backfills.id", ondelete="CASCADE"))
    bizdate: Mapped[date] = mapped_column(Date)
    position: Mapped[int] = mapped_column(Integer)  # order of execution (Asc/Desc)
    # WAITING (not started) | RUNNING | SUCCESS | FAILURE
    status: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime | None] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)


class BaselineRow(Base):
    __tablename__ = "baselines"
    __table_args__ = (UniqueConstraint("workspace_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(256))
    owner: Mapped[str] = mapped_column(String(128), default="")
    priority: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(16))
    committed_times: Mapped[list] = mapped_column(JSON)
    margin: Mapped[int] = mapped_column(Integer)
    nodes: Mapped[list] = mapped_column(JSON)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class NodeStatsRow(Base):
    """Duration statistics of a node's successful runs (seconds), kept by the scheduler."""

    __tablename__ = "node_stats"
    node_id: Mapped[int] = mapped_column(
        ForeignKey("nodes.id", ondelete="CASCADE"), primary_key=True
    )
    mean: Mapped[float] = mapped_column(Float)  # the last 10 successes
    p50: Mapped[float] = mapped_column(Float)
    p90: Mapped[float] = mapped_column(Float)
    recent: Mapped[list] = mapped_column(JSON)  # the last 30 durations, oldest first
    samples: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class BaselineInstanceRow(Base):
    """One baseline for one business date (and cycle, for hourly baselines), with its prediction."""

    __tablename__ = "baseline_instances"
    __table_args__ = (UniqueConstraint("baseline_id", "bizdate", "cycle"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    baseline_id: Mapped[int] = mapped_column(ForeignKey("baselines.id", ondelete="CASCADE"))
    bizdate: Mapped[date] = mapped_column(Date)
    cycle: Mapped[int] = mapped_column(Integer, default=1)
    committed_at: Mapped[datetime] = mapped_column(DateTime)  # naive UTC
    alert_at: Mapped[datetime] = mapped_column(DateTime)  # naive UTC
    status: Mapped[str] = mapped_column(String(16))  # SAFE | WARNING | OVER | ERROR
    finished: Mapped[bool] = mapped_column(Boolean, default=False)
    predicted_finish: Mapped[datetime | None] = mapped_column(DateTime)
    # [{"id", "start", "finish"}] earliest first; start/finish: predicted (naive UTC, ISO)
    key_path: Mapped[list] = mapped_column(JSON, default=list)
    key_instance_id: Mapped[int | None] = mapped_column(Integer)
    protected: Mapped[int] = mapped_column(Integer, default=0)  # instances it protects
    # blocked: [{"id", "node", "status"}] it waits on for ever, and its finish if rerun now
    blocked_by: Mapped[list | None] = mapped_column(JSON, nullable=True)
    if_rerun_now: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)  # naive UTC
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class EventRow(Base):
    """A baseline event (topic) on a key-path instance: ERROR or SLOW."""

    __tablename__ = "events"
    __table_args__ = (UniqueConstraint("baseline_instance_id", "instance_id", "kind"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    baseline_id: Mapped[int] = mapped_column(ForeignKey("baselines.id", ondelete="CASCADE"))
    baseline_instance_id: Mapped[int] = mapped_column(
        ForeignKey("baseline_instances.id", ondelete="CASCADE")
    )
    instance_id: Mapped[int] = mapped_column(ForeignKey("instances.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))  # ERROR | SLOW
    status: Mapped[str] = mapped_column(String(16))  # NEW | FIXING | RECOVER | IGNORE
    message: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    updated_by: Mapped[str] = mapped_column(String(128), default="")


class AlertRow(Base):
    """One alert per (rule, target); re-sent within its interval/maximum."""

    __tablename__ = "alerts"
    __table_args__ = (UniqueConstraint("rule", "target"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    rule: Mapped[str] = mapped_column(String(256))
    target: Mapped[str] = mapped_column(String(256))  # e.g. instance:42, baseline:7:2025-11-01
    kind: Mapped[str] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(Text)
    first_at: Mapped[datetime] = mapped_column(DateTime)
    last_sent_at: Mapped[datetime | None] = mapped_column(DateTime)
    sent_count: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime)  # the condition ended


class AuditRow(Base):
    """Who did what to which targets, when, and how it ended."""

    __tablename__ = "audit"
    __table_args__ = (Index("ix_audit_at", "at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime)
    user: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64))
    targets: Mapped[list] = mapped_column(JSON)
    outcome: Mapped[str] = mapped_column(String(16))  # ok | refused | failed
    detail: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(32), default="cli")
    # the real time of the act (``at`` is the world's, simulated in a demo); None: older rows
    wall_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class LeaseRow(Base):
    """The scheduler lease: one dispatcher per database."""

    __tablename__ = "scheduler_lease"
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    holder: Mapped[str] = mapped_column(String(256))
    acquired_at: Mapped[datetime] = mapped_column(DateTime)
    heartbeat_at: Mapped[datetime] = mapped_column(DateTime)


class WorldClockRow(Base):
    """The world's clock, published by the scheduler that holds the lease (one per store).

    Simulated: the world read ``world_at`` when the wall read ``wall_at``, and moves ``speed``
    world seconds per real second while its scheduler runs. ``seen_at`` is the wall time the
    holder last said it was alive: a world whose scheduler died stands where it was then.
    """

    __tablename__ = "world_clock"
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    real: Mapped[bool] = mapped_column(Boolean)
    speed: Mapped[float] = mapped_column(Float)
    world_at: Mapped[datetime] = mapped_column(DateTime)  # naive UTC
    wall_at: Mapped[datetime] = mapped_column(DateTime)  # naive UTC
    holder: Mapped[str] = mapped_column(String(256))
    running: Mapped[bool] = mapped_column(Boolean)
    seen_at: Mapped[datetime] = mapped_column(DateTime)  # naive UTC, wall


class RemovedEdgeRow(Base):
    """An upstream dependency an operator removed from one instance (spec 6.1, emergency).

    The edge leaves ``instance_edges``, so readiness, prediction and reruns downstream no
    longer follow it, and is kept here with who removed it, when and why: the DAG draws it,
    the diagnosis names it, and a rewire of the instance's edges leaves it out.
    """

    __tablename__ = "removed_dependencies"
    __table_args__ = (Index("ix_removed_upstream", "upstream_id"),)
    upstream_id: Mapped[int] = mapped_column(
        ForeignKey("instances.id", ondelete="CASCADE"), primary_key=True
    )
    downstream_id: Mapped[int] = mapped_column(
        ForeignKey("instances.id", ondelete="CASCADE"), primary_key=True
    )
    cross_cycle: Mapped[bool] = mapped_column(Boolean, default=False)
    removed_by: Mapped[str] = mapped_column(String(128))
    removed_at: Mapped[datetime] = mapped_column(DateTime)  # naive UTC
    comment: Mapped[str] = mapped_column(Text, default="")
