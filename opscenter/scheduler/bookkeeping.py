"""The engine's own records: an attempt in flight (``Running``), a timer (``Timer``), and
the one write transaction of a scheduler turn (``Turn``).

They live apart from the engine so that its module reads as the scheduling loop; the
thread discipline is the engine's: only ``Running`` is touched by worker threads, under
its own lock.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

from opscenter.scheduler import state
from opscenter.scheduler.attempt import Execution
from opscenter.store.tx import write_transaction


@dataclass
class Running:
    instance_id: int
    number: int
    group: str
    node_id: int = 0
    attempt_id: int = 0
    backfill_run: int | None = None
    started_at: datetime | None = None
    execution: Execution | None = None
    kill: str = ""  # "" | stop | freeze | timeout
    killed_by: str = ""
    timeout_reason: str = ""
    kill_reason: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def attach(self, execution: Execution) -> None:
        """The worker thread started the process: a kill asked for meanwhile happens now."""
        with self.lock:
            self.execution = execution
            pending = self.kill_reason
        if pending:
            execution.kill(pending)

    def request_kill(self, kind: str, by: str, reason: str) -> None:
        """Stop, freeze or time out; if the process is not started yet, it is killed on start."""
        with self.lock:
            if self.kill:
                return
            self.kill, self.killed_by, self.kill_reason = kind, by, reason
            execution = self.execution
        if execution is not None:
            execution.kill(reason)

    def halted(self) -> tuple[str, str] | None:
        """(stop | freeze, who) when an operator halted the attempt; a timeout is not one."""
        return (self.kill, self.killed_by) if self.kill in state.HALTED else None


class Turn:
    """One write transaction for a whole scheduler turn (completions, readiness, starts),
    opened only if the turn has something to write: one commit per turn, not per step."""

    def __init__(self, connection: Connection, stack: ExitStack) -> None:
        self._connection = connection
        self._stack = stack
        self._conn: Connection | None = None

    def conn(self) -> Connection:
        if self._conn is None:
            try:
                self._conn = self._begin()
            except DBAPIError as error:
                if not error.connection_invalidated:
                    raise
                # the server dropped the held connection (it restarted): SQLAlchemy has let
                # it go, and this takes a new one, as a pool's pre-ping would have
                self._conn = self._begin()
        return self._conn

    def _begin(self) -> Connection:
        locked, _ = self._stack.enter_context(write_transaction(self._connection))
        return locked


@contextmanager
def open_turn(connection: Connection) -> Iterator[Turn]:
    """Commits when the turn ends, rolls back if it raises. ``connection`` is the loop's
    own, held across turns: taking one from the pool and giving it back (with its reset)
    cost a turn of the chain more than its BEGIN and COMMIT."""
    with ExitStack() as stack:
        yield Turn(connection, stack)


@dataclass(order=True)
class Timer:
    when: datetime
    seq: int
    kind: str = field(compare=False)  # due | retry | timeout | generate
    instance_id: int = field(compare=False, default=0)
    number: int = field(compare=False, default=0)
