"""One temporary folder and every process started in it, ended and removed whatever happens.

Every process the bench starts gets ``XDG_CONFIG_HOME`` pointing into the sandbox, and
node processes get ``OPSCENTER_LANDING`` inside it; at the end any live process whose
environment names the sandbox is killed by its pid (a node's setsid grandchild included),
mounts made here are undone, modes made read-only are restored, and the folder goes.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOCUMENTED_EXITS = frozenset({0, 1, 2, 3, 4, 130})  # README: "Exit status"
SECRET_NAMES = ("ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET")


@dataclass
class Ran:
    """A finished command: its exit code (None: it hung and was killed), output and time."""

    argv: list[str]
    code: int | None
    out: str
    err: str
    seconds: float

    @property
    def traceback(self) -> bool:
        return "Traceback (most recent call last)" in self.err + self.out

    @property
    def undocumented(self) -> bool:
        return self.code is None or self.code not in DOCUMENTED_EXITS


class Sandbox:
    """The bench's temporary world: a folder, an environment, and the processes started."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="opscenter-adversarial-"))
        self.started: list[subprocess.Popen] = []
        self.mounts: list[Path] = []
        self.closed = False  # set first thing by close(): nothing new starts after it
        self._mark = f"XDG_CONFIG_HOME={self.root / 'config'}".encode()

    def env(self, **extra: str) -> dict[str, str]:
        """The environment of every opscenter process: no personal config, no credentials."""
        env = {k: v for k, v in os.environ.items() if k not in SECRET_NAMES}
        env.pop("OPSCENTER_CONFIG", None)
        env.update(
            XDG_CONFIG_HOME=str(self.root / "config"),
            XDG_STATE_HOME=str(self.root / "xdg-state"),
            NO_COLOR="1",
            PYTHONUNBUFFERED="1",
        )
        env.update(extra)
        return env

    def folder(self, name: str) -> Path:
        path = self.root / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def spawn(
        self, argv: list[str], log: Path, env: dict[str, str] | None = None
    ) -> subprocess.Popen:
        """``argv`` in a session of its own, output appended to ``log``; ended at close."""
        self._open()
        with log.open("a") as out:
            process = subprocess.Popen(
                argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env or self.env(),
                cwd=REPO,
                start_new_session=True,
            )
        self.started.append(process)
        return process

    def opscenter(self, *args: str, log: Path, env: dict[str, str] | None = None):  # noqa: ANN201
        return self.spawn([sys.executable, "-m", "opscenter", *args], log, env)

    def run(
        self,
        argv: list[str],
        *,
        timeout: float = 60,
        env: dict[str, str] | None = None,
        opscenter: bool = True,
    ) -> Ran:
        """Run to the end (or kill its group after ``timeout``: code None)."""
        self._open()
        full = [sys.executable, "-m", "opscenter", *argv] if opscenter else argv
        began = time.monotonic()
        process = subprocess.Popen(
            full,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            env=env or self.env(),
            cwd=REPO,
            start_new_session=True,
        )
        self.started.append(process)
        try:
            out, err = process.communicate(timeout=timeout)
            code: int | None = process.returncode
        except subprocess.TimeoutExpired:
            kill_group(process)
            out, err = process.communicate()
            code = None
        finally:
            self.started.remove(process)
        text = (out or b"").decode(errors="replace"), (err or b"").decode(errors="replace")
        return Ran(full, code, text[0], text[1], time.monotonic() - began)

    def _open(self) -> None:
        if self.closed:
            raise RuntimeError("the sandbox is closed: nothing new starts")

    def ours(self) -> list[int]:
        """Live processes whose environment names this sandbox."""
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            with contextlib.suppress(OSError):
                environ = (entry / "environ").read_bytes()
                named = self._mark in environ or str(self.root).encode() in environ
                if named and alive(int(entry.name)):
                    found.append(int(entry.name))
        return found

    def close(self) -> None:
        """End every process started here, undo mounts and modes, remove the folder."""
        self.closed = True
        for process in self.started:
            kill_group(process)
        for _ in range(3):  # what escaped into sessions of its own, by pid
            stray = self.ours()
            for pid in stray:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
            if not stray:
                break
            time.sleep(0.2)
        for mount in reversed(self.mounts):
            subprocess.run(["umount", "-l", str(mount)], capture_output=True, check=False)
        for path in self.root.rglob("*"):
            with contextlib.suppress(OSError):
                if path.is_dir() and not path.is_symlink():
                    path.chmod(0o755)
        shutil.rmtree(self.root, ignore_errors=True)


def kill_group(process: subprocess.Popen) -> None:
    """kill -9 the group the process leads (it was started in a session of its own), reap it."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=10)


def wait_or_kill(process: subprocess.Popen, seconds: float) -> int | None:
    """Its exit code within ``seconds``; else kill -9 its group, and None."""
    try:
        return process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        kill_group(process)
        return None


def terminate(process: subprocess.Popen, seconds: float) -> int | None:
    """SIGTERM if it still runs, then as `wait_or_kill`: None means SIGTERM did not end it."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    return wait_or_kill(process, seconds)


def stat_fields(pid: int) -> list[str] | None:
    """/proc/PID/stat after the command name: [state, ppid, pgrp, session, ...]."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2 :].split()


def alive(pid: int, started: int | None = None) -> bool:
    """Running or stopped (not a zombie); the same process if its start time is given."""
    fields = stat_fields(pid)
    if fields is None or fields[0] in ("Z", "X"):
        return False
    return started is None or int(fields[19]) == started


def processes_with(variable: str, value: str) -> list[int]:
    """Live processes whose environment has ``variable=value``."""
    wanted = f"{variable}={value}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if wanted in (entry / "environ").read_bytes().split(b"\0") and alive(int(entry.name)):
                found.append(int(entry.name))
    return found


def wait_for(condition, seconds: float, every: float = 0.1) -> bool:  # noqa: ANN001
    """Poll ``condition()`` until it is true (True) or ``seconds`` pass (False)."""
    deadline = time.monotonic() + seconds
    while True:
        if condition():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(every)


def said(log: Path) -> str:
    return log.read_text(errors="replace") if log.exists() else ""
