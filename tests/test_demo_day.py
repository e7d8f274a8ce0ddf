"""Simulated days of the demo workspace: what a newcomer should see happen.

Business dates chosen for what the demo's deterministic data does on them:
2026-11-18 is a "flaky" date (the product catalogue's first attempt fails),
2026-11-19 a "drop" date (orders fall by half, so the quality check fails).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta

import duckdb
import pytest
from sqlalchemy import select

from opscenter.backends.local import LocalBackend
from opscenter.domain.clock import ManualClock
from opscenter.domain.model import Status
from opscenter.domain.records import InstanceFilter
from opscenter.resources import demo_workspace
from opscenter.scheduler.engine import Engine
from opscenter.store.db import open_store
from opscenter.store.models import WorkspaceRow
from tests.conftest import deploy_folder

pytestmark = pytest.mark.slow

# 2026-11-18 00:00 in Shanghai
START = datetime(2026, 11, 17, 16, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def three_days(tmp_path_factory):
    """Run the demo from 2026-11-18 00:00 to 2026-11-20 12:00 on a manual clock."""
    tmp = tmp_path_factory.mktemp("demo")
    db = open_store(f"sqlite:///{tmp / 'state.db'}")
    report = deploy_folder(db, demo_workspace(), now=START.replace(tzinfo=None))
    # relative warehouse/landing paths resolve beside the data folder the test chose
    clock = ManualClock(START, speed=1e6)  # node scripts' simulated minutes take no real time
    engine = Engine(db, report.workspace_id, clock)
    engine.start()
    end = START + timedelta(days=2, hours=12)
    while clock.now() < end:
        engine.run_until_idle()
        clock.advance(timedelta(minutes=5))
    engine.run_until_idle()
    engine.close()
    backend = LocalBackend(db, "shop", clock, user="tester")
    with db.connect() as conn:
        warehouse = conn.scalar(select(WorkspaceRow.warehouse))
    yield backend, warehouse
    db.dispose()


def instances_of(backend: LocalBackend, bizdate: date, node: str):
    return backend.list_instances(InstanceFilter(bizdate=bizdate, node=node)).items


def test_an_ordinary_day_succeeds_end_to_end(three_days):
    backend, warehouse = three_days
    counts = backend.status_counts(date(2026, 11, 17)).counts
    assert counts[Status.SUCCESS] == 46
    with duckdb.connect(warehouse, read_only=True) as wh:
        orders, revenue = wh.execute(
            "SELECT orders, revenue FROM sales_daily WHERE bizdate = '20261117'"
        ).fetchone()
        assert orders > 1000 and revenue > 0
        assert wh.execute("SELECT count(*) FROM ads_exec_dashboard").fetchone()[0] >= 2


def test_the_flaky_node_fails_then_succeeds_on_its_auto_rerun(three_days):
    backend, _ = three_days
    [flaky] = instances_of(backend, date(2026, 11, 18), "ods_products_snapshot")
    attempts = backend.attempts(flaky.id)
    assert [a.status for a in attempts] == [Status.FAILURE, Status.SUCCESS]
    assert "exit code 1" in attempts[0].reason
    assert attempts[1].triggered_by == "auto rerun 1/2"
    first_log = backend.read_log(flaky.id, 1).text
    assert "read timed out" in first_log


def test_the_quality_check_fails_on_a_drop_day_and_blocks_its_downstream(three_days):
    backend, _ = three_days
    [check] = instances_of(backend, date(2026, 11, 19), "dq_sales_volume")
    assert check.status is Status.FAILURE
    assert "quality check failed" in backend.attempts(check.id)[-1].reason
    [blocked] = instances_of(backend, date(2026, 11, 19), "sales_daily")
    assert blocked.status is Status.NOT_RUN
    diagnosis = backend.diagnose(blocked.id)
    assert "dq_sales_volume" in diagnosis.summary


def test_the_weekly_node_dry_runs_on_other_days(three_days):
    backend, _ = three_days
    for bizdate in (date(2026, 11, 17), date(2026, 11, 18)):  # schedule dates Wed, Thu
        [weekly] = instances_of(backend, bizdate, "dws_sales_weekly")
        assert weekly.status is Status.SUCCESS and weekly.dry_run
        assert weekly.status_label == "↷ DRY-RUN"
        assert backend.attempts(weekly.id) == []


def test_the_cumulative_node_waits_for_its_previous_day(three_days):
    backend, _ = three_days
    [today] = instances_of(backend, date(2026, 11, 18), "dws_customer_ltv")
    ups = backend.relatives(today.id, direction="up")
    previous = [r for r in ups if r.cross_cycle]
    assert [(r.instance.node, r.instance.bizdate) for r in previous] == [
        ("dws_customer_ltv", date(2026, 11, 17))
    ]


def test_the_scheduler_command_runs_the_demo_on_a_fast_clock(tmp_path):
    """`opscenter scheduler --speed N` as a user runs it: a simulated morning in seconds."""
    url = f"sqlite:///{tmp_path / 'state.db'}"
    log = tmp_path / "scheduler.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "opscenter", "scheduler", "--db", url, "--speed", "3600",
             "--start", "2026-11-18 00:00", "--workspace", str(demo_workspace())],
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        db = None
        deadline = time.monotonic() + 150  # generous: a loaded machine runs the clock slower
        while time.monotonic() < deadline:
            time.sleep(1)
            if "holds the lease" not in log.read_text():
                continue
            db = db or open_store(url)
            backend = LocalBackend(db, "shop", ManualClock(START), user="tester")
            [dashboard] = instances_of(backend, date(2026, 11, 17), "ads_exec_dashboard")
            if dashboard.status is Status.SUCCESS:
                break
        else:
            pytest.fail(f"the demo morning did not finish:\n{log.read_text()[-2000:]}")
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    assert "×3600" in log.read_text()
