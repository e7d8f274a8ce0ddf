"""One clock per world: the scheduler holding the lease publishes it; every other process on
the store reads it; a simulated world stands where its scheduler stopped and resumes there."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, select, text, update

from opscenter.backends.local import LocalBackend
from opscenter.cli import main
from opscenter.console import open_world
from opscenter.domain.clock import ManualClock
from opscenter.errors import UsageError
from opscenter.scheduler import worldclock
from opscenter.scheduler.worldclock import ClockPlan, StoreClock
from opscenter.store import lease
from opscenter.store.db import open_store
from opscenter.store.models import AuditRow, InstanceRow, LeaseRow, NodeRow
from tests.conftest import write_workspace
from tests.test_console_world import options_of

SHANGHAI = ZoneInfo("Asia/Shanghai")
REAL_NOW = datetime(2026, 12, 6, 2, 0, tzinfo=UTC)  # the machine's day: 2026-12-06
WORLD_START = datetime(2030, 1, 5, 0, 0, tzinfo=SHANGHAI)

ONE_NODE = """
workspace: {name: %s, timezone: Asia/Shanghai}
nodes: [{name: a, type: virtual, trigger: {cron: "00 00 01 * * ?"}}]
"""


def take_lease(db: Engine, plan: ClockPlan, holder: str) -> worldclock.Clock:
    """What run_scheduler does on taking the lease: resolve the world's clock and publish it."""
    ours, _ = lease.try_acquire(db, holder)
    assert ours
    clock = plan.clock(worldclock.read(db))
    worldclock.publish(db, holder, clock, plan.wall)
    return clock


def stop_scheduler(db: Engine, plan: ClockPlan, holder: str, clock: worldclock.Clock) -> None:
    worldclock.publish(db, holder, clock, plan.wall, running=False)
    lease.release(db, holder)


def holder_here(tag: str) -> str:
    """A holder name this process answers for, so the lease reads as alive."""
    return lease.new_holder_name() + tag


def deployed_solo(tmp_path, url: str) -> tuple[str, Engine, ManualClock]:  # noqa: ANN001 - a Path
    """Workspace ``solo`` deployed by the CLI into the store at ``url``: (URL, store, wall)."""
    folder = write_workspace(tmp_path / "ws", ONE_NODE % "solo")
    wall = ManualClock(REAL_NOW)
    assert main(["deploy", str(folder), "--db", url], clock=wall) == 0
    return url, open_store(url), wall


@pytest.fixture
def db(any_store: Engine) -> Engine:
    """The lease and the clock it publishes, on SQLite and on PostgreSQL."""
    return any_store


def test_every_reader_tells_the_schedulers_time_and_a_stopped_world_stands(db: Engine) -> None:
    wall = ManualClock(REAL_NOW)
    plan = ClockPlan(speed=600, start=WORLD_START, wall=wall)
    holder = holder_here("a")
    scheduler = take_lease(db, plan, holder)
    reader = StoreClock(db, wall, refresh=0)
    assert reader.now() == scheduler.now() == WORLD_START
    wall.advance(60)  # one real minute at ×600: ten world hours
    worldclock.seen(db, holder, wall)  # its heartbeat: it is alive
    assert scheduler.now() == WORLD_START + timedelta(hours=10)
    assert reader.now() == scheduler.now()
    assert reader.speed == 600 and reader.stopped_at() is None

    stop_scheduler(db, plan, holder, scheduler)
    wall.advance(3600)  # an hour later, nobody runs the world: it stands where it stopped
    assert reader.now() == WORLD_START + timedelta(hours=10)
    assert reader.stopped_at() == WORLD_START + timedelta(hours=10)

    resumer = holder_here("b")
    again = take_lease(db, ClockPlan(wall=wall), resumer)  # no --speed: resume
    assert again.now() == WORLD_START + timedelta(hours=10) and again.speed == 600
    wall.advance(6)
    worldclock.seen(db, resumer, wall)
    assert reader.now() == again.now() == WORLD_START + timedelta(hours=11)


def test_a_world_whose_scheduler_died_runs_on_briefly_then_stands_and_never_goes_back(
    db: Engine,
) -> None:
    """A killed scheduler says nothing: readers' time must not run on until the lease turns
    stale (15 s, at x120 half an hour) and then jump back to the last heartbeat."""
    assert timedelta(seconds=5) == worldclock.LIVENESS  # at x120: 10 world minutes
    wall = ManualClock(REAL_NOW)
    plan = ClockPlan(speed=120, start=WORLD_START, wall=wall)
    holder = holder_here("k")
    take_lease(db, plan, holder)
    wall.advance(30)
    worldclock.seen(db, holder, wall)  # its last heartbeat, at one world hour
    reader = StoreClock(db, wall, refresh=0)
    wall.advance(2)  # a heartbeat late is no death: the world runs on
    assert reader.now() == WORLD_START + timedelta(hours=1, minutes=4)
    wall.advance(28)  # killed: no heartbeat since, its lease not yet stale
    stands = WORLD_START + timedelta(hours=1, minutes=10)
    assert reader.now() == stands
    with db.begin() as conn:  # the heartbeat goes stale
        conn.execute(
            update(LeaseRow).values(heartbeat_at=datetime(2020, 1, 1), holder="elsewhere:1:x")
        )
    assert reader.now() == reader.stopped_at() == stands
    wall.advance(600)
    again = take_lease(db, ClockPlan(wall=wall), holder_here("n"))  # a standby takes over
    assert again.now() == reader.now() == stands  # from where readers were told it stands


def test_a_real_time_world_reads_real_time_and_a_store_never_scheduled_too(db: Engine) -> None:
    wall = ManualClock(REAL_NOW)
    reader = StoreClock(db, wall, refresh=0)
    assert reader.now() == REAL_NOW and reader.speed == 1
    holder = holder_here("r")
    clock = take_lease(db, ClockPlan(wall=wall), holder)
    stop_scheduler(db, ClockPlan(wall=wall), holder, clock)
    wall.advance(90)
    assert reader.now() == REAL_NOW + timedelta(seconds=90) and reader.stopped_at() is None


def test_speed_or_start_is_refused_while_another_scheduler_holds_the_lease(
    tmp_path, store_url, capsys
) -> None:
    url, db, wall = deployed_solo(tmp_path, store_url)
    take_lease(db, ClockPlan(speed=600, start=WORLD_START, wall=wall), holder_here("s"))
    capsys.readouterr()
    assert main(["scheduler", "--db", url, "--speed", "60"], clock=wall) == 2
    said = capsys.readouterr().err
    assert "the world's clock belongs to its scheduler" in said
    assert "2030-01-05 00:00 CST ×600" in said
    args = options_of("--db", url, "--no-scheduler", "--start", "2030-01-01 00:00")
    with pytest.raises(UsageError, match="reads the world's clock from the store"):
        open_world(args, wall)


def test_a_verb_reads_the_worlds_time_not_the_machines(tmp_path, store_url, capsys) -> None:
    url, db, wall = deployed_solo(tmp_path, store_url)
    holder = holder_here("v")
    take_lease(db, ClockPlan(speed=600, start=WORLD_START, wall=wall), holder)
    wall.advance(60)
    worldclock.seen(db, holder, wall)  # its heartbeat: it is alive
    backend = LocalBackend(db, "solo", StoreClock(db, wall), user="t")
    assert backend.now() == WORLD_START + timedelta(hours=10)
    info = backend.workspace()
    assert info.speed == 600 and info.stopped_at is None
    capsys.readouterr()
    assert main(["status", "--db", url, "--json"], clock=wall) == 0
    assert '"bizdate": "2030-01-04"' in capsys.readouterr().out  # not the machine's 2026-12-05


def test_without_workspace_a_store_means_its_one_workspace_or_names_them(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'state.db'}"
    wall = ManualClock(REAL_NOW)
    assert main(["status", "--db", url], clock=wall) == 2
    assert "holds no workspace" in capsys.readouterr().err
    first = write_workspace(tmp_path / "one", ONE_NODE % "myws")
    assert main(["deploy", str(first), "--db", url], clock=wall) == 0
    capsys.readouterr()
    assert main(["scheduler", "--db", url, "--readonly"], clock=wall) == 2  # not the demo
    assert main(["status", "--db", url], clock=wall) == 0
    assert "myws" in capsys.readouterr().out
    second = write_workspace(tmp_path / "two", ONE_NODE % "other")
    assert main(["deploy", str(second), "--db", url], clock=wall) == 0
    capsys.readouterr()
    assert main(["status", "--db", url], clock=wall) == 2
    said = capsys.readouterr().err
    assert "holds 2 workspaces (myws, other)" in said and "--workspace NAME" in said
    with open_store(url).connect() as conn:  # no demo slipped in beside them
        assert conn.scalar(select(NodeRow.id).where(NodeRow.name == "ods_orders")) is None


def test_the_demo_keeps_an_operators_undeploy_and_is_redeployed_only_when_its_files_change(
    tmp_path, monkeypatch
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    wall = ManualClock(REAL_NOW)
    first = open_world(options_of(), wall)
    backend = LocalBackend(first.db, "shop", ManualClock(REAL_NOW), user="t")
    backend.freeze_node("ads_exec_dashboard")
    backend.undeploy("ads_inventory_alerts")
    again = open_world(options_of(), wall)
    assert again.notice == ""
    assert backend.get_node("ads_inventory_alerts").state == "undeployed"
    assert backend.get_node("ads_exec_dashboard").frozen
    with first.db.begin() as conn:  # as if a new opscenter shipped other demo files
        conn.execute(text("UPDATE meta SET value = 'older' WHERE key = 'bundled_digest:shop'"))
    third = open_world(options_of(), wall)
    assert third.notice.startswith("the demo was redeployed: its bundled files changed")


def test_readonly_summary_and_scheduler_write_nothing(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    wall = ManualClock(REAL_NOW)
    assert main(["summary", "--readonly"], clock=wall) == 2
    assert "a read-only summary deploys nothing" in capsys.readouterr().err
    assert main(["summary"], clock=wall) == 0
    db = open_store(f"sqlite:///{tmp_path / 'opscenter' / 'shop' / 'state.db'}")

    def written() -> tuple[int, int]:
        with db.connect() as conn:
            return (
                conn.scalar(select(text("count(*)")).select_from(InstanceRow)),
                conn.scalar(select(text("count(*)")).select_from(AuditRow)),
            )

    before = written()
    wall.advance(timedelta(days=2))  # a summary that wrote would generate two more days
    capsys.readouterr()
    assert main(["summary", "--readonly"], clock=wall) == 0
    assert "generated" not in capsys.readouterr().out
    assert main(["scheduler", "--readonly"], clock=wall) == 2
    assert "--readonly cannot run one" in capsys.readouterr().err
    assert written() == before


def test_an_older_store_gains_the_audit_wall_time_and_keeps_its_rows(tmp_path) -> None:
    """A store made before the audit's wall time and before migrations (no alembic_version)."""
    url = f"sqlite:///{tmp_path / 'state.db'}"
    db = open_store(url)
    with db.begin() as conn:
        conn.execute(text("DROP TABLE alembic_version"))
        conn.execute(text("ALTER TABLE audit DROP COLUMN wall_at"))
        conn.execute(
            text(
                "INSERT INTO audit (at, user, action, targets, outcome, detail, source) "
                "VALUES ('2026-01-01 00:00:00', 'ann', 'rerun', '[1]', 'ok', '', 'cli')"
            )
        )
    db.dispose()
    reopened = open_store(url)
    with reopened.connect() as conn:
        rows = conn.execute(select(AuditRow.user, AuditRow.wall_at)).all()
    assert rows == [("ann", None)]


def test_status_says_where_a_stopped_world_stands(tmp_path, store_url, capsys) -> None:
    url, db, wall = deployed_solo(tmp_path, store_url)
    plan = ClockPlan(speed=600, start=WORLD_START, wall=wall)
    holder = holder_here("st")
    clock = take_lease(db, plan, holder)
    wall.advance(60)
    stop_scheduler(db, plan, holder, clock)
    wall.advance(600)
    capsys.readouterr()
    assert main(["status", "--db", url], clock=wall) == 0
    out = capsys.readouterr().out
    assert "now 2030-01-05 10:00 CST" in out
    assert "Clock: simulated ×600; scheduler stopped at 2030-01-05 10:00 CST" in out
