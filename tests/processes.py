"""opscenter as separate processes, as an operator runs it: a headless scheduler, CLI verbs,
and the console in a real terminal (a pty at 80x24)."""

from __future__ import annotations

import fcntl
import os
import select
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Iterator, Sequence
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


@contextmanager
def scheduler_process(args: Sequence[str], log: Path, env: dict[str, str]) -> Iterator:
    """`opscenter scheduler ARGS`, once it holds the lease; SIGTERM when the block ends."""
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "opscenter", "scheduler", *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        deadline = time.monotonic() + 60
        while "holds the lease" not in log.read_text():
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        yield process
    finally:
        process.terminate()
        process.wait(timeout=30)


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


@contextmanager
def console_in_a_terminal(args: Sequence[str], env: dict[str, str]) -> Iterator[tuple[int, object]]:
    """The console on a pty of 80x24: (the terminal's side, the process)."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    env = {**env, "TERM": "xterm-256color"}
    env.pop("NO_COLOR", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "opscenter", *args],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        start_new_session=True,
    )
    os.close(slave)
    try:
        yield master, process
    finally:
        if process.poll() is None:
            process.kill()
        os.close(master)
