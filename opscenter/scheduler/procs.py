"""Processes left behind by a scheduler that died: find them safely and end them.

A pid alone is not an identity (pids are reused), so attempts also record the
process's start time; an orphan is ended only if both still match. An attempt whose
pid was never recorded (the scheduler died as it started the process) is found by
the environment the executor gives every attempt: its workspace's landing folder,
its instance id and its attempt number.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any


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


def attempt_processes(landing: Path | str) -> dict[tuple[int, int], list[int]]:
    """Live processes started for attempts of the workspace with this landing folder, by
    (instance id, attempt number), read from /proc/<pid>/environ (Linux; empty elsewhere)."""
    wanted = b"OPSCENTER_LANDING=" + os.fsencode(str(landing))
    found: dict[tuple[int, int], list[int]] = defaultdict(list)
    proc = Path("/proc")
    if not proc.is_dir():
        return {}
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            values = (entry / "environ").read_bytes().split(b"\0")
        except OSError:  # gone, or another user's
            continue
        if wanted not in values:
            continue
        fields = dict(v.split(b"=", 1) for v in values if b"=" in v)
        try:
            key = int(fields[b"OPSCENTER_INSTANCE_ID"]), int(fields[b"OPSCENTER_ATTEMPT"])
        except (KeyError, ValueError):
            continue
        if process_start_time(int(entry.name)) is not None:
            found[key].append(int(entry.name))
    return dict(found)


def end_processes(pids: list[int], grace: float = 2.0) -> None:
    """End these processes with their process groups: TERM, then KILL after ``grace``."""
    live = {pid: start for pid in pids if (start := process_start_time(pid)) is not None}
    groups = set()
    for pid in live:
        with contextlib.suppress(ProcessLookupError):
            groups.add(os.getpgid(pid))
    for signum in (signal.SIGTERM, signal.SIGKILL):
        for group in groups:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(group, signum)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            if not any(is_same_process(pid, start) for pid, start in live.items()):
                return
            time.sleep(0.05)


def end_attempts(attempts: Sequence[Any], landing: Path | str | None) -> None:
    """End the processes of attempts no scheduler holds any more (rows with ``pid``,
    ``pid_start``, ``instance_id`` and ``number``): by the recorded pid, checked against its
    start time, or found by their environment when the pid was never recorded."""
    unknown = landing and any(a.pid is None for a in attempts)
    strays = attempt_processes(Path(landing).resolve()) if unknown else {}  # type: ignore[arg-type]
    for attempt in attempts:
        if attempt.pid:
            terminate_orphan(attempt.pid, attempt.pid_start)
        else:
            end_processes(strays.get((attempt.instance_id, attempt.number), []))
