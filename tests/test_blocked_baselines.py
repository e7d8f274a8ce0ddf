"""Baselines that never lie: an instance that cannot finish without an operator (failed with
no automatic rerun left, stopped, frozen) is never predicted to run again by itself. Its
baseline is blocked: at risk until an operator acts, naming the blocker and the finish if
they act now."""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from opscenter.backends.local import LocalBackend
from opscenter.cli import main
from opscenter.domain.clock import ManualClock, RealClock
from opscenter.domain.model import Status
from opscenter.domain.records import InstanceFilter
from opscenter.resources import demo_workspace
from opscenter.scheduler.engine import Engine
from opscenter.scheduler.worldclock import StoreClock
from opscenter.store.db import open_store
from tests.conftest import deploy_folder, write_workspace
from tests.harness import MakeWorld, at
from tests.processes import run_opscenter, scheduler_process

SHANGHAI = ZoneInfo("Asia/Shanghai")

DENIED = """
nodes:
  - {name: extract, type: shell, code: "exit 1", rerun_mode: Denied,
     trigger: {cron: "00 30 00 * * ?"}}
  - {name: report, type: shell, code: "exit 0", trigger: {cron: "00 30 00 * * ?"},
     depends: [extract]}
baselines:
  - {name: nightly, priority: 1, type: DAILY, committed_time: "23:00", margin: 30,
     nodes: [report]}
"""


def test_a_failure_that_may_never_rerun_by_itself_blocks_its_baseline(
    world: MakeWorld, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    w = world(DENIED).start()
    w.go(at(0, 30))
    w.wait_for(lambda: w.status("extract") is Status.FAILURE)
    w.go(at(1, 0))
    extract = w.instance("extract")
    nightly = w.backend.list_baselines(date(2025, 10, 31))[0]
    assert (nightly.status, nightly.predicted_finish) == ("WARNING", None)  # not SAFE
    assert [(b.id, b.node, b.status) for b in nightly.blocked_by] == [
        (extract.id, "extract", Status.FAILURE)
    ]
    assert nightly.if_rerun_now is not None and nightly.if_rerun_now >= datetime(2025, 11, 1, 1)
    assert nightly.key_instance is not None and nightly.key_instance.id == extract.id

    url = str(w.store.url)
    capsys.readouterr()
    argv = ["--workspace", "ws", "--db", url]
    assert main(["baselines", "--bizdate", "2025-10-31", *argv], clock=w.clock) == 0
    text = capsys.readouterr().out
    assert re.search(rf"blocked by #{extract.id} extract ✗ FAILURE · if rerun now \d\d:\d\d", text)
    assert main(["baselines", "--bizdate", "2025-10-31", "--json", *argv], clock=w.clock) == 0
    [read] = json.loads(capsys.readouterr().out)
    assert read["status"] == "WARNING" and read["predicted_finish"] is None
    assert read["blocked_by"] == [{"id": extract.id, "node": "extract", "status": "FAILURE"}]
    assert datetime.fromisoformat(read["if_rerun_now"]).tzinfo is not None

    w.go(at(23, 1))  # past the committed time, still blocked: OVER
    assert w.backend.list_baselines(date(2025, 10, 31))[0].status == "OVER"
    [error] = w.backend.list_events()
    assert (error.kind, error.node) == ("ERROR", "extract")


def test_an_unfinished_baseline_never_shows_a_finish_before_now(world: MakeWorld) -> None:
    slow = DENIED.replace('"exit 1", rerun_mode: Denied', '"sleep 30"').replace(
        "00 30 00", "00 00 02"
    )
    w = world(slow).start()
    w.clock.set(at(2, 0))
    w.tick()  # started, not waited for
    w.wait_for(lambda: w.status("extract") is Status.RUNNING)
    # the world moves on (the usual run is 10 minutes) before the monitor predicts again
    later = LocalBackend(w.store, "ws", ManualClock(at(5, 0)), user="t")
    nightly = later.list_baselines(date(2025, 10, 31))[0]
    assert nightly.predicted_finish is not None and not nightly.finished
    assert nightly.predicted_finish >= datetime(2025, 11, 1, 5, 0)
    w.backend.stop([w.instance("extract").id])


@pytest.mark.slow
def test_a_blocked_baseline_on_a_real_scheduler_warns_goes_over_and_recovers(
    tmp_path: Path,
) -> None:
    """The issue's two-node workspace, run by a real scheduler process (×120 from 22:00)."""
    fixed = tmp_path / "fixed"
    folder = write_workspace(
        tmp_path / "ws",
        f"""
        workspace: {{name: pair, timezone: Asia/Shanghai}}
        nodes:
          - {{name: extract, type: shell, code: "test -e {fixed}", rerun_times: 1,
             rerun_interval: 1m, trigger: {{cron: "00 02 22 * * ?"}}}}
          - {{name: report, type: shell, code: "exit 0", trigger: {{cron: "00 02 22 * * ?"}},
             depends: [extract]}}
          - {{name: source, type: shell, code: "exit 1", rerun_mode: Denied,
             trigger: {{cron: "00 02 22 * * ?"}}}}
          - {{name: late_report, type: shell, code: "exit 0",
             trigger: {{cron: "00 02 22 * * ?"}}, depends: [source]}}
        baselines:
          # nightly's alert time (23:40) leaves the rerun 98 simulated minutes (49 s) to
          # finish SAFE, so a loaded machine's slow CLI calls do not turn it WARNING
          - {{name: nightly, priority: 1, type: DAILY, committed_time: "23:50", margin: 10,
             nodes: [report]}}
          - {{name: early, priority: 1, type: DAILY, committed_time: "22:20", margin: 5,
             nodes: [late_report]}}
        """,
    )
    url = f"sqlite:///{tmp_path / 'state.db'}"
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")}
    log = tmp_path / "scheduler.log"
    args = ["--workspace", str(folder), "--db", url, "--speed", "120"]

    def cli(*words: str) -> str:
        done = run_opscenter(*words, "--db", url, env=env)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def baselines() -> dict[str, dict]:
        read = json.loads(cli("baselines", "--bizdate", "2030-01-04", "--json"))
        return {b["name"]: b for b in read}

    def until(done, what: str, seconds: float = 60) -> dict[str, dict]:  # noqa: ANN001
        deadline = time.monotonic() + seconds
        while True:
            found = baselines()
            if done(found):
                return found
            assert time.monotonic() < deadline, f"{what}: {found}\n{log.read_text()[-1500:]}"
            time.sleep(0.3)

    with scheduler_process([*args, "--start", "2030-01-05 22:00"], log, env):
        blocked = until(lambda b: b.get("nightly", {}).get("blocked_by"), "extract blocks nightly")[
            "nightly"
        ]
        assert blocked["status"] == "WARNING" and blocked["predicted_finish"] is None
        [blocker] = blocked["blocked_by"]
        assert (blocker["node"], blocker["status"]) == ("extract", "FAILURE")
        assert blocked["if_rerun_now"] is not None
        text = cli("baselines", "--bizdate", "2030-01-04")
        assert f"blocked by #{blocker['id']} extract ✗ FAILURE · if rerun now" in text

        fixed.touch()  # the operator mends the source and reruns
        cli("rerun", str(blocker["id"]))
        safe = until(lambda b: b["nightly"]["finished"], "nightly finishes after the rerun")
        assert safe["nightly"]["status"] == "SAFE" and not safe["nightly"]["blocked_by"]
        events = json.loads(cli("events", "--json"))
        assert [(e["node"], e["kind"], e["status"]) for e in events if e["node"] == "extract"] == [
            ("extract", "ERROR", "RECOVER")
        ]

        over = until(lambda b: b["early"]["status"] == "OVER", "early goes OVER after 22:20")
        assert [x["node"] for x in over["early"]["blocked_by"]] == ["source"]  # still blocked
        world = StoreClock(open_store(url), RealClock(), refresh=0)
        assert world.now().astimezone(SHANGHAI) > datetime(2030, 1, 5, 22, 20, tzinfo=SHANGHAI)


def test_the_demo_dashboard_shows_exec_dashboard_at_risk_once_products_fail_for_good(
    tmp_path: Path,
) -> None:
    """The on-call story: ods_products_snapshot fails all its attempts, four levels above the
    dashboard; within one scheduler turn the dashboard counts exec_dashboard at risk."""
    folder = shutil.copytree(demo_workspace(), tmp_path / "demo")
    (folder / "scripts" / "products_snapshot.sh").write_text("echo 'catalogue down' >&2\nexit 1\n")
    start = datetime(2026, 11, 28, 0, 10, tzinfo=SHANGHAI)
    db = open_store(f"sqlite:///{tmp_path / 'state.db'}")
    report = deploy_folder(db, folder, now=(start - timedelta(days=1)).replace(tzinfo=None))
    clock = ManualClock(start)
    engine = Engine(db, report.workspace_id, clock)
    backend = LocalBackend(db, "shop", clock, user="oncall")
    bizdate = date(2026, 11, 27)
    try:
        engine.start()
        engine.run_until_idle()
        [products] = backend.list_instances(
            InstanceFilter(bizdate=bizdate, node="ods_products_snapshot")
        ).items
        for _ in range(6):  # three attempts, a minute apart
            clock.advance(timedelta(minutes=2, seconds=30))
            engine.run_until_idle()
        products = backend.get_instance(products.id)
        assert (products.status, products.run_number, products.retry_at) == (
            Status.FAILURE,
            3,
            None,
        )
        board = backend.dashboard(bizdate)
        at_risk = [b for b in board.baselines if b.status in ("WARNING", "OVER")]
        exec_dashboard = next(b for b in at_risk if b.name == "exec_dashboard")
        assert [x.node for x in exec_dashboard.blocked_by] == ["ods_products_snapshot"]
        assert exec_dashboard.predicted_finish is None and exec_dashboard.if_rerun_now
        errors = [e for e in backend.list_events() if e.kind == "ERROR"]
        assert {e.node for e in errors if e.baseline == "exec_dashboard"} == {
            "ods_products_snapshot"
        }
    finally:
        engine.close()
