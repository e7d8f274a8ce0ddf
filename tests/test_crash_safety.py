"""Crash safety (issue 7.1): kill -9 the scheduler, or a console in the middle of an action.

Real `opscenter scheduler` processes on a simulated clock run a busy day (hourly and daily
shell, Python and SQL nodes, retries, a backfill, operator actions from the CLI) on one
SQLite file; they are killed with SIGKILL at seeded random moments and started again where
the clock stopped. After every kill the store is read with SQL: every instance exists
once, no attempt runs twice, nothing is stuck RUNNING, the edges are the generator's, and
every action an operator was told about is in the audit. Node scripts take a lock named
after their instance, so two processes of one instance running at once is caught in the act.

A console killed during an action is a process doing what the console does (the backend
call on a worker thread), killed at random moments: each action happened whole with its
audit row, or not at all.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from opscenter.scheduler import state
from opscenter.scheduler.generate import ensure_generated
from opscenter.store.audit import os_user
from opscenter.store.db import open_store
from opscenter.store.tx import WRITE_LOCK
from tests import store_checks
from tests.conftest import deploy_folder, write_workspace
from tests.processes import alive, eventually, kill_group, start_scheduler

pytestmark = pytest.mark.slow

DAY = date(2025, 11, 1)
START = datetime(2025, 11, 1, 12, 0)  # workspace time (UTC): the day is under way
SPEED = 1500.0  # simulated seconds per real second: an hour in 2.4 s
KILLS = 20  # of the scheduler
THE_DAY = {"day": datetime(2025, 11, 1), "next": datetime(2025, 11, 2)}  # cyctime in [day, next)
CONSOLE_KILLS = 12
HOURLY = "00 00 00-23/1 * * ?"

# Every process of an attempt holds a lock named after its instance: a second process of
# the same instance finding it taken (an orphan still running) writes to TWICE.
GUARD = (
    'exec 9>>"$OPSCENTER_LANDING/lock.$OPSCENTER_INSTANCE_ID"; '
    'flock -n 9 || echo "$OPSCENTER_NODE #$OPSCENTER_INSTANCE_ID attempt $OPSCENTER_ATTEMPT" '
    '>> "$OPSCENTER_LANDING/TWICE"; '
)
# Written after GUARD: this attempt has tried the lock (a test waits for that, not for time).
GUARDED = 'echo "$OPSCENTER_ATTEMPT" >> "$OPSCENTER_LANDING/guarded.$OPSCENTER_NODE"; '
PY_GUARD = """import fcntl, os, time
land, me = os.environ["OPSCENTER_LANDING"], os.environ["OPSCENTER_INSTANCE_ID"]
lock = open(os.path.join(land, "lock." + me), "a")
try:
    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
except OSError:
    with open(os.path.join(land, "TWICE"), "a") as twice:
        twice.write(os.environ["OPSCENTER_NODE"] + " #" + me + "\\n")
"""


def busy_day(folder: Path) -> Path:
    """Hourly shell and Python nodes feeding a daily SQL total, four layers of daily shell
    nodes through the day, a flaky node, a broken one, a slow one and a SQL node."""
    nodes: list[dict] = []

    def add(name: str, type_: str, cron: str, code: str = "", **extra: object) -> None:
        node = {"name": name, "type": type_, "trigger": {"cron": cron}, **extra}
        if code:
            node["code"] = code
        nodes.append(node)

    work = {"resource_group": "work"}
    add("h_extract", "shell", HOURLY, GUARD + "sleep 0.4", rerun_times=2, rerun_interval=30, **work)
    add(
        "h_load",
        "python",
        HOURLY,
        PY_GUARD + "time.sleep(0.3)\n",
        depends=["h_extract"],
        rerun_times=2,
        rerun_interval=30,
        **work,
    )
    add("h_done", "virtual", HOURLY, depends=["h_load"])
    add(
        "day_total",
        "sql",
        "00 30 00 * * ?",
        "CREATE OR REPLACE TABLE day_total AS SELECT 24 AS hours",
        depends=["h_done"],
    )
    for layer in range(4):
        for n in range(4):
            add(
                f"l{layer}_{n}",
                "shell",
                f"00 {15 * n:02d} {11 + 3 * layer:02d} * * ?",
                GUARD + f"sleep {0.3 + 0.3 * n:.1f}; echo l{layer}_{n} done",
                depends=[f"l{layer - 1}_{u}" for u in range(4)] if layer else [],
                rerun_times=3,
                rerun_interval=60,
                **work,
            )
    add(
        "flaky",
        "shell",
        "00 00 12 * * ?",
        GUARD + '[ "$OPSCENTER_ATTEMPT" -ge 2 ] || { echo "not yet"; exit 1; }; sleep 0.3',
        rerun_times=2,
        rerun_interval=120,
    )
    add("broken", "shell", "00 00 13 * * ?", GUARD + "echo 'no source' >&2; exit 3", rerun_times=1)
    add("after_broken", "virtual", "00 00 13 * * ?", depends=["broken"])
    add("slow", "shell", "00 00 15 * * ?", GUARD + "sleep 5", rerun_times=1, rerun_interval=60)
    add(
        "warehouse",
        "sql",
        "00 00 16 * * ?",
        "CREATE OR REPLACE TABLE w AS SELECT range AS i FROM range(300000); SELECT count(*) FROM w",
        depends=["l1_0", "l1_1"],
    )
    add("late", "virtual", "00 00 22 * * ?", depends=["l3_0"])
    lines = [
        "workspace: {name: crash, timezone: UTC}",
        "resource_groups: [{name: work, slots: 3}]",
        "nodes:",
        *(f"  - {json.dumps(node)}" for node in nodes),
    ]
    return write_workspace(folder, "\n".join(lines) + "\n")


def scheduler_at(folder: Path, url: str, log: Path, at: datetime) -> subprocess.Popen:
    """A scheduler whose simulated clock starts at ``at``."""
    start = at.isoformat(sep=" ", timespec="seconds")
    args = ["--workspace", str(folder), "--db", url, "--speed", f"{SPEED:g}", "--start", start]
    return start_scheduler(args, log)


def verb(folder: Path, url: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "opscenter", *args, "--workspace", str(folder), "--db", url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def ours(landing: Path) -> list[int]:
    """Processes started for this workspace (by the environment the executor gives them)."""
    wanted = f"OPSCENTER_LANDING={landing}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if wanted in environ.split(b"\0") and alive(int(entry.name)):
            found.append(int(entry.name))
    return found


# -- the operator, from another process -----------------------------------------------------


def pick(db: Engine, sql: str, rng: random.Random, most: int = 1) -> list[int]:
    with db.connect() as conn:
        ids = list(conn.execute(text(sql)).scalars())
    return sorted(rng.sample(ids, min(most, len(ids))))


WHERE = "SELECT id FROM instances WHERE "
OPERATOR = [  # (verb, audit action, extra arguments, targets by SQL, at most)
    ("rerun", "rerun", (), WHERE + "status = 'FAILURE' AND retry_at IS NULL", 2),
    ("set-success", "set success", (), WHERE + "status = 'FAILURE'", 1),
    ("stop", "stop", (), WHERE + "status IN ('RUNNING', 'WAIT_RESOURCE', 'WAIT_TIME')", 1),
    ("freeze", "freeze", (), WHERE + "status IN ('NOT_RUN', 'WAIT_TIME')", 2),
    ("unfreeze", "unfreeze", (), WHERE + "status = 'FROZEN'", 3),
    (
        "rerun",
        "rerun downstream",
        ("--downstream",),
        "SELECT i.id FROM instances i JOIN nodes n ON n.id = i.node_id "
        "WHERE n.name LIKE 'l2_%' AND i.status = 'SUCCESS'",
        1,
    ),
]


def deployed(db: Engine | None) -> bool:
    """Whether a scheduler got as far as deploying the workspace (one killed at once did not)."""
    if db is None:
        return False
    with db.connect() as conn:
        return bool(conn.execute(text("SELECT COUNT(*) FROM workspaces")).scalar())


def operator_action(
    db: Engine | None, rng: random.Random, round_: int, folder: Path, url: str, *, backfill: bool
) -> tuple[subprocess.Popen, tuple[str, list]] | None:
    """One action from the CLI, started now; returns its process and (audit action, targets)."""
    if backfill:
        targets = ["l0_0", "2025-10-29..2025-10-30"]
        argv = ["backfill", "l0_0", "--from", "2025-10-29", "--to", "2025-10-30"]
        argv += ["--include", "l1_0,l1_1", "--parallel", "2"]
        return verb(folder, url, *argv), ("backfill", targets)
    if db is None:
        return None
    for offset in range(len(OPERATOR)):
        name, action, extra, sql, most = OPERATOR[(round_ + offset) % len(OPERATOR)]
        ids = pick(db, sql, rng, most)
        if ids:
            return verb(folder, url, name, *map(str, ids), *extra), (action, ids)
    return None


# -- the test -------------------------------------------------------------------------------


def settled(db: Engine) -> bool:
    """Everything of the day and of the backfill has ended, or waits on a failed or frozen
    upstream: nothing runs, waits for time or a slot, or is due to run."""
    with db.connect() as conn:
        busy = conn.execute(
            text(
                "SELECT COUNT(*) FROM instances i WHERE (i.kind = 'backfill' OR "
                "i.cyctime >= :day AND i.cyctime < :next) AND ("
                " i.status IN ('RUNNING', 'WAIT_TIME', 'WAIT_RESOURCE')"
                " OR (i.status = 'FAILURE' AND i.retry_at IS NOT NULL)"
                " OR (i.status = 'NOT_RUN' AND NOT EXISTS (SELECT 1 FROM instance_edges e"
                "  JOIN instances u ON u.id = e.upstream_id"
                "  WHERE e.downstream_id = i.id AND u.status != 'SUCCESS')))"
            ),
            THE_DAY,
        ).scalar()
        waiting_runs = conn.execute(
            text("SELECT COUNT(*) FROM backfill_runs WHERE status IN ('WAITING', 'RUNNING')")
        ).scalar()
    return busy == 0 and waiting_runs == 0


def running_attempts(db: Engine) -> dict[int, tuple[int | None, int | None]]:
    with db.connect() as conn:
        return {
            row.id: (row.pid, row.pid_start)
            for row in conn.execute(
                text("SELECT id, pid, pid_start FROM attempts WHERE status = 'RUNNING'")
            )
        }


def newest_attempt(db: Engine | None) -> int:
    if db is None:
        return 0
    with db.connect() as conn:
        return conn.execute(text("SELECT coalesce(max(id), 0) FROM attempts")).scalar()


def test_sigkill_the_scheduler_at_twenty_random_moments_of_a_busy_day(
    tmp_path: Path, store_url: str
) -> None:
    folder = busy_day(tmp_path / "ws")
    url = store_url
    log = tmp_path / "scheduler.log"
    rng = random.Random(71)
    clock = START
    db: Engine | None = None
    orphans: dict[int, tuple[int | None, int | None]] = {}  # attempts RUNNING at a kill
    told: list[tuple[str, list, str]] = []  # the actions the CLI reported back on
    starts = 0
    backfill_asked = False
    for round_ in range(KILLS):
        before = newest_attempt(db)
        spawned = time.monotonic()
        proc = scheduler_at(folder, url, log, clock)
        starts += 1
        lifetime = rng.uniform(0.3, 3.8)  # from before its imports to well into its day
        act_at = rng.uniform(0.0, lifetime)
        time.sleep(act_at)
        backfill = not backfill_asked and deployed(db)  # it needs the deployed workspace
        operator = operator_action(db, rng, round_, folder, url, backfill=backfill)
        backfill_asked = backfill_asked or backfill
        time.sleep(lifetime - act_at)
        kill_group(proc)
        clock += timedelta(seconds=SPEED * (time.monotonic() - spawned))
        if operator is not None:
            cli, (action, targets) = operator
            out, err = cli.communicate(timeout=60)
            assert cli.returncode in (0, 3), f"{action} {targets}: exit {cli.returncode}\n{err}"
            assert "Traceback" not in err and "locked" not in err, err
            told.append((action, targets, "ok" if cli.returncode == 0 else "refused"))
        db = db or open_store(url)
        store_checks.assert_sound(db, f"after kill {round_ + 1}")
        if newest_attempt(db) > before:  # the scheduler got past its recovery this time
            for attempt_id, (pid, started) in orphans.items():
                with db.connect() as conn:
                    status, reason = conn.execute(
                        text("SELECT status, reason FROM attempts WHERE id = :id"),
                        {"id": attempt_id},
                    ).one()
                assert status != "RUNNING", f"attempt {attempt_id} stuck RUNNING after a restart"
                assert pid is None or not alive(pid, started), f"{reason}: its process lives on"
            orphans = {}
        orphans |= running_attempts(db)

    assert db is not None
    with db.connect() as conn:
        landing = Path(conn.execute(text("SELECT landing FROM workspaces")).scalar()).resolve()
    # the last start: the clock jumps past the day's end; everything must settle
    proc = scheduler_at(folder, url, log, max(clock, datetime(2025, 11, 2, 0, 10)))
    starts += 1
    try:
        deadline = time.monotonic() + 60
        # up and holding the lease first: a SIGTERM during its imports would kill it
        while f":{proc.pid}:" not in log.read_text() or not settled(db):
            assert time.monotonic() < deadline, "the day never settled:\n" + log.read_text()[-3000:]
            time.sleep(0.3)
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
    output = log.read_text()
    assert code == 0 and "scheduler stopped" in output, output[-3000:]
    assert "Traceback" not in output, output

    store_checks.assert_sound(db, "at the end")
    twice = landing / "TWICE"
    assert not twice.exists(), "two processes of one instance ran at once:\n" + twice.read_text()
    assert ours(landing) == [], "a node process outlived every scheduler"
    with db.connect() as conn:
        assert (
            conn.execute(text("SELECT COUNT(*) FROM attempts WHERE status = 'RUNNING'")).scalar()
            == 0
        )
        lost = conn.execute(
            text("SELECT COUNT(*) FROM attempts WHERE reason = 'lost: scheduler restarted'")
        ).scalar()
        assert lost > 0, "no kill found an attempt running: the test proves nothing"
        # the attempts of one instance never overlapped, even across kills; an attempt an
        # operator's CLI stopped while no scheduler ran is stamped with the CLI's real clock,
        # not the schedulers' simulated one, so only its end is checked (the per-instance
        # lock in every node script catches a real overlap whatever the clocks)
        rows = conn.execute(
            text(
                "SELECT instance_id, number, started_at, finished_at, reason FROM attempts "
                "ORDER BY instance_id, number"
            )
        ).all()
        for before, after in zip(rows, rows[1:], strict=False):
            if before.instance_id == after.instance_id:
                assert before.finished_at is not None
                if not state.asked_to_halt(before.reason or ""):
                    assert after.started_at >= before.finished_at
        # every failure of the day is explained: the broken node, an operator's stop, or
        # auto reruns used up by kills (a lost attempt counts against them)
        unexplained = conn.execute(
            text(
                "SELECT n.name, i.id FROM instances i JOIN nodes n ON n.id = i.node_id "
                "WHERE i.cyctime >= :day AND i.cyctime < :next "
                "AND i.status = 'FAILURE' AND n.name != 'broken' "
                'AND (SELECT "by" FROM instance_transitions t WHERE t.instance_id = i.id '
                "     ORDER BY t.id DESC LIMIT 1) != :user "
                "AND (SELECT reason FROM attempts a WHERE a.instance_id = i.id "
                "     ORDER BY a.number DESC LIMIT 1) != 'lost: scheduler restarted'"
            ),
            {**THE_DAY, "user": os_user()},
        ).all()
        their_attempts = {  # what a failure of this test shows: how each attempt ended
            instance_id: conn.execute(
                text(
                    "SELECT number, status, reason FROM attempts WHERE instance_id = :i "
                    "ORDER BY number"
                ),
                {"i": instance_id},
            ).all()
            for _, instance_id in unexplained
        }
        succeeded = conn.execute(
            text(
                "SELECT COUNT(*) FROM instances "
                "WHERE cyctime >= :day AND cyctime < :next AND status = 'SUCCESS'"
            ),
            THE_DAY,
        ).scalar()
        deploys = conn.execute(text("SELECT COUNT(*) FROM audit WHERE action = 'deploy'")).scalar()
        backfilled = conn.execute(
            text("SELECT COUNT(*) FROM instances WHERE kind = 'backfill' AND status = 'SUCCESS'")
        ).scalar()
        # each date of the backfill was generated whole, from the one plan: the same graph
        runs = conn.execute(
            text(
                "SELECT (SELECT COUNT(*) FROM instances i WHERE i.backfill_run_id = r.id), "
                "(SELECT COUNT(*) FROM instance_edges e JOIN instances d "
                " ON d.id = e.downstream_id WHERE d.backfill_run_id = r.id) FROM backfill_runs r"
            )
        ).all()
    assert unexplained == [], their_attempts
    assert succeeded > 50, "the day hardly ran"
    assert backfilled > 0, "the backfill never ran"
    assert len(runs) == 2 and len(set(runs)) == 1 and runs[0][0] > 0, runs
    # the graph is the one an undisturbed generator makes for the same days
    instances, edges, days = store_checks.periodic_graph(db)
    assert days and DAY in days
    expected = store_checks.reference_graph(folder, tmp_path / "reference", START, days)
    assert (instances, edges) == expected
    # the audit: every action the CLI answered is there once, and nothing else
    assert store_checks.audited(db) == Counter(store_checks.audit_key(*entry) for entry in told)
    reported = output.count("workspace crash:")  # each start deploys before it schedules
    assert reported <= deploys <= starts
    db.dispose()


def test_a_stop_or_freeze_the_scheduler_accepted_survives_its_crash(
    tmp_path: Path, store_url: str
) -> None:
    """The CLI hands a stop (and a freeze) of running instances to a live scheduler, which
    dies before it acts: after the restart they are stopped and frozen, not retried."""
    folder = write_workspace(
        tmp_path / "ws",
        """
        workspace: {name: halt, timezone: UTC}
        nodes:
          - {name: to_stop, type: shell, code: "sleep 30", rerun_times: 3, rerun_interval: 0,
             trigger: {cron: "00 00 00 * * ?"}}
          - {name: to_freeze, type: shell, code: "sleep 30", rerun_times: 3, rerun_interval: 0,
             trigger: {cron: "00 00 00 * * ?"}}
        """,
    )
    url = store_url
    log = tmp_path / "scheduler.log"
    proc = scheduler_at(folder, url, log, START)
    db = None
    try:
        deadline = time.monotonic() + 30
        while True:
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
            if db is None and "holds the lease" in log.read_text():
                db = open_store(url)
            if db is not None and len([p for p, _ in running_attempts(db).values() if p]) == 2:
                break
        with db.connect() as conn:
            ids = dict(
                conn.execute(
                    text(
                        "SELECT n.name, i.id FROM instances i JOIN nodes n ON n.id = i.node_id "
                        "WHERE i.status = 'RUNNING'"
                    )
                ).all()
            )
        processes = running_attempts(db)
        os.kill(proc.pid, signal.SIGSTOP)  # hung: its lease is fresh, it reads no signal
        for name, action in (("stop", "to_stop"), ("freeze", "to_freeze")):
            out, err = verb(folder, url, name, str(ids[action])).communicate(timeout=60)
            assert "by the scheduler" in out, err
        kill_group(proc)
    finally:
        if proc.poll() is None:
            kill_group(proc)
    proc = scheduler_at(folder, url, log, START + timedelta(minutes=5))
    try:
        deadline = time.monotonic() + 30
        while running_attempts(db):
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        time.sleep(1.0)  # an auto rerun would start at once (interval 0)
        with db.connect() as conn:
            rows = {
                name: (status, attempts, reason)
                for name, status, attempts, reason in conn.execute(
                    text(
                        "SELECT n.name, i.status, i.run_number, a.reason FROM instances i "
                        "JOIN nodes n ON n.id = i.node_id JOIN attempts a ON a.instance_id = i.id "
                        "WHERE n.name IN ('to_stop', 'to_freeze')"
                    )
                )
            }
        user = os_user()
        assert rows == {
            "to_stop": ("FAILURE", 1, f"stopped by {user}"),
            "to_freeze": ("FROZEN", 1, f"frozen by {user}"),
        }
        assert not any(alive(pid, started) for pid, started in processes.values())
        store_checks.assert_sound(db)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        db.dispose()


def test_a_process_whose_pid_was_never_recorded_is_still_ended(
    tmp_path: Path, store_url: str
) -> None:
    """A scheduler killed between starting a process and recording its pid (the window of a
    turn, which the random kills above hit now and then) leaves a process nobody knows the
    pid of: a restarted scheduler, and a stop from the CLI, find it by its environment."""
    folder = write_workspace(
        tmp_path / "ws",
        "workspace: {name: stray, timezone: UTC}\nnodes:\n"
        + "".join(
            f"  - {json.dumps(node)}\n"
            for node in (
                {
                    "name": name,
                    "type": "shell",
                    "code": GUARD + GUARDED + "sleep 30",
                    "rerun_times": 1,
                    "rerun_interval": 0,
                    "trigger": {"cron": "00 00 00 * * ?"},
                }
                for name in ("by_restart", "by_stop")
            )
        ),
    )
    url = store_url
    log = tmp_path / "scheduler.log"
    proc = scheduler_at(folder, url, log, START)
    db = None
    try:
        deadline = time.monotonic() + 30
        while db is None or len([p for p, _ in running_attempts(db).values() if p]) < 2:
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
            if db is None and "holds the lease" in log.read_text():
                db = open_store(url)
    finally:
        kill_group(proc)
    processes = running_attempts(db)
    with db.begin() as conn:  # as if it died before the turn that records them
        conn.execute(text("UPDATE attempts SET pid = NULL, pid_start = NULL"))
        ids = dict(
            conn.execute(
                text("SELECT n.name, i.id FROM instances i JOIN nodes n ON n.id = i.node_id")
            ).all()
        )
        landing = Path(conn.execute(text("SELECT landing FROM workspaces")).scalar()).resolve()
    out, err = verb(folder, url, "stop", str(ids["by_stop"])).communicate(timeout=60)
    assert "no scheduler was running" in out, err
    proc = scheduler_at(folder, url, log, START + timedelta(minutes=1))
    try:
        deadline = time.monotonic() + 30
        while True:  # the lost attempt is retried at once (interval 0)
            with db.connect() as conn:
                retried = conn.execute(
                    text("SELECT COUNT(*) FROM attempts WHERE instance_id = :i AND number = 2"),
                    {"i": ids["by_restart"]},
                ).scalar()
            if retried:
                break
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        guarded = landing / "guarded.by_restart"  # the retry's script has tried the lock
        assert eventually(lambda: guarded.exists() and "2" in guarded.read_text().split(), 30)
        assert not any(alive(pid, started) for pid, started in processes.values())
        twice = landing / "TWICE"
        assert not twice.exists(), twice.read_text()
        with db.connect() as conn:
            reasons = dict(
                conn.execute(
                    text(
                        "SELECT n.name, a.reason FROM attempts a JOIN instances i "
                        "ON i.id = a.instance_id JOIN nodes n ON n.id = i.node_id "
                        "WHERE a.number = 1"
                    )
                ).all()
            )
        assert reasons == {
            "by_stop": f"stopped by {os_user()}",
            "by_restart": "lost: scheduler restarted",
        }
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        db.dispose()


# -- a console killed during an action --------------------------------------------------------

WIDE_LAYERS, WIDE_WIDTH = 5, 120

# What the console does when an action is confirmed: the backend call, off the UI thread.
# Each action is done by its own user, so its effects can be told apart in the store.
CONSOLE = """
import sys
from sqlalchemy import text
from opscenter.backends.local import LocalBackend
from opscenter.domain.clock import RealClock
from opscenter.domain.records import ActionRefused
from opscenter.store.audit import os_user
from opscenter.store.db import open_store

db = open_store(sys.argv[1])
prefix = sys.argv[2]
print("ready", flush=True)
sys.stdin.readline()  # started ahead of time: it acts when told to
n = 0
STATUS = text("SELECT id FROM instances WHERE status = :s")
while True:
    with db.connect() as conn:
        frozen = list(conn.execute(STATUS, {"s": "FROZEN"}).scalars())
        waiting = list(conn.execute(STATUS, {"s": "NOT_RUN"}).scalars())
        root = conn.execute(text(
            "SELECT i.id FROM instances i JOIN nodes n ON n.id = i.node_id "
            "WHERE n.name = 'wide_root'"
        )).scalar()
    user = f"{prefix}.{n}"
    backend = LocalBackend(db, "wide", RealClock(), user=user, source="tui")
    print("begin", user, flush=True)
    try:
        if frozen:
            backend.unfreeze(frozen)
        elif n % 2:
            backend.freeze(waiting)
        else:
            backend.rerun([root], downstream=True)
    except ActionRefused:
        pass
    print("done", user, flush=True)
    n += 1
"""


def wide_workspace(folder: Path) -> Path:
    lines = ["workspace: {name: wide, timezone: UTC}", "nodes:"]
    for layer in range(WIDE_LAYERS):
        for n in range(WIDE_WIDTH):
            ups = [f"v{layer - 1}_{n}", f"v{layer - 1}_{(n + 1) % WIDE_WIDTH}"] if layer else []
            node = {
                "name": f"v{layer}_{n}",
                "type": "virtual",
                "trigger": {"cron": "00 00 01 * * ?"},
            }
            if ups:
                node["depends"] = ups
            lines.append(f"  - {json.dumps(node)}")
    return write_workspace(folder, "\n".join(lines) + "\n")


def effects(db: Engine, user: str) -> tuple[list[tuple[str, str]], int, int]:
    """An action's audit rows (outcome, detail), its transitions and its signals."""
    with db.connect() as conn:
        audit = [
            tuple(r)
            for r in conn.execute(
                text('SELECT outcome, detail FROM audit WHERE "user" = :u'), {"u": user}
            )
        ]
        moves = conn.execute(
            text('SELECT COUNT(*) FROM instance_transitions WHERE "by" = :u'), {"u": user}
        ).scalar()
        signals = conn.execute(
            text('SELECT COUNT(*) FROM signals WHERE "by" = :u'), {"u": user}
        ).scalar()
    return audit, moves, signals


def write_lock_free(db: Engine) -> bool:
    """A new writer gets in at once: a dead process left no lock behind. (PostgreSQL ends a
    dead client's session when it sees the socket closed, soon but not at once.)"""
    if db.dialect.name == "sqlite":
        raw = sqlite3.connect(db.url.database, timeout=0.1, isolation_level=None)
        raw.execute("BEGIN IMMEDIATE")
        raw.execute("ROLLBACK")
        raw.close()
        return True
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        with db.begin() as conn:
            if conn.execute(text(f"SELECT pg_try_advisory_xact_lock({WRITE_LOCK})")).scalar():
                return True
        time.sleep(0.05)
    return False


def test_a_console_killed_during_an_action_leaves_it_whole_or_undone(
    tmp_path: Path, store_url: str
) -> None:
    url = store_url
    db = open_store(url)
    report = deploy_folder(db, wide_workspace(tmp_path / "ws"), now=datetime(2025, 11, 1))
    ensure_generated(db, report.workspace_id, datetime(2025, 11, 1, 0, 30))
    rng = random.Random(17)

    def spawn(n: int) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-c", CONSOLE, url, f"op{n}"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )

    following = spawn(0)
    for kill in range(CONSOLE_KILLS):
        console, following = following, spawn(kill + 1) if kill + 1 < CONSOLE_KILLS else None
        assert console.stdout.readline().strip() == "ready", console.stderr.read()
        console.stdin.write("go\n")
        console.stdin.flush()
        time.sleep(rng.uniform(0.02, 0.5))
        kill_group(console)
        said = console.stdout.read().split("\n")
        begun = [line.split()[1] for line in said if line.startswith("begin ")]
        done = {line.split()[1] for line in said if line.startswith("done ")}
        store_checks.assert_sound(db, f"after kill {kill + 1}")
        for user in begun:
            audit, moves, signals = effects(db, user)
            assert len(audit) <= 1, f"{user} audited {len(audit)} times"
            if user in done:
                assert len(audit) == 1, f"{user}: the console said done, the audit has nothing"
            if audit and audit[0][0] == "ok":
                moved = int(audit[0][1].split()[0])
                assert (moves, signals) == (moved, 1), f"{user}: audited {audit}, {moves} moves"
            else:
                assert (moves, signals) == (0, 0), f"{user}: {moves} moves without an ok audit"
        assert write_lock_free(db), "the dead console left the write lock taken"
    with db.connect() as conn:
        actions = conn.execute(text("SELECT COUNT(*) FROM audit WHERE source = 'tui'")).scalar()
    assert actions >= CONSOLE_KILLS, "the console got few actions done: the kills came too early"
    db.dispose()
