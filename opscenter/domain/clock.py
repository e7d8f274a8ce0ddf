"""Time for everything that schedules: no module reads the wall clock directly.

A real clock for production, a simulated one that runs faster than real time for
demos (the demo shows a whole day in minutes), and a manual one that tests set.
All return timezone-aware UTC datetimes; callers convert to the workspace zone.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    @property
    def speed(self) -> float:
        """World seconds per real second (1: real time)."""
        ...

    def now(self) -> datetime:
        """The current instant, aware, in UTC."""
        ...

    def real_seconds_until(self, when: datetime) -> float:
        """How long to really wait until the clock shows ``when`` (0 if passed)."""
        ...


def _aware(when: datetime) -> datetime:
    if when.tzinfo is None:
        raise ValueError(f"clock times must be timezone-aware, got {when!r}")
    return when.astimezone(UTC)


class RealClock:
    speed = 1.0

    def now(self) -> datetime:
        return datetime.now(UTC)

    def real_seconds_until(self, when: datetime) -> float:
        return max(0.0, (_aware(when) - self.now()).total_seconds())


class SimulatedClock:
    """Starts at ``start`` and advances ``speed`` simulated seconds per second of ``wall``.

    Anchored on the wall clock (not a monotonic one) so that every process that knows
    the anchor pair reads the same simulated time: the world's clock is published that
    way in the store.
    """

    def __init__(self, start: datetime, speed: float = 60.0, *, wall: Clock | None = None) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = float(speed)
        self._start = _aware(start)
        self._wall = wall or RealClock()
        self._wall_start = self._wall.now()

    def anchor(self) -> tuple[datetime, datetime]:
        """(world time, wall time) of one moment: with ``speed``, all there is to this clock."""
        return self._start, self._wall_start

    def now(self) -> datetime:
        return self._start + (self._wall.now() - self._wall_start) * self.speed

    def real_seconds_until(self, when: datetime) -> float:
        return max(0.0, (_aware(when) - self.now()).total_seconds() / self.speed)


class ManualClock:
    """A clock that moves only when told to: deterministic time for tests.

    ``speed`` is what node scripts are told (OPSCENTER_SPEED): a large value
    makes a script's simulated minutes of work take no real time.
    """

    def __init__(self, start: datetime, speed: float = 1.0) -> None:
        self.speed = float(speed)
        self._now = _aware(start)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def set(self, when: datetime) -> None:
        with self._lock:
            self._now = _aware(when)

    def advance(self, delta: timedelta | float) -> datetime:
        """Move forward by a timedelta or a number of seconds; returns the new now."""
        step = delta if isinstance(delta, timedelta) else timedelta(seconds=delta)
        with self._lock:
            self._now += step
            return self._now

    def real_seconds_until(self, when: datetime) -> float:
        return 0.0 if _aware(when) <= self.now() else float("inf")
