"""Duration history: how long each node's successful runs take (spec 7.2).

The scheduler keeps the run history in a DuckDB file beside the store and
appends each successful attempt as it finishes; statistics over it (the mean
of the last 10 successes, p50/p90 and the last 30 durations for a trend) come
from one DuckDB query. DuckDB cannot attach the SQLite store offline, so
attempts reach it as CSV batches (bulk) or a VALUES insert (a few at a time).
The statistics are written back to the store's node_stats table, where any
process (the console, the CLI) reads them.
"""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, delete, func, insert, select

from opscenter.store.files import connect_duckdb
from opscenter.store.models import AttemptRow, InstanceRow, NodeStatsRow
from opscenter.store.tx import writing

if TYPE_CHECKING:
    import duckdb

LAST = 30  # durations kept for the trend and the percentiles
MEAN_OF = 10  # spec 7.2: the average over the last 10 cycles
DEFAULT_DURATION = timedelta(minutes=10)  # a node with no history yet

_STATS_SQL = f"""
WITH ranked AS (
    SELECT node_id, finished_at, duration,
           row_number() OVER (
               PARTITION BY node_id ORDER BY finished_at DESC, attempt_id DESC
           ) AS age
    FROM history {{where}}
)
SELECT node_id,
       avg(duration) FILTER (WHERE age <= {MEAN_OF}) AS mean,
       quantile_cont(duration, 0.5) AS p50,
       quantile_cont(duration, 0.9) AS p90,
       list(duration ORDER BY finished_at, age DESC) AS recent,
       count(*) AS samples
FROM ranked WHERE age <= {LAST}
GROUP BY node_id
"""


@dataclass(frozen=True)
class NodeStats:
    node_id: int
    mean: float  # seconds, the last 10 successes
    p50: float
    p90: float
    recent: tuple[float, ...]  # the last 30 durations, oldest first
    samples: int


@dataclass(frozen=True)
class Finished:
    """A successful attempt, as the history keeps it."""

    attempt_id: int
    node_id: int
    finished_at: datetime
    duration: float  # seconds


class HistoryUnavailable(Exception):
    """The history file cannot be opened (another process holds it): DuckDB's first line."""


def _first_line(error: Exception) -> str:
    words = str(error).strip()
    return words.splitlines()[0] if words else repr(error)


class DurationHistory:
    """The run history in DuckDB and the statistics derived from it.

    DuckDB is opened when the history is first needed: at once for a file that exists (its
    statistics are read at start, and a file another process holds is said at start), else
    with the first attempt added. A scheduler of virtual nodes, or one before any attempt
    succeeded, never loads DuckDB, which costs it some 40 MB of memory."""

    def __init__(self, path: Path | str = ":memory:") -> None:
        self._path = None if str(path) == ":memory:" else Path(path)
        self._duck: duckdb.DuckDBPyConnection | None = None
        self.stats: dict[int, NodeStats] = {}
        if self._path is not None and self._path.exists():
            self._open()

    def _open(self) -> duckdb.DuckDBPyConnection:
        import duckdb  # here: what reads DEFAULT_DURATION (every CLI verb) needs no DuckDB

        try:
            duck = duckdb.connect(":memory:") if self._path is None else connect_duckdb(self._path)
        except duckdb.Error as error:
            raise HistoryUnavailable(_first_line(error)) from None
        duck.execute(
            "CREATE TABLE IF NOT EXISTS history (attempt_id BIGINT PRIMARY KEY, node_id INTEGER, "
            "finished_at TIMESTAMP, duration DOUBLE)"
        )
        self._duck = duck
        return duck

    @property
    def duck(self) -> duckdb.DuckDBPyConnection:
        return self._duck if self._duck is not None else self._open()

    def close(self) -> None:
        if self._duck is not None:
            self._duck.close()

    def last_attempt_id(self) -> int:
        if self._duck is None:
            return 0  # nothing was ever added
        row = self._duck.execute("SELECT coalesce(max(attempt_id), 0) FROM history").fetchone()
        assert row is not None  # an aggregate always answers one row
        return int(row[0])

    def add_bulk(self, rows: Iterable[Finished]) -> int:
        """Append many attempts through a CSV file: DuckDB reads it far faster than inserts."""
        fd, name = tempfile.mkstemp(prefix="opscenter-history-", suffix=".csv")
        count = 0
        try:
            with os.fdopen(fd, "w", newline="") as handle:
                writer = csv.writer(handle)
                for row in rows:
                    writer.writerow(
                        (row.attempt_id, row.node_id, row.finished_at.isoformat(), row.duration)
                    )
                    count += 1
            if count:
                duck = self.duck
                import duckdb  # loaded by now: self.duck opened it

                try:
                    duck.execute(
                        "INSERT OR IGNORE INTO history SELECT * FROM read_csv(?, header = false, "
                        "columns = {'attempt_id': 'BIGINT', 'node_id': 'INTEGER', "
                        "'finished_at': 'TIMESTAMP', 'duration': 'DOUBLE'})",
                        [name],
                    )
                except duckdb.Error as error:  # its file cannot be written (a full disk)
                    raise HistoryUnavailable(_first_line(error)) from None
        finally:
            os.unlink(name)
        return count

    def add(self, rows: Sequence[Finished]) -> None:
        """Append a few attempts (as they finish) and refresh those nodes' statistics."""
        if not rows:
            return
        values = ", ".join("(?, ?, ?, ?)" for _ in rows)
        params = [v for r in rows for v in (r.attempt_id, r.node_id, r.finished_at, r.duration)]
        duck = self.duck
        import duckdb  # loaded by now: self.duck opened it

        try:
            # OR IGNORE plans a conflict check (a hash join) into every insert: a fifth of
            # this insert's CPU on the scheduler's loop, for an attempt it almost never holds
            try:
                duck.execute(f"INSERT INTO history VALUES {values}", params)
            except duckdb.ConstraintException:  # it holds one of them: that one is kept
                duck.execute(f"INSERT OR IGNORE INTO history VALUES {values}", params)
        except duckdb.Error as error:  # its file cannot be written (a full disk)
            raise HistoryUnavailable(_first_line(error)) from None
        self.refresh({r.node_id for r in rows})

    def refresh(self, node_ids: Iterable[int] | None = None) -> list[NodeStats]:
        """Recompute statistics for these nodes (all nodes if None)."""
        if self._duck is None:
            return []  # nothing was ever added
        if node_ids is None:
            rows = self.duck.execute(_STATS_SQL.format(where="")).fetchall()
        else:
            ids = sorted(node_ids)
            if not ids:
                return []
            where = f"WHERE node_id IN ({', '.join('?' for _ in ids)})"
            rows = self.duck.execute(_STATS_SQL.format(where=where), ids).fetchall()
        fresh = [NodeStats(r[0], r[1], r[2], r[3], tuple(r[4]), r[5]) for r in rows]
        self.stats.update({s.node_id: s for s in fresh})
        return fresh

    def average(self, node_id: int, default: timedelta = DEFAULT_DURATION) -> timedelta:
        found = self.stats.get(node_id)
        return timedelta(seconds=found.mean) if found else default


def successes_since(db: Engine, workspace_id: int, after_attempt_id: int) -> Iterable[Finished]:
    """Successful attempts of the workspace after the given attempt id, streamed."""
    query = (
        select(AttemptRow.id, InstanceRow.node_id, AttemptRow.started_at, AttemptRow.finished_at)
        .join(InstanceRow, InstanceRow.id == AttemptRow.instance_id)
        .where(
            InstanceRow.workspace_id == workspace_id,
            AttemptRow.status == "SUCCESS",
            AttemptRow.id > after_attempt_id,
        )
        .order_by(AttemptRow.id)
    )
    with db.connect() as conn:
        # rows unpacked by position: by name costs seconds over a million attempts
        for attempt_id, node_id, started, finished in conn.execution_options(
            yield_per=20_000
        ).execute(query):
            assert started is not None and finished is not None  # a SUCCESS attempt has both
            yield Finished(attempt_id, node_id, finished, (finished - started).total_seconds())


def sync(history: DurationHistory, db: Engine, workspace_id: int) -> int:
    """Bring the DuckDB history up to date with the store; returns attempts added.

    A history ahead of the store belongs to another (recreated) state database:
    it is dropped and rebuilt rather than trusted.
    """
    with db.connect() as conn:
        newest = conn.scalar(select(func.max(AttemptRow.id))) or 0
    if history.last_attempt_id() > newest:
        history.duck.execute("DELETE FROM history")
        history.stats.clear()
    return history.add_bulk(successes_since(db, workspace_id, history.last_attempt_id()))


def publish(db: Engine, stats: Sequence[NodeStats], now: datetime) -> None:
    """Write statistics to the store, where every process reads them."""
    if not stats:
        return
    with writing(db) as conn:
        ids = [s.node_id for s in stats]
        for start in range(0, len(ids), 500):
            conn.execute(
                delete(NodeStatsRow).where(NodeStatsRow.node_id.in_(ids[start : start + 500]))
            )
        conn.execute(
            insert(NodeStatsRow),
            [
                {
                    "node_id": s.node_id,
                    "mean": s.mean,
                    "p50": s.p50,
                    "p90": s.p90,
                    "recent": list(s.recent),
                    "samples": s.samples,
                    "updated_at": now,
                }
                for s in stats
            ],
        )
