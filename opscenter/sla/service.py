"""What the scheduler runs for baselines: history, predictions, events and alerts.

The engine tells it when attempts succeed and when anything changed; time
passing alone also changes predictions (and UnFinished deadlines), so it
recomputes at least once a simulated minute.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine

from opscenter.sla.alerts import AlertMonitor, Notifier
from opscenter.sla.history import (
    DurationHistory,
    Finished,
    HistoryUnavailable,
    publish,
    sync,
)
from opscenter.sla.monitor import SlaMonitor
from opscenter.store.files import make_private_dirs

EVERY = timedelta(minutes=1)  # of clock time: time passing alone moves predictions
SETTLE = 0.5  # real seconds: changes are gathered this long, off the hand-off path


class SlaService:
    def __init__(
        self, db: Engine, workspace_id: int, data_dir: Path, notifier: Notifier | None = None
    ) -> None:
        self.db = db
        self.workspace_id = workspace_id
        make_private_dirs(data_dir)
        self.problem = ""  # what the scheduler should say about its own files, if anything
        self.say: Callable[[str], None] = lambda _text: None  # the scheduler's voice
        self._path = data_dir / "history.duckdb"
        try:
            self.history = DurationHistory(self._path)
        except HistoryUnavailable as error:  # another process holds the file (an analyst's)
            self.history = self._in_memory(error)
        self.monitor = SlaMonitor(db, workspace_id, self.history)
        self.notifier = notifier or Notifier(db)
        self.alerts = AlertMonitor(db, workspace_id, self.notifier)
        self._dirty = True
        self._next: datetime | None = None
        self._pending: list[Finished] = []
        self._last_real = 0.0

    def _in_memory(self, error: Exception) -> DurationHistory:
        """The history kept in memory, rebuilt from the store's attempts, when its file
        cannot be opened or written (held by another process, a full disk): predictions go
        on; the scheduler says why once."""
        self.problem = (
            f"run history {self._path} is unavailable ({error}); "
            "keeping it in memory, rebuilt from the store"
        )
        self.say(self.problem)
        return DurationHistory()

    def _add_to_history(self, finished: list[Finished]) -> None:
        try:
            self.history.add(finished)
        except HistoryUnavailable as error:
            self._fall_back(error)

    def _sync(self) -> None:
        """Catch the history up with the store (attempts finished while no scheduler ran)."""
        try:
            sync(self.history, self.db, self.workspace_id)
        except HistoryUnavailable as error:
            self._fall_back(error)

    def _fall_back(self, error: HistoryUnavailable) -> None:
        """Its file failed mid-run: the history goes on in memory, rebuilt from the store."""
        self.history.close()
        self.history = self._in_memory(error)
        self.monitor.history = self.history
        sync(self.history, self.db, self.workspace_id)  # every attempt is in the store
        self.history.refresh()

    def start(self, now: datetime) -> None:
        self._sync()
        publish(self.db, self.history.refresh(), now)
        self.update(now)

    def succeeded(self, attempts: list[Finished]) -> None:
        """Remember finished attempts; they reach the history at the next update."""
        self._pending += attempts
        self._dirty = True

    def touch(self) -> None:
        self._dirty = True

    def update_if_due(self, now: datetime) -> None:
        """Changes are batched (at most one update per SETTLE real seconds), so a busy
        scheduler does not pay for predictions between an upstream and its downstream."""
        settled = time.monotonic() - self._last_real >= SETTLE
        if (self._dirty and settled) or self._next is None or now >= self._next:
            self.update(now)

    def settle(self, now: datetime) -> None:
        """Bring predictions up to date now if anything changed (tests, shutdown)."""
        if self._dirty or self._pending:
            self.update(now)

    def update(self, now: datetime) -> None:
        if self._pending:
            finished, self._pending = self._pending, []
            self._add_to_history(finished)
            # a history rebuilt from the store lacks an attempt the store failed to record
            nodes = sorted({a.node_id for a in finished} & self.history.stats.keys())
            publish(self.db, [self.history.stats[n] for n in nodes], now)
        self.monitor.update(now)
        self.alerts.check(now)
        self._dirty = False
        self._next = now + EVERY
        self._last_real = time.monotonic()

    def close(self, now: datetime) -> None:
        self.settle(now)
        self.notifier.close()
        self.history.close()
