"""The words of the command line, as an operator reads them from the real `opscenter`
process (issue 15, "The CLI"): a refusal says "refused" once; a finished event says it is
finished.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pytest

from tests.harness import MakeWorld, at
from tests.processes import run_opscenter

BIZDATE = date(2025, 10, 31)  # the harness world's first business date

# broken fails its 3 automatic attempts; report waits on it under the morning baseline;
# the solo baseline protects the root alone.
FAILING = """
    nodes:
      - {name: broken, type: shell, owner: finance_team, code: "echo boom; exit 1",
         rerun_times: 2, rerun_interval: 0, trigger: {cron: "00 30 00 * * ?"}}
      - {name: report, type: virtual, depends: [broken], trigger: {cron: "00 30 00 * * ?"}}
      - {name: alone, type: virtual, trigger: {cron: "00 00 05 * * ?"}}
    baselines:
      - {name: morning, committed_time: "06:00", margin: 30, nodes: [report]}
      - {name: solo, committed_time: "07:00", margin: 30, nodes: [ws_root]}
"""


def _env(state: Path, **extra: str) -> dict[str, str]:
    """The operator's environment: their own state folder, and no COLUMNS to fake a width."""
    env = {**os.environ, "XDG_STATE_HOME": str(state), **extra}
    env.pop("COLUMNS", None)
    env.pop("LINES", None)
    return env


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The demo deployed once (`opscenter` piped prints its summary): the environment."""
    env = _env(tmp_path_factory.mktemp("demo-state"))
    done = run_opscenter(env=env)
    assert done.returncode == 0, done.stderr
    return env


def test_a_read_only_refusal_says_refused_once(demo: dict[str, str]) -> None:
    done = run_opscenter("rerun", "1", "--readonly", env=demo)
    assert done.returncode == 3
    assert done.stderr == "refused: rerun is not available: opscenter runs read-only (--readonly)\n"


def test_a_recovered_event_is_finished_and_says_so(world: MakeWorld, tmp_path: Path) -> None:
    """It said "event #1 is RECOVER; it can go to nothing"."""
    w = world(FAILING).start()
    w.go(at(1))
    [event] = w.backend.list_events()
    where = ["--workspace", str(tmp_path / "ws"), "--db", str(w.store.url)]
    env = _env(tmp_path / "state")
    for step in ("fixing", "recover"):
        assert run_opscenter("event", str(event.id), step, *where, env=env).returncode == 0
    again = run_opscenter("event", str(event.id), "ignore", *where, env=env)
    assert again.returncode == 3
    assert again.stderr == (
        f"refused: event #{event.id} is RECOVER: already recovered, it is finished and "
        "nothing more can be done to it\n"
    )
