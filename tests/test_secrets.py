"""The operator's credentials are out of reach of node code (issue 18, must-have 2).

A node is the workspace author's code, run as the operator's user: it can read
/proc/<pid>/environ of its scheduler (or of any process of that user), which shows the
environment the process was started with whatever Python later removed from os.environ.
So a scheduler, a console running one, and the emulator, started with access keys in
their environment (or, for the emulator, on its command line, which every user sees),
must not hold them where a node looks; and to an unprivileged operator's nodes the
process running them is closed altogether (root still reads everything, and finds no
credential there either). Real processes, real nodes.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from opscenter import secrets
from opscenter.backends.dataworks.client import ApiError, Credentials, DataWorksClient
from opscenter.cli import main
from opscenter.scheduler.processes import OPERATOR_SECRETS
from tests import test_dataworks_emulator as emulated
from tests.conftest import write_workspace
from tests.harness import MakeWorld, at
from tests.processes import console_in_a_terminal, read_until, run_opscenter

KEY_ID = "LTAI5tSecretsTestKey"
START = "2030-01-05 00:29:40"  # ten simulated seconds before the nodes' 00:30
SPEED = "30"
DEADLINE = 60.0
# root without capabilities: as any unprivileged user, it may read only the /proc entries
# of its own user's processes that are not closed to it
UNPRIVILEGED = ["setpriv", "--bounding-set=-all", "--inh-caps=-all", "--ambient-caps=-all"]

# Every ancestor of the node (its scheduler first), as node code could read it: each one's
# environment and command line, into the landing folder and the attempt's log.
WALK = """\
seen="$OPSCENTER_LANDING/seen.txt"
tr '\\0' '\\n' < /proc/$PPID/environ
pid=$PPID
while [ "$pid" -gt 1 ]; do
  echo "pid $pid" >> "$seen"
  { tr '\\0' '\\n' < /proc/$pid/environ; } >> "$seen" 2>&1
  { tr '\\0' ' ' < /proc/$pid/cmdline; } >> "$seen" 2>&1
  echo >> "$seen"
  pid=$(awk '/^PPid:/ {print $2}' /proc/$pid/status)
done
echo walked >> "$seen"
"""

# The scheduler's whole memory, searched for the marker (spelt backwards here, so that
# this code, which the scheduler holds too, does not hold it).
SCAN = """\
import os

wanted = {backwards!r}[::-1].encode()
parent, chunk, found, scanned = os.getppid(), 1 << 20, 0, 0
try:
    with open(f"/proc/{{parent}}/maps") as maps, open(f"/proc/{{parent}}/mem", "rb", 0) as mem:
        for line in maps:
            span, perms = line.split()[:2]
            start, end = (int(x, 16) for x in span.split("-"))
            for at in range(start, end, chunk) if perms.startswith("r") else ():
                try:
                    mem.seek(at)
                    data = mem.read(min(chunk + len(wanted), end - at))
                except (OSError, ValueError, OverflowError):
                    break
                scanned += len(data)
                found += data.count(wanted)
    result = f"scanned {{scanned}} found {{found}}"
except OSError as error:
    result = f"unreadable {{error.strerror}}"
with open(os.path.join(os.environ["OPSCENTER_LANDING"], "memory.txt"), "w") as out:
    out.write(result)
"""


def workspace(folder: Path, marker: str) -> Path:
    return write_workspace(
        folder,
        """
        workspace: {name: keys, timezone: UTC}
        nodes:
          - {name: walk, type: shell, file: walk.sh, trigger: {cron: "00 30 00 * * ?"}}
          - {name: scan, type: python, file: scan.py, trigger: {cron: "00 30 00 * * ?"}}
        """,
        {"walk.sh": WALK, "scan.py": SCAN.format(backwards=marker[::-1])},
    )


def operator_environment(tmp_path: Path, marker: str) -> dict[str, str]:
    """The test's environment with no real credentials, and every operator secret set to
    ``marker`` (the key ids too: they are credentials as well)."""
    env = {k: v for k, v in os.environ.items() if k not in OPERATOR_SECRETS}
    return {
        **env,
        **dict.fromkeys(OPERATOR_SECRETS, marker),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "OPSCENTER_HARMLESS_MARKER": "visible-marker",
    }


def read_back(tmp_path: Path, meanwhile: Callable[[], None] = lambda: None) -> tuple[str, str, str]:
    """(the ancestors' walk, the memory scan, every log) once both nodes are done;
    ``meanwhile`` runs at each look (to check on the process, or read its screen)."""
    deadline = time.monotonic() + DEADLINE
    while True:
        meanwhile()
        seen = next(tmp_path.rglob("seen.txt"), None)
        memory = next(tmp_path.rglob("memory.txt"), None)
        if seen and memory and "walked" in seen.read_text():
            logs = [p.read_text(errors="replace") for p in tmp_path.rglob("*.log")]
            return seen.read_text(errors="replace"), memory.read_text(), "\n".join(logs)
        assert time.monotonic() < deadline, "the nodes never finished"
        time.sleep(0.2)


def assert_unseen(
    marker: str, walked: str, memory: str, logs: str, runner: int, privileged: bool
) -> None:
    """The walk went through the process running the nodes, and no credential is in what
    it read or in that process's memory: a privileged node (root) reads it all, any other
    nothing, the process being closed to the rest of its user's processes."""
    assert f"pid {runner}\n" in walked
    assert marker not in walked + logs
    there = walked.split(f"pid {runner}\n", 1)[1].splitlines()[0]
    if privileged:
        assert "OPSCENTER_HARMLESS_MARKER=visible-marker" in walked
        assert memory.startswith("scanned ") and memory.endswith(" found 0"), memory
        assert not memory.startswith("scanned 0 ")
    else:
        assert "Permission denied" in there, there
        assert memory.startswith("unreadable"), memory


@pytest.mark.parametrize("privileged", [True, False], ids=["as-root", "unprivileged"])
def test_a_node_cannot_read_its_schedulers_credentials(tmp_path: Path, privileged: bool) -> None:
    """Run as root a node sees all of its scheduler, which holds no credential; run by an
    unprivileged operator (root without capabilities is one too) it sees nothing of it."""
    root = os.geteuid() == 0
    if privileged and not root:
        pytest.skip("only root is privileged here")
    if not privileged and root and not shutil.which("setpriv"):
        pytest.skip("setpriv is needed to give up root's capabilities")
    as_user = [] if privileged or not root else UNPRIVILEGED
    marker = f"marker-{uuid.uuid4().hex}"
    folder = workspace(tmp_path / "ws", marker)
    env = operator_environment(tmp_path, marker)
    url = f"sqlite:///{tmp_path / 'state.db'}"
    log = tmp_path / "scheduler.log"
    with log.open("w") as out:
        scheduler = subprocess.Popen(
            [*as_user, sys.executable, "-m", "opscenter", "scheduler", "--workspace", str(folder)]
            + ["--db", url, "--speed", SPEED, "--start", START],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    try:
        walked, memory, logs = read_back(tmp_path, lambda: alive(scheduler, log))
        assert_unseen(marker, walked, memory, logs, scheduler.pid, privileged)
    finally:
        scheduler.terminate()
        scheduler.wait(timeout=30)
    assert "Traceback" not in log.read_text() and marker not in log.read_text()


def alive(process: subprocess.Popen, log: Path) -> None:
    assert process.poll() is None, f"it ended:\n{log.read_text()[-3000:]}"


def test_a_node_cannot_read_the_credentials_of_a_console_running_its_scheduler(
    tmp_path: Path,
) -> None:
    marker = f"marker-{uuid.uuid4().hex}"
    folder = workspace(tmp_path / "ws", marker)
    env = operator_environment(tmp_path, marker)
    url = f"sqlite:///{tmp_path / 'state.db'}"
    args = ["--workspace", str(folder), "--db", url, "--speed", SPEED, "--start", START]
    with console_in_a_terminal(args, env) as (terminal, console):
        assert isinstance(console, subprocess.Popen)

        def alive_and_drained() -> None:
            assert console.poll() is None, "the console ended"
            drain(terminal)

        walked, memory, logs = read_back(tmp_path, alive_and_drained)
        assert_unseen(marker, walked, memory, logs, console.pid, os.geteuid() == 0)
        quit_console(terminal, console)


def quit_console(terminal: int, console: subprocess.Popen) -> None:
    """`q`, and the console ends well, its screen read meanwhile."""
    os.write(terminal, b"q")
    deadline = time.monotonic() + DEADLINE
    while console.poll() is None:
        assert time.monotonic() < deadline, "q did not close the console"
        select.select([terminal], [], [], 0.2)
        drain(terminal)
    assert console.returncode == 0


def drain(terminal: int) -> None:
    """Read what the console drew: one whose screen nobody reads would block on writing."""
    while select.select([terminal], [], [], 0)[0]:
        try:
            os.read(terminal, 65536)
        except OSError:  # the console closed its side
            return


@pytest.mark.parametrize(
    "given",
    [[], ["--access-key-secret", "{}"], ["--access-key-s={}"]],
    ids=["environment", "option", "abbreviated-option"],
)
def test_the_emulators_key_is_out_of_sight_and_still_verifies(
    tmp_path: Path, given: list[str]
) -> None:
    """From the environment or the command line (which ps shows to every user), the key
    is nowhere another process can read it, and a client signing with it is served; an
    option wins over the environment, as before."""
    marker = f"marker-{uuid.uuid4().hex}"
    overruled = f"overruled-{uuid.uuid4().hex}"
    folder = workspace(tmp_path / "ws", marker)
    env = operator_environment(tmp_path, marker) | {
        "OPSCENTER_EMULATOR_ACCESS_KEY_ID": KEY_ID,
        "OPSCENTER_EMULATOR_ACCESS_KEY_SECRET": overruled if given else marker,
    }
    url = f"sqlite:///{tmp_path / 'state.db'}"
    deployed = run_opscenter("deploy", str(folder), "--db", url, "--json", env=env)
    assert deployed.returncode == 0, deployed.stderr
    project = json.loads(deployed.stdout)["workspace_id"]
    log = tmp_path / "emulator.log"
    with log.open("w") as out:
        emulator = subprocess.Popen(
            [sys.executable, "-m", "opscenter", "emulate", "--workspace", str(folder)]
            + ["--db", url, "--port", "0", *(word.format(marker) for word in given)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    try:
        endpoint = serving_at(log, emulator)
        # what any process of the operator's user (a node among them) can read of it
        seen = Path(f"/proc/{emulator.pid}/environ").read_bytes()
        seen += Path(f"/proc/{emulator.pid}/cmdline").read_bytes()
        assert b"PATH=" in seen and b"--port" in seen  # both were read
        assert marker.encode() not in seen and overruled.encode() not in seen
        with DataWorksClient(Credentials(KEY_ID, marker), endpoint) as client:
            answer = client.call("GetProject", {"Id": project})
        assert answer["Project"]["Name"] == "keys"
        wrong = Credentials(KEY_ID, "not-the-secret")
        with DataWorksClient(wrong, endpoint) as client, pytest.raises(ApiError) as refused:
            client.call("GetProject", {"Id": project})
        assert refused.value.code == "SignatureDoesNotMatch"
    finally:
        emulator.terminate()
        emulator.wait(timeout=30)
    assert marker not in log.read_text() and overruled not in log.read_text()


def serving_at(log: Path, process: subprocess.Popen) -> str:
    """The URL the emulator said it serves on."""
    deadline = time.monotonic() + DEADLINE
    while " on http://" not in (said := log.read_text()):
        assert process.poll() is None, f"the emulator ended:\n{said}"
        assert time.monotonic() < deadline, f"the emulator never served:\n{said}"
        time.sleep(0.1)
    return said.split(" on ", 1)[1].split()[0]


def test_a_console_over_dataworks_keeps_its_credentials_out_of_its_environment(
    world: MakeWorld, tmp_path: Path
) -> None:
    """A console lives for hours beside the operator's schedulers: over DataWorks it signs
    with the access key it was started with, which no other process can read of it."""
    scene = world(emulated.WORKSPACE).start()
    scene.go(at(2))
    plain = {k: v for k, v in os.environ.items() if k not in OPERATOR_SECRETS}
    env = plain | {
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "ALIBABA_CLOUD_ACCESS_KEY_ID": emulated.KEY_ID,
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET": emulated.SECRET,
    }
    with emulated.serving(scene) as url:
        args = ["--backend", "dataworks", "--endpoint", url, "--timezone", "UTC"]
        args += ["--workspace-id", str(scene.workspace_id)]
        with console_in_a_terminal(args, env) as (terminal, console):
            assert isinstance(console, subprocess.Popen)
            # the workspace's name, which the console could only read with a good signature
            screen = read_until(terminal, [b"ws \xc2\xb7 dataworks"], DEADLINE)
            assert b"ws \xc2\xb7 dataworks" in screen, screen[-2000:]
            seen = Path(f"/proc/{console.pid}/environ").read_bytes()
            seen += Path(f"/proc/{console.pid}/cmdline").read_bytes()
            assert b"PATH=" in seen and b"dataworks" in seen  # both were read
            assert emulated.SECRET.encode() not in seen and emulated.KEY_ID.encode() not in seen
            quit_console(terminal, console)


@pytest.mark.parametrize("value", ["x", "-1", "99999", "terminal"])
def test_a_stray_handover_variable_is_refused_with_a_reason(
    value: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """OPSCENTER_SECRETS_FD is opscenter's own, between a process and itself started again:
    one set by hand is refused, never read: not even waited on, naming a terminal."""
    master, terminal = os.openpty()
    try:
        monkeypatch.setenv(secrets.HANDOVER, str(terminal) if value == "terminal" else value)
        assert main(["status", "--workspace", "nowhere"]) == 2
    finally:
        os.close(master)
        with contextlib.suppress(OSError):  # had it been read, it would be closed already
            os.close(terminal)
    assert "OPSCENTER_SECRETS_FD is opscenter's own" in capsys.readouterr().err
