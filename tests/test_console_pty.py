"""`opscenter` with no arguments, in a real terminal: the living demo opens, and `q` leaves."""

from __future__ import annotations

import fcntl
import os
import select
import struct
import subprocess
import sys
import termios
import time


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


def test_no_arguments_opens_the_living_demo_and_q_quits(tmp_path):
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path), "TERM": "xterm-256color"}
    env.pop("NO_COLOR", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "opscenter"],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        start_new_session=True,
    )
    os.close(slave)
    try:
        wanted = ["opscenter · shop · local".encode(), "sched ● lead".encode(), b"[1 Dash]"]
        screen = read_until(master, wanted, 60)
        assert "opscenter · shop · local".encode() in screen
        assert "sim×120".encode() in screen  # the demo's simulated clock
        assert "sched ● lead".encode() in screen  # its own scheduler holds the lease
        assert b"[1 Dash]" in screen
        os.write(master, b"q")
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
        os.close(master)
    assert (tmp_path / "opscenter" / "shop" / "state.db").exists()
