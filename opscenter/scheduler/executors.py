"""Executors: how one attempt of one instance actually runs.

``Executors.start`` writes the attempt's log header (see
:mod:`opscenter.scheduler.logfile`; a process's start writes it with its first line) and
hands the work to the execution for its node type: a subprocess for shell and Python nodes
(:mod:`opscenter.scheduler.processes`), a cursor of the shared warehouse connection for SQL
and quality nodes (:mod:`opscenter.scheduler.sqlrun`), nothing for a virtual node.
Failures to start are reported as failed outcomes, never as exceptions out of ``wait()``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from opscenter.domain.clock import RealClock
from opscenter.domain.model import NodeType
from opscenter.scheduler import logfile
from opscenter.scheduler.attempt import AlreadyOver, Execution, Job, Outcome, log_unwritable
from opscenter.scheduler.logfile import RunLog
from opscenter.scheduler.processes import start_process
from opscenter.scheduler.procs import KILL_GRACE
from opscenter.store.files import make_private_dirs

if TYPE_CHECKING:
    from opscenter.scheduler.sqlrun import Warehouse

PROCESS_TYPES = (NodeType.SHELL, NodeType.PYTHON)  # what runs as a subprocess of ours


def _local_now() -> datetime:
    return RealClock().now().astimezone().replace(tzinfo=None)


class Executors:
    """Starts attempts; owns the warehouse that SQL attempts share."""

    def __init__(
        self,
        warehouse: Path,
        landing: Path,
        now: Callable[[], datetime] | None = None,
        *,
        kill_grace: float = KILL_GRACE,
    ) -> None:
        self.warehouse = Path(warehouse)
        make_private_dirs(Path(landing))
        self.landing = Path(landing).resolve()  # once, not at every attempt
        self._now = now or _local_now
        self.kill_grace = kill_grace
        self._sql: Warehouse | None = None  # with the first SQL attempt: DuckDB is 40 MB
        self._sql_lock = threading.Lock()  # attempts start on several worker threads

    def start(self, job: Job) -> Execution:
        """Write the log header, then start the work; returns quickly.

        SQL does not start here: it runs on the worker thread that calls ``wait()``.
        """
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
        log = RunLog(job.log_path, self._now)
        if job.node_type in PROCESS_TYPES:
            # the header goes in with the process's first line: one write of the log
            return start_process(job, header, log, self.landing, self.kill_grace)
        try:
            logfile.create_log(job.log_path, header)
        except OSError as error:
            return log_unwritable(job.log_path, error)
        if job.node_type is NodeType.VIRTUAL:
            return AlreadyOver(Outcome(True, None, ""))
        if job.node_type in (NodeType.SQL, NodeType.QUALITY):
            return self._warehouse().run(job, log)
        log.line(f"cannot run node type {job.node_type!r}")
        return AlreadyOver(Outcome(False, None, f"unsupported node type {job.node_type}"))

    def _warehouse(self) -> Warehouse:
        with self._sql_lock:
            if self._sql is None:
                from opscenter.scheduler.sqlrun import Warehouse

                self._sql = Warehouse(self.warehouse, self.landing)
            return self._sql

    def close(self) -> None:
        """Interrupt SQL still running, then close the warehouse connection."""
        with self._sql_lock:
            sql = self._sql
        if sql is not None:
            sql.close()
