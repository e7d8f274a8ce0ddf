"""One clock per world: the scheduler that holds the lease publishes its clock in the store,
and every other process on that store (CLI verbs, a second console, the emulator) reads it.

A simulated world is an anchor pair (world time ↔ wall time) and a speed, so every reader
computes the same "now" as the scheduler. When no scheduler runs, a simulated world stands
where it stopped; a real-time world reads real time.

A scheduler that dies (kill -9, a host gone) says nothing: its world is told to run on for
at most ``LIVENESS`` past its last heartbeat and then stands there, before its lease is
stale and after, and a scheduler that takes over resumes from that same moment. So every
reader's time only goes forward, on any host, however long the takeover takes.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, insert, select, update

from opscenter.domain.clock import Clock, RealClock, SimulatedClock
from opscenter.domain.times import to_store
from opscenter.store import lease
from opscenter.store.models import WorldClockRow
from opscenter.store.tx import writing

WORLD = "world"
# how far past the holder's last heartbeat its world runs on: two heartbeats and a reader's
# refresh, so a live scheduler's world never stands for it
LIVENESS = 2 * lease.HEARTBEAT + timedelta(seconds=1)


@dataclass(frozen=True)
class ClockState:
    """The published clock, and whether a live scheduler is running it."""

    real: bool
    speed: float
    world_at: datetime  # naive UTC
    wall_at: datetime  # naive UTC
    holder: str
    running: bool
    seen_at: datetime  # naive UTC, wall
    died: bool = False  # its scheduler stopped heartbeating without stopping it

    def world_now(self, wall_now: datetime) -> datetime:
        """The world's time (aware UTC) when the wall reads ``wall_now`` (aware)."""
        if self.real:
            return wall_now
        if self.running:
            wall = min(to_store(wall_now), self.seen_at + LIVENESS)
        else:
            wall = self.seen_at + LIVENESS if self.died else self.seen_at
        return (self.world_at + (wall - self.wall_at) * self.speed).replace(tzinfo=UTC)

    def stopped_at(self) -> datetime | None:
        """Where a simulated world stands while no scheduler runs it (aware UTC)."""
        if self.real or self.running:
            return None
        return self.world_now(self.seen_at.replace(tzinfo=UTC))  # it stands: any wall will do


def read(db: Engine) -> ClockState | None:
    """The published clock; ``running`` only while its scheduler holds a live lease."""
    with db.connect() as conn:
        row = conn.execute(select(WorldClockRow).where(WorldClockRow.name == WORLD)).one_or_none()
    if row is None:
        return None
    running = row.running
    if running:
        holder = lease.live_holder(db)
        running = holder is not None and holder.holder == row.holder
    return ClockState(
        row.real,
        row.speed,
        row.world_at,
        row.wall_at,
        row.holder,
        running,
        row.seen_at,
        died=row.running and not running,
    )


def _anchor(clock: Clock, wall: Clock) -> tuple[bool, datetime, datetime]:
    if isinstance(clock, SimulatedClock):
        world, at = clock.anchor()
        return False, to_store(world), to_store(at)
    if clock is wall or isinstance(clock, RealClock):  # real time: the world is the wall
        now = to_store(wall.now())
        return True, now, now
    return False, to_store(clock.now()), to_store(wall.now())


def publish(db: Engine, holder: str, clock: Clock, wall: Clock, *, running: bool = True) -> None:
    """The lease holder says what its clock is (on taking the lease, and on stopping)."""
    real, world_at, wall_at = _anchor(clock, wall)
    seen = to_store(wall.now())
    if not running and not real:  # stopping: the world stands at this moment from now on
        world_at, wall_at = to_store(clock.now()), seen
    values = dict(
        real=real,
        speed=1.0 if real else clock.speed,
        world_at=world_at,
        wall_at=wall_at,
        holder=holder,
        running=running,
        seen_at=seen,
    )
    with writing(db) as conn:
        found = conn.execute(
            update(WorldClockRow).where(WorldClockRow.name == WORLD).values(**values)
        ).rowcount
        if not found:
            conn.execute(insert(WorldClockRow).values(name=WORLD, **values))


def seen(db: Engine, holder: str, wall: Clock) -> None:
    """The holder's heartbeat: a world whose scheduler dies stands where it was last seen."""
    with writing(db) as conn:
        conn.execute(
            update(WorldClockRow)
            .where(WorldClockRow.name == WORLD, WorldClockRow.holder == holder)
            .values(seen_at=to_store(wall.now()))
        )


@dataclass(frozen=True)
class ClockPlan:
    """The clock a scheduler runs once it holds the lease.

    ``speed``/``start`` given on the command line set the world's clock anew; without them
    the world's published clock goes on (a simulated world resumes where it stopped);
    a world with no clock yet starts at ``first_start`` × ``first_speed`` (the demo's day)
    or in real time.
    """

    speed: float | None = None
    start: datetime | None = None  # aware
    first_speed: float | None = None
    first_start: datetime | None = None  # aware
    wall: Clock = RealClock()

    @property
    def sets_the_clock(self) -> bool:
        return self.speed is not None or self.start is not None

    def clock(self, published: ClockState | None) -> Clock:
        wall_now = self.wall.now()
        if self.sets_the_clock:
            if self.start is None and self.speed == 1:
                return self.wall  # `--speed 1`: back to real time
            begin = self.start or (published.world_now(wall_now) if published else wall_now)
            return SimulatedClock(begin, self.speed or 1.0, wall=self.wall)
        if published is not None:
            if published.real:
                return self.wall
            return SimulatedClock(published.world_now(wall_now), published.speed, wall=self.wall)
        if self.first_speed is not None:
            return SimulatedClock(self.first_start or wall_now, self.first_speed, wall=self.wall)
        return self.wall


class StoreClock:
    """The world's clock as its scheduler published it: what every other process reads.

    The published state is re-read at most every ``refresh`` real seconds; between reads
    time is computed from the anchor pair, so ``now()`` costs no query. Where nothing was
    ever published (a store no scheduler has run) the world is in real time (``wall``).
    """

    def __init__(self, db: Engine, wall: Clock | None = None, refresh: float = 1.0) -> None:
        self._db = db
        self._wall = wall or RealClock()
        self._refresh = refresh
        self._lock = threading.Lock()
        self._read_at = -float("inf")
        self._state: ClockState | None = None

    def state(self) -> ClockState | None:
        with self._lock:
            if time.monotonic() - self._read_at >= self._refresh:
                self._state = read(self._db)
                self._read_at = time.monotonic()
            return self._state

    @property
    def speed(self) -> float:
        state = self.state()
        return 1.0 if state is None or state.real else state.speed

    def now(self) -> datetime:
        state = self.state()
        wall_now = self._wall.now()
        return wall_now if state is None else state.world_now(wall_now)

    def stopped_at(self) -> datetime | None:
        state = self.state()
        return None if state is None else state.stopped_at()

    def real_seconds_until(self, when: datetime) -> float:
        state = self.state()
        if state is None or state.real:
            return self._wall.real_seconds_until(when)
        if not state.running:
            return 0.0 if when <= self.now() else float("inf")
        return max(0.0, (when - self.now()).total_seconds() / state.speed)
