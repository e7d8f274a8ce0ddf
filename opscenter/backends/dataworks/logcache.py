"""The logs of runs that have ended, kept so paging one costs no second download.

DataWorks answers a log request with the run's whole text; the console reads a
log a page at a time (its end first, then older pages as the operator scrolls).
A run that has ended never changes, so its text is kept here, the most recently
used first, within a byte budget.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

LOG_CACHE_BYTES = 64 * 1024 * 1024


class LogCache:
    """(instance id, run number) -> the run's log as UTF-8 bytes; safe across threads
    (the console reads logs from worker threads)."""

    def __init__(self, budget: int = LOG_CACHE_BYTES) -> None:
        self.budget = budget
        self._logs: OrderedDict[tuple[int, int], bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, key: tuple[int, int]) -> bytes | None:
        with self._lock:
            data = self._logs.get(key)
            if data is not None:
                self._logs.move_to_end(key)
            return data

    def put(self, key: tuple[int, int], data: bytes) -> None:
        if len(data) > self.budget:
            return  # larger than the whole budget: read it again when asked
        with self._lock:
            old = self._logs.pop(key, None)
            self._size -= len(old) if old is not None else 0
            self._logs[key] = data
            self._size += len(data)
            while self._size > self.budget:
                _, dropped = self._logs.popitem(last=False)
                self._size -= len(dropped)
