"""Running the engine as the one scheduler of a database: lease, heartbeat, standby.

A second scheduler on the same database says who holds the lease and since
when, then waits as standby and takes over when the holder's heartbeat is
stale (kill -9 included: recovery then settles what the old one left RUNNING).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from sqlalchemy import Engine as Database

from opscenter.scheduler import worldclock
from opscenter.scheduler.rewire import rewire_not_started
from opscenter.scheduler.worldclock import ClockPlan
from opscenter.store import lease
from opscenter.store.identity import StoreChanged, StoreFiles, store_files

WATCH_EVERY = 0.25  # seconds between looks at the store's files: a change is seen at once


def run_scheduler(
    db: Database,
    workspace_id: int,
    plan: ClockPlan,
    stop: threading.Event,
    *,
    say: Callable[[str], None] = print,
    holder: str | None = None,
    on_state: Callable[[str], None] = lambda _state: None,
) -> None:
    """Hold the lease and run the engine until ``stop``; ``on_state`` hears standby/lead/stopped.

    The world's clock is taken with the lease (``plan``: a simulated world resumes where
    it stood) and published in the store, for every other process on it to read.
    Raises StoreChanged once the store's files are deleted or replaced under it, after
    it stopped dispatching and ended its attempts' processes: it would otherwise go on in
    a world no one else sees, beside a scheduler started on the new store at that path.
    """
    watch = _StoreWatch(db, stop, say)
    try:
        _run(db, workspace_id, plan, stop, say, holder or lease.new_holder_name(), on_state, watch)
    finally:  # the store's change is the reason, whatever its old files did meanwhile
        watch.end()  # the scheduler may have failed without ``stop`` ever being set
        if watch.reason:
            raise StoreChanged(
                f"{watch.reason} while this scheduler ran on it; "
                "it stopped and ended its running attempts"
            )


class _StoreWatch:
    """Looks at the store's files every WATCH_EVERY seconds; once they changed, it says so,
    keeps the reason and sets ``stop``. A store that is not a SQLite file is not watched.
    It ends with the scheduler (``end``), whether it stopped or failed."""

    def __init__(self, db: Database, stop: threading.Event, say: Callable[[str], None]) -> None:
        self.reason: str | None = None
        self._stop = stop
        self._ended = threading.Event()
        self._say = say
        files = store_files(db)
        if files is not None:
            threading.Thread(
                target=self._look, args=(files,), name="store-watch", daemon=True
            ).start()

    def end(self) -> None:
        self._ended.set()

    def _look(self, files: StoreFiles) -> None:
        while not self._ended.wait(WATCH_EVERY) and not self._stop.is_set():
            reason = files.changed()
            if reason:
                self.reason = reason
                self._say(f"{reason}: stopping, ending the running attempts")
                self._stop.set()
                return


def _run(
    db: Database,
    workspace_id: int,
    plan: ClockPlan,
    stop: threading.Event,
    say: Callable[[str], None],
    holder: str,
    on_state: Callable[[str], None],
    watch: _StoreWatch,
) -> None:
    waiting_said = False
    while not stop.is_set():
        ours, info = lease.try_acquire(db, holder)
        if ours:
            break
        if not waiting_said:
            on_state("standby")
            say(
                f"standby: the scheduler lease is held by {info.holder} since "
                f"{info.acquired_at:%Y-%m-%d %H:%M:%S} UTC (last heartbeat "
                f"{info.heartbeat_at:%H:%M:%S} UTC); taking over if it stops"
            )
            waiting_said = True
        stop.wait(1.0)
    if stop.is_set():
        on_state("stopped")
        return
    on_state("lead")
    clock = plan.clock(worldclock.read(db))
    worldclock.publish(db, holder, clock, plan.wall)
    say(
        f"scheduler {holder} holds the lease; clock {clock.now():%Y-%m-%d %H:%M:%S} UTC"
        + (f" ×{clock.speed:g}" if clock.speed != 1 else "")
    )
    rewired = rewire_not_started(db, workspace_id)
    if rewired and rewired.examined:
        say(
            f"dependency rules of this version (spec 4.3) applied to the {rewired.examined} "
            f"instances not yet started: {rewired.changed} got different upstream instances"
        )
    # the engine (DuckDB, the executors, webhooks) loads here, on this thread: a console
    # waits only for the lease and the clock above, and paints meanwhile
    from opscenter.scheduler.engine import Engine

    engine = Engine(db, workspace_id, clock, name="scheduler")
    if engine.sla.problem:
        say(engine.sla.problem)
    engine.sla.say = say  # a problem met later (a full disk) is said when it comes
    lost = threading.Event()

    def heartbeat() -> None:
        while not stop.wait(lease.HEARTBEAT.total_seconds()):
            try:
                still_ours = lease.renew(db, holder)
            except Exception as exc:  # the database is away: keep trying, say so
                say(f"heartbeat failed: {exc}")
                continue
            if still_ours:
                try:
                    worldclock.seen(db, holder, plan.wall)
                except Exception as exc:  # as above
                    say(f"heartbeat failed: {exc}")
            else:
                say("lost the scheduler lease to another scheduler; stopping")
                lost.set()
                stop.set()

    beat = threading.Thread(target=heartbeat, name="lease-heartbeat", daemon=True)
    beat.start()
    try:
        engine.start()
        engine.serve(stop)
    finally:
        engine.close(watch.reason or "scheduler shut down")
        # nothing to hand back: the lease is another's, or the store is not this one any more
        if not lost.is_set() and not watch.reason:
            worldclock.publish(db, holder, clock, plan.wall, running=False)
            lease.release(db, holder)
        on_state("stopped")
        say("scheduler stopped")


class SchedulerThread:
    """The scheduler inside the console's process (the demo, a one-box platform team).

    What it says goes to ``messages`` rather than the terminal, which the console owns.
    """

    GLYPHS = {"starting": "… starting", "standby": "… standby", "lead": "● lead"}

    def __init__(self, db: Database, workspace_id: int, plan: ClockPlan) -> None:
        self.state = "starting"
        self.messages: list[str] = []
        self.failure: BaseException | None = None
        self._stop = threading.Event()
        self._settled = threading.Event()  # lead (its clock published), standby, or ended

        def run() -> None:
            try:
                run_scheduler(
                    db, workspace_id, plan, self._stop, say=self._said, on_state=self._became
                )
            except Exception as exc:  # shown in the header, never a traceback on the screen
                self.failure = exc
                self.state = "failed"
            finally:
                self._settled.set()

        self._thread = threading.Thread(target=run, name="scheduler", daemon=True)

    def _said(self, text: str) -> None:
        self.messages = [*self.messages[-49:], text]
        if self.state == "lead":
            self._settled.set()

    def _became(self, state: str) -> None:
        self.state = state
        if state != "lead":  # a leader has settled once its clock is published (it says so)
            self._settled.set()

    def start(self) -> None:
        self._thread.start()

    def wait_started(self, timeout: float = 10.0) -> None:
        """Until the lease is taken and the world's clock published, or this one waits as
        standby: the console then opens on the world's time, not a guess at it."""
        self._settled.wait(timeout)

    def describe(self) -> str:
        if self.state == "failed":
            return f"✗ failed: {self.failure}"
        return self.GLYPHS.get(self.state, "○ stopped")

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout)
