"""A store deleted or replaced under a running scheduler (issue 18.1).

`rm state.db*` under a scheduler used to leave it running on the deleted file while a new
store appeared at the path, and a second scheduler there ran the same nodes into the same
landing folder at the same time. Now the scheduler notices within seconds that the file at
its store's path is gone or another one, ends its attempts' processes, says why and exits
non-zero; the console's embedded scheduler shows the failure. Real schedulers, real
SQLite files, real node processes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from opscenter.scheduler.daemon import SchedulerThread, run_scheduler
from opscenter.scheduler.worldclock import ClockPlan
from opscenter.store.db import open_store
from opscenter.store.identity import StoreChanged, store_files
from tests.conftest import deploy_folder, write_workspace
from tests.processes import alive, eventually, kill_group, start_scheduler, wait_for_words

pytestmark = pytest.mark.slow

NOTICE = 10.0  # "within seconds": from the change to the scheduler's exit, on a busy machine

# The node's long-running process writes its pid to the landing folder; every process of an
# attempt holds a lock there, so a second one of the same node finding it held (while the
# first still runs after NOTICE seconds) writes to TWICE.
LONG = (
    'exec 9>>"$OPSCENTER_LANDING/long.lock"; '
    'flock -w 10 9 || echo "attempt of $OPSCENTER_INSTANCE_ID" >> "$OPSCENTER_LANDING/TWICE"; '
    'echo started >> "$OPSCENTER_LANDING/starts"; '
    'sleep 3003 & echo $! > "$OPSCENTER_LANDING/sleep.pid"; wait'
)


def long_workspace(folder: Path) -> Path:
    return write_workspace(
        folder,
        f"""
        workspace: {{name: doomed, timezone: UTC}}
        nodes:
          - name: long
            type: shell
            trigger: {{cron: "00 00 00 * * ?"}}
            code: '{LONG}'
        """,
    )


class Scene:
    """A workspace, a store at ``store/state.db`` and its landing folder beside it."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp = tmp_path
        self.folder = long_workspace(tmp_path / "ws")
        self.db = tmp_path / "store" / "state.db"
        self.landing = self.db.parent / "landing"
        self.args = ["--workspace", str(self.folder), "--db", f"sqlite:///{self.db}"]
        self.started: list[subprocess.Popen] = []
        self.sleepers: list[int] = []

    def scheduler(self, log: str) -> subprocess.Popen:
        process = start_scheduler(self.args, self.tmp / log)
        self.started.append(process)
        return process

    def sleeper(self, seconds: float = 60) -> int:
        """The pid of the node's `sleep 3003`, once it runs."""
        pid_file = self.landing / "sleep.pid"
        started = eventually(
            lambda: pid_file.exists() and pid_file.read_text().strip().isdigit(), seconds
        )
        assert started, f"the node did not start within {seconds} s"
        pid = int(pid_file.read_text())
        self.sleepers.append(pid)
        assert alive(pid)
        return pid

    def remove_store(self) -> None:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.db}{suffix}").unlink(missing_ok=True)


@pytest.fixture
def scene(tmp_path: Path) -> Iterator[Scene]:
    made = Scene(tmp_path)
    try:
        yield made
    finally:
        for process in made.started:
            if process.poll() is None:
                kill_group(process)
        for pid in made.sleepers:  # a node's process left behind (before the fix)
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


def ended_within(process: subprocess.Popen, seconds: float) -> int:
    try:
        return process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the scheduler still runs {seconds} s after its store changed")


def test_a_deleted_store_stops_the_scheduler_and_ends_its_attempts(scene: Scene) -> None:
    first = scene.scheduler("first.log")
    wait_for_words(scene.tmp / "first.log", "holds the lease", 60, first)
    sleeper = scene.sleeper()

    scene.remove_store()  # rm state.db*
    code = ended_within(first, NOTICE)

    said = (scene.tmp / "first.log").read_text()
    assert code != 0, said
    assert f"the store {scene.db} was deleted or moved away" in said
    assert eventually(lambda: not alive(sleeper), 5), "the node's process outlived its scheduler"
    assert not scene.db.exists(), "the scheduler made a new store at the deleted one's path"


def test_a_store_replaced_by_another_file_stops_the_scheduler(scene: Scene) -> None:
    first = scene.scheduler("first.log")
    wait_for_words(scene.tmp / "first.log", "holds the lease", 60, first)
    sleeper = scene.sleeper()

    other = scene.db.with_name("other.db")
    other.write_bytes(scene.db.read_bytes())  # a copy, say a backup restored over it
    os.replace(other, scene.db)
    code = ended_within(first, NOTICE)

    said = (scene.tmp / "first.log").read_text()
    assert code != 0, said
    assert f"the store {scene.db} was replaced by another file" in said
    assert eventually(lambda: not alive(sleeper), 5), "the node's process outlived its scheduler"


@pytest.mark.parametrize(
    ("suffix", "named"), [("-wal", "write-ahead log"), ("-shm", "shared-memory index")]
)
def test_a_deleted_wal_or_shm_alone_splits_the_store_and_stops_the_scheduler(
    scene: Scene, suffix: str, named: str
) -> None:
    """Every other process would then fail with a disk I/O error (no -wal) or miss the
    scheduler's writes (a new -shm): the store is as broken as if it were deleted."""
    first = scene.scheduler("first.log")
    wait_for_words(scene.tmp / "first.log", "holds the lease", 60, first)
    sleeper = scene.sleeper()

    Path(f"{scene.db}{suffix}").unlink()
    code = ended_within(first, NOTICE)

    said = (scene.tmp / "first.log").read_text()
    assert code != 0, said
    assert f"the store's {named} {scene.db}{suffix} was deleted or moved away" in said
    assert eventually(lambda: not alive(sleeper), 5), "the node's process outlived its scheduler"


def test_a_second_scheduler_on_the_new_store_never_runs_alongside_the_old(scene: Scene) -> None:
    first = scene.scheduler("first.log")
    wait_for_words(scene.tmp / "first.log", "holds the lease", 60, first)
    old = scene.sleeper()

    scene.remove_store()
    (scene.landing / "sleep.pid").unlink()
    second = scene.scheduler("second.log")  # at once: a new store appears at the path
    wait_for_words(scene.tmp / "second.log", "holds the lease", 60, second)
    new = scene.sleeper()

    assert ended_within(first, NOTICE) != 0
    assert not alive(old)
    assert new != old and alive(new) and second.poll() is None
    assert not (scene.landing / "TWICE").exists(), "both schedulers ran the node at once"
    assert (scene.landing / "starts").read_text().count("started") == 2


def test_the_console_shows_its_scheduler_failed_when_the_store_is_deleted(
    scene: Scene, store: Engine
) -> None:
    deployed = deploy_folder(store, scene.folder)
    scene.db = Path(str(store.url.database))
    scene.landing = scene.db.parent / "data" / "landing"
    thread = SchedulerThread(store, deployed.workspace_id, ClockPlan())
    thread.start()
    try:
        thread.wait_started()
        assert thread.state == "lead"
        sleeper = scene.sleeper()

        scene.remove_store()
        assert eventually(lambda: thread.state == "failed", NOTICE), f"state {thread.state}"

        assert thread.describe().startswith(
            f"✗ failed: the store {scene.db} was deleted or moved away"
        )
        assert eventually(lambda: not alive(sleeper), 5), (
            "the node's process outlived its scheduler"
        )
        assert not scene.db.exists()
    finally:
        thread.stop()


def test_a_watched_store_is_not_made_anew_at_its_deleted_path(tmp_path: Path) -> None:
    """SQLite creates a missing database file on connect: a scheduler needing one more
    connection after `rm state.db*` would have made an empty store for others to find."""
    path = tmp_path / "state.db"
    db = open_store(f"sqlite:///{path}")
    assert store_files(db) is not None
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink()
    db.dispose()  # the pool's open connections closed: the next one is new

    with pytest.raises(StoreChanged, match=f"the store {path} was deleted or moved away"):
        db.connect()
    assert not path.exists()


def test_only_sqlite_files_have_an_identity_to_watch(tmp_path: Path) -> None:
    assert store_files(open_store("sqlite:///:memory:")) is None


def test_a_scheduler_that_fails_leaves_no_watch_behind(tmp_path: Path) -> None:
    """A scheduler that fails (here: its workspace is not in the store) ends its store watch
    with it, rather than leaving it to look at the files, and later say it is stopping
    attempts, for the life of the process (a console whose scheduler thread failed)."""
    db = open_store(f"sqlite:///{tmp_path / 'state.db'}")
    with pytest.raises(Exception):  # noqa: B017, PT011 - how it fails is not the point
        run_scheduler(db, 999, ClockPlan(speed=1), threading.Event(), say=lambda _text: None)
    deadline = time.monotonic() + 5
    while any(t.name == "store-watch" for t in threading.enumerate()):
        assert time.monotonic() < deadline, "the store watch outlived its scheduler"
        time.sleep(0.05)
    db.dispose()
