"""Periodic instance generation on a real SQLite store (spec 2.1, 2.3, 4.3 D8-D9)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from opscenter.scheduler.generate import generate_day
from opscenter.store.models import InstanceEdgeRow, InstanceRow, NodeRow
from tests.conftest import deploy_folder, write_workspace

NOW = datetime(2025, 11, 3, 0, 0)  # naive UTC

TWO_NODES = """
workspace: {name: ws, timezone: Asia/Shanghai}
nodes:
  - name: weekly_a
    type: virtual
    trigger: {cron: "00 00 03 ? * 1"}
  - name: daily_b
    type: virtual
    trigger: {cron: "00 00 04 * * ?"}
    depends: [weekly_a]
"""


def instances(engine, node: str | None = None) -> list[InstanceRow]:
    with Session(engine) as session:
        query = select(InstanceRow).join(NodeRow, NodeRow.id == InstanceRow.node_id)
        if node:
            query = query.where(NodeRow.name == node)
        return list(session.scalars(query.order_by(InstanceRow.cyctime)))


def upstream_names(engine, instance_id: int) -> set[tuple[str, datetime, bool]]:
    with Session(engine) as session:
        rows = session.execute(
            select(NodeRow.name, InstanceRow.cyctime, InstanceEdgeRow.cross_cycle)
            .join(InstanceRow, InstanceRow.id == InstanceEdgeRow.upstream_id)
            .join(NodeRow, NodeRow.id == InstanceRow.node_id)
            .where(InstanceEdgeRow.downstream_id == instance_id)
        )
        return {(name, cyctime, cross) for name, cyctime, cross in rows}


def test_d8_weekly_upstream_dry_runs_on_other_days_so_daily_descendant_is_not_starved(
    tmp_path, store
):
    report = deploy_folder(store, write_workspace(tmp_path / "ws", TWO_NODES))
    generate_day(store, report.workspace_id, date(2025, 11, 4), now=NOW)  # a Tuesday
    [weekly] = instances(store, "weekly_a")
    assert weekly.dry_run and weekly.dry_run_reason == "not a run day"
    assert weekly.cyctime == datetime(2025, 11, 4, 3, 0)  # at the node's time of day
    [daily] = instances(store, "daily_b")
    assert ("weekly_a", datetime(2025, 11, 4, 3, 0), False) in upstream_names(store, daily.id)


def test_weekly_node_runs_for_real_on_its_day(tmp_path, store):
    report = deploy_folder(store, write_workspace(tmp_path / "ws", TWO_NODES))
    generate_day(store, report.workspace_id, date(2025, 11, 3), now=NOW)  # a Monday
    [weekly] = instances(store, "weekly_a")
    assert not weekly.dry_run
    assert weekly.bizdate == date(2025, 11, 2)


def test_d9_node_without_upstream_depends_on_the_root_instance_of_the_same_day(tmp_path, store):
    report = deploy_folder(store, write_workspace(tmp_path / "ws", TWO_NODES))
    generate_day(store, report.workspace_id, date(2025, 11, 4), now=NOW)
    [weekly] = instances(store, "weekly_a")
    assert upstream_names(store, weekly.id) == {("ws_root", datetime(2025, 11, 4, 0, 0), False)}


def test_instances_carry_bizdate_cycle_and_due_time_in_utc(tmp_path, store):
    report = deploy_folder(
        store,
        write_workspace(
            tmp_path / "ws",
            """
            workspace: {name: ws, timezone: Asia/Shanghai}
            nodes:
              - name: hourly
                type: virtual
                trigger: {cron: "00 05 00-23/6 * * ?"}
            """,
        ),
    )
    generate_day(store, report.workspace_id, date(2025, 11, 4), now=NOW)
    rows = instances(store, "hourly")
    assert [(r.cyctime.hour, r.cycle) for r in rows] == [(0, 1), (6, 2), (12, 3), (18, 4)]
    assert {r.bizdate for r in rows} == {date(2025, 11, 3)}
    assert rows[0].due_at == datetime(2025, 11, 3, 16, 5)  # 00:05 in Shanghai is 16:05 UTC
    assert {r.status for r in rows} == {"NOT_RUN"}


def test_run_modes_skip_dry_runs_and_pause_freezes(tmp_path, store):
    report = deploy_folder(
        store,
        write_workspace(
            tmp_path / "ws",
            """
            workspace: {name: ws}
            nodes:
              - {name: skipped, type: virtual, recurrence: Skip, trigger: {cron: "00 00 01 * * ?"}}
              - {name: paused, type: virtual, recurrence: Pause, trigger: {cron: "00 00 01 * * ?"}}
            """,
        ),
    )
    generate_day(store, report.workspace_id, date(2025, 11, 4), now=NOW)
    [skipped] = instances(store, "skipped")
    [paused] = instances(store, "paused")
    assert (skipped.status, skipped.dry_run, skipped.dry_run_reason) == (
        "NOT_RUN",
        True,
        "dry-run node",
    )
    assert (paused.status, paused.dry_run) == ("FROZEN", False)


def test_nothing_is_generated_outside_the_effective_dates(tmp_path, store):
    report = deploy_folder(
        store,
        write_workspace(
            tmp_path / "ws",
            """
            workspace: {name: ws}
            nodes:
              - name: campaign
                type: virtual
                trigger: {cron: "00 00 01 * * ?", start_time: 2025-11-05, end_time: 2025-11-06}
            """,
        ),
    )
    created = {
        day: generate_day(store, report.workspace_id, date(2025, 11, day), now=NOW).instances
        for day in (4, 5, 6, 7)
    }
    # the root node has one instance every day; the campaign only on the 5th and 6th
    assert created == {4: 1, 5: 2, 6: 2, 7: 1}


def test_generating_the_same_day_twice_creates_nothing(tmp_path, store):
    report = deploy_folder(store, write_workspace(tmp_path / "ws", TWO_NODES))
    first = generate_day(store, report.workspace_id, date(2025, 11, 4), now=NOW)
    second = generate_day(store, report.workspace_id, date(2025, 11, 4), now=NOW)
    assert (first.instances, first.edges) == (3, 2)
    assert (second.instances, second.edges) == (0, 0)
    with Session(store) as session:
        assert session.scalar(select(func.count()).select_from(InstanceRow)) == 3
        assert session.scalar(select(func.count()).select_from(InstanceEdgeRow)) == 2


def test_self_dependent_node_links_to_the_previous_days_instance(tmp_path, store):
    report = deploy_folder(
        store,
        write_workspace(
            tmp_path / "ws",
            """
            workspace: {name: ws}
            nodes:
              - name: ltv
                type: virtual
                trigger: {cron: "00 00 01 * * ?"}
                depends: [{type: CrossCycleDependsOnSelf}]
            """,
        ),
    )
    generate_day(store, report.workspace_id, date(2025, 11, 4), now=NOW)
    generate_day(store, report.workspace_id, date(2025, 11, 5), now=NOW)
    first, second = instances(store, "ltv")
    assert ("ltv", datetime(2025, 11, 4, 1), True) in upstream_names(store, second.id)
    assert not any(cross for _n, _t, cross in upstream_names(store, first.id))


def test_daily_node_on_hourly_upstream_waits_for_all_its_instances_d1(tmp_path, store):
    report = deploy_folder(
        store,
        write_workspace(
            tmp_path / "ws",
            """
            workspace: {name: ws}
            nodes:
              - {name: hourly, type: virtual, trigger: {cron: "00 00 00-23/1 * * ?"}}
              - {name: daily, type: virtual, trigger: {cron: "00 00 00 * * ?"}, depends: [hourly]}
            """,
        ),
    )
    generate_day(store, report.workspace_id, date(2025, 11, 4), now=NOW)
    [daily] = instances(store, "daily")
    ups = upstream_names(store, daily.id)
    assert len(ups) == 24 and {n for n, _t, _c in ups} == {"hourly"}


def test_a_baseline_lifts_the_priority_of_its_nodes_and_all_their_ancestors(tmp_path, store):
    report = deploy_folder(
        store,
        write_workspace(
            tmp_path / "ws",
            """
            workspace: {name: ws}
            nodes:
              - {name: a, type: virtual, trigger: {cron: "00 00 01 * * ?"}}
              - {name: b, type: virtual, trigger: {cron: "00 00 01 * * ?"}, depends: [a]}
              - {name: other, type: virtual, priority: 2, trigger: {cron: "00 00 01 * * ?"}}
            baselines:
              - {name: sla, priority: 7, committed_time: "06:00", nodes: [b]}
            """,
        ),
    )
    generate_day(store, report.workspace_id, date(2025, 11, 4), now=NOW)
    priority = {r.node_id: r.priority for r in instances(store)}
    with Session(store) as session:
        names = dict(session.execute(select(NodeRow.id, NodeRow.name)).all())
    by_name = {names[i]: p for i, p in priority.items()}
    assert by_name == {"ws_root": 7, "a": 7, "b": 7, "other": 2}


def test_demo_day_has_the_expected_shape(tmp_path, store):
    from opscenter.resources import demo_workspace

    report = deploy_folder(store, demo_workspace())
    result = generate_day(store, report.workspace_id, date(2026, 11, 23), now=NOW)  # a Monday
    rows = instances(store)
    assert len(instances(store, "ods_orders_hourly")) == 8
    assert [r.dry_run for r in instances(store, "dws_sales_weekly")] == [False]  # Monday
    assert [r.dry_run for r in instances(store, "dws_finance_monthly")] == [True]  # not the 1st
    assert result.instances == len(rows) == 31 + 1 + 2 * 7  # one a day, hourly ones eight


def shanghai(*args: int) -> datetime:
    """A Shanghai wall time as the naive UTC the store keeps (UTC+8, no DST)."""
    return datetime(*args) - timedelta(hours=8)


def first_instance_after_deploy(tmp_path, store, mode: str, cron: str, deployed: datetime):
    folder = write_workspace(
        tmp_path / "ws",
        f"""
        workspace: {{name: ws, timezone: Asia/Shanghai}}
        nodes:
          - {{name: n, type: virtual, instance_mode: "{mode}", trigger: {{cron: "{cron}"}}}}
        """,
    )
    report = deploy_folder(store, folder, now=deployed)
    for day in range(1, 5):
        generate_day(store, report.workspace_id, date(2025, 11, day), now=deployed)
    rows = instances(store, "n")
    return rows[0] if rows else None


@pytest.mark.parametrize(
    ("mode", "deployed", "cron", "expected"),
    [
        # spec 2.4: T+1 before the 23:30 cutoff -> from the next day
        ("T+1", shanghai(2025, 11, 1, 15, 0), "00 00 02 * * ?", (datetime(2025, 11, 2, 2), False)),
        # T+1 after the cutoff -> the day after tomorrow
        ("T+1", shanghai(2025, 11, 1, 23, 40), "00 00 02 * * ?", (datetime(2025, 11, 3, 2), False)),
        # Immediately, new node, its time still ahead -> runs today
        (
            "Immediately",
            shanghai(2025, 11, 1, 18, 0),
            "00 30 18 * * ?",
            (datetime(2025, 11, 1, 18, 30), False),
        ),
        # Immediately, new node, its time within 10 minutes -> expired, dry-run today
        (
            "Immediately",
            shanghai(2025, 11, 1, 18, 0),
            "00 05 18 * * ?",
            (datetime(2025, 11, 1, 18, 5), True),
        ),
        # Immediately at 23:40 -> nothing today or tomorrow; the day after tomorrow
        (
            "Immediately",
            shanghai(2025, 11, 1, 23, 40),
            "00 00 02 * * ?",
            (datetime(2025, 11, 3, 2), False),
        ),
    ],
)
def test_deployment_vectors_of_spec_2_4(tmp_path, store, mode, deployed, cron, expected):
    first = first_instance_after_deploy(tmp_path, store, mode, cron, deployed)
    assert (first.cyctime, first.dry_run) == expected
    if first.dry_run:
        assert first.dry_run_reason == "expired"


def test_a_changed_node_keeps_its_old_config_until_the_cutoff(tmp_path, store):
    folder = write_workspace(
        tmp_path / "ws",
        """
        workspace: {name: ws}
        nodes: [{name: n, type: virtual, trigger: {cron: "00 00 02 * * ?"}}]
        """,
    )
    report = deploy_folder(store, folder, now=shanghai(2025, 10, 30, 12, 0))
    write_workspace(
        folder,
        """
        workspace: {name: ws}
        nodes: [{name: n, type: virtual, trigger: {cron: "00 00 05 * * ?"}}]
        """,
    )
    deploy_folder(store, folder, now=shanghai(2025, 11, 1, 15, 0))
    for day in (1, 2):
        generate_day(store, report.workspace_id, date(2025, 11, day), now=shanghai(2025, 11, 1, 16))
    assert [r.cyctime for r in instances(store, "n")] == [
        datetime(2025, 11, 1, 2),  # today: the version in effect before the deploy
        datetime(2025, 11, 2, 5),  # tomorrow: the new schedule
    ]
