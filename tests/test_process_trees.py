"""An attempt's whole process tree ends with it: what a node started in a session of its
own (``setsid``), or double-forked away from its script, does not outlive the attempt's end,
``stop``, ``freeze``, a timeout, the scheduler's SIGTERM, or the recovery after a kill -9 of
the scheduler; nor does it keep the attempt's log open.

Real bash and Python subprocesses, real `opscenter scheduler` processes; each test's
processes carry a ``sleep`` of a duration no other test uses, so they can be told apart.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import pytest

from opscenter.domain.model import NodeType
from opscenter.scheduler import procs
from opscenter.scheduler.executors import Executors, Job
from opscenter.scheduler.procs import tag_of
from tests.conftest import write_workspace
from tests.processes import eventually, kill_group, start_scheduler, verb, wait_for_words

pytestmark = pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="reads /proc")

DOUBLE_FORK = """\
import os, sys
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execvp("sleep", ["sleep", "{seconds}"])
    os._exit(0)
os.wait()
print("forked", flush=True)
{then}
"""


def sleeping(seconds: int) -> list[int]:
    """Live processes running ``sleep SECONDS`` (zombies waiting for a reaper are dead)."""
    wanted = f"sleep\0{seconds}\0".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes()
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if command == wanted and stat[stat.rindex(")") + 2] not in "ZX":
            found.append(int(entry.name))
    return found


def holders(paths: list[Path]) -> list[str]:
    """Processes with one of ``paths`` open, as 'pid: path'."""
    wanted = {str(p) for p in paths}
    held = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fds = list((entry / "fd").iterdir())
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target in wanted:
                held.append(f"{entry.name}: {target}")
    return held


@pytest.fixture
def markers() -> Iterator[list[int]]:
    """The sleep durations a test uses; whatever still sleeps them at the end is killed."""
    used: list[int] = []
    yield used
    for seconds in used:
        for pid in sleeping(seconds):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


# -- one attempt, run directly ---------------------------------------------------------------


def job(tmp_path: Path, node_type: NodeType, code: str) -> Job:
    return Job(
        instance_id=7,
        attempt=1,
        node="leaves_children",
        node_type=node_type,
        code=code,
        parameters={},
        cyctime=datetime(2025, 11, 1),
        bizdate=date(2025, 10, 31),
        triggered_by="scheduler",
        log_path=tmp_path / "logs" / "leaves_children.log",
    )


@pytest.fixture
def executors(tmp_path: Path) -> Iterator[Executors]:
    runner = Executors(tmp_path / "warehouse.duckdb", tmp_path / "landing", kill_grace=2)
    yield runner
    runner.close()


def gone(pid: int) -> bool:
    """Ended and reaped: not even a zombie is left of it."""
    return not Path(f"/proc/{pid}").exists()


def test_a_shell_nodes_setsid_child_ends_with_the_attempt(
    tmp_path: Path, executors: Executors, markers: list[int]
) -> None:
    markers.append(3002)
    script = """\
setsid sleep 3002 &
until [ "$(tr -d '\\0' < /proc/$!/cmdline)" = sleep3002 ]; do sleep 0.01; done
echo "orphan $!"
"""  # it waits until the child has its own session and sleeps, then ends
    attempt = job(tmp_path, NodeType.SHELL, script)
    outcome = executors.start(attempt).wait()
    assert outcome.success
    assert sleeping(3002) == []
    assert holders([attempt.log_path]) == []
    text = attempt.log_path.read_text()
    orphan = int(text.split("orphan ", 1)[1].split()[0])
    assert gone(orphan), "ended but left a zombie behind"
    assert "stopping background processes the script left running" in text


def test_a_setsid_child_ends_with_the_attempt_beside_other_children_of_the_scheduler(
    tmp_path: Path, executors: Executors, markers: list[int]
) -> None:
    """The scheduler's other children (another attempt's process, one it started itself)
    run meanwhile: the orphan is still told from them, by its attempt's tag."""
    markers += [3003, 3004]
    other = subprocess.Popen(["sleep", "3004"], start_new_session=True)
    try:
        script = """\
setsid sleep 3003 &
until [ "$(tr -d '\\0' < /proc/$!/cmdline)" = sleep3003 ]; do sleep 0.01; done
"""
        attempt = job(tmp_path, NodeType.SHELL, script)
        assert executors.start(attempt).wait().success
        assert sleeping(3003) == []
        assert "stopping background processes the script left running" in (
            attempt.log_path.read_text()
        )
        assert other.poll() is None, "a process of no attempt's was ended"
    finally:
        other.kill()
        other.wait()


def test_a_python_nodes_double_forked_daemon_ends_with_the_attempt(
    tmp_path: Path, executors: Executors, markers: list[int]
) -> None:
    markers.append(3003)
    code = DOUBLE_FORK.format(seconds=3003, then="")
    attempt = job(tmp_path, NodeType.PYTHON, code)
    outcome = executors.start(attempt).wait()
    assert outcome.success, attempt.log_path.read_text()
    assert sleeping(3003) == []
    assert holders([attempt.log_path]) == []


def test_a_failure_to_end_the_strays_keeps_the_scripts_own_success(
    tmp_path: Path, executors: Executors, markers: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The script succeeded: a broken clean-up after it is told in its log, and does not
    turn the attempt into a failure that a retry would run again."""
    markers.append(3009)
    script = """\
setsid sleep 3009 &
until [ "$(tr -d '\\0' < /proc/$!/cmdline)" = sleep3009 ]; do sleep 0.01; done
"""

    def broken(*_args: object, **_kwargs: object) -> list[int]:
        raise RuntimeError("cannot list processes")  # a fault no real /proc read gives at will

    monkeypatch.setattr(procs, "live_members", broken)
    attempt = job(tmp_path, NodeType.SHELL, script)
    outcome = executors.start(attempt).wait()
    assert outcome.success, attempt.log_path.read_text()
    text = attempt.log_path.read_text()
    assert "cannot end the processes the script left running: cannot list processes" in text
    assert "finished: exit code 0" in text


def test_stop_ends_a_grandchild_in_a_session_of_its_own(
    tmp_path: Path, executors: Executors, markers: list[int]
) -> None:
    markers += [3004, 3005]
    code = DOUBLE_FORK.format(seconds=3004, then="import time; time.sleep(3005)")
    attempt = job(tmp_path, NodeType.PYTHON, code)
    execution = executors.start(attempt)
    assert eventually(lambda: "forked" in attempt.log_path.read_text(), 20)
    assert sleeping(3004)
    execution.kill("stopped by alice")
    outcome = execution.wait()
    assert outcome.reason == "stopped by alice"
    assert sleeping(3004) == []
    assert holders([attempt.log_path]) == []


def test_stop_ends_a_child_that_left_both_the_session_and_the_environment(
    tmp_path: Path, executors: Executors, markers: list[int]
) -> None:
    markers += [3016, 3017]
    script = """\
setsid env -i sleep 3016 &
until [ "$(tr -d '\\0' < /proc/$!/cmdline)" = sleep3016 ]; do sleep 0.01; done
echo ready
sleep 3017
"""  # found through its parent, the script, which still runs when it is stopped
    attempt = job(tmp_path, NodeType.SHELL, script)
    execution = executors.start(attempt)
    assert eventually(lambda: "ready" in attempt.log_path.read_text(), 20)
    execution.kill("stopped by alice")
    assert execution.wait().reason == "stopped by alice"
    assert sleeping(3016) == [] and sleeping(3017) == []
    assert holders([attempt.log_path]) == []


# -- a real scheduler --------------------------------------------------------------------------


def node_workspace(folder: Path, code: str, extra: str = "") -> Path:
    return write_workspace(
        folder,
        f"""
        workspace: {{name: trees, timezone: UTC}}
        nodes:
          - name: leaves_children
            type: shell
            trigger: {{cron: "00 00 00 * * ?"}}
            code: '{code}'
            {extra}
        """,
    )


class Scene:
    """A workspace of one shell node that leaves a setsid'd ``sleep`` behind, and a scheduler
    running it; ``markers`` are the node's ``sleep`` durations: the orphan's, the script's."""

    def __init__(self, tmp_path: Path, orphan: int, script: int, extra: str = "") -> None:
        self.tmp = tmp_path
        self.orphan = orphan
        code = f"setsid sleep {orphan} & sleep {script}"
        self.folder = node_workspace(tmp_path / "ws", code, extra)
        self.url = f"sqlite:///{tmp_path / 'state.db'}"
        self.log = tmp_path / "scheduler.log"
        self.id = 0

    def start(self, *more: str) -> subprocess.Popen[bytes]:
        process = start_scheduler(
            ["--workspace", str(self.folder), "--db", self.url, *more], self.log
        )
        wait_for_words(self.log, "holds the lease", 60, process)
        return process

    def instances(self) -> list[dict[str, object]]:
        out = verb(self.url, self.folder, "instances", "--all-dates", "--json")
        assert out.returncode == 0, out.stderr
        return list(json.loads(out.stdout)["items"])

    def status(self) -> str:
        return next(str(i["status"]) for i in self.instances() if i["id"] == self.id)

    def wait_running(self) -> None:
        """Until the node's first instance runs, with its setsid'd child started."""

        def running() -> bool:
            ids = [int(str(i["id"])) for i in self.instances() if i["status"] == "RUNNING"]
            self.id = ids[0] if ids else 0
            return bool(ids)

        assert eventually(running, 30)
        assert eventually(lambda: bool(sleeping(self.orphan)), 30), "the orphan never started"

    def wait_status(self, status: str) -> None:
        assert eventually(lambda: self.status() == status, 30), self.instances()

    def node_logs(self) -> list[Path]:
        return [p for p in self.tmp.rglob("*.log") if "logs" in p.relative_to(self.tmp).parts]

    def assert_tree_ended(self) -> None:
        assert eventually(lambda: not sleeping(self.orphan), 10), "the setsid'd child survived"
        assert self.node_logs()
        assert holders(self.node_logs()) == []


def stopped(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


@pytest.mark.parametrize("action, status", [("stop", "FAILURE"), ("freeze", "FROZEN")])
def test_stop_and_freeze_end_the_whole_tree(
    tmp_path: Path, markers: list[int], action: str, status: str
) -> None:
    orphan = 3006 if action == "stop" else 3008
    markers += [orphan, orphan + 1]
    scene = Scene(tmp_path, orphan, orphan + 1)
    scheduler = scene.start()
    try:
        scene.wait_running()
        done = verb(scene.url, scene.folder, action, str(scene.id))
        assert done.returncode == 0, done.stderr
        scene.wait_status(status)
        scene.assert_tree_ended()
    finally:
        stopped(scheduler)


def test_a_timeout_ends_the_whole_tree(tmp_path: Path, markers: list[int]) -> None:
    markers += [3010, 3011]
    scene = Scene(tmp_path, 3010, 3011, extra="timeout: 1")
    scheduler = scene.start("--speed", "20")  # the minute's timeout comes in 3 s
    try:
        assert eventually(lambda: bool(sleeping(3010)), 30), "the orphan never started"

        def failed() -> bool:  # too soon to be sure to see it RUNNING on a busy machine
            ids = [int(str(i["id"])) for i in scene.instances() if i["status"] == "FAILURE"]
            scene.id = ids[0] if ids else 0
            return bool(ids)

        assert eventually(failed, 30), scene.instances()
        why = verb(scene.url, scene.folder, "why", str(scene.id))
        assert "timed out after 1 minutes" in why.stdout, why.stdout
        scene.assert_tree_ended()
    finally:
        stopped(scheduler)


def test_the_schedulers_sigterm_ends_the_whole_tree(tmp_path: Path, markers: list[int]) -> None:
    markers += [3012, 3013]
    scene = Scene(tmp_path, 3012, 3013)
    scheduler = scene.start()
    try:
        scene.wait_running()
        scheduler.send_signal(signal.SIGTERM)
        assert scheduler.wait(timeout=30) == 0
        scene.assert_tree_ended()
    finally:
        stopped(scheduler)


def test_recovery_after_kill_9_ends_the_dead_schedulers_trees(
    tmp_path: Path, markers: list[int]
) -> None:
    markers += [3014, 3015]
    scene = Scene(tmp_path, 3014, 3015)
    first = scene.start()
    second = None
    try:
        scene.wait_running()
        kill_group(first)  # the scheduler dies; its attempt's processes do not
        assert sleeping(3014) and sleeping(3015)
        second = scene.start()
        scene.wait_status("FAILURE")
        scene.assert_tree_ended()
        assert not sleeping(3015)
    finally:
        stopped(first)
        if second is not None:
            stopped(second)


def test_an_environment_read_as_the_process_is_exec_d_is_no_attempt_and_no_error() -> None:
    """/proc/<pid>/environ read while a node's process is being started can end mid-variable;
    that cut entry failed an unrelated attempt ('executor error: dictionary update sequence
    element #5 has length 1') as its tree was searched."""
    whole = b"PATH=/bin\0OPSCENTER_LANDING=/l\0OPSCENTER_INSTANCE_ID=7\0OPSCENTER_ATTEMPT=2\0"
    assert tag_of(whole) == ("/l", 7, 2)
    assert tag_of(b"PATH=/bin\0OPSCENTER_LANDING=/l\0OPSCENTER_INSTANCE_ID=7\0OPSCENTER_AT") is None
    assert tag_of(b"PATH=/bin\0OPSCENTER_LAND") is None
