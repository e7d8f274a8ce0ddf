"""What the scheduler and its nodes write is the owner's alone, under the common umask 022:
the warehouse and the run history with their write-ahead logs (which DuckDB makes by the
umask, at the first write after each checkpoint), and the files and folders node code
writes in the landing folder.

A real `opscenter scheduler` process, a real SQL node on DuckDB and a real shell node; the
modes are read while the scheduler still holds its DuckDB files, since closing them
checkpoints the write-ahead logs away.
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import write_workspace
from tests.processes import eventually, start_scheduler, wait_for_words

WORKSPACE = """
workspace: {name: modes, timezone: UTC}
nodes:
  - name: land
    type: shell
    trigger: {cron: "00 00 00 * * ?"}
    code: "mkdir -p sub && echo a > out.csv && echo b > sub/inner.csv"
  - name: load
    type: sql
    trigger: {cron: "00 00 00 * * ?"}
    code: "CREATE OR REPLACE TABLE t AS SELECT * FROM read_csv('out.csv', header=false)"
    depends: [land]
"""


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def until_exists(path: Path, seconds: float = 60) -> Path:
    assert eventually(path.exists, seconds), f"{path} never appeared"
    return path


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Path]:
    """A scheduler started under umask 022 that has run both nodes; yields its store's folder."""
    folder = write_workspace(tmp_path / "ws", WORKSPACE)
    state = tmp_path / "state"
    log = tmp_path / "scheduler.log"
    previous = os.umask(0o022)  # the scheduler inherits the common umask
    try:
        process = start_scheduler(
            ["--workspace", str(folder), "--db", f"sqlite:///{state / 'state.db'}"], log
        )
    finally:
        os.umask(previous)
    try:
        wait_for_words(log, "holds the lease", 60, process)
        yield state
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_duckdb_files_and_their_write_ahead_logs_are_owner_only(running: Path) -> None:
    warehouse = until_exists(running / "warehouse.duckdb.wal")  # the SQL node wrote
    history = until_exists(running / "history.duckdb.wal")
    wrong = {
        str(path.relative_to(running)): oct(mode(path))
        for path in (
            running / "warehouse.duckdb",
            warehouse,
            running / "history.duckdb",
            history,
        )
        if mode(path) != 0o600
    }
    assert not wrong, wrong


def test_what_nodes_write_in_the_landing_folder_is_owner_only(running: Path) -> None:
    landing = running / "landing"
    inner = until_exists(landing / "sub" / "inner.csv")
    until_exists(running / "warehouse.duckdb.wal")  # the SQL node read what was landed
    modes = {
        "out.csv": oct(mode(landing / "out.csv")),
        "sub": oct(mode(landing / "sub")),
        "sub/inner.csv": oct(mode(inner)),
    }
    assert modes == {"out.csv": "0o600", "sub": "0o700", "sub/inner.csv": "0o600"}
