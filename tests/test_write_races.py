"""Writers racing on one store keep the guarantees of tx.py: no lost update, one winner.

Two operators, each in a thread with a database engine of its own (as two processes would
be), act on the same instance at the same moment, round after round. An action reads the
instance, decides whether it may act, and writes: if both read before either wrote, both
would act on a status that no longer holds (a lost update). The write lock serialises
them, so the second reads what the first wrote and is refused. On SQLite that lock is
BEGIN IMMEDIATE; on PostgreSQL an advisory lock at READ COMMITTED.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy import Engine as Database
from sqlalchemy import delete, func, insert, select

from opscenter.backends.local import LocalBackend
from opscenter.domain.model import Status
from opscenter.domain.records import ActionRefused, ActionResult
from opscenter.store import lease
from opscenter.store.db import open_store
from opscenter.store.models import LeaseRow, NodeRow
from opscenter.store.tx import writing
from tests import store_checks
from tests.harness import MakeWorld, World, at

ROUNDS = 12  # instances raced on, one round each

Act = Callable[[LocalBackend, Sequence[int]], ActionResult]


def many_waiting(world: MakeWorld) -> tuple[World, list[int]]:
    """ROUNDS instances waiting for their time (03:00) at 01:00, and their ids."""
    nodes = "".join(
        f'  - {{name: n{n}, type: shell, code: "true", trigger: {{cron: "00 00 03 * * ?"}}}}\n'
        for n in range(ROUNDS)
    )
    w = world("nodes:\n" + nodes).start()
    return w, [w.instance(f"n{n}").id for n in range(ROUNDS)]


def one_told_done_each_round(
    done: dict[int, dict[str, bool]],
) -> dict[int, dict[str, bool]]:
    """``done`` (as ``race`` returns it), once each round is seen to have told exactly one
    of its two users that it was done, and refused the other."""
    for instance_id, by in done.items():
        assert sorted(by.values()) == [False, True], f"#{instance_id}: {by}"
    return done


def race(w: World, url: str, acts: dict[str, Act], ids: list[int]) -> dict[int, dict[str, bool]]:
    """Each user in ``acts`` does their action on each of ``ids`` in turn, all users at
    once (a barrier before each); returns instance -> user -> whether they were told it was
    done (not refused)."""
    barrier = threading.Barrier(len(acts))
    done: dict[int, dict[str, bool]] = {i: {} for i in ids}
    failures: list[BaseException] = []

    def operator(user: str, act: Act) -> None:
        db = open_store(url)
        backend = LocalBackend(db, "ws", w.clock, user=user)
        try:
            for instance_id in ids:
                barrier.wait(timeout=30)
                try:
                    act(backend, [instance_id])
                    done[instance_id][user] = True
                except ActionRefused:
                    done[instance_id][user] = False
        except BaseException as exc:  # the test thread reports it
            failures.append(exc)
            barrier.abort()
        finally:
            db.dispose()

    threads = [threading.Thread(target=operator, args=item) for item in acts.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures, failures
    return done


def test_a_freeze_and_a_stop_at_once_one_wins_and_nothing_is_lost(
    any_world: MakeWorld, any_store: Database, store_url: str
) -> None:
    """Both may act on a waiting instance; the one that comes second finds it FROZEN or
    FAILURE, from which the other action is refused, never written over."""
    w, ids = many_waiting(any_world)
    assert {w.backend.get_instance(i).status for i in ids} == {Status.WAIT_TIME}
    done = race(
        w,
        store_url,
        {"carol": lambda b, i: b.freeze(i), "dave": lambda b, i: b.stop(i)},
        ids,
    )
    for instance_id, by in one_told_done_each_round(done).items():
        status = w.backend.get_instance(instance_id).status
        assert status is (Status.FROZEN if by["carol"] else Status.FAILURE), (instance_id, by)
    store_checks.assert_sound(any_store, "after the races")


def test_two_operators_setting_one_failure_to_success_are_told_apart(
    any_world: MakeWorld, any_store: Database, store_url: str
) -> None:
    """The one who came second is refused ("only a FAILURE can be set to success"), not
    told it was done with nothing done: each is audited as what they were told."""
    w, ids = many_waiting(any_world)
    w.backend.stop(ids)
    w.clock.set(at(2))
    done = race(
        w,
        store_url,
        {"carol": lambda b, i: b.set_success(i), "dave": lambda b, i: b.set_success(i)},
        ids,
    )
    for instance_id in one_told_done_each_round(done):
        assert w.backend.get_instance(instance_id).status is Status.SUCCESS
    outcomes = store_checks.audited(any_store)
    assert sum(n for (action, _, outcome), n in outcomes.items() if action == "set success") == (
        2 * ROUNDS
    )
    assert sum(n for (a, _, o), n in outcomes.items() if (a, o) == ("set success", "ok")) == ROUNDS
    store_checks.assert_sound(any_store, "after the races")


def test_processes_opening_one_new_store_at_once_all_open_it(store_url: str) -> None:
    """A scheduler and consoles started together on an empty database: one creates the
    schema, the others wait for it (the write lock) and find it made, none fails."""
    openers = 4
    barrier = threading.Barrier(openers)
    opened: list[Database] = []
    failures: list[BaseException] = []

    def open_it() -> None:
        try:
            barrier.wait(timeout=30)
            opened.append(open_store(store_url, say=lambda _words: None))
        except BaseException as exc:  # the test thread reports it
            failures.append(exc)

    threads = [threading.Thread(target=open_it, daemon=True) for _ in range(openers)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 60
    for thread in threads:
        thread.join(timeout=max(0.0, deadline - time.monotonic()))
    try:
        assert not failures, failures
        assert len(opened) == openers, f"{openers - len(opened)} still opening after a minute"
        with opened[0].connect() as conn:
            assert conn.scalar(select(func.count()).select_from(NodeRow)) == 0
    finally:
        for db in opened:
            db.dispose()


def test_standbys_taking_over_a_stale_lease_at_once_leave_one_holder(
    any_store: Database, store_url: str
) -> None:
    """Two schedulers that both held the lease would both dispatch: the standbys that find
    the holder's heartbeat stale at the same moment, on other hosts, each try to take it
    over, and exactly one is told it holds it."""
    standbys = 3
    turn = threading.Barrier(standbys + 1)  # each round: the stale lease is set, then taken
    winners: list[list[str]] = [[] for _ in range(ROUNDS)]
    failures: list[BaseException] = []
    long_ago = datetime(2020, 1, 1)

    def standby(n: int) -> None:
        db = open_store(store_url)
        holder = f"host{n}:{1000 + n}:standby"
        try:
            for round_ in range(ROUNDS):
                turn.wait(timeout=30)  # the lease is stale
                if lease.try_acquire(db, holder)[0]:
                    winners[round_].append(holder)
                turn.wait(timeout=30)  # every standby has tried
        except BaseException as exc:  # the test thread reports it
            failures.append(exc)
            turn.abort()
        finally:
            db.dispose()

    threads = [threading.Thread(target=standby, args=(n,)) for n in range(standbys)]
    for thread in threads:
        thread.start()
    try:
        for _ in range(ROUNDS):
            with writing(any_store) as conn:  # a holder on another host, silent for years
                conn.execute(delete(LeaseRow))
                conn.execute(
                    insert(LeaseRow).values(
                        name=lease.LEASE,
                        holder="gone:1:holder",
                        acquired_at=long_ago,
                        heartbeat_at=long_ago,
                    )
                )
            turn.wait(timeout=30)
            turn.wait(timeout=30)
    except threading.BrokenBarrierError:
        pass  # a standby failed: reported below
    for thread in threads:
        thread.join(timeout=60)
    assert not failures, failures
    assert [len(round_) for round_ in winners] == [1] * ROUNDS, winners
