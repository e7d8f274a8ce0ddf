"""The contract every kind of attempt shares: what to run (``Job``), how it ended
(``Outcome``), and the handle the engine waits on and kills (``Execution``).

It is its own module so that process, SQL and virtual executions, and the engine that
drives them, depend on this contract and not on each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Protocol

from opscenter.domain.model import NodeType
from opscenter.scheduler.logfile import RunLog


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


class AlreadyOver:
    """An attempt that is over before it began (virtual nodes, failures to start)."""

    pid: int | None = None

    def __init__(self, outcome: Outcome) -> None:
        self._outcome = outcome

    def wait(self) -> Outcome:
        return self._outcome

    def kill(self, reason: str) -> None:
        pass


def os_reason(error: BaseException) -> str:
    """An OS error as one line: its strerror, without the errno and path around it."""
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return str(error) or type(error).__name__


def log_unwritable(path: Path, error: OSError) -> AlreadyOver:
    """An attempt that could not begin its log: it does not run, and says why."""
    return AlreadyOver(Outcome(False, None, f"cannot write log {path}: {os_reason(error)}"))


def noting_the_log(outcome: Outcome, log: RunLog) -> Outcome:
    """An attempt ends as its work did; if its log could not take every line (a full
    disk), the reason says so, since the operator will read a log that stops short."""
    if not log.failed:
        return outcome
    note = f"log incomplete: {log.failed}"
    reason = f"{outcome.reason} ({note})" if outcome.reason else note
    return Outcome(outcome.success, outcome.exit_code, reason)
