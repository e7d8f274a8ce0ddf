"""Processes left behind by a scheduler that died: find them safely and end them.

A pid alone is not an identity (pids are reused), so attempts also record the
process's start time; an orphan is ended only if both still match.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path


def process_start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (Linux), or None if unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name (field 2) may contain spaces and parentheses: split after its ')'
    fields = stat[stat.rindex(")") + 2 :].split()
    if fields[0] == "Z":
        return None  # a zombie has ended; only its exit status is left
    return int(fields[19])  # field 22 of stat: starttime


def is_same_process(pid: int, started: int | None) -> bool:
    current = process_start_time(pid)
    if current is None:
        return False
    return started is None or current == started


def terminate_orphan(pid: int, started: int | None, grace: float = 2.0) -> bool:
    """End the orphan's whole process group (TERM, then KILL); True if it was alive."""
    if not is_same_process(pid, started):
        return False
    for signum in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pid, signum)
        except (ProcessLookupError, PermissionError):
            return True
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            if not is_same_process(pid, started):
                return True
            time.sleep(0.05)
    return True
