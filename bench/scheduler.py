"""Scheduler benchmark: run as ``python bench/scheduler.py``; prints figures, then a table.

1. A random 10,000-node virtual workspace: deploy, one day's generation, NOT_RUN -> SUCCESS
   throughput of the engine on a manual clock, and peak RSS of that scheduler process.
2. Shell no-ops on a real clock (16 slots): a 40-node chain, 10 x 20 all-to-all layers, and
   those layers backfilled over 7 business dates. Wall time from the start of dispatch to the
   last SUCCESS, and the hand-off gap (upstream finished -> downstream attempt started), both
   read back from the store. Each shape runs on SQLite, then on PostgreSQL (a throwaway
   cluster started for the run, as the tests start one; skipped with a line saying why where
   PostgreSQL's server or psycopg is missing), so the two stores are side by side.

See bench/README.md for what each figure means.
"""

from __future__ import annotations

import json
import os
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import floors
from _workspaces import LAST_MINUTE, chain, layered, random_dag
from figures import FIGURES, Figure, figure, print_table
from sqlalchemy import ColumnElement, Connection, func, select
from sqlalchemy import Engine as Database

from opscenter.domain.clock import ManualClock, RealClock
from opscenter.domain.model import Status, Workspace
from opscenter.domain.records import BackfillRequest
from opscenter.project.loader import load_workspace
from opscenter.scheduler.actions import Actor, create_backfill
from opscenter.scheduler.engine import Engine
from opscenter.scheduler.generate import generate_day
from opscenter.store.db import open_store
from opscenter.store.deploy import deploy
from opscenter.store.models import (
    AttemptRow,
    BackfillRow,
    BackfillRunRow,
    InstanceEdgeRow,
    InstanceRow,
    TransitionRow,
)

LOAD_AT_START = os.getloadavg()[0]
PARTS = ("virtual", "chain", "layers")
DAY = date(2025, 12, 1)  # schedule date of the virtual workspace: a Monday and a 1st
SUCCESS = Status.SUCCESS.value


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)  # the store's naive UTC


def rss_mb() -> float:
    """This process's own peak RSS. Not ru_maxrss: on Linux a child started by subprocess
    inherits its parent's peak in ru_maxrss, VmHWM is the child's alone."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024  # kB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def setup(
    folder: Path, yaml_text: str, deployed_at: datetime, url: str | None = None
) -> tuple[Database, Workspace, int, float, float]:
    """Write, load and deploy a workspace into a fresh store (SQLite in ``folder`` unless
    ``url`` is given); returns the workspace, its id, and the seconds the load and the
    deploy took."""
    folder.mkdir(parents=True)
    (folder / "workspace.yaml").write_text(yaml_text, encoding="utf-8")
    start = time.perf_counter()
    workspace = load_workspace(folder)
    loaded = time.perf_counter()
    db = open_store(url or f"sqlite:///{folder / 'state.db'}")
    report = deploy(db, workspace, folder, data_dir=folder / "data", now=deployed_at, user="bench")
    return db, workspace, report.workspace_id, loaded - start, time.perf_counter() - loaded


def redeploy_one_changed(
    db: Database, workspace: Workspace, folder: Path, deployed_at: datetime
) -> float:
    """Seconds to deploy ``workspace`` again with one node's description changed."""
    nodes = list(workspace.nodes)
    nodes[len(nodes) // 2] = replace(nodes[len(nodes) // 2], description="changed")
    changed = replace(workspace, nodes=tuple(nodes))
    start = time.perf_counter()
    report = deploy(db, changed, folder, data_dir=folder / "data", now=deployed_at, user="bench")
    seconds = time.perf_counter() - start
    assert len(report.changed) == 1 and not report.added, report.summary
    return seconds


# -- 1. the 10,000-node virtual workspace ------------------------------------------------


def generate_child(url: str, workspace_id: int) -> dict:
    """One day's periodic instances and edges, as the nightly generation makes them."""
    db = open_store(url)
    start = time.perf_counter()
    made = generate_day(db, workspace_id, DAY, now=datetime.combine(DAY, datetime.min.time()))
    seconds = time.perf_counter() - start
    return {"instances": made.instances, "edges": made.edges, "seconds": seconds}


def engine_child(url: str, workspace_id: int) -> dict:
    """The engine on a manual clock set after the day's last cyctime (23:LAST_MINUTE) and
    before the 23:30 nightly generation, so nothing waits for time."""
    db = open_store(url)
    clock = ManualClock(datetime(DAY.year, DAY.month, DAY.day, 23, LAST_MINUTE, 59, tzinfo=UTC))
    engine = Engine(db, workspace_id, clock)
    start = time.perf_counter()
    engine.start()
    started = time.perf_counter()
    engine.run_until_idle(limit=600)
    finished = time.perf_counter()
    engine.close()
    with db.connect() as conn:
        succeeded = conn.scalar(select(func.count()).where(InstanceRow.status == SUCCESS))
    return {"start_s": started - start, "run_s": finished - started, "succeeded": succeeded}


def floor_child(url: str, workspace_id: int) -> dict:
    """The floor for generation: the day's instance and edge rows, exactly as generated,
    inserted into a fresh store of the same schema through the bare sqlite3 driver in one
    transaction (executemany). Generation also plans, so it cannot beat this."""
    source = sqlite3.connect(url.removeprefix("sqlite:///"))
    instances = source.execute("SELECT * FROM instances").fetchall()
    edges = source.execute("SELECT * FROM instance_edges").fetchall()
    target_path = Path(url.removeprefix("sqlite:///")).with_name("floor.db")
    open_store(f"sqlite:///{target_path}").dispose()  # the schema, its indexes and pragmas
    target = sqlite3.connect(target_path, isolation_level=None)
    for table in ("workspaces", "nodes", "node_versions"):  # what the foreign keys point at
        rows = source.execute(f"SELECT * FROM {table}").fetchall()
        marks = ",".join("?" * len(rows[0]))
        target.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)
    start = time.perf_counter()
    target.execute("BEGIN")
    target.executemany(
        f"INSERT INTO instances VALUES ({','.join('?' * len(instances[0]))})", instances
    )
    target.executemany(
        f"INSERT INTO instance_edges VALUES ({','.join('?' * len(edges[0]))})", edges
    )
    target.execute("COMMIT")
    return {"seconds": time.perf_counter() - start, "rows": len(instances) + len(edges)}


def deploy_floor_child(url: str, workspace_id: int) -> dict:
    """The floor for deploy: the node and version rows a first deploy wrote, inserted into a
    fresh store of the same schema through the bare sqlite3 driver in one transaction
    (executemany). A deploy also reads, compares and builds them, so it cannot beat this."""
    source = sqlite3.connect(url.removeprefix("sqlite:///"))
    target_path = Path(url.removeprefix("sqlite:///")).with_name("deploy_floor.db")
    open_store(f"sqlite:///{target_path}").dispose()
    target = sqlite3.connect(target_path, isolation_level=None)
    workspaces = source.execute("SELECT * FROM workspaces").fetchall()
    target.executemany(
        f"INSERT INTO workspaces VALUES ({','.join('?' * len(workspaces[0]))})", workspaces
    )
    tables = {
        t: source.execute(f"SELECT * FROM {t}").fetchall() for t in ("nodes", "node_versions")
    }
    start = time.perf_counter()
    target.execute("BEGIN")
    for table, rows in tables.items():
        target.executemany(f"INSERT INTO {table} VALUES ({','.join('?' * len(rows[0]))})", rows)
    target.execute("COMMIT")
    rows = sum(len(r) for r in tables.values())
    return {"seconds": time.perf_counter() - start, "rows": rows}


CHILDREN = {
    "generate": generate_child,
    "engine": engine_child,
    "floor": floor_child,
    "deploy_floor": deploy_floor_child,
}


def in_child(part: str, url: str, workspace_id: int) -> dict:
    """Run one part in a fresh process: its peak RSS is that part's own."""
    command = [sys.executable, __file__, "--child", part, url, str(workspace_id)]
    out = subprocess.run(command, capture_output=True, text=True)
    if out.returncode:
        sys.exit(f"{part} failed:\n{out.stderr}")
    return json.loads(out.stdout.splitlines()[-1])


PYTHON = 0.016  # python -c pass on the AMD kind, where the seconds were measured
BASH = 0.0022  # bash -c true there


def seconds_goal(
    name: str, seconds: float, amd_goal: float, floor_text: str = "", amd_now: str = ""
) -> None:
    """A figure whose goal the issue gave in seconds on the AMD kind: graded as the same
    multiple of this run's ``python -c pass`` (the only floor both machines share)."""
    python = floors.floors().python
    times = amd_goal / PYTHON
    value = floors.ratio_figure_text(seconds, python, "python -c pass")
    value += f" = {seconds / python / times:.2f} of goal" + (
        f"; {floor_text}" if floor_text else ""
    )
    figure(
        name,
        value,
        f"<= {times:.0f}x python -c pass ({amd_goal:g} s on the AMD kind{amd_now})",
        seconds / python <= times,
    )


def bench_virtual(tmp: Path) -> None:
    print(f"1. 10,000 virtual nodes (load1 now {os.getloadavg()[0]:.2f})", flush=True)
    folder = tmp / "big"
    deployed_at = datetime.combine(DAY - timedelta(days=2), datetime.min.time())
    db, workspace, workspace_id, load_s, deploy_s = setup(folder, random_dag(), deployed_at)
    redeploy_s = redeploy_one_changed(db, workspace, folder, deployed_at + timedelta(hours=1))
    db.dispose()
    url = f"sqlite:///{folder / 'state.db'}"
    floor = in_child("deploy_floor", url, workspace_id)
    floor_text = (
        f"{deploy_s / floor['seconds']:.1f}x its floor: the {floor['rows']:,} node and version"
        f" rows by bare sqlite3 executemany, {floor['seconds'] * 1000:,.0f} ms"
    )
    seconds_goal("deploy 10k nodes", deploy_s, 3.0, floor_text, "; 11.9 s there before")
    seconds_goal("redeploy 10k nodes, one changed", redeploy_s, 0.5)
    seconds_goal(
        "load + deploy 10k nodes",
        load_s + deploy_s,
        3.0,
        f"load {load_s:.2f} s + deploy {deploy_s:.2f} s",
        "; 23 s there before",
    )
    made = in_child("generate", url, workspace_id)
    figure("instances / edges of one day", f"{made['instances']:,} / {made['edges']:,}")
    floor = in_child("floor", url, workspace_id)
    figure(
        "  floor: the same rows by bare sqlite3 executemany",
        f"{floor['seconds']:.2f} s ({floor['rows'] / floor['seconds']:,.0f} rows/s)",
    )
    ratio = made["seconds"] / floor["seconds"]
    figure(
        "generate one day",
        f"{made['seconds']:.2f} s = {ratio:.1f}x floor ({1 / ratio:.2f} of its rows/s)"
        f" = {ratio / 4:.2f} of goal",
        "<= 4x floor: >= 1/4 of the bulk-insert rate (< 2 s on the AMD kind)",
        ratio <= 4,
    )
    figure("  peak RSS of that process (informational)", f"{made['rss_mb']:.0f} MB")
    run = in_child("engine", url, workspace_id)
    elapsed = run["start_s"] + run["run_s"]
    rate = made["instances"] / elapsed
    figure(
        "virtual NOT_RUN -> SUCCESS",
        f"{rate:,.0f}/s ({run['succeeded']:,} SUCCESS in {elapsed:.2f} s:"
        f" start {run['start_s']:.2f} s + run {run['run_s']:.2f} s)",
        ">= 5,000/s",
        rate >= 5000 and run["succeeded"] == made["instances"],
    )
    rss = run["rss_mb"]
    bare = subprocess.run(
        [sys.executable, "-c", "print(open('/proc/self/status').read())"],
        capture_output=True,
        text=True,
    ).stdout
    run["bare_mb"] = next(
        (int(line.split()[1]) / 1024 for line in bare.splitlines() if line.startswith("VmHWM:")), 0
    )
    figure(
        "peak RSS, scheduler process (start + run)",
        f"{rss:.0f} MB = {rss / 100:.2f} of goal (bare python -c pass: {run['bare_mb']:.0f} MB)",
        "<= 100 MB (memory, not speed: no ratio; 141 MB on the AMD kind before)",
        rss <= 100,
    )


# -- 2. shell no-ops on a real clock --------------------------------------------------------


def wait_until(db: Database, done: Callable[[Connection], bool], timeout: float = 300) -> None:
    """Until ``done``. Nothing is timed here (figures are read back from the store), so it
    looks only every 0.1 s: each look is a query on the interpreter the engine runs in,
    and looking often took the GIL from the scheduler being measured."""
    deadline = time.monotonic() + timeout
    while True:
        with db.connect() as conn:
            if done(conn):
                return
        if time.monotonic() > deadline:
            raise TimeoutError("the engine did not finish in time")
        time.sleep(0.1)


def all_succeeded(where: ColumnElement[bool]) -> Callable[[Connection], bool]:
    def done(conn: Connection) -> bool:
        counts = dict(
            conn.execute(
                select(InstanceRow.status, func.count()).where(where).group_by(InstanceRow.status)
            ).all()
        )
        if Status.FAILURE.value in counts:
            raise RuntimeError(f"an instance failed: {counts}")
        return set(counts) == {SUCCESS}

    return done


def backfill_done(backfill_id: int) -> Callable[[Connection], bool]:
    def done(conn: Connection) -> bool:
        status = conn.scalar(select(BackfillRow.status).where(BackfillRow.id == backfill_id))
        if status == "FAILURE":
            raise RuntimeError(f"backfill #{backfill_id} failed")
        return status == "SUCCESS"

    return done


def measure(
    db: Database, where: ColumnElement[bool], t0: datetime
) -> tuple[int, float, list, list]:
    """Instances, wall time from ``t0`` to the last finish, and hand-off gaps (an
    instance's first start minus its latest upstream's finish): for every instance, and
    for those that found a slot free (no WAIT_RESOURCE on the way). The first includes
    queueing for one of the group's slots when more instances are ready than slots; the
    second is the scheduler's own readiness latency, which the goal is about."""
    upstream = InstanceRow.__table__.alias("upstream")
    with db.connect() as conn:
        count, last = conn.execute(
            select(func.count(), func.max(InstanceRow.finished_at)).where(where)
        ).one()
        queued = set(
            conn.scalars(
                select(TransitionRow.instance_id).where(TransitionRow.to_status == "WAIT_RESOURCE")
            )
        )
        pairs = conn.execute(
            select(
                AttemptRow.instance_id,
                func.min(AttemptRow.started_at),
                func.max(upstream.c.finished_at),
            )
            .join(InstanceRow, InstanceRow.id == AttemptRow.instance_id)
            .join(InstanceEdgeRow, InstanceEdgeRow.downstream_id == AttemptRow.instance_id)
            .join(upstream, upstream.c.id == InstanceEdgeRow.upstream_id)
            .where(where)
            .group_by(AttemptRow.instance_id)
        ).all()
    gaps = sorted((started - finished).total_seconds() for _, started, finished in pairs)
    free = sorted(
        (started - finished).total_seconds() for i, started, finished in pairs if i not in queued
    )
    return count, (last - t0).total_seconds(), gaps, free


@dataclass(frozen=True)
class Goals:
    """A shape's goals: its wall time and its hand-off p50, in seconds, with their words."""

    wall: float
    wall_text: str
    handoff: float = 0.010
    handoff_text: str = "p50 < 10 ms"


CHAIN = 41  # the chain's instances: its 40 nodes and the workspace's root
CHAIN_RUNS = 5  # the chain is short (a fifth of a second): its median run is graded


def chain_goals(instances: int, floor: float) -> Goals:
    """Issue 19: the chain within 3x ``floor``, the seconds of as many spawns of ``bash -c
    true`` one after another, and a hand-off p50 of 2 ms, which was 0.9x ``bash -c true``
    on the AMD kind."""
    bash = floor / instances
    return Goals(
        3 * floor,
        f"<= 3x {instances} spawns of bash -c true ({floor * 1000:.0f} ms)",
        2 / 2.2 * bash,
        f"p50 <= {2 / 2.2:.1f}x bash -c true ({2 / 2.2 * bash * 1000:.1f} ms; 2 ms on AMD)",
    )


SQLITE_WALL: dict[str, float] = {}  # a shape's wall on SQLite, which PostgreSQL's is beside


def report_shape(
    label: str,
    result: tuple[int, float, list, list],
    goals: Goals | None,
    airflow: float,
    store: str = "",
    runs: str = "",
):
    """Wall time and hand-off figures; ``goals`` None makes them informational. On a store
    other than SQLite (``store`` names it), the wall is also a multiple of SQLite's.
    ``runs`` says how the wall was chosen among several runs, if it was."""
    count, wall, gaps, free = result
    beside = ""
    if not store:
        SQLITE_WALL[label] = wall
    else:  # the goals are SQLite's: here the figures are beside them
        goals = None
        if label in SQLITE_WALL:
            beside = f" = {wall / SQLITE_WALL[label]:.1f}x SQLite"
        label = f"{label} on {store}"
    figure(
        f"{label}: wall",
        f"{wall:.3f} s ({count:,} instances)"
        + (f" = {wall / goals.wall:.2f} of goal" if goals else beside)
        + runs,
        goals.wall_text if goals else "",
        wall <= goals.wall if goals else None,
        f"{airflow:g} s ({airflow / wall:,.0f}x)",
    )
    for name, values, graded in (("hand-off", free, True), ("start after upstream", gaps, False)):
        if len(values) < 2:
            continue
        p50 = statistics.median(values)
        p95 = statistics.quantiles(values, n=20, method="inclusive")[18]
        note = "" if graded else ", incl. waiting for a slot"
        of_goal = f" = {p50 / goals.handoff:.2f} of goal" if goals and graded else ""
        figure(
            f"{label}: {name} p50 / p95",
            f"{p50 * 1000:.1f} / {p95 * 1000:.1f} ms (n={len(values)}{note}){of_goal}",
            goals.handoff_text if goals and graded else "",
            p50 <= goals.handoff if goals and graded else None,
            f"0.83 s ({0.83 / p50:,.0f}x)" if p50 > 0 else "0.83 s",
        )


@dataclass(frozen=True)
class Store:
    """Where a shape runs: its label in the figures, and how to make a new empty store
    (None: SQLite in the shape's folder)."""

    label: str
    new_url: Callable[[], str] | None = None


SQLITE = Store("SQLite")


@contextmanager
def serving_today(
    tmp: Path, name: str, text: str, store: Store
) -> Iterator[tuple[Database, int, ColumnElement[bool], datetime]]:
    """A new store of one shape with today's instances, its engine serving them in a thread
    from the moment this yields: the store, the workspace id, today's instances, and when
    dispatch began."""
    now = utcnow()
    url = store.new_url() if store.new_url else None
    folder = tmp / f"{name}-{store.label.lower()}"
    db, _, workspace_id, _, _ = setup(folder, text, now - timedelta(days=2), url)
    today = now.date()
    generate_day(db, workspace_id, today, now=now)  # every cyctime is 00:00 today: all due
    engine = Engine(db, workspace_id, RealClock())
    stop = threading.Event()
    serving = threading.Thread(target=engine.serve, args=(stop,))
    midnight = datetime.combine(today, datetime.min.time())
    today_only = (
        (InstanceRow.kind == "periodic")
        & (InstanceRow.cyctime >= midnight)
        & (InstanceRow.cyctime < midnight + timedelta(days=1))
    )
    engine.start()  # recovery and loading what is pending: not dispatch, not timed here
    t0 = utcnow()
    serving.start()
    try:
        yield db, workspace_id, today_only, t0
    finally:
        stop.set()
        serving.join()
        engine.close()
        db.dispose()


def bench_chain(tmp: Path, text: str, airflow: float, store: Store = SQLITE) -> None:
    """The 40-chain, graded on SQLite by its median of CHAIN_RUNS runs: each run is a new
    store, timed just after its own floor (41 spawns of ``bash -c true`` one after
    another), since this machine's speed drifts by a tenth within a minute and a fifth of
    a second is one sample of it. The hand-offs of every run are pooled."""
    runs = CHAIN_RUNS if store is SQLITE else 1
    print(f"2. chain on {store.label}, {runs} run(s) (load1 {os.getloadavg()[0]:.2f})", flush=True)
    done: list[tuple[tuple[int, float, list, list], Goals]] = []
    for run in range(runs):
        goals = chain_goals(CHAIN, floors.spawns(CHAIN))
        with serving_today(tmp, f"chain{run}", text, store) as (db, _, today_only, t0):
            wait_until(db, all_succeeded(today_only))
            done.append((measure(db, today_only, t0), goals))
    if store is not SQLITE:
        report_shape("chain", done[0][0], None, airflow, store.label)
        return
    fractions = [result[1] / goals.wall for result, goals in done]
    median = sorted(range(runs), key=fractions.__getitem__)[runs // 2]
    (count, wall, _, _), goals = done[median]
    pooled = (
        count,
        wall,
        [gap for (_, _, gaps, _), _ in done for gap in gaps],
        [gap for (_, _, _, free), _ in done for gap in free],
    )
    every = " ".join(f"{f:.2f}" for f in fractions)
    report_shape("chain", pooled, goals, airflow, runs=f"; median of {runs} runs ({every})")


def bench_layers(tmp: Path, text: str, airflow: float, store: Store = SQLITE) -> None:
    """The 10x20 layers run for today, then backfilled over seven dates.
    Goals are the SQLite store's: on another store the figures are shown beside them."""
    print(f"2. layers on {store.label} (load1 now {os.getloadavg()[0]:.2f})", flush=True)
    on = "" if store is SQLITE else store.label
    with serving_today(tmp, "layers", text, store) as (db, workspace_id, today_only, t0):
        today = t0.date()
        wait_until(db, all_succeeded(today_only))
        report_shape("layers", measure(db, today_only, t0), Goals(1.0, "< 1 s"), airflow, on)
        # parallel 7: all seven dates in flight at once, as Airflow's backfill ran its seven
        # runs concurrently (the 276 s anchor); the 16 slots then always have ready work
        # instead of idling at each layer boundary of one date. Parallel 1 (dates one after
        # another, BackfillRequest's default) is printed for comparison.
        for parallel, goal_s in ((7, Goals(7.0, "< 7 s")), (1, None)):
            request = BackfillRequest(
                node="layers_root",
                start=today - timedelta(days=8),
                end=today - timedelta(days=2),
                downstream=True,
                parallel=parallel,
            )
            t0 = utcnow()
            made = create_backfill(db, workspace_id, request, Actor("bench", t0, "bench"))
            backfill_id = made.extra["backfill_id"]
            wait_until(db, backfill_done(backfill_id))
            runs = select(BackfillRunRow.id).where(BackfillRunRow.backfill_id == backfill_id)
            in_backfill = InstanceRow.backfill_run_id.in_(runs)
            result = measure(db, in_backfill, t0)
            report_shape(f"backfill 7 dates, parallel {parallel}", result, goal_s, 276.0, on)


# -- the table ------------------------------------------------------------------------------


def run(parts: Sequence[str] = PARTS) -> list[Figure]:
    """Measure the named parts (printing each figure as it comes); their figures."""
    print(f"1-minute load average at start: {LOAD_AT_START:.2f} on {os.cpu_count()} cores")
    print(f"floors: {floors.floors().describe()}")
    if LOAD_AT_START > 1.5:
        print("  warning: the machine is busy; figures will be noisy")
    with tempfile.TemporaryDirectory(prefix="opscenter-bench-") as tmp:
        if "virtual" in parts:
            bench_virtual(Path(tmp))
        shapes = [
            (bench, text, airflow)
            for name, bench, text, airflow in (
                ("chain", bench_chain, chain(40), 39.9),
                ("layers", bench_layers, layered(10, 20), 40.9),
            )
            if name in parts
        ]
        for bench, text, airflow in shapes:
            bench(Path(tmp), text, airflow)
        if shapes:
            with postgres_store() as store:
                if store is not None:
                    for bench, text, airflow in shapes:
                        bench(Path(tmp), text, airflow, store)
    return FIGURES


@contextmanager
def postgres_store() -> Iterator[Store | None]:
    """A throwaway PostgreSQL cluster for the run (tests/postgres.py starts it, as for the
    tests), each shape in a new database of it; None, said, where it cannot start."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests.postgres import ClusterUnavailable, throwaway_cluster

    with ExitStack() as stack:
        try:
            cluster = stack.enter_context(throwaway_cluster())
        except ClusterUnavailable as why:
            figure("PostgreSQL", f"not measured: {why}")
            yield None
            return
        yield Store("PostgreSQL", cluster.new_database)


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        result = CHILDREN[sys.argv[2]](sys.argv[3], int(sys.argv[4]))
        print(json.dumps(result | {"rss_mb": rss_mb()}))
        return
    run(sys.argv[1:] or PARTS)  # or name the parts to run
    print_table(LOAD_AT_START, airflow=True)


if __name__ == "__main__":
    main()
