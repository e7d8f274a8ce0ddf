"""The state store: where it lives, how it is opened, and what a deploy does to it."""

from __future__ import annotations

import sqlite3
import stat
from datetime import date, datetime

import pytest
from sqlalchemy import func, insert, inspect, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from opscenter.cli import main
from opscenter.scheduler.generate import generate_day
from opscenter.store.db import StoreError, default_url, open_store
from opscenter.store.models import AuditRow, InstanceRow, NodeRow, NodeVersionRow
from tests.conftest import deploy_folder, write_workspace

WORKSPACE = """
workspace: {name: ws}
nodes:
  - {name: extract, type: virtual, trigger: {cron: "00 00 01 * * ?"}}
  - {name: load, type: virtual, trigger: {cron: "00 00 02 * * ?"}, depends: [extract]}
"""


def test_default_location_follows_xdg_state_home(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    expected = tmp_path / "xdg" / "opscenter" / "shop" / "state.db"
    assert default_url("shop") == f"sqlite:///{expected}"


def test_default_location_falls_back_to_local_state(monkeypatch, tmp_path):
    monkeypatch.delenv("XDG_STATE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    expected = tmp_path / ".local" / "state" / "opscenter" / "shop" / "state.db"
    assert default_url("shop") == f"sqlite:///{expected}"


def test_sqlite_store_uses_wal_busy_timeout_and_foreign_keys(store):
    with store.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() >= 5000


def test_state_file_and_folder_are_private_to_the_owner(tmp_path):
    path = tmp_path / "private" / "state.db"
    open_store(f"sqlite:///{path}").dispose()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_indexes_serve_the_console_queries(any_store):
    indexes = {index["name"] for index in inspect(any_store).get_indexes("instances")}
    assert {"ix_instances_bizdate_status", "ix_instances_node_cyctime", "ix_instances_cyctime"} <= (
        indexes
    )


def test_a_database_of_another_schema_version_is_refused_clearly(tmp_path):
    """A store from before migrations is upgraded from schema version 1 only (a newer
    revision is refused in test_migrations.py)."""
    url = f"sqlite:///{tmp_path / 'state.db'}"
    open_store(url).dispose()
    with sqlite3.connect(tmp_path / "state.db") as raw:
        raw.execute("DROP TABLE alembic_version")
        raw.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(StoreError, match="schema version 99.*upgrades stores of version 1"):
        open_store(url)


def test_cli_reports_a_wrong_schema_version_without_a_traceback(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'state.db'}"
    open_store(url).dispose()
    with sqlite3.connect(tmp_path / "state.db") as raw:
        raw.execute("DROP TABLE alembic_version")
        raw.execute("UPDATE meta SET value = '0' WHERE key = 'schema_version'")
    folder = write_workspace(tmp_path / "ws", WORKSPACE)
    assert main(["deploy", str(folder), "--db", url]) == 2
    err = capsys.readouterr().err
    assert "schema version 0" in err and "Traceback" not in err


def test_a_foreign_sqlite_file_is_not_taken_over(tmp_path):
    with sqlite3.connect(tmp_path / "other.db") as raw:
        raw.execute("CREATE TABLE customers (id INTEGER)")
    with pytest.raises(StoreError, match="not an opscenter database"):
        open_store(f"sqlite:///{tmp_path / 'other.db'}")


def test_a_malformed_url_is_a_clear_error():
    with pytest.raises(StoreError, match="not a database URL"):
        open_store("not a url")


def test_first_deploy_adds_every_node_and_the_root(tmp_path, any_store):
    report = deploy_folder(any_store, write_workspace(tmp_path / "ws", WORKSPACE))
    assert sorted(report.added) == ["extract", "load", "ws_root"]
    assert report.changed == report.removed == report.unchanged == []


def test_redeploying_an_unchanged_workspace_changes_nothing(tmp_path, any_store):
    folder = write_workspace(tmp_path / "ws", WORKSPACE)
    deploy_folder(any_store, folder)
    with Session(any_store) as session:
        before = session.execute(select(NodeVersionRow.id, NodeVersionRow.digest)).all()
    report = deploy_folder(any_store, folder, now=datetime(2025, 11, 2))
    assert report.added == report.changed == report.removed == []
    assert sorted(report.unchanged) == ["extract", "load", "ws_root"]
    with Session(any_store) as session:
        assert session.execute(select(NodeVersionRow.id, NodeVersionRow.digest)).all() == before


def test_a_changed_node_gets_a_new_version_and_keeps_its_id(tmp_path, any_store):
    folder = write_workspace(tmp_path / "ws", WORKSPACE)
    deploy_folder(any_store, folder)
    with Session(any_store) as session:
        node_id = session.scalar(select(NodeRow.id).where(NodeRow.name == "load"))
    write_workspace(folder, WORKSPACE.replace("00 00 02 * * ?", "00 30 02 * * ?"))
    report = deploy_folder(any_store, folder)
    assert report.changed == ["load"]
    with Session(any_store) as session:
        node = session.get(NodeRow, node_id)
        version = session.get(NodeVersionRow, node.current_version_id)
        assert (version.version, version.cron) == (2, "00 30 02 * * ?")
        count = select(func.count()).where(NodeVersionRow.node_id == node_id)
        assert session.scalar(count) == 2


def test_a_node_missing_from_the_workspace_is_undeployed_not_deleted(tmp_path, any_store):
    folder = write_workspace(tmp_path / "ws", WORKSPACE)
    deploy_folder(any_store, folder)
    write_workspace(
        folder,
        """
        workspace: {name: ws}
        nodes:
          - {name: extract, type: virtual, trigger: {cron: "00 00 01 * * ?"}}
        """,
    )
    report = deploy_folder(any_store, folder)
    assert report.removed == ["load"]
    with Session(any_store) as session:
        state = session.scalar(select(NodeRow.state).where(NodeRow.name == "load"))
    assert state == "undeployed"
    back = deploy_folder(any_store, write_workspace(folder, WORKSPACE))
    assert back.changed == ["load"]


def test_every_deploy_is_audited_with_who_and_what(tmp_path, any_store):
    deploy_folder(any_store, write_workspace(tmp_path / "ws", WORKSPACE))
    with Session(any_store) as session:
        [row] = session.scalars(select(AuditRow)).all()
    assert (row.user, row.action, row.targets, row.outcome) == ("tester", "deploy", ["ws"], "ok")
    assert "3 added" in row.detail


def test_a_second_periodic_instance_of_one_node_and_time_is_refused_by_the_store(
    tmp_path, any_store
):
    """Generation may be raced (a standby, a day generated twice): the store itself keeps
    one periodic instance per node and cycle time, on SQLite and PostgreSQL alike (a
    partial unique index), while a manual run of the same node and time is welcome."""
    report = deploy_folder(any_store, write_workspace(tmp_path / "ws", WORKSPACE))
    generate_day(
        any_store, report.workspace_id, date(2025, 11, 1), now=datetime(2025, 11, 1), bootstrap=True
    )
    with any_store.connect() as conn:
        row = conn.execute(select(InstanceRow).where(InstanceRow.kind == "periodic")).first()
    assert row is not None
    again = {k: v for k, v in row._asdict().items() if k != "id"}
    with pytest.raises(IntegrityError), any_store.begin() as conn:
        conn.execute(insert(InstanceRow).values(again))
    with any_store.begin() as conn:
        conn.execute(insert(InstanceRow).values({**again, "kind": "manual"}))
