"""Baseline: the store's schema version 1, as opscenter made it before migrations.

On an empty database it creates every table and says ``schema_version`` 1 in ``meta``
(an opscenter from before migrations reads such a store as its own). On a store made
before migrations (``meta`` says version 1, there is no ``alembic_version``) it completes
what the commits of version 1 added to it in place: tables (``removed_dependencies``),
nullable columns (``audit.wall_at``, ``node_versions.workflow``) and indexes that an older
store lacks are added, and nothing else is touched. The tables are written out here, not
taken from models.py, so that this migration means the same when the models move on.

opscenter upgrades only: the way back is the copy ``open_store`` makes beside the store
before an upgrade, so there is no downgrade.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

METADATA = sa.MetaData()

sa.Table(
    "audit",
    METADATA,
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("at", sa.DateTime(), nullable=False),
    sa.Column("user", sa.String(length=128), nullable=False),
    sa.Column("action", sa.String(length=64), nullable=False),
    sa.Column("targets", sa.JSON(), nullable=False),
    sa.Column("outcome", sa.String(length=16), nullable=False),
    sa.Column("detail", sa.Text(), nullable=False),
    sa.Column("source", sa.String(length=32), nullable=False),
    sa.Column("wall_at", sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint("id"),
    sa.Index("ix_audit_at", "at"),
)
sa.Table(
    "meta",
    METADATA,
    sa.Column("key", sa.String(length=64), nullable=False),
    sa.Column("value", sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint("key"),
)
sa.Table(
    "scheduler_lease",
    METADATA,
    sa.Column("name", sa.String(length=32), nullable=False),
    sa.Column("holder", sa.String(length=256), nullable=False),
    sa.Column("acquired_at", sa.DateTime(), nullable=False),
    sa.Column("heartbeat_at", sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint("name"),
)
sa.Table(
    "workspaces",
    METADATA,
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("name", sa.String(length=128), nullable=False),
    sa.Column("timezone", sa.String(length=64), nullable=False),
    sa.Column("folder", sa.Text(), nullable=False),
    sa.Column("warehouse", sa.Text(), nullable=False),
    sa.Column("landing", sa.Text(), nullable=False),
    sa.Column("parameters", sa.JSON(), nullable=False),
    sa.Column("alert_rules", sa.JSON(), nullable=False),
    sa.Column("scheduling_enabled", sa.Boolean(), nullable=False),
    sa.Column("deployed_at", sa.DateTime(), nullable=False),
    sa.Column("deployed_by", sa.String(length=128), nullable=False),
    sa.PrimaryKeyConstraint("id"),
    sa.UniqueConstraint("name"),
)
sa.Table(
    "world_clock",
    METADATA,
    sa.Column("name", sa.String(length=32), nullable=False),
    sa.Column("real", sa.Boolean(), nullable=False),
    sa.Column("speed", sa.Float(), nullable=False),
    sa.Column("world_at", sa.DateTime(), nullable=False),
    sa.Column("wall_at", sa.DateTime(), nullable=False),
    sa.Column("holder", sa.String(length=256), nullable=False),
    sa.Column("running", sa.Boolean(), nullable=False),
    sa.Column("seen_at", sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint("name"),
)
sa.Table(
    "alerts",
    METADATA,
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("workspace_id", sa.Integer(), nullable=False),
    sa.Column("rule", sa.String(length=256), nullable=False),
    sa.Column("target", sa.String(length=256), nullable=False),
    sa.Column("kind", sa.String(length=32), nullable=False),
    sa.Column("message", sa.Text(), nullable=False),
    sa.Column("first_at", sa.DateTime(), nullable=False),
    sa.Column("last_sent_at", sa.DateTime(), nullable=True),
    sa.Column("sent_count", sa.Integer(), nullable=False),
    sa.Column("last_error", sa.Text(), nullable=False),
    sa.Column("resolved_at", sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("id"),
    sa.UniqueConstraint("rule", "target"),
)
sa.Table(
    "backfills",
    METADATA,
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("workspace_id", sa.Integer(), nullable=False),
    sa.Column("name", sa.String(length=256), nullable=False),
    sa.Column("created_at", sa.DateTime(), nullable=False),
    sa.Column("created_by", sa.String(length=128), nullable=False),
    sa.Column("options", sa.JSON(), nullable=False),
    sa.Column("status", sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("id"),
)
sa.Table(
    "baselines",
    METADATA,
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("workspace_id", sa.Integer(), nullable=False),
    sa.Column("name", sa.String(length=256), nullable=False),
    sa.Column("owner", sa.String(length=128), nullable=False),
    sa.Column("priority", sa.Integer(), nullable=False),
    sa.Column("type", sa.String(length=16), nullable=False),
    sa.Column("committed_times", sa.JSON(), nullable=False),
    sa.Column("margin", sa.Integer(), nullable=False),
    sa.Column("nodes", sa.JSON(), nullable=False),
    sa.Column("enabled", sa.Boolean(), nullable=False),
    sa.Column("updated_at", sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("id"),
    sa.UniqueConstraint("workspace_id", "name"),
)
sa.Table(
    "generations",
    METADATA,
    sa.Column("workspace_id", sa.Integer(), nullable=False),
    sa.Column("day", sa.Date(), nullable=False),
    sa.Column("generated_at", sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("workspace_id", "day"),
)
sa.Table(
    "nodes",
    METADATA,
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("workspace_id", sa.Integer(), nullable=False),
    sa.Column("name", sa.String(length=256), nullable=False),
    sa.Column("current_version_id", sa.Integer(), nullable=True),
    sa.Column("state", sa.String(length=16), nullable=False),
    sa.Column("frozen", sa.Boolean(), nullable=False),
    sa.Column("created_at", sa.DateTime(), nullable=False),
    sa.Column("undeployed_at", sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("id"),
    sa.UniqueConstraint("workspace_id", "name"),
)
sa.Table(
    "resource_groups",
    METADATA,
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("workspace_id", sa.Integer(), nullable=False),
    sa.Column("name", sa.String(length=128), nullable=False),
    sa.Column("slots", sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("id"),
    sa.UniqueConstraint("workspace_id", "name"),
)
sa.Table(
    "signals",
    METADATA,
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("workspace_id", sa.Integer(), nullable=False),
    sa.Column("kind", sa.String(length=16), nullable=False),
    sa.Column("instance_ids", sa.JSON(), nullable=False),
    sa.Column("by", sa.String(length=128), nullable=False),
    sa.Column("at", sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("id"),
)
sa.Table(
    "backfill_runs",
    METADATA,
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("backfill_id", sa.Integer(), nullable=False),
    sa.Column("bizdate", sa.Date(), nullable=False),
    sa.Column("position", sa.Integer(), nullable=False),
    sa.Column("status", sa.String(length=16), nullable=False),
    sa.Column("started_at", sa.DateTime(), nullable=True),
    sa.Column("finished_at", sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(["backfill_id"], ["backfills.id"], ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("id"),
    sa.UniqueConstraint("backfill_id", "bizdate"),
)
sa.Table(
    "baseline_instances",
    METADATA,
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("baseline_id", sa.Integer(), nullable=False),
    sa.Column("bizdate", sa.Date(), nullable=False),
    sa.Column("cycle", sa.Integer(), nullable=False),
    sa.Column("committed_at", sa.DateTime(), nullable=False),
    sa.Column("alert_at", sa.DateTime(), nullable=False),
    sa.Column("status", sa.String(length=16), nullable=False),
    sa.Column("finished", sa.Boolean(), nullable=False),
    sa.Column("predicted_finish", sa.DateTime(), nullable=True),
    sa.Column("key_path", sa.JSON(), nullable=False),
    sa.Column("key_instance_id", sa.Integer(), nullable=True),
    sa.Column("protected", sa.Integer(), nullable=False),
    sa.Column("blocked_by", sa.JSON(), nullable=True),
    sa.Column("if_rerun_now", sa.DateTime(), nullable=True),
    sa.Column("updated_at", sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(["baseline_id"], ["baselines.id"], ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("id"),
    sa.UniqueConstraint("baseline_id", "bizdate", "cycle"),
)
sa.Table(
    "node_stats",
    METADATA,
    sa.Column("node_id", sa.Integer(), nullable=False),
    sa.Column("mean", sa.Float(), nullable=False),
    sa.Column("p50", sa.Float(), nullable=False),
    sa.Column("p90", sa.Float(), nullable=False),
    sa.Column("recent", sa.JSON(), nullable=False),
    sa.Column("samples", sa.Integer(), nullable=False),
    sa.Column("updated_at", sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(["node_id"], ["nodes.id"], ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("node_id"),
)
sa.Table(
    "node_versions",
    METADATA,
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("node_id", sa.Integer(), nullable=False),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.Column("digest", sa.String(length=64), nullable=False),
    sa.Column("deployed_at", sa.DateTime(), nullable=False),
    sa.Column("deployed_by", sa.String(length=128), nullable=False),
    sa.Column("type", sa.String(length=16), nullable=False),
    sa.Column("owner", sa.String(length=128), nullable=False),
    sa.Column("description", sa.Text(), nullable=False),
    sa.Column("priority", sa.Integer(), nullable=False),
    sa.Column("resource_group", sa.String(length=128), nullable=False),
    sa.Column("cron", sa.String(length=128), nullable=False),
    sa.Column("cycle_type", sa.String(length=16), nullable=False),
    sa.Column("start_date", sa.Date(), nullable=True),
    sa.Column("end_date", sa.Date(), nullable=True),
    sa.Column("recurrence", sa.String(length=16), nullable=False),
    sa.Column("instance_mode", sa.String(length=16), nullable=False),
    sa.Column("rerun_mode", sa.String(length=16), nullable=False),
    sa.Column("rerun_times", sa.Integer(), nullable=False),
    sa.Column("rerun_interval", sa.Integer(), nullable=False),
    sa.Column("timeout", sa.Integer(), nullable=True),
    sa.Column("parameters", sa.JSON(), nullable=False),
    sa.Column("depends", sa.JSON(), nullable=False),
    sa.Column("code", sa.Text(), nullable=False),
    sa.Column("code_file", sa.Text(), nullable=False),
    sa.Column("workflow", sa.String(length=256), nullable=True),
    sa.ForeignKeyConstraint(["node_id"], ["nodes.id"], ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("id"),
    sa.UniqueConstraint("node_id", "version"),
    sa.Index("ix_node_versions_node_id", "node_id"),
)
sa.Table(
    "instances",
    METADATA,
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("workspace_id", sa.Integer(), nullable=False),
    sa.Column("node_id", sa.Integer(), nullable=False),
    sa.Column("node_version_id", sa.Integer(), nullable=False),
    sa.Column("kind", sa.String(length=16), nullable=False),
    sa.Column("backfill_run_id", sa.Integer(), nullable=True),
    sa.Column("bizdate", sa.Date(), nullable=False),
    sa.Column("cyctime", sa.DateTime(), nullable=False),
    sa.Column("due_at", sa.DateTime(), nullable=False),
    sa.Column("cycle", sa.Integer(), nullable=False),
    sa.Column("status", sa.String(length=16), nullable=False),
    sa.Column("dry_run", sa.Boolean(), nullable=False),
    sa.Column("dry_run_reason", sa.String(length=64), nullable=False),
    sa.Column("run_number", sa.Integer(), nullable=False),
    sa.Column("auto_reruns", sa.Integer(), nullable=False),
    sa.Column("priority", sa.Integer(), nullable=False),
    sa.Column("resource_group", sa.String(length=128), nullable=False),
    sa.Column("owner", sa.String(length=128), nullable=False),
    sa.Column("set_success", sa.Boolean(), nullable=False),
    sa.Column("created_at", sa.DateTime(), nullable=False),
    sa.Column("status_at", sa.DateTime(), nullable=False),
    sa.Column("started_at", sa.DateTime(), nullable=True),
    sa.Column("finished_at", sa.DateTime(), nullable=True),
    sa.Column("retry_at", sa.DateTime(), nullable=True),
    sa.Column("trigger_note", sa.String(length=256), nullable=False),
    sa.ForeignKeyConstraint(["backfill_run_id"], ["backfill_runs.id"]),
    sa.ForeignKeyConstraint(["node_id"], ["nodes.id"], ondelete="CASCADE"),
    sa.ForeignKeyConstraint(["node_version_id"], ["node_versions.id"]),
    sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("id"),
    sa.Index("ix_instances_bizdate_status", "bizdate", "status"),
    sa.Index("ix_instances_cyctime", "cyctime"),
    sa.Index("ix_instances_node_cyctime", "node_id", "cyctime"),
    sa.Index("ix_instances_status_due", "status", "due_at"),
    sa.Index(
        "uq_instances_backfill",
        "backfill_run_id",
        "node_id",
        "cyctime",
        unique=True,
        sqlite_where=sa.text("backfill_run_id IS NOT NULL"),
        postgresql_where=sa.text("backfill_run_id IS NOT NULL"),
    ),
    sa.Index(
        "uq_instances_periodic",
        "node_id",
        "cyctime",
        unique=True,
        sqlite_where=sa.text("kind = 'periodic'"),
        postgresql_where=sa.text("kind = 'periodic'"),
    ),
)
sa.Table(
    "attempts",
    METADATA,
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("instance_id", sa.Integer(), nullable=False),
    sa.Column("number", sa.Integer(), nullable=False),
    sa.Column("status", sa.String(length=16), nullable=False),
    sa.Column("triggered_by", sa.String(length=128), nullable=False),
    sa.Column("started_at", sa.DateTime(), nullable=False),
    sa.Column("finished_at", sa.DateTime(), nullable=True),
    sa.Column("exit_code", sa.Integer(), nullable=True),
    sa.Column("pid", sa.Integer(), nullable=True),
    sa.Column("pid_start", sa.Integer(), nullable=True),
    sa.Column("host", sa.String(length=256), nullable=False),
    sa.Column("reason", sa.Text(), nullable=False),
    sa.Column("log_path", sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(["instance_id"], ["instances.id"], ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("id"),
    sa.UniqueConstraint("instance_id", "number"),
)
sa.Table(
    "events",
    METADATA,
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("baseline_id", sa.Integer(), nullable=False),
    sa.Column("baseline_instance_id", sa.Integer(), nullable=False),
    sa.Column("instance_id", sa.Integer(), nullable=False),
    sa.Column("kind", sa.String(length=16), nullable=False),
    sa.Column("status", sa.String(length=16), nullable=False),
    sa.Column("message", sa.Text(), nullable=False),
    sa.Column("created_at", sa.DateTime(), nullable=False),
    sa.Column("updated_at", sa.DateTime(), nullable=False),
    sa.Column("updated_by", sa.String(length=128), nullable=False),
    sa.ForeignKeyConstraint(["baseline_id"], ["baselines.id"], ondelete="CASCADE"),
    sa.ForeignKeyConstraint(
        ["baseline_instance_id"], ["baseline_instances.id"], ondelete="CASCADE"
    ),
    sa.ForeignKeyConstraint(["instance_id"], ["instances.id"], ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("id"),
    sa.UniqueConstraint("baseline_instance_id", "instance_id", "kind"),
)
sa.Table(
    "instance_edges",
    METADATA,
    sa.Column("upstream_id", sa.Integer(), nullable=False),
    sa.Column("downstream_id", sa.Integer(), nullable=False),
    sa.Column("cross_cycle", sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(["downstream_id"], ["instances.id"], ondelete="CASCADE"),
    sa.ForeignKeyConstraint(["upstream_id"], ["instances.id"], ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("upstream_id", "downstream_id"),
    sa.Index("ix_edges_downstream", "downstream_id"),
)
sa.Table(
    "instance_transitions",
    METADATA,
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("instance_id", sa.Integer(), nullable=False),
    sa.Column("at", sa.DateTime(), nullable=False),
    sa.Column("from_status", sa.String(length=16), nullable=False),
    sa.Column("to_status", sa.String(length=16), nullable=False),
    sa.Column("by", sa.String(length=128), nullable=False),
    sa.Column("reason", sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(["instance_id"], ["instances.id"], ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("id"),
    sa.Index("ix_transitions_instance", "instance_id"),
)
sa.Table(
    "removed_dependencies",
    METADATA,
    sa.Column("upstream_id", sa.Integer(), nullable=False),
    sa.Column("downstream_id", sa.Integer(), nullable=False),
    sa.Column("cross_cycle", sa.Boolean(), nullable=False),
    sa.Column("removed_by", sa.String(length=128), nullable=False),
    sa.Column("removed_at", sa.DateTime(), nullable=False),
    sa.Column("comment", sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(["downstream_id"], ["instances.id"], ondelete="CASCADE"),
    sa.ForeignKeyConstraint(["upstream_id"], ["instances.id"], ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("upstream_id", "downstream_id"),
    sa.Index("ix_removed_upstream", "upstream_id"),
)


def upgrade() -> None:
    bind = op.get_bind()
    found = sa.inspect(bind)
    existing = set(found.get_table_names())
    METADATA.create_all(bind)  # the tables it lacks
    for table in METADATA.sorted_tables:
        if table.name not in existing:
            continue
        columns = {column["name"] for column in found.get_columns(table.name)}
        for column in table.columns:
            if column.name not in columns and column.nullable:
                op.add_column(table.name, sa.Column(column.name, column.type))
        indexes = {index["name"] for index in found.get_indexes(table.name)}
        for index in table.indexes:
            if index.name not in indexes:
                index.create(bind)
    meta = METADATA.tables["meta"]
    if bind.scalar(sa.select(meta.c.value).where(meta.c.key == "schema_version")) is None:
        bind.execute(meta.insert().values(key="schema_version", value="1"))
