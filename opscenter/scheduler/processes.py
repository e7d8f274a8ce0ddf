"""Shell and Python attempts: starting the subprocess, and ending its process group.

Each attempt is a process in its own process group, so stop and timeout can take down
everything a script started, and so can the end of a script that left background
processes behind. Its scheduling parameters arrive as data (positional arguments and
environment variables), never spliced into code; it exchanges data with SQL nodes
through files in the landing folder. This module is the one home of ending an
attempt's processes while the scheduler runs (see :mod:`opscenter.scheduler.procs` for
those a dead scheduler left behind).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from opscenter.domain.model import NodeType
from opscenter.scheduler import logfile
from opscenter.scheduler.attempt import (
    AlreadyOver,
    Execution,
    Job,
    Outcome,
    noting_the_log,
    os_reason,
)
from opscenter.scheduler.logfile import RunLog
from opscenter.store.files import FILE_MODE, open_for_append

KILL_GRACE = 2.0  # seconds between SIGTERM and SIGKILL
# The operator's own credentials, as opscenter reads them: a node's code is the workspace
# author's, and must not see them (an ``env`` in a script would print them to its log).
OPERATOR_SECRETS = frozenset(
    {
        "ALIBABA_CLOUD_ACCESS_KEY_ID",
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
        "ALIBABA_CLOUD_SECURITY_TOKEN",
        "OPSCENTER_EMULATOR_ACCESS_KEY_ID",
        "OPSCENTER_EMULATOR_ACCESS_KEY_SECRET",
    }
)


def start_process(job: Job, log: RunLog, landing: Path, grace: float) -> Execution:
    """Write the node's code beside its log and start it in a new process group, in the
    landing folder, its output appended to the log; returns at once."""
    env = {
        **{k: v for k, v in os.environ.items() if k not in OPERATOR_SECRETS},
        "OPSCENTER_LANDING": str(landing.resolve()),
        "OPSCENTER_ATTEMPT": str(job.attempt),
        "OPSCENTER_INSTANCE_ID": str(job.instance_id),
        "OPSCENTER_NODE": job.node,
        "OPSCENTER_BIZDATE": f"{job.bizdate:%Y%m%d}",
        "OPSCENTER_CYCTIME": f"{job.cyctime:%Y%m%d%H%M%S}",
        "OPSCENTER_SPEED": f"{job.speed:g}",
        **job.parameters,
    }
    if job.node_type is NodeType.SHELL:
        interpreter = shutil.which("bash", path=env.get("PATH"))
        if interpreter is None:
            return _failed_to_start(log, "cannot start shell node: bash not found on PATH")
        suffix, command = ".sh", [interpreter]
    else:
        env["PYTHONUNBUFFERED"] = "1"
        suffix, command = ".py", [sys.executable, "-u"]
    script = job.log_path.with_name(f"{job.log_path.stem}.code{suffix}")
    try:
        fd = os.open(script, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
        try:
            os.write(fd, job.code.encode("utf-8"))
        finally:
            os.close(fd)
        output = open_for_append(job.log_path)
    except OSError as error:
        return _failed_to_start(log, f"cannot write script {script}: {os_reason(error)}")
    log.line(f"starting {job.node_type} node: {' '.join(command)} {script.name}")
    body_start = log.size()
    try:
        process = subprocess.Popen(
            [*command, str(script), *job.parameters.values()],
            cwd=landing,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )
    except (OSError, ValueError) as error:
        return _failed_to_start(log, f"cannot start {job.node_type} node: {os_reason(error)}")
    finally:
        os.close(output)
    return _ProcessExecution(process, log, body_start, grace)


def _failed_to_start(log: RunLog, reason: str) -> Execution:
    log.line(reason)
    return AlreadyOver(Outcome(False, None, reason))


class _ProcessExecution:
    """A shell or python attempt: the process group led by ``pid``."""

    def __init__(
        self, process: subprocess.Popen[bytes], log: RunLog, body_start: int, grace: float
    ) -> None:
        self.pid: int | None = process.pid
        self._process = process
        self._log = log
        self._body_start = body_start
        self._grace = grace
        self._started = log.now()
        self._lock = threading.Lock()
        self._kill_reason: str | None = None
        self._killer: threading.Thread | None = None
        self._done = False
        self._outcome: Outcome | None = None
        self._wait_lock = threading.Lock()

    def wait(self) -> Outcome:
        with self._wait_lock:
            if self._outcome is None:
                self._outcome = noting_the_log(self._finish(), self._log)
            return self._outcome

    def _finish(self) -> Outcome:
        code = self._process.wait()
        with self._lock:
            self._done = True
            reason, killer = self._kill_reason, self._killer
        elapsed = self._log.seconds_since(self._started)
        if reason is not None:
            if killer is not None:
                killer.join()
            self._log.line(f"process group ended ({_describe_code(code)}) after {elapsed:.1f} s")
            return Outcome(False, code, reason)
        last = "" if code == 0 else logfile.last_line(self._log.path, self._body_start)
        if _group_alive(self._process.pid):
            self._log.line("stopping background processes the script left running")
            _end_group(self._process.pid, self._grace)
        if code == 0:
            self._log.line(f"finished: exit code 0 after {elapsed:.1f} s")
            return Outcome(True, 0, "")
        self._log.line(f"failed: {_describe_code(code)} after {elapsed:.1f} s")
        reason = _describe_code(code)
        return Outcome(False, code, f"{reason}: {last}" if last else reason)

    def kill(self, reason: str) -> None:
        with self._lock:
            if self._done or (self._kill_reason is None and self._process.poll() is not None):
                return  # it ended on its own first: its own exit code stands
            if self._kill_reason is not None:
                _signal_group(self._process.pid, signal.SIGKILL)  # asked twice: no more grace
                return
            self._kill_reason = reason
            self._log.line(f"killed: {reason}")
            _signal_group(self._process.pid, signal.SIGTERM)
            self._killer = threading.Thread(
                target=self._escalate, name=f"kill-{self.pid}", daemon=True
            )
            self._killer.start()

    def _escalate(self) -> None:
        if not _await_group_end(self._process.pid, self._grace, self._process):
            self._log.line(f"still running {self._grace:g} s after SIGTERM: sending SIGKILL")
            _signal_group(self._process.pid, signal.SIGKILL)
            _await_group_end(self._process.pid, self._grace, self._process)


def _describe_code(code: int) -> str:
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"terminated by {name}"
    return f"exit code {code}"


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def _end_group(pgid: int, grace: float) -> None:
    _signal_group(pgid, signal.SIGTERM)
    if not _await_group_end(pgid, grace):
        _signal_group(pgid, signal.SIGKILL)
        _await_group_end(pgid, grace)


def _await_group_end(
    pgid: int, timeout: float, process: subprocess.Popen[bytes] | None = None
) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if process is not None:
            process.poll()  # reap the leader if no one is waiting on it yet
        if not _group_alive(pgid):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)


def _group_alive(pgid: int) -> bool:
    """Whether any process of the group still runs; zombies waiting for a reaper do not count."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    proc = Path("/proc")
    if not proc.is_dir():
        return True
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 2 and int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            return True
    return False
