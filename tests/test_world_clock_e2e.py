"""Issue 12's 'done when': a real `opscenter scheduler --speed 600 --start …` process, and other
processes on its store — `status`, `why`, `rerun --preview`, a `--no-scheduler` console — all
tell that world's time, not the machine's."""

from __future__ import annotations

import json
import os
import re
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from opscenter.backends.local import LocalBackend
from opscenter.domain.clock import RealClock
from opscenter.domain.model import Status
from opscenter.scheduler.worldclock import StoreClock
from opscenter.store.db import open_store
from tests.conftest import write_workspace
from tests.processes import console_in_a_terminal, read_until, run_opscenter, scheduler_process

SHANGHAI = ZoneInfo("Asia/Shanghai")

WORKSPACE = """
workspace: {name: late, timezone: Asia/Shanghai}
nodes:
  - {name: extract, type: shell, code: "exit 0", trigger: {cron: "00 00 01 * * ?"}}
  - {name: report, type: shell, code: "exit 0", trigger: {cron: "00 00 23 * * ?"},
     depends: [extract]}
baselines:
  - {name: evening, priority: 1, type: DAILY, committed_time: "23:50", margin: 10,
     nodes: [report]}
"""


@pytest.mark.slow
def test_every_process_on_the_store_tells_the_schedulers_time(tmp_path: Path) -> None:
    folder = write_workspace(tmp_path / "ws", WORKSPACE)
    url = f"sqlite:///{tmp_path / 'state.db'}"
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")}
    log = tmp_path / "scheduler.log"
    args = ["--workspace", str(folder), "--db", url, "--speed", "600"]
    with scheduler_process([*args, "--start", "2030-01-05 00:00"], log, env) as scheduler:
        world = StoreClock(open_store(url), RealClock(), refresh=0)
        assert world.speed == 600

        def window(call):  # noqa: ANN001, ANN202 - a zero-argument callable
            """The world's time before and after another process answered."""
            before = world.now().astimezone(SHANGHAI)
            answer = call()
            return before, answer, world.now().astimezone(SHANGHAI)

        def cli(*words: str):  # noqa: ANN202 - a CompletedProcess
            return run_opscenter(*words, "--db", url, env=env)

        before, status, after = window(lambda: cli("status", "--json"))
        assert status.returncode == 0, status.stderr
        assert before.date() == after.date() == datetime(2030, 1, 5).date()
        assert json.loads(status.stdout)["bizdate"] == "2030-01-04"  # not the machine's

        ids = cli("instances", "--bizdate", "2030-01-04", "--json")
        assert ids.returncode == 0, ids.stderr
        by_node = {i["node"]: i["id"] for i in json.loads(ids.stdout)["items"]}

        before, why, after = window(lambda: cli("why", str(by_node["report"])))
        assert why.returncode == 0, why.stderr
        found = re.search(r"scheduled for 2030-01-05 23:00, in (\d+)h(\d\d)m", why.stdout)
        assert found, why.stdout
        left = timedelta(hours=int(found[1]), minutes=int(found[2]))
        due = datetime(2030, 1, 5, 23, 0, tzinfo=SHANGHAI)
        assert due - after - timedelta(minutes=1) <= left <= due - before

        backend = LocalBackend(open_store(url), "late", world, user="t", source="tui")
        deadline = time.monotonic() + 60  # 01:00 comes six real seconds in
        while backend.get_instance(by_node["extract"]).status is not Status.SUCCESS:
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        preview = cli("rerun", str(by_node["extract"]), "--downstream", "--preview")
        assert preview.returncode == 0, preview.stderr
        # what the console's confirm says for the same action, on the same world's clock
        [impact] = backend.baseline_impact("rerun", [by_node["extract"]], downstream=True) or []
        assert impact.describe(SHANGHAI) in preview.stdout
        assert "predicted 23:" in preview.stdout, preview.stdout

        before = world.now().astimezone(SHANGHAI)
        with console_in_a_terminal(["--db", url, "--no-scheduler"], env) as (terminal, console):
            screen = read_until(terminal, [b"bizdate 20300104", "CST sim×600".encode()], 60)
            after = world.now().astimezone(SHANGHAI)
            os.write(terminal, b"q")
            assert console.wait(timeout=20) == 0
        text = screen.decode(errors="replace")
        assert "bizdate 20300104" in text and "CST sim×600" in text
        shown = re.findall(r"(\d\d):(\d\d)(?::\d\d)? CST", text)
        assert shown, text[-2000:]
        hour, minute = map(int, shown[0])
        clock = before.replace(hour=hour, minute=minute, second=0, microsecond=0)
        assert before - timedelta(minutes=1) <= clock <= after  # the scheduler's time
    assert scheduler.returncode == 0, log.read_text()[-2000:]
    stopped = StoreClock(open_store(url), RealClock(), refresh=0)
    assert stopped.stopped_at() is not None  # and the world now stands where it stopped:
    standing = stopped.now()
    time.sleep(0.5)  # five world minutes at ×600, had it kept running
    assert stopped.now() == standing
