"""Shell and Python attempts: starting the subprocess, and ending its whole process tree.

Each attempt is a process in its own process group and session, and the scheduler is the
child subreaper of what it leaves behind, so stop and timeout can take down everything a
script started, and so can the end of a script that left background processes behind,
even those that left its session or were double-forked away (see
:mod:`opscenter.scheduler.procs`, the one place processes are ended). Its scheduling
parameters arrive as data (positional arguments and environment variables), never spliced
into code; it exchanges data with SQL nodes through files in the landing folder, which it
writes owner-only (umask 077).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

from opscenter.domain.model import NodeType
from opscenter.scheduler import logfile, procs
from opscenter.scheduler.attempt import (
    AlreadyOver,
    Execution,
    Job,
    Outcome,
    log_unwritable,
    noting_the_log,
    os_reason,
)
from opscenter.scheduler.logfile import RunLog
from opscenter.store.files import FILE_MODE, make_private_dirs

NODE_UMASK = 0o077  # what a node writes in the landing folder is its owner's alone
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
# and what nodes are not given though this process keeps it: the PostgreSQL store's password
# (libpq reads it from this process's environment at each new connection)
HIDDEN_FROM_NODES = OPERATOR_SECRETS | {"PGPASSWORD"}


def start_process(job: Job, header: str, log: RunLog, landing: Path, grace: float) -> Execution:
    """Write the node's code beside its log, then the log (``header`` and the line saying
    what starts), and start it in a new process group and session, in the landing folder,
    its output appended to the log; returns at once."""
    folder = str(landing)  # absolute: Executors resolved it once
    env = {
        **{k: v for k, v in os.environ.items() if k not in HIDDEN_FROM_NODES},
        **job.parameters,
        # the tag its whole tree is found by: after the parameters, so none can hide it
        "OPSCENTER_LANDING": folder,
        "OPSCENTER_ATTEMPT": str(job.attempt),
        "OPSCENTER_INSTANCE_ID": str(job.instance_id),
        "OPSCENTER_NODE": job.node,
        "OPSCENTER_BIZDATE": f"{job.bizdate:%Y%m%d}",
        "OPSCENTER_CYCTIME": f"{job.cyctime:%Y%m%d%H%M%S}",
        "OPSCENTER_SPEED": f"{job.speed:g}",
    }
    if job.node_type is NodeType.SHELL:
        interpreter = _bash_on(env.get("PATH"))
        if interpreter is None:
            return _not_started(job, header, log, "cannot start shell node: bash not found on PATH")
        suffix, command = ".sh", [interpreter]
    else:
        env["PYTHONUNBUFFERED"] = "1"
        suffix, command = ".py", [sys.executable, "-u"]
    # beside the log, named by instance and attempt alone: the node's name, in the line
    # saying what starts, would make that line an error line of a node named "failed_rows"
    script = job.log_path.with_name(f"{job.instance_id}.{job.attempt}.code{suffix}")
    try:
        make_private_dirs(job.log_path.parent)
    except OSError as error:
        return log_unwritable(job.log_path, error)
    try:
        fd = os.open(script, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
        try:
            os.write(fd, job.code.encode("utf-8"))
        finally:
            os.close(fd)
    except OSError as error:
        return _not_started(job, header, log, f"cannot write script {script}: {os_reason(error)}")
    starting = log.stamped(f"starting {job.node_type} node: {' '.join(command)} {script.name}")
    try:
        output = logfile.open_log(job.log_path, header + starting)
    except OSError as error:
        return log_unwritable(job.log_path, error)
    try:
        body_start = os.lseek(output, 0, os.SEEK_END)
        procs.become_subreaper()  # before the first attempt starts: its orphans come back here
        process = subprocess.Popen(
            [*command, str(script), *job.parameters.values()],
            cwd=landing,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
            umask=NODE_UMASK,
        )
    except (OSError, ValueError) as error:
        return _failed_to_start(log, f"cannot start {job.node_type} node: {os_reason(error)}")
    finally:
        os.close(output)
    with _leaders_lock:
        _leaders.add(process.pid)
    tree = procs.Tree((folder, job.instance_id, job.attempt), process.pid)
    return _ProcessExecution(process, log, body_start, grace, tree)


# The first processes of the attempts running now: children of this process that a Popen
# waits for. Another child is most likely an orphan an attempt left (this process is their
# subreaper), or one just forked that is not registered yet: then an ending attempt looks
# for strays once in vain.
_leaders: set[int] = set()
_leaders_lock = threading.Lock()


def _bash_on(path: str | None) -> str | None:
    """Where bash is on ``path``: looked up once per PATH (nine stats on a typical one, for
    every attempt), and again only when what was found is no longer there."""
    found = _bash_found.get(path)
    if found is None or not os.access(found, os.X_OK):
        found = _bash_found[path] = shutil.which("bash", path=path)
    return found


_bash_found: dict[str | None, str | None] = {}


def _failed_to_start(log: RunLog, reason: str) -> Execution:
    log.line(reason)
    return AlreadyOver(Outcome(False, None, reason))


def _not_started(job: Job, header: str, log: RunLog, reason: str) -> Execution:
    """An attempt that failed before its log was begun: the log is its header and why."""
    try:
        logfile.create_log(job.log_path, header + log.stamped(reason))
    except OSError as error:
        return log_unwritable(job.log_path, error)
    return AlreadyOver(Outcome(False, None, reason))


class _ProcessExecution:
    """A shell or python attempt: the process tree that ``pid`` began."""

    def __init__(
        self,
        process: subprocess.Popen[bytes],
        log: RunLog,
        body_start: int,
        grace: float,
        tree: procs.Tree,
    ) -> None:
        self.pid: int | None = process.pid
        self._process = process
        self._tree = tree
        self._log = log
        self._body_start = body_start
        self._grace = grace
        self._started = log.now()
        self._lock = threading.Lock()
        self._kill_reason: str | None = None
        self._killer: threading.Thread | None = None
        self._hurry = threading.Event()
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
        with _leaders_lock:
            _leaders.discard(self._process.pid)
        with self._lock:
            self._done = True
            reason, killer = self._kill_reason, self._killer
        elapsed = self._log.seconds_since(self._started)
        if reason is not None:
            if killer is not None:
                killer.join()
            self._log.line(f"process tree ended ({_describe_code(code)}) after {elapsed:.1f} s")
            return Outcome(False, code, reason)
        last = "" if code == 0 else logfile.last_line(self._log.path, self._body_start)
        try:
            self._end_strays()
        except Exception as error:  # the script's own outcome stands; its log tells the rest
            self._log.line(f"cannot end the processes the script left running: {error}")
        if code == 0:
            self._log.line(f"finished: exit code 0 after {elapsed:.1f} s")
            return Outcome(True, 0, "")
        self._log.line(f"failed: {_describe_code(code)} after {elapsed:.1f} s")
        reason = _describe_code(code)
        return Outcome(False, code, f"{reason}: {last}" if last else reason)

    def _end_strays(self) -> None:
        """End what the script left running, wherever it went."""
        if not _may_have_strays(self._tree):
            return
        strays = procs.live_members([self._tree])
        if strays:
            self._log.line(
                "stopping background processes the script left running: "
                + " ".join(map(str, strays))
            )
        procs.end_trees([self._tree], self._grace, owned=(self._process.pid,))

    def kill(self, reason: str) -> None:
        with self._lock:
            if self._done or (self._kill_reason is None and self._process.poll() is not None):
                return  # it ended on its own first: its own exit code stands
            if self._kill_reason is not None:
                self._hurry.set()  # asked twice: no more grace
                return
            self._kill_reason = reason
            self._log.line(f"killed: {reason}")
            self._killer = threading.Thread(
                target=self._end_tree, name=f"kill-{self.pid}", daemon=True
            )
            self._killer.start()

    def _end_tree(self) -> None:
        procs.end_trees(
            [self._tree],
            self._grace,
            owned=(self._process.pid,),
            escalating=self._escalating,
            hurry=self._hurry,
        )

    def _escalating(self) -> None:
        if self._hurry.is_set():
            self._log.line("asked again: sending SIGKILL")
        else:
            self._log.line(f"still running {self._grace:g} s after SIGTERM: sending SIGKILL")


def _may_have_strays(tree: procs.Tree) -> bool:
    """Whether the attempt whose first process (the ``tree``'s leader) has been reaped may
    have left processes running. As their subreaper, this process has adopted every orphan
    of the attempt: with no child of the tree's among its children, other than the other
    attempts' first processes, and an empty group, there are none. (Looking at every
    process instead, whenever another attempt's process was being started, cost a run of
    16 parallel shell no-ops a seventh of its scheduler's time.) Without a subreaper, or a
    list of children, it cannot tell."""
    children = procs.own_children() if procs.is_subreaper() else None
    if children is None or tree.leader is None:
        return True
    with _leaders_lock:
        others = children - _leaders
    return procs.group_alive(tree.leader) or any(procs.may_be_of(pid, tree) for pid in others)


def _describe_code(code: int) -> str:
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"terminated by {name}"
    return f"exit code {code}"
