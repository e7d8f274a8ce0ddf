"""What must hold in a store whatever happened to the processes around it, read with SQL.

Each check is a name and a function from a sqlite3 connection to the violations it finds,
in words. ``static`` checks hold at any moment, even right after a kill; ``live`` checks
hold once a new scheduler has recovered (nothing of the dead one is left running).
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterable
from contextlib import closing
from pathlib import Path

from bench.adversarial.sandbox import alive, processes_with, stat_fields

Check = Callable[[sqlite3.Connection], list[str]]


def connect(path: Path) -> sqlite3.Connection:
    """The store, as an operator's tool reads it (waits for a writer rather than failing)."""
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)


def _rows(conn: sqlite3.Connection, sql: str, args: Iterable = ()) -> list[tuple]:
    return conn.execute(sql, tuple(args)).fetchall()


def integrity(conn: sqlite3.Connection) -> list[str]:
    result = conn.execute("PRAGMA integrity_check").fetchone()[0]
    return [] if result == "ok" else [f"integrity_check: {result}"]


def one_instance_per_slot(conn: sqlite3.Connection) -> list[str]:
    return [
        f"instance of node #{n} at {c} ({k}, run {r}) exists {count} times"
        for n, c, k, r, count in _rows(
            conn,
            "SELECT node_id, cyctime, kind, backfill_run_id, COUNT(*) FROM instances "
            "WHERE kind != 'manual' GROUP BY node_id, cyctime, kind, backfill_run_id "
            "HAVING COUNT(*) > 1",
        )
    ]


def at_most_one_open_attempt(conn: sqlite3.Connection) -> list[str]:
    return [
        f"instance #{i} has {n} attempts RUNNING at once"
        for i, n in _rows(
            conn,
            "SELECT instance_id, COUNT(*) FROM attempts WHERE status = 'RUNNING' "
            "GROUP BY instance_id HAVING COUNT(*) > 1",
        )
    ]


def running_iff_open_attempt(conn: sqlite3.Connection) -> list[str]:
    return [
        f"instance #{i} is {s} with {n} RUNNING attempts"
        for i, s, n in _rows(
            conn,
            "SELECT i.id, i.status, (SELECT COUNT(*) FROM attempts a WHERE a.instance_id = i.id "
            "AND a.status = 'RUNNING') AS n FROM instances i "
            "WHERE (i.status = 'RUNNING') != (n = 1)",
        )
    ]


def ended_attempts_are_complete(conn: sqlite3.Connection) -> list[str]:
    return [
        f"attempt #{a} of instance #{i} is {s} with end {f} (started {b})"
        for a, i, s, b, f in _rows(
            conn,
            "SELECT id, instance_id, status, started_at, finished_at FROM attempts "
            "WHERE status != 'RUNNING' AND (finished_at IS NULL OR finished_at < started_at "
            "OR status NOT IN ('SUCCESS', 'FAILURE'))",
        )
    ]


def status_follows_last_attempt(conn: sqlite3.Connection) -> list[str]:
    """SUCCESS over a failed last attempt (not set by hand), or attempts numbered past
    the instance's run number."""
    found = [
        f"instance #{i} is SUCCESS, its last attempt {s}"
        for i, s in _rows(
            conn,
            "SELECT i.id, a.status FROM instances i JOIN attempts a ON a.instance_id = i.id "
            "AND a.number = (SELECT max(number) FROM attempts WHERE instance_id = i.id) "
            "WHERE i.status = 'SUCCESS' AND NOT i.set_success AND a.status != 'SUCCESS'",
        )
    ]
    found += [
        f"instance #{i} has run number {r} but an attempt numbered {m}"
        for i, r, m in _rows(
            conn,
            "SELECT i.id, i.run_number, max(a.number) FROM instances i "
            "JOIN attempts a ON a.instance_id = i.id GROUP BY i.id HAVING max(a.number) > "
            "i.run_number",
        )
    ]
    return found


def transitions_chain(conn: sqlite3.Connection) -> list[str]:
    """Every status change starts from the status before it (a lost update breaks that),
    and the last one is the instance's status."""
    found: list[str] = []
    last: dict[int, str] = {}
    for instance_id, was, to in _rows(
        conn,
        "SELECT instance_id, from_status, to_status FROM instance_transitions "
        "ORDER BY instance_id, id",
    ):
        if last.get(instance_id, was) != was:
            found.append(
                f"instance #{instance_id} moved {was} -> {to} after reaching {last[instance_id]}"
            )
        last[instance_id] = to
    for instance_id, status in _rows(conn, "SELECT id, status FROM instances"):
        if last.get(instance_id, status) != status:
            found.append(
                f"instance #{instance_id} is {status}, its last transition {last[instance_id]}"
            )
    return found


def edges_point_at_instances(conn: sqlite3.Connection) -> list[str]:
    return [
        f"edge {u} -> {d} points at a missing instance"
        for u, d in _rows(
            conn,
            "SELECT e.upstream_id, e.downstream_id FROM instance_edges e "
            "LEFT JOIN instances u ON u.id = e.upstream_id "
            "LEFT JOIN instances d ON d.id = e.downstream_id WHERE u.id IS NULL OR d.id IS NULL",
        )
    ]


EFFECTS = ("rerun", "rerun downstream", "set success")


def actions_applied_whole(conn: sqlite3.Connection) -> list[str]:
    """An action audited ok moved each of its targets (a transition by its user, at its
    time, for its reason); every such transition has its ok audit row."""
    found = []
    audited = _rows(
        conn,
        "SELECT id, at, user, action, targets FROM audit WHERE outcome = 'ok' "
        f"AND action IN ({','.join('?' * len(EFFECTS))})",
        EFFECTS,
    )
    moved = {
        (i, at, by, reason)
        for i, at, by, reason in _rows(
            conn,
            "SELECT instance_id, at, by, reason FROM instance_transitions "
            f"WHERE reason IN ({','.join('?' * len(EFFECTS))})",
            EFFECTS,
        )
    }
    for audit_id, at, user, action, targets in audited:
        missing = [t for t in json.loads(targets) if (t, at, user, action) not in moved]
        if missing:
            found.append(f"audit #{audit_id} {action} ok, but {missing} never moved by it")
    keys = {(at, user, action) for _id, at, user, action, _t in audited}
    for instance_id, at, by, reason in sorted(moved):
        if (at, by, reason) not in keys:
            found.append(f"instance #{instance_id} moved by {reason} of {by} at {at}: not audited")
    return found


STATIC: list[tuple[str, Check]] = [
    ("integrity", integrity),
    ("one instance per node, time and run", one_instance_per_slot),
    ("at most one open attempt per instance", at_most_one_open_attempt),
    ("RUNNING iff one open attempt", running_iff_open_attempt),
    ("ended attempts have an end and an outcome", ended_attempts_are_complete),
    ("status follows the last attempt", status_follows_last_attempt),
    ("status changes chain", transitions_chain),
    ("edges point at instances", edges_point_at_instances),
    ("actions applied whole or not at all", actions_applied_whole),
]


class Ledger:
    """Invariant checks run and the violations they found (each listed once)."""

    def __init__(self) -> None:
        self.runs = 0
        self.snapshots = 0
        self.violations: list[str] = []

    def add(self, when: str, found: list[str]) -> None:
        self.runs += 1
        for problem in found:
            line = f"{when}: {problem}"
            if problem not in {v.split(": ", 1)[1] for v in self.violations}:
                self.violations.append(line)
                print(f"    VIOLATION {line}", flush=True)

    def static(self, store: Path, when: str) -> None:
        self.snapshots += 1
        with closing(connect(store)) as conn:
            conn.execute("BEGIN")  # one snapshot for every check, while writers go on
            for name, check in STATIC:
                try:
                    self.add(when, check(conn))
                except sqlite3.Error as error:
                    self.add(when, [f"{name}: the store cannot be read: {error}"])


def live_problems(store: Path, landing: Path, before: int) -> list[str]:
    """Once a scheduler has recovered: nothing of a dead scheduler (attempts up to id
    ``before``) still RUNNING, every RUNNING attempt's process alive, and no process of the
    workspace outside a RUNNING attempt's session (an orphan)."""
    with closing(connect(store)) as conn:
        running = _rows(conn, "SELECT id, pid, pid_start FROM attempts WHERE status = 'RUNNING'")
    found = [
        f"attempt #{a} of a dead scheduler still RUNNING" for a, _p, _s in running if a <= before
    ]
    found += [
        f"attempt #{a} RUNNING but its process {p} is gone"
        for a, p, s in running
        if a > before and p is not None and not alive(p, s)
    ]
    sessions = {p for _a, p, _s in running if p is not None}
    for pid in processes_with("OPSCENTER_LANDING", str(landing)):
        fields = stat_fields(pid)
        if fields is not None and int(fields[3]) not in sessions and pid not in sessions:
            found.append(f"process {pid} ({_command(pid)}) of no RUNNING attempt is alive")
    return found


def _command(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:80].strip()
    except OSError:
        return "?"


def audited_cli(store: Path) -> Counter[tuple[str, str, str]]:
    """Operator actions from the CLI in the audit: (action, targets, outcome) -> how many."""
    with closing(connect(store)) as conn:
        rows = _rows(
            conn,
            "SELECT action, targets, outcome FROM audit WHERE source = 'cli' "
            "AND action NOT IN ('deploy')",
        )
    return Counter((a, json.dumps(json.loads(t)), o) for a, t, o in rows)


def audit_key(action: str, targets: list, outcome: str) -> tuple[str, str, str]:
    return (action, json.dumps(targets), outcome)
