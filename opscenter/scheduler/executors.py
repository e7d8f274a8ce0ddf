"""Executors: how one attempt of one instance actually runs.

Shell and Python nodes are subprocesses in their own process group, so stop and timeout
can take down everything a script started. Their scheduling parameters arrive as data
(positional arguments and environment variables), never spliced into code, and they
exchange data with SQL nodes through files in the landing folder.

SQL and quality nodes run inside this process: DuckDB lets one process hold the warehouse
file, so every SQL attempt gets a cursor of the one shared connection, and stop/timeout
interrupt that cursor. Each SQL attempt runs in one transaction (unless its code manages
transactions itself), so a failed or stopped attempt leaves the warehouse as it found it
and a rerun starts clean.

Every attempt writes its own log (see :mod:`opscenter.scheduler.logfile`); failures to
start are reported as failed outcomes, never as exceptions out of ``wait()``.
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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Protocol

import duckdb

from opscenter.domain.clock import RealClock
from opscenter.domain.model import NodeType
from opscenter.scheduler import logfile
from opscenter.scheduler.logfile import RunLog
from opscenter.store.files import FILE_MODE, connect_duckdb, make_private_dirs, open_for_append

KILL_GRACE = 2.0  # seconds between SIGTERM and SIGKILL
QUALITY_ROWS_SHOWN = 50
_STATEMENT_PREVIEW = 80
_CELL_WIDTH = 40
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
_INTERRUPT_EVERY = 0.05  # an interrupt that lands between two statements is lost: repeat it


@dataclass(frozen=True)
class Job:
    """One attempt of one instance, with everything already rendered."""

    instance_id: int
    attempt: int  # 1-based run number
    node: str
    node_type: NodeType
    code: str  # sql/quality: rendered SQL; shell: bash script text; python: python source
    parameters: dict[str, str]  # rendered scheduling parameters, in declaration order
    cyctime: datetime  # naive wall-clock time
    bizdate: date
    triggered_by: str  # e.g. "scheduler", "rerun by alice", "auto rerun 2/3"
    log_path: Path
    speed: float = 1.0  # clock speed factor, exported as OPSCENTER_SPEED


@dataclass(frozen=True)
class Outcome:
    success: bool
    exit_code: int | None  # None for work that is not a process (sql, quality, virtual)
    reason: str  # "" on success, else one line an operator reads


class Execution(Protocol):
    pid: int | None

    def wait(self) -> Outcome:
        """Block until the attempt is over; called from a worker thread."""
        ...

    def kill(self, reason: str) -> None:
        """Stop or time out the attempt; ``wait()`` then returns a failure with ``reason``."""
        ...


def _local_now() -> datetime:
    return RealClock().now().astimezone().replace(tzinfo=None)


class Executors:
    """Starts attempts; owns the warehouse connection that SQL attempts share."""

    def __init__(
        self,
        warehouse: Path,
        landing: Path,
        now: Callable[[], datetime] | None = None,
        *,
        kill_grace: float = KILL_GRACE,
    ) -> None:
        self.warehouse = Path(warehouse)
        self.landing = Path(landing)
        make_private_dirs(self.landing)
        self._now = now or _local_now
        self.kill_grace = kill_grace
        self._lock = threading.Lock()
        self._connection: duckdb.DuckDBPyConnection | None = None
        self._closed = False
        self._running: set[_SqlExecution] = set()

    # ------------------------------------------------------------------ start

    def start(self, job: Job) -> Execution:
        """Write the log header, then start the work; returns quickly.

        SQL does not start here: it runs on the worker thread that calls ``wait()``.
        """
        try:
            header = logfile.format_header(
                node=job.node,
                node_type=str(job.node_type),
                instance_id=job.instance_id,
                attempt=job.attempt,
                cyctime=job.cyctime,
                bizdate=job.bizdate,
                parameters=job.parameters,
                triggered_by=job.triggered_by,
                started=self._now(),
            )
            logfile.create_log(job.log_path, header)
        except OSError as error:
            return _Finished(
                Outcome(False, None, f"cannot write log {job.log_path}: {_os_reason(error)}")
            )
        log = RunLog(job.log_path, self._now)
        if job.node_type is NodeType.VIRTUAL:
            return _Finished(Outcome(True, None, ""))
        if job.node_type in (NodeType.SHELL, NodeType.PYTHON):
            return self._start_process(job, log)
        if job.node_type in (NodeType.SQL, NodeType.QUALITY):
            return _SqlExecution(self, job, log)
        log.line(f"cannot run node type {job.node_type!r}")
        return _Finished(Outcome(False, None, f"unsupported node type {job.node_type}"))

    def _start_process(self, job: Job, log: RunLog) -> Execution:
        env = {
            **{k: v for k, v in os.environ.items() if k not in OPERATOR_SECRETS},
            "OPSCENTER_LANDING": str(self.landing.resolve()),
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
            return _failed_to_start(log, f"cannot write script {script}: {_os_reason(error)}")
        log.line(f"starting {job.node_type} node: {' '.join(command)} {script.name}")
        body_start = log.size()
        try:
            process = subprocess.Popen(
                [*command, str(script), *job.parameters.values()],
                cwd=self.landing,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                close_fds=True,
            )
        except (OSError, ValueError) as error:
            return _failed_to_start(log, f"cannot start {job.node_type} node: {_os_reason(error)}")
        finally:
            os.close(output)
        return _ProcessExecution(process, log, body_start, self.kill_grace)

    # ------------------------------------------------------------ warehouse

    def _cursor(self, execution: _SqlExecution) -> duckdb.DuckDBPyConnection:
        """A cursor of the shared connection, opened on first use."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the warehouse connection is closed")
            if self._connection is None:
                self._connection = connect_duckdb(
                    self.warehouse, config={"file_search_path": str(self.landing.resolve())}
                )
            self._running.add(execution)
            return self._connection.cursor()

    def _release(self, execution: _SqlExecution) -> None:
        with self._lock:
            self._running.discard(execution)

    def close(self) -> None:
        """Interrupt SQL still running, then close the warehouse connection."""
        with self._lock:
            self._closed = True
            running = list(self._running)
        for execution in running:
            execution.kill("the scheduler is shutting down")
        for execution in running:
            execution.finished.wait(timeout=5)
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None


def _os_reason(error: BaseException) -> str:
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return str(error) or type(error).__name__


def _noting_the_log(outcome: Outcome, log: RunLog) -> Outcome:
    """An attempt ends as its work did; if its log could not take every line (a full
    disk), the reason says so, since the operator will read a log that stops short."""
    if not log.failed:
        return outcome
    note = f"log incomplete: {log.failed}"
    reason = f"{outcome.reason} ({note})" if outcome.reason else note
    return Outcome(outcome.success, outcome.exit_code, reason)


def _failed_to_start(log: RunLog, reason: str) -> Execution:
    log.line(reason)
    return _Finished(Outcome(False, None, reason))


class _Finished:
    """An attempt that is over before it began (virtual nodes, failures to start)."""

    pid: int | None = None

    def __init__(self, outcome: Outcome) -> None:
        self._outcome = outcome

    def wait(self) -> Outcome:
        return self._outcome

    def kill(self, reason: str) -> None:
        pass


# ---------------------------------------------------------------- processes


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
                self._outcome = _noting_the_log(self._finish(), self._log)
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


# ---------------------------------------------------------------------- sql


class _SqlExecution:
    """A sql or quality attempt on a cursor of the shared warehouse connection."""

    pid: int | None = None

    def __init__(self, executors: Executors, job: Job, log: RunLog) -> None:
        self._executors = executors
        self._job = job
        self._log = log
        self._lock = threading.Lock()  # guards the fields below and every interrupt()
        self._kill_reason: str | None = None
        self._cursor: duckdb.DuckDBPyConnection | None = None
        self._settled = False  # past the last statement: a kill no longer changes the result
        self._outcome: Outcome | None = None
        self._wait_lock = threading.Lock()
        self.finished = threading.Event()

    def wait(self) -> Outcome:
        with self._wait_lock:
            if self._outcome is None:
                try:
                    self._outcome = self._run()
                except Exception as error:  # nothing may escape wait()
                    self._log.line(f"internal error: {type(error).__name__}: {error}")
                    self._outcome = Outcome(False, None, f"internal error: {error}")
                finally:
                    self._executors._release(self)
                    self.finished.set()
                self._outcome = _noting_the_log(self._outcome, self._log)
            return self._outcome

    def kill(self, reason: str) -> None:
        with self._lock:
            if self._settled or self._kill_reason is not None:
                return
            self._kill_reason = reason
            self._log.line(f"killed: {reason}")
            if self._cursor is not None:
                threading.Thread(target=self._interrupt, name="sql-interrupt", daemon=True).start()

    def _interrupt(self) -> None:
        while True:
            with self._lock:
                if self._settled or self._cursor is None:
                    return
                self._cursor.interrupt()
            time.sleep(_INTERRUPT_EVERY)

    def _killed(self) -> Outcome:
        assert self._kill_reason is not None
        return Outcome(False, None, self._kill_reason)

    def _run(self) -> Outcome:
        started = self._log.now()
        with self._lock:
            if self._kill_reason is not None:
                self._settled = True
                return self._killed()
        try:
            cursor = self._executors._cursor(self)
        except (duckdb.Error, RuntimeError) as error:
            return self._fail(f"cannot open warehouse {self._executors.warehouse}", error)
        try:
            return self._run_on(cursor, started)
        finally:
            with contextlib.suppress(duckdb.Error):
                cursor.close()

    def _run_on(self, cursor: duckdb.DuckDBPyConnection, started: datetime) -> Outcome:
        quality = self._job.node_type is NodeType.QUALITY
        try:
            statements = cursor.extract_statements(self._job.code)
        except duckdb.Error as error:
            with self._lock:
                self._settled = True
            return self._fail("the SQL does not parse", error)
        if not statements:
            with self._lock:
                self._settled = True
            reason = "no SQL statement to run"
            self._log.line(reason)
            return Outcome(False, None, reason)
        if quality and statements[-1].type is not duckdb.StatementType.SELECT:
            with self._lock:
                self._settled = True
            reason = "a quality check must end with a SELECT that returns the violating rows"
            self._log.line(reason)
            return Outcome(False, None, reason)
        own_transaction = not any(s.type is duckdb.StatementType.TRANSACTION for s in statements)
        self._log.line(
            f"running {_plural(len(statements), 'statement')} on {self._executors.warehouse.name}"
            + (" in one transaction" if own_transaction else "")
        )
        with self._lock:
            self._cursor = cursor
            if self._kill_reason is not None:
                self._settled = True
                return self._killed()
        rows: list[tuple[Any, ...]] = []
        total = 0
        columns: list[str] = []
        failure: tuple[int, BaseException] | None = None
        number = 0
        try:
            if own_transaction:
                cursor.execute("BEGIN TRANSACTION")
            for number, statement in enumerate(statements, 1):
                with self._lock:
                    if self._kill_reason is not None:
                        break
                self._log.line(f"[{number}/{len(statements)}] {_preview(statement.query)}")
                began = self._log.now()
                cursor.execute(statement)
                last = number == len(statements)
                if quality and last:
                    columns = [d[0] for d in cursor.description or ()]
                    rows, total = _fetch_counted(cursor, QUALITY_ROWS_SHOWN)
                    result = f"{_plural(total, 'row')} returned"
                elif statement.type is duckdb.StatementType.SELECT:
                    _, count = _fetch_counted(cursor, 0)
                    result = f"{_plural(count, 'row')} returned"
                elif cursor.rowcount >= 0:
                    result = f"{_plural(cursor.rowcount, 'row')} affected"
                else:
                    result = "done"
                self._log.line(f"      {result} in {self._log.seconds_since(began):.2f} s")
        except duckdb.Error as error:
            failure = (number, error)
        with self._lock:
            self._settled = True
            kill_reason = self._kill_reason
        if kill_reason is not None or failure is not None:
            if kill_reason is not None:
                outcome = self._killed()
            else:
                assert failure is not None
                where = f"statement {failure[0]}" if failure[0] else "BEGIN TRANSACTION"
                outcome = self._fail(f"{where} failed", failure[1])
            if own_transaction:
                self._rollback(cursor)
            return outcome
        if own_transaction:
            try:
                cursor.execute("COMMIT")
            except duckdb.Error as error:
                outcome = self._fail("commit failed", error)
                self._rollback(cursor)
                return outcome
        elapsed = self._log.seconds_since(started)
        if quality and total:
            reason = f"quality check failed: {_plural(total, 'violating row')}"
            self._log.line(reason)
            self._log.line(_table(columns, rows))
            if total > len(rows):
                self._log.line(f"... and {total - len(rows)} more")
            return Outcome(False, None, reason)
        if quality:
            self._log.line(f"quality check passed: no violating rows ({elapsed:.2f} s)")
        else:
            self._log.line(f"finished: {_plural(len(statements), 'statement')} in {elapsed:.2f} s")
        return Outcome(True, None, "")

    def _rollback(self, cursor: duckdb.DuckDBPyConnection) -> None:
        try:
            cursor.execute("ROLLBACK")
            self._log.line("rolled back: this attempt changed nothing in the warehouse")
        except duckdb.Error as error:
            self._log.line(f"rollback failed: {_first_line(error)}")

    def _fail(self, context: str, error: BaseException) -> Outcome:
        self._log.line(f"{context}:")
        self._log.line(str(error) or type(error).__name__)
        return Outcome(False, None, _first_line(error))


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}" + ("" if count == 1 else "s")


def _preview(query: str) -> str:
    """The first line of a statement that is not a comment, cut to fit one log line."""
    text = query.strip()
    while text.startswith("/*") and "*/" in text:
        text = text[text.index("*/") + 2 :].lstrip()
    lines = [line.strip() for line in text.splitlines()]
    first = next((line for line in lines if line and not line.startswith("--")), "")
    more = len([line for line in lines if line and not line.startswith("--")]) > 1
    if len(first) > _STATEMENT_PREVIEW:
        return first[: _STATEMENT_PREVIEW - 1] + "…"
    return first + (" …" if more else "")


def _fetch_counted(
    cursor: duckdb.DuckDBPyConnection, keep: int
) -> tuple[list[tuple[Any, ...]], int]:
    """Keep the first ``keep`` rows of the result and count all of them."""
    kept: list[tuple[Any, ...]] = []
    total = 0
    while chunk := cursor.fetchmany(2048):
        if len(kept) < keep:
            kept.extend(chunk[: keep - len(kept)])
        total += len(chunk)
    return kept, total


def _table(columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> str:
    """Rows as an aligned text table with a header line, for the log."""

    def cell(value: Any) -> str:
        text = "NULL" if value is None else str(value).replace("\n", "\\n")
        return text if len(text) <= _CELL_WIDTH else text[: _CELL_WIDTH - 1] + "…"

    grid = [list(columns)] + [[cell(v) for v in row] for row in rows]
    widths = [max(len(line[i]) for line in grid) for i in range(len(columns))]
    lines = [" | ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)) for line in grid]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(line.rstrip() for line in lines)
