"""A run history that cannot be written when a scheduler starts and catches it up with the
store's earlier successes (its file lost, its folder gone, a full disk) does not stop the
scheduler: as mid-run, it says so once, keeps the history in memory, and runs the day."""

from __future__ import annotations

import signal
from pathlib import Path

from tests.conftest import write_workspace
from tests.processes import eventually, start_scheduler, wait_for_words
from tests.test_outside_failures import succeeded

WORKSPACE = """
workspace: {name: hist, timezone: UTC}
nodes:
  - {name: job, type: shell, code: "echo ran", trigger: {cron: "00 00 00 * * ?"}}
"""


def test_a_history_that_cannot_catch_up_at_start_is_kept_in_memory(tmp_path: Path) -> None:
    folder = write_workspace(tmp_path / "ws", WORKSPACE)
    state = tmp_path / "state"
    url = f"sqlite:///{state / 'state.db'}"
    args = ["--workspace", str(folder), "--db", url]
    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"
    first = start_scheduler(args, first_log)
    try:
        assert eventually(lambda: succeeded(state / "state.db", "job"), 60), first_log.read_text()
    finally:
        first.send_signal(signal.SIGTERM)
        first.wait(timeout=30)
    history = state / "history.duckdb"
    for made in state.glob("history.duckdb*"):
        made.unlink()
    history.symlink_to(tmp_path / "gone" / "history.duckdb")  # its folder is not there

    second = start_scheduler(args, second_log)
    try:
        wait_for_words(second_log, "holds the lease", 60, second)
        wait_for_words(second_log, "keeping it in memory, rebuilt from the store", 30, second)
        assert second.poll() is None, second_log.read_text()
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=30)
    said = second_log.read_text()
    assert second.returncode == 0 and "Traceback" not in said, said
    assert f"run history {history} is unavailable" in said
