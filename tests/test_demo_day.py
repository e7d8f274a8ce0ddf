"""Simulated days of the demo workspace: what a newcomer should see happen.

Every fresh demo's first day, within two real minutes at the demo's speed: the user
service's export lands a minute late (ods_users_snapshot fails, its auto rerun loads it),
and the stock count names a product the catalogue snapshot lacks (ods_inventory_snapshot
fails every attempt until the operator reruns ods_products_snapshot with its downstream).

Business dates chosen for what the demo's deterministic data does on them:
2026-11-17 is the first day of the three days played here,
2026-11-18 is a "flaky" date (the product catalogue's first attempt fails),
2026-11-19 a "drop" date (orders fall by half, so the quality check fails).
"""

from __future__ import annotations

import signal
import time
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import duckdb
import pytest
from sqlalchemy import select

from opscenter.backends.local import LocalBackend
from opscenter.console import DEMO_SPEED, demo_start
from opscenter.domain.clock import ManualClock
from opscenter.domain.model import Status
from opscenter.domain.records import InstanceFilter
from opscenter.resources import demo_workspace
from opscenter.scheduler.engine import Engine
from opscenter.store.db import open_store
from opscenter.store.models import WorkspaceRow
from tests.conftest import deploy_folder
from tests.processes import start_scheduler

pytestmark = pytest.mark.slow

SHANGHAI = ZoneInfo("Asia/Shanghai")
# 2026-11-18 00:00 in Shanghai
START = datetime(2026, 11, 17, 16, 0, tzinfo=UTC)
OPERATOR_AT = START + timedelta(hours=2)  # when the on-call mends the first day


def mend_the_first_day(backend: LocalBackend, bizdate: date) -> None:
    """What the failed inventory log tells the operator: rerun the catalogue downstream."""
    [products] = instances_of(backend, bizdate, "ods_products_snapshot")
    backend.rerun([products.id], downstream=True)


@pytest.fixture(scope="module")
def three_days(tmp_path_factory):
    """Run the demo from 2026-11-18 00:00 to 2026-11-20 12:00 on a manual clock; at 02:00
    on the first day the operator mends its inventory failure."""
    tmp = tmp_path_factory.mktemp("demo")
    db = open_store(f"sqlite:///{tmp / 'state.db'}")
    report = deploy_folder(db, demo_workspace(), now=START.replace(tzinfo=None))
    # relative warehouse/landing paths resolve beside the data folder the test chose
    clock = ManualClock(START, speed=1e6)  # node scripts' simulated minutes take no real time
    engine = Engine(db, report.workspace_id, clock)
    backend = LocalBackend(db, "shop", clock, user="tester")
    engine.start()
    end = START + timedelta(days=2, hours=12)
    mended = False
    while clock.now() < end:
        engine.run_until_idle()
        if not mended and clock.now() >= OPERATOR_AT:
            mend_the_first_day(backend, date(2026, 11, 17))
            mended = True
        clock.advance(timedelta(minutes=5))
    engine.run_until_idle()
    engine.close()
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


def test_the_first_days_inventory_passes_once_the_catalogue_is_rerun_and_the_next_day_at_once(
    three_days,
):
    backend, warehouse = three_days
    [first] = instances_of(backend, date(2026, 11, 17), "ods_inventory_snapshot")
    attempts = backend.attempts(first.id)
    assert [a.status for a in attempts] == [Status.FAILURE] * 3 + [Status.SUCCESS]
    assert attempts[3].triggered_by == "rerun downstream by tester"
    [second] = instances_of(backend, date(2026, 11, 18), "ods_inventory_snapshot")
    assert [a.status for a in backend.attempts(second.id)] == [Status.SUCCESS]
    with duckdb.connect(warehouse, read_only=True) as wh:
        stocked = wh.execute(
            "SELECT bizdate, count(*) FROM dwd_inventory GROUP BY bizdate ORDER BY bizdate"
        ).fetchall()
    assert stocked == [("20261117", 81), ("20261118", 81), ("20261119", 81)]


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


# fresh demos opened on three days in a row: every residue of the catalogue's flaky rule
@pytest.mark.parametrize("opened_on", [date(2026, 11, 18), date(2026, 11, 19), date(2026, 11, 20)])
def test_a_fresh_demo_shows_a_failure_that_recovers_and_one_that_needs_you_in_two_minutes(
    tmp_path, opened_on
):
    """What a newcomer sees in the console's first two real minutes, as `opscenter` opens
    a fresh demo: its day starts at midnight on a clock DEMO_SPEED times real time."""
    start = demo_start(None, datetime.combine(opened_on, datetime.min.time()).replace(
        hour=15, tzinfo=SHANGHAI), SHANGHAI)  # fmt: skip
    assert start.astimezone(SHANGHAI).time() == datetime.min.time()
    two_real_minutes = start + timedelta(minutes=2) * DEMO_SPEED
    bizdate = opened_on - timedelta(days=1)
    db = open_store(f"sqlite:///{tmp_path / 'state.db'}")
    report = deploy_folder(db, demo_workspace(), now=start.replace(tzinfo=None))
    clock = ManualClock(start, speed=DEMO_SPEED)
    engine = Engine(db, report.workspace_id, clock)
    backend = LocalBackend(db, "shop", clock, user="oncall")
    try:
        engine.start()
        while clock.now() < two_real_minutes:
            engine.run_until_idle()
            clock.advance(timedelta(seconds=30))
        engine.run_until_idle()
        deadline = two_real_minutes.replace(tzinfo=None)

        # the user service's export is late: the first attempt fails, the auto rerun loads it
        [users] = instances_of(backend, bizdate, "ods_users_snapshot")
        assert users.status is Status.SUCCESS and users.finished_at <= deadline
        attempts = backend.attempts(users.id)
        assert [a.status for a in attempts] == [Status.FAILURE, Status.SUCCESS]
        assert "has not landed yet" in attempts[0].reason
        assert attempts[1].triggered_by == "auto rerun 1/2"

        # the stock count names a product the catalogue snapshot lacks: every attempt fails
        [inventory] = instances_of(backend, bizdate, "ods_inventory_snapshot")
        assert inventory.status is Status.FAILURE and inventory.finished_at <= deadline
        assert inventory.retry_at is None and inventory.run_number == inventory.max_attempts == 3
        attempts = backend.attempts(inventory.id)
        assert [a.status for a in attempts] == [Status.FAILURE] * 3
        assert [a.triggered_by for a in attempts[1:]] == ["auto rerun 1/2", "auto rerun 2/2"]
        # the log says the cause on the line before the exit, and the cure above it
        lines = backend.read_log(inventory.id, 3).text.splitlines()
        cure, cause, exit_line = lines[-3:]
        assert "failed: exit code 1" in exit_line
        assert cause == (
            f"ERROR: product 81 in stock but not in the catalogue snapshot "
            f"products/dt={bizdate:%Y%m%d}.csv"
        )
        assert "rerun ods_products_snapshot with its downstream" in cure
        assert attempts[-1].reason == f"exit code 1: {cause}"
        [blocked] = instances_of(backend, bizdate, "dwd_inventory")
        assert blocked.status is Status.NOT_RUN
        assert "ods_inventory_snapshot" in backend.diagnose(blocked.id).summary

        # the operator does what the log says; the inventory and its downstream go on
        mend_the_first_day(backend, bizdate)
        for _ in range(4):
            clock.advance(timedelta(minutes=1))
            engine.run_until_idle()
        for node in ("ods_products_snapshot", "ods_inventory_snapshot", "dwd_inventory"):
            [mended] = instances_of(backend, bizdate, node)
            assert mended.status is Status.SUCCESS, node
    finally:
        engine.close()
        db.dispose()


def test_the_scheduler_command_runs_the_demo_on_a_fast_clock(tmp_path):
    """`opscenter scheduler --speed N` as a user runs it: a simulated morning in seconds."""
    url = f"sqlite:///{tmp_path / 'state.db'}"
    log = tmp_path / "scheduler.log"
    proc = start_scheduler(
        ["--db", url, "--speed", "3600", "--start", "2026-11-18 00:00"]
        + ["--workspace", str(demo_workspace())],
        log,
    )
    try:
        db = None
        deadline = time.monotonic() + 150  # generous: a loaded machine runs the clock slower
        while time.monotonic() < deadline:
            time.sleep(1)
            if "holds the lease" not in log.read_text():
                continue
            db = db or open_store(url)
            backend = LocalBackend(db, "shop", ManualClock(START), user="tester")
            dashboard = instances_of(backend, date(2026, 11, 17), "ads_exec_dashboard")
            if dashboard and dashboard[0].status is Status.SUCCESS:  # generated, then run
                break
        else:
            pytest.fail(f"the demo morning did not finish:\n{log.read_text()[-2000:]}")
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    assert "×3600" in log.read_text()
