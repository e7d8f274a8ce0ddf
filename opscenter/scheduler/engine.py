"""The embedded scheduler: readiness, dispatch, execution, retries, timeouts.

Readiness is event-driven: when an instance finishes, only its downstream
instances are evaluated, and ready ones start at once. A timer heap covers
what time alone changes (scheduled times, auto-rerun intervals, timeouts, the
nightly generation); a cheap poll of the signals table picks up actions done
by other processes (the CLI, a second console) within a fraction of a second.

One engine per database dispatches (see lease.py); every state change is a
conditional write in one transaction, so concurrent actions never lose an
update and a crash never leaves a half-made transition. What the store records when an
attempt starts and ends is lifecycle.py's, recovery after a crash is recovery.py's, and the
engine's own records (an attempt in flight, a timer, a turn) are bookkeeping.py's.
"""

from __future__ import annotations

import collections
import heapq
import itertools
import queue
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine as Database
from sqlalchemy import func, select

from opscenter.domain.clock import Clock
from opscenter.domain.model import NodeType, Status
from opscenter.domain.params import ParamError, resolve, substitute
from opscenter.domain.times import to_store
from opscenter.scheduler import backfill, lifecycle, state
from opscenter.scheduler.attempt import AlreadyOver, Execution, Job, Outcome
from opscenter.scheduler.bookkeeping import Running, Timer, Turn, open_turn
from opscenter.scheduler.executors import PROCESS_TYPES, Executors
from opscenter.scheduler.generate import ensure_generated, generate_day, next_generation_at
from opscenter.scheduler.lifecycle import READY_FROM, READY_VALUES, Start
from opscenter.scheduler.procs import process_start_time
from opscenter.scheduler.recovery import recover
from opscenter.sla.history import Finished
from opscenter.sla.service import SlaService
from opscenter.store.batches import OverIds, among
from opscenter.store.models import (
    InstanceRow,
    NodeVersionRow,
    ResourceGroupRow,
    SignalRow,
    WorkspaceRow,
)
from opscenter.store.tx import writing

EVALUATE_BATCH = 5000
NO_SLOT_TYPES = {NodeType.VIRTUAL.value}
# what readiness reads of candidates, built once: building it cost more than running it
_READINESS = OverIds(
    lambda match: (
        select(
            InstanceRow.id,
            InstanceRow.status,
            InstanceRow.due_at,
            InstanceRow.dry_run,
            InstanceRow.priority,
            InstanceRow.resource_group,
            InstanceRow.backfill_run_id,
            NodeVersionRow.type,
            state.has_unfinished_upstream().label("blocked"),
        )
        .join(NodeVersionRow, NodeVersionRow.id == InstanceRow.node_version_id)
        .where(match(InstanceRow.id), among(InstanceRow.status, READY_VALUES))
    )
)


class Engine:
    """Drives the instances of one workspace; not thread-safe: one thread calls tick()."""

    def __init__(
        self,
        db: Database,
        workspace_id: int,
        clock: Clock,
        *,
        executors: Executors | None = None,
        signal_poll: float = 0.1,
        name: str = "scheduler",
    ) -> None:
        self.db = db
        self.workspace_id = workspace_id
        self.clock = clock
        self.name = name
        self.signal_poll = signal_poll
        with db.connect() as conn:
            ws = conn.execute(select(WorkspaceRow).where(WorkspaceRow.id == workspace_id)).one()
            self.slots = dict(
                conn.execute(
                    select(ResourceGroupRow.name, ResourceGroupRow.slots).where(
                        ResourceGroupRow.workspace_id == workspace_id
                    )
                ).all()
            )
            self._last_signal = conn.scalar(select(func.max(SignalRow.id))) or 0
        self.zone = ZoneInfo(ws.timezone)
        self.parameters = dict(ws.parameters or {})
        self.logs = Path(ws.warehouse).parent / "logs"
        self.executors = executors or Executors(
            Path(ws.warehouse), Path(ws.landing), now=self._wall_now
        )
        self.sla = SlaService(db, workspace_id, Path(ws.warehouse).parent)
        self._events: queue.Queue[tuple[int, int, Outcome]] = queue.Queue()  # attempts that ended
        self._pool = ThreadPoolExecutor(max_workers=max(4, sum(self.slots.values()) + 2))
        self._running: dict[int, Running] = {}
        self._busy: Counter[str] = Counter()
        self._waiting: dict[str, list[tuple[int, datetime, int]]] = defaultdict(list)
        # id -> (group, entry) it waits as in _waiting: other entries are stale (an action
        # took it out of the queue, or changed its priority or resource group) and skipped
        self._queued: dict[int, tuple[str, tuple[int, datetime, int]]] = {}
        self._newly_queued: set[int] = set()  # to be shown WAIT_RESOURCE if no slot now
        self._timers: list[Timer] = []
        self._seq = itertools.count()
        self._candidates: set[int] = set()
        self._pids: collections.deque[tuple[int, int, int, int | None]] = collections.deque()
        self._fresh: set[int] = set()  # found ready in this tick: no need to check again
        self._last_poll = 0.0
        self._wake = threading.Event()
        self._turns = db.connect()  # the loop's turns' own (see open_turn)

    # -- life cycle -------------------------------------------------------------

    def start(self) -> None:
        """Recover from a previous run, make sure today exists, and load what is pending."""
        for when, instance_id in recover(
            self.db, self.workspace_id, self.executors.landing, self._now(), by=self.name
        ):
            self._timer(when, "retry", instance_id)
        ensure_generated(self.db, self.workspace_id, self._now())
        self._schedule_generation()
        self._rescan()
        self._advance_backfills()  # backfills created or unblocked while no scheduler ran
        self.sla.start(self._now())

    def close(self, why: str = "scheduler shut down") -> None:
        """End what runs (``why`` goes to its run logs), wait for its processes to end and
        record how; the warehouse and the run history are let go of even when the store
        can no longer be written (its files were deleted or replaced)."""
        for running in list(self._running.values()):
            running.request_kill("stop", "scheduler shutdown", f"stopped: {why}")
        self._pool.shutdown(wait=True, cancel_futures=False)
        try:
            with open_turn(self._turns) as turn:
                self._drain_events(turn)
        finally:
            self._turns.close()
            self.executors.close()
            self.sla.close(self._now())

    def wake(self) -> None:
        """Ask serve() to look at signals now (an action was done in this process)."""
        self._last_poll = 0.0
        self._wake.set()

    def serve(self, stop: threading.Event) -> None:
        """Run until ``stop`` is set: the real-time loop."""
        while not stop.is_set():
            self.tick()
            timeout = self.signal_poll
            if self._timers:
                timeout = min(
                    timeout, self.clock.real_seconds_until(self._utc(self._timers[0].when))
                )
            if self._candidates:
                continue
            try:
                event = self._events.get(timeout=max(0.0, timeout))
            except queue.Empty:
                continue
            self._events.put(event)

    def _wall_now(self) -> datetime:
        """Run-log stamps and durations: the world's clock in the workspace zone (simulated in
        a demo), aware so that a duration across a daylight-saving change is still right."""
        return self.clock.now().astimezone(self.zone)

    def run_until_idle(self, limit: float = 60.0) -> None:
        """For tests on a manual clock: work until nothing can happen at the current time."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            self.tick(poll_signals=True)
            if self._candidates or not self._events.empty():
                continue
            if self._timers and self._timers[0].when <= self._now():
                continue  # something is due now (an auto rerun with no interval, a timeout)
            if not self._running:
                self.sla.settle(self._now())
                return
            try:
                event = self._events.get(timeout=0.05)
            except queue.Empty:
                continue
            self._events.put(event)
        raise TimeoutError(f"engine still busy after {limit}s: running {sorted(self._running)}")

    @property
    def running(self) -> dict[int, int]:
        """instance id -> attempt number of what runs now."""
        return {i: r.number for i, r in self._running.items()}

    # -- one turn ---------------------------------------------------------------

    def tick(self, poll_signals: bool = False) -> None:
        if poll_signals or time.monotonic() - self._last_poll >= self.signal_poll:
            self._poll_signals()
        self._fire_timers()
        with open_turn(self._turns) as turn:
            self._drain_events(turn)
            while self._candidates:
                self.sla.touch()
                self._evaluate(turn)
            starts = self._dispatch(turn)
        # processes start only once their attempts are committed: recovery can see them
        now = self._now()
        for start in starts:
            self._launch(start, now, alone=len(starts) == 1)
        self._fresh.clear()
        self.sla.update_if_due(self._now())

    def _now(self) -> datetime:
        return to_store(self.clock.now())

    def _utc(self, naive: datetime) -> datetime:
        return naive.replace(tzinfo=UTC)

    def _timer(self, when: datetime, kind: str, instance_id: int = 0, number: int = 0) -> None:
        heapq.heappush(self._timers, Timer(when, next(self._seq), kind, instance_id, number))

    # -- recovery and scans -----------------------------------------------------

    def _rescan(self) -> None:
        """Load everything pending from the store: candidates, waits, retries. Ids only, as
        they come: a day of 55,000 pending instances is a set of ints, not a list of rows."""
        mine = InstanceRow.workspace_id == self.workspace_id
        with self.db.connect() as conn:
            self._candidates.update(
                conn.scalars(
                    select(InstanceRow.id).where(
                        mine, InstanceRow.status.in_([s.value for s in READY_FROM])
                    )
                )
            )
            retries = conn.execute(
                select(InstanceRow.id, InstanceRow.retry_at).where(
                    mine,
                    InstanceRow.status == Status.FAILURE.value,
                    InstanceRow.retry_at.is_not(None),
                )
            ).all()
        for instance_id, retry_at in retries:
            if retry_at is not None:  # as the query says; for the type checker
                self._timer(retry_at, "retry", instance_id)

    # -- signals from actions ---------------------------------------------------

    def _poll_signals(self) -> None:
        self._last_poll = time.monotonic()
        self._wake.clear()
        with self.db.connect() as conn:
            rows = conn.execute(
                select(SignalRow)
                .where(
                    SignalRow.id > self._last_signal, SignalRow.workspace_id == self.workspace_id
                )
                .order_by(SignalRow.id)
            ).all()
        for signal in rows:
            self._last_signal = signal.id
            ids = [int(i) for i in signal.instance_ids]
            if signal.kind in ("stop", "freeze"):
                self._kill(ids, signal.kind, signal.by)
            elif signal.kind == "generate":
                ensure_generated(self.db, self.workspace_id, self._now())
                self._rescan()
            elif signal.kind == "backfill":
                self._advance_backfills()
            else:
                self._candidates.update(ids)
                self._unqueue(ids)

    def _kill(self, ids: Iterable[int], kind: str, by: str) -> None:
        for instance_id in ids:
            running = self._running.get(instance_id)
            if running is not None:
                running.request_kill(kind, by, state.halt_reason(kind, by))

    def _unqueue(self, ids: Iterable[int]) -> None:
        """Instances an action changed leave the resource queues; evaluation re-adds them."""
        for instance_id in ids:
            self._queued.pop(instance_id, None)

    # -- timers -----------------------------------------------------------------

    def _fire_timers(self) -> None:
        now = self._now()
        retries: list[int] = []
        while self._timers and self._timers[0].when <= now:
            timer = heapq.heappop(self._timers)
            if timer.kind == "due":
                self._candidates.add(timer.instance_id)
            elif timer.kind == "retry":
                retries.append(timer.instance_id)
            elif timer.kind == "timeout":
                running = self._running.get(timer.instance_id)
                if running and running.number == timer.number:
                    running.request_kill("timeout", self.name, running.timeout_reason)
            elif timer.kind == "generate":
                self._generate_next(timer)
        if retries:
            with writing(self.db) as conn:
                moved = state.move(
                    conn,
                    retries,
                    Status.NOT_RUN,
                    allowed_from=[Status.FAILURE],
                    now=now,
                    reason="auto rerun",
                    values={"retry_at": None},
                )
            self._candidates.update(moved)

    def _schedule_generation(self) -> None:
        when, _day = next_generation_at(self._now(), self.zone)
        self._timer(when, "generate")

    def _generate_next(self, timer: Timer) -> None:
        _when, day = next_generation_at(timer.when - timedelta(seconds=1), self.zone)
        generate_day(self.db, self.workspace_id, day, now=self._now())
        self._schedule_generation()
        self._rescan()

    # -- readiness ----------------------------------------------------------------

    def _evaluate(self, turn: Turn) -> None:
        """Evaluate up to EVALUATE_BATCH candidates: a whole day at start would hold every
        row in memory at once, and one long write transaction would block the readers."""
        ids = sorted(self._candidates)[:EVALUATE_BATCH]
        self._candidates.difference_update(ids)
        now = self._now()
        conn = turn.conn()
        rows = conn.execute(*_READINESS.of(ids)).all()
        if not rows:
            return
        stuck = {r.id for r in rows if r.blocked}
        back, waiting, dry, instant, queued = [], [], [], [], []
        for row in rows:
            if row.id in stuck:
                if row.status != Status.NOT_RUN.value:
                    back.append(row.id)
            elif row.due_at > now:
                if row.status == Status.NOT_RUN.value:
                    waiting.append(row.id)
                self._timer(row.due_at, "due", row.id)
            elif row.dry_run:
                dry.append(row.id)
            elif row.type in NO_SLOT_TYPES:
                instant.append(row.id)
            else:
                queued.append(row)
        state.move(
            conn,
            back,
            Status.NOT_RUN,
            allowed_from=[Status.WAIT_TIME, Status.WAIT_RESOURCE],
            now=now,
            reason="upstream not successful",
        )
        self._unqueue(back)
        state.move(conn, waiting, Status.WAIT_TIME, allowed_from=[Status.NOT_RUN], now=now)
        done = []
        for ids_, reason in ((dry, "dry-run: succeeds without running"), (instant, "")):
            done += state.move(
                conn,
                ids_,
                Status.SUCCESS,
                allowed_from=READY_FROM,  # WAIT_RESOURCE too: undeploy makes it dry-run
                now=now,
                reason=reason,
                values={"started_at": now, "finished_at": now},
            )
        if done:
            self._candidates.update(state.downstream_of(conn, done))
            succeeded_now = set(done)
            runs = {r.backfill_run_id for r in rows if r.id in succeeded_now and r.backfill_run_id}
            if runs:
                self._candidates.update(backfill.advance(conn, self.workspace_id, now, runs))
        self._fresh.update(r.id for r in queued)
        for row in queued:
            if row.id not in self._queued and row.id not in self._running:
                entry = (-row.priority, row.due_at, row.id)
                self._queued[row.id] = (row.resource_group, entry)
                heapq.heappush(self._waiting[row.resource_group], entry)
                if row.status != Status.WAIT_RESOURCE.value:
                    self._newly_queued.add(row.id)

    # -- dispatch -----------------------------------------------------------------

    def _dispatch(self, turn: Turn) -> list[Start]:
        """Pick what may start now; returns the attempts begun, to launch after commit."""
        starts: list[int] = []
        now = self._now()
        for group, heap in self._waiting.items():
            free = self.slots.get(group, 1) - self._busy[group]
            while heap and free > 0:
                entry = heapq.heappop(heap)
                instance_id = entry[2]
                if self._queued.get(instance_id) != (group, entry):
                    continue  # an action took it out of the queue, or queued it anew
                del self._queued[instance_id]
                starts.append(instance_id)
                free -= 1
        queued = sorted(self._newly_queued & self._queued.keys())
        self._newly_queued.clear()
        if queued:
            state.move(
                turn.conn(),
                queued,
                Status.WAIT_RESOURCE,
                allowed_from=[Status.NOT_RUN, Status.WAIT_TIME],
                now=now,
            )
        if not starts:
            return []
        return lifecycle.begin(
            turn.conn(), starts, self._fresh, self._now(), by=self.name, logs=self.logs
        )

    def _launch(self, start: Start, now: datetime, *, alone: bool) -> None:
        """Register the attempt and hand its process to a worker thread: forking from several
        threads at once is faster, and the scheduler goes on while processes start. A
        process started ``alone`` in its turn is started here, and only its waiting handed
        over: a worker would have to wake up first, and the loop has nothing else to do."""
        row, attempt_id = start.row, start.attempt_id
        number = row.run_number + 1
        running = Running(
            row.id,
            number,
            row.resource_group,
            row.node_id,
            attempt_id,
            row.backfill_run_id,
            now,
        )
        self._running[row.id] = running
        self._busy[row.resource_group] += 1
        try:
            params = resolve(
                {**self.parameters, **row.parameters},
                row.cyctime,
                bizdate=row.bizdate,
                node_id=row.node_id,
                instance_id=row.id,
                job_id=row.backfill_run_id or 0,
            )
            code = row.code or ""
            if row.type in (NodeType.SQL.value, NodeType.QUALITY.value):
                code = substitute(
                    code,
                    params,
                    row.cyctime,
                    bizdate=row.bizdate,
                    node_id=row.node_id,
                    instance_id=row.id,
                )
        except ParamError as exc:
            self._events.put((row.id, number, Outcome(False, None, str(exc))))
            return
        job = Job(
            instance_id=row.id,
            attempt=number,
            node=row.name,
            node_type=NodeType(row.type),
            code=code,
            parameters=params,
            cyctime=row.cyctime,
            bizdate=row.bizdate,
            triggered_by=row.trigger_note or self.name,
            log_path=start.log_path,
            speed=self.clock.speed,
        )
        if row.timeout:
            running.timeout_reason = f"timed out after {row.timeout} minutes"
            self._timer(now + timedelta(minutes=row.timeout), "timeout", row.id, number)
        if alone and job.node_type in PROCESS_TYPES:
            self._pool.submit(self._wait, running, job, self._start(job))
        else:
            self._pool.submit(self._execute, running, job)

    def _start(self, job: Job) -> Execution:
        """The attempt's execution, or its failure to start as one."""
        try:
            return self.executors.start(job)
        except Exception as exc:  # an executor bug must not lose the attempt
            return AlreadyOver(Outcome(False, None, f"executor error: {exc}"))

    def _execute(self, running: Running, job: Job) -> None:
        """On a worker thread: start the process, then wait for it."""
        self._wait(running, job, self._start(job))

    def _wait(self, running: Running, job: Job, execution: Execution) -> None:
        """On a worker thread: report the process's pid, wait for its end."""
        try:
            running.attach(execution)
            if execution.pid:  # recorded at the next turn; no need to wake the loop for it
                started = process_start_time(execution.pid)
                self._pids.append((job.instance_id, job.attempt, execution.pid, started))
            outcome = execution.wait()
        except Exception as exc:  # an executor bug must not lose the attempt
            outcome = Outcome(False, None, f"executor error: {exc}")
        self._events.put((job.instance_id, job.attempt, outcome))
        self._wake.set()

    # -- completion -----------------------------------------------------------------

    def _drain_events(self, turn: Turn) -> None:
        if self._events.empty() and not self._pids:
            return
        # the turn's transaction first: if the store cannot be written now, what ended is
        # still in the queue for the next turn (or for close), not taken and forgotten
        conn = turn.conn()
        finished: list[tuple[int, int, Outcome]] = []
        while True:
            try:
                finished.append(self._events.get_nowait())
            except queue.Empty:
                break
        pids: dict[tuple[int, int], dict[str, Any]] = {}
        while self._pids:
            i, n, pid, started = self._pids.popleft()
            pids[i, n] = {"i": i, "n": n, "pid": pid, "start": started}
        now = self._now()
        ended: list[Running] = []
        ends: list[lifecycle.End] = []
        failed: list[tuple[Running, Outcome]] = []
        for instance_id, number, outcome in finished:
            running = self._running.get(instance_id)
            if running is None or running.number != number:
                continue
            del self._running[instance_id]
            ended.append(running)
            self._busy[running.group] -= 1
            ends.append((instance_id, number, outcome, pids.pop((instance_id, number), None)))
            if not outcome.success:
                failed.append((running, outcome))
        # a turn's ends are a few statements, however many attempts ended in it
        lifecycle.record_ends(conn, ends, now)
        succeeded = lifecycle.succeed(conn, [i for i, _, o, _ in ends if o.success], now)
        for running, outcome in failed:
            retry_at = lifecycle.end_failed(
                conn,
                running.instance_id,
                now,
                outcome.reason,
                halted=running.halted(),
                by=self.name,
            )
            if retry_at is not None:
                self._timer(retry_at, "retry", running.instance_id)
        if pids:
            lifecycle.record_pids(conn, list(pids.values()))
        if succeeded:
            self._candidates.update(state.downstream_of(conn, succeeded))
        runs = {r.backfill_run for r in ended if r.backfill_run is not None}
        if runs:
            self._candidates.update(backfill.advance(conn, self.workspace_id, now, runs))
        self.sla.succeeded(
            [
                Finished(r.attempt_id, r.node_id, now, (now - r.started_at).total_seconds())
                for r in ended
                if r.instance_id in succeeded and r.started_at is not None
            ]
        )

    # -- backfills -----------------------------------------------------------------

    def _advance_backfills(self) -> None:
        with writing(self.db) as conn:
            self._candidates.update(backfill.advance(conn, self.workspace_id, self._now()))
