"""SQL and quality attempts, and the warehouse connection they share.

DuckDB lets one process hold the warehouse file, so every SQL attempt gets a cursor of
the one shared connection (``Warehouse``), and stop/timeout interrupt that cursor. Each
SQL attempt runs in one transaction (unless its code manages transactions itself), so a
failed or stopped attempt leaves the warehouse as it found it and a rerun starts clean.
Its log names each statement and what it did; a quality check's log shows the rows that
violated it.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from opscenter.domain.model import NodeType
from opscenter.scheduler.attempt import Execution, Job, Outcome, noting_the_log
from opscenter.scheduler.logfile import RunLog
from opscenter.store.files import connect_duckdb

QUALITY_ROWS_SHOWN = 50
_STATEMENT_PREVIEW = 80
_CELL_WIDTH = 40
_INTERRUPT_EVERY = 0.05  # an interrupt that lands between two statements is lost: repeat it


class Warehouse:
    """The warehouse file as SQL attempts use it: one connection, opened on first use,
    a cursor of it per attempt, and the attempts running on it, to interrupt on close."""

    def __init__(self, path: Path, landing: Path) -> None:
        self.path = path
        self._landing = landing
        self._lock = threading.Lock()
        self._connection: duckdb.DuckDBPyConnection | None = None
        self._closed = False
        self._running: set[_SqlExecution] = set()

    def run(self, job: Job, log: RunLog) -> Execution:
        """A sql or quality attempt; it runs on the thread that calls its ``wait()``."""
        return _SqlExecution(self, job, log)

    def cursor(self, execution: _SqlExecution) -> duckdb.DuckDBPyConnection:
        """A cursor of the shared connection for ``execution``, which runs until released."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the warehouse connection is closed")
            if self._connection is None:
                self._connection = connect_duckdb(
                    self.path, config={"file_search_path": str(self._landing.resolve())}
                )
            self._running.add(execution)
            return self._connection.cursor()

    def release(self, execution: _SqlExecution) -> None:
        with self._lock:
            self._running.discard(execution)

    def close(self) -> None:
        """Interrupt SQL still running, then close the connection."""
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


class _SqlExecution:
    """A sql or quality attempt on a cursor of the shared warehouse connection."""

    pid: int | None = None

    def __init__(self, warehouse: Warehouse, job: Job, log: RunLog) -> None:
        self._warehouse = warehouse
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
                    self._warehouse.release(self)
                    self.finished.set()
                self._outcome = noting_the_log(self._outcome, self._log)
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
            cursor = self._warehouse.cursor(self)
        except (duckdb.Error, RuntimeError) as error:
            return self._fail(f"cannot open warehouse {self._warehouse.path}", error)
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
            f"running {_plural(len(statements), 'statement')} on {self._warehouse.path.name}"
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
