"""opscenter as separate processes, as an operator runs it: a headless scheduler, CLI verbs,
and the console in a real terminal (a pty at 80x24); and what a test asks of a process: is
it alive, and ending its process group as kill -9 would."""

from __future__ import annotations

import contextlib
import fcntl
import os
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path


def run_opscenter(
    *args: str, env: dict[str, str], cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """`opscenter ARGS` as a user runs it, with no terminal to read from."""
    return subprocess.run(
        [sys.executable, "-m", "opscenter", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def verb(url: str, folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`opscenter ARGS` on the workspace in ``folder`` and the store at ``url``."""
    return run_opscenter(*args, "--workspace", str(folder), "--db", url, env=dict(os.environ))


def start_scheduler(
    args: Sequence[str], log: Path, env: dict[str, str] | None = None
) -> subprocess.Popen:
    """`opscenter scheduler ARGS` in a process group of its own (so `kill_group` ends it and
    nothing else), its output appended to ``log``. It returns at once: see `wait_for_words`."""
    with log.open("a") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "opscenter", "scheduler", *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )


def eventually(check: Callable[[], bool], seconds: float) -> bool:
    """Polls ``check`` until it holds (True) or ``seconds`` have passed (False): a wait that
    asks for a condition, not for the machine to be quick."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def wait_for_words(
    log: Path, words: str, seconds: float, process: subprocess.Popen | None = None
) -> None:
    """Until ``log`` says ``words``; fails after ``seconds``, or once ``process`` has ended."""
    deadline = time.monotonic() + seconds
    while words not in (said := log.read_text() if log.exists() else ""):
        assert process is None or process.poll() is None, f"ended before {words!r}:\n{said}"
        assert time.monotonic() < deadline, f"never said {words!r}:\n{said[-3000:]}"
        time.sleep(0.1)


@contextmanager
def scheduler_process(args: Sequence[str], log: Path, env: dict[str, str]) -> Iterator:
    """`opscenter scheduler ARGS`, once it holds the lease; SIGTERM when the block ends."""
    process = start_scheduler(args, log, env)
    try:
        wait_for_words(log, "holds the lease", 60, process)
        yield process
    finally:
        process.terminate()
        process.wait(timeout=30)


def kill_group(process: subprocess.Popen) -> None:
    """kill -9 the process's group (it leads one: `start_scheduler`), and reap it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def alive(pid: int, started: int | None = None) -> bool:
    """Process ``pid`` runs (or is stopped): a zombie waiting for its reaper is dead to an
    operator. Given ``started`` (its start time in clock ticks since boot, as an attempt
    records it), it must be that same process, not a later one that was given the pid."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    # the command name (field 2) may hold spaces and parentheses: split after its last ')'
    fields = stat[stat.rindex(")") + 2 :].split()
    return fields[0] not in ("Z", "X") and (started is None or int(fields[19]) == started)


def read_until(fd: int, wanted: list[bytes], seconds: float) -> bytes:
    seen = b""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not all(w in seen for w in wanted):
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                seen += os.read(fd, 65536)
            except OSError:
                break
    return seen


def start_console(
    args: Sequence[str],
    env: dict[str, str],
    rows: int = 24,
    columns: int = 80,
    cwd: Path | None = None,
) -> tuple[int, subprocess.Popen]:
    """`opscenter ARGS` on a pty of ``columns`` x ``rows`` in colour, in a session of its own
    (so `kill_group` ends it): (the terminal's side, the process)."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    env = {**env, "TERM": "xterm-256color"}
    env.pop("NO_COLOR", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "opscenter", *args],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        cwd=cwd,
        start_new_session=True,
    )
    os.close(slave)
    return master, process


@contextmanager
def console_in_a_terminal(args: Sequence[str], env: dict[str, str]) -> Iterator[tuple[int, object]]:
    """The console on a pty of 80x24: (the terminal's side, the process)."""
    master, process = start_console(args, env)
    try:
        yield master, process
    finally:
        if process.poll() is None:
            process.kill()
        os.close(master)
