"""Section 1: SIGKILL the scheduler at random moments of a large backfill.

A real ``opscenter scheduler`` (real clock) works a backfill of ``src`` with every
descendant over 45 business dates: 25 shell nodes, 1,125 instances, each spawning a small
process tree and holding a lock named after its instance. At seeded random moments (some
during its start and recovery, most while it dispatches) it is killed with SIGKILL, now
and then while a CLI ``rerun --downstream`` is under way, and a new scheduler is started.
The store is checked with SQL after every kill and again once each new scheduler has
recovered (live checks: nothing of the dead one RUNNING, no orphan process).
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from contextlib import closing
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from bench.adversarial import invariants, workspaces
from bench.adversarial.sandbox import (
    REPO,
    Sandbox,
    kill_group,
    processes_with,
    said,
    terminate,
    wait_for,
)

DATES = 45
SEED = 18


def _scalar(store: Path, sql: str, *args: object) -> int:
    with closing(invariants.connect(store)) as conn:
        return int(conn.execute(sql, args).fetchone()[0] or 0)


def _ids(store: Path, sql: str) -> list[int]:
    with closing(invariants.connect(store)) as conn:
        return [row[0] for row in conn.execute(sql)]


def busy(store: Path) -> int:
    """Instances due that run or can run, and backfill dates running (a date that failed
    halts its backfill: the dates after it stay WAITING, and are not counted)."""
    now = datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ")
    return _scalar(
        store,
        "SELECT (SELECT COUNT(*) FROM instances i WHERE i.due_at <= ? AND ("
        " i.status IN ('RUNNING', 'WAIT_TIME', 'WAIT_RESOURCE')"
        " OR (i.status = 'FAILURE' AND i.retry_at IS NOT NULL)"
        " OR (i.status = 'NOT_RUN' AND NOT EXISTS (SELECT 1 FROM instance_edges e"
        "  JOIN instances u ON u.id = e.upstream_id"
        "  WHERE e.downstream_id = i.id AND u.status != 'SUCCESS'))))"
        " + (SELECT COUNT(*) FROM backfill_runs WHERE status = 'RUNNING')",
        now,
    )


def _done(store: Path) -> int:
    """Backfill instances that will not run again by themselves."""
    return _scalar(
        store,
        "SELECT COUNT(*) FROM instances WHERE kind = 'backfill' AND (status = 'SUCCESS' OR "
        "status = 'FROZEN' OR (status = 'FAILURE' AND retry_at IS NULL))",
    )


class Operator:
    """CLI actions started while the scheduler lives: reruns with downstream of backfill
    instances that succeeded, plain reruns of failed ones; what each CLI answered."""

    def __init__(self, box: Sandbox, folder: Path, url: str, store: Path) -> None:
        self.box, self.folder, self.url, self.store = box, folder, url, store
        self.told: list[tuple[str, list[int], str]] = []
        self.odd: list[str] = []

    def start(self, rng: random.Random) -> tuple[subprocess.Popen, str, list[int]] | None:
        succeeded = _ids(
            self.store,
            "SELECT i.id FROM instances i JOIN nodes n ON n.id = i.node_id WHERE i.kind = "
            "'backfill' AND i.status = 'SUCCESS' AND (n.name = 'src' OR n.name LIKE 'l0_%')",
        )
        failed = _ids(
            self.store, "SELECT id FROM instances WHERE status = 'FAILURE' AND retry_at IS NULL"
        )
        if failed and rng.random() < 0.3:
            ids, extra, action = sorted(rng.sample(failed, 1)), [], "rerun"
        elif succeeded:
            ids, extra, action = (
                sorted(rng.sample(succeeded, 1)),
                ["--downstream"],
                "rerun downstream",
            )
        else:
            return None
        argv = [sys.executable, "-m", "opscenter", "rerun", *map(str, ids), *extra]
        argv += ["--workspace", str(self.folder), "--db", self.url]
        process = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            env=self.box.env(),
            cwd=REPO,
            start_new_session=True,
        )
        self.box.started.append(process)
        return process, action, ids

    def finish(self, running: tuple[subprocess.Popen, str, list[int]]) -> None:
        process, action, ids = running
        try:
            _out, err = process.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            kill_group(process)
            self.odd.append(f"{action} {ids}: hung")
            return
        finally:
            self.box.started.remove(process)
        if process.returncode in (0, 3):
            self.told.append((action, ids, "ok" if process.returncode == 0 else "refused"))
        else:
            self.odd.append(f"{action} {ids}: exit {process.returncode} {err.strip()[-200:]}")
        if "Traceback" in err or "locked" in err:
            self.odd.append(f"{action} {ids}: {err.strip()[-300:]}")


def run(box: Sandbox, kills: int) -> dict[str, object]:
    print(f"\n== kills: {kills} SIGKILLs of the scheduler during a backfill", flush=True)
    rng = random.Random(SEED)
    base = box.folder("kills")
    folder = workspaces.layered(base / "ws", SEED)
    store = base / "state" / "state.db"
    url = f"sqlite:///{store}"
    log = base / "scheduler.log"
    ledger = invariants.Ledger()
    deployed = box.run(["deploy", str(folder), "--db", url])
    if deployed.code != 0:
        raise RuntimeError(f"deploy failed: {deployed.err}")
    last = date.today() - timedelta(days=2)
    first = last - timedelta(days=DATES - 1)
    backfill = box.run(
        ["backfill", "src", "--from", f"{first}", "--to", f"{last}", "--downstream"]
        + ["--parallel", "5", "--workspace", str(folder), "--db", url]
    )
    if backfill.code != 0:
        raise RuntimeError(f"backfill failed: {backfill.err}{backfill.out}")
    with closing(invariants.connect(store)) as conn:
        landing = Path(conn.execute("SELECT landing FROM workspaces").fetchone()[0]).resolve()
    per_backfill = DATES * _scalar(store, "SELECT COUNT(*) FROM nodes WHERE name != 'kills_root'")
    planned = per_backfill
    operator = Operator(box, folder, url, store)
    scheduler_args = ["scheduler", "--workspace", str(folder), "--db", url]
    began = time.monotonic()
    mid: Counter[str] = Counter()  # kills while a CLI rerun was under way, by action
    early = 0
    for k in range(kills):
        before = _scalar(store, "SELECT coalesce(max(id), 0) FROM attempts")
        start_at = len(said(log))
        proc = box.opscenter(*scheduler_args, log=log)
        if rng.random() < 0.2:  # a moment of its start: imports, lease, recovery
            early += 1
            time.sleep(rng.uniform(0.2, 2.0))
        else:
            if _took_lease(log, start_at):
                _settle_recovery(store, before, ledger, landing, f"recovery {k + 1}")
            lifetime = rng.uniform(0.1, 5.0)
            action = None
            if rng.random() < 0.4:
                time.sleep(rng.uniform(0, lifetime))
                action = operator.start(rng)
                if action is not None:
                    mid[action[1]] += 1
                time.sleep(rng.uniform(0, 0.6))  # the CLI is still starting or acting
            else:
                time.sleep(lifetime)
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGKILL)
            if action is not None:
                operator.finish(action)
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        box.started.remove(proc)
        ledger.static(store, f"after kill {k + 1}")
        if _done(store) >= planned - 50:  # keep it working: another backfill, further back
            planned += per_backfill
            last, first = first - timedelta(days=1), first - timedelta(days=DATES)
            box.run(
                ["backfill", "src", "--from", f"{first}", "--to", f"{last}", "--downstream"]
                + ["--parallel", "5", "--workspace", str(folder), "--db", url]
            )
        if (k + 1) % 10 == 0:
            print(
                f"  {k + 1} kills, {ledger.runs} checks, {len(ledger.violations)} violations",
                flush=True,
            )
    killing = time.monotonic() - began
    # the last scheduler: it recovers, works everything off, and stops on SIGTERM
    before = _scalar(store, "SELECT coalesce(max(id), 0) FROM attempts")
    start_at = len(said(log))
    proc = box.opscenter(*scheduler_args, log=log)
    _took_lease(log, start_at)
    _settle_recovery(store, before, ledger, landing, "last recovery")
    settled = wait_for(lambda: busy(store) == 0 == _later(busy, store), 600, every=1.0)
    code = terminate(proc, 60)
    box.started.remove(proc)
    ledger.static(store, "at the end")
    ledger.add("at the end", _end_problems(store, landing, log, code))
    told = Counter(invariants.audit_key(*entry) for entry in operator.told)
    audited = invariants.audited_cli(store)
    audit_gaps = [
        f"{key}: the CLI said it {told[key]} times, the audit has {audited[key]}"
        for key in sorted(set(told) | set(audited))
        if key[0] != "backfill" and told[key] != audited[key]
    ]
    ledger.add("audit", audit_gaps)
    instances = _scalar(store, "SELECT COUNT(*) FROM instances WHERE kind = 'backfill'")
    succeeded = _scalar(
        store, "SELECT COUNT(*) FROM instances WHERE kind = 'backfill' AND status = 'SUCCESS'"
    )
    dates = _scalar(store, "SELECT COUNT(*) FROM backfill_runs")
    halted = _scalar(store, "SELECT COUNT(*) FROM backfill_runs WHERE status = 'FAILURE'")
    attempts = _scalar(store, "SELECT COUNT(*) FROM attempts")
    lost = _scalar(store, "SELECT COUNT(*) FROM attempts WHERE reason LIKE 'lost%'")
    return {
        "kills": kills,
        "kills during start/recovery": early,
        "kills mid rerun --downstream / mid rerun": f"{mid['rerun downstream']} / {mid['rerun']}",
        "backfill instances planned / made / SUCCESS": f"{planned} / {instances} / {succeeded}",
        "backfill dates (failed, halting the rest)": f"{dates} ({halted})",
        "attempts (lost to kills)": f"{attempts} ({lost})",
        "CLI actions answered / odd": f"{len(operator.told)} / {len(operator.odd)}",
        "settled at the end": "yes" if settled else f"no ({busy(store)} left)",
        "store snapshots checked": ledger.snapshots,
        "invariant checks run": ledger.runs,
        "invariant violations": len(ledger.violations),
        "half-applied actions": sum(
            "audit" in v or "never moved" in v or "not audited" in v for v in ledger.violations
        ),
        "violations": ledger.violations + operator.odd,
        "seconds killing": round(killing, 1),
    }


def _took_lease(log: Path, start_at: int) -> bool:
    """Whether the scheduler started last (its output after ``start_at``) took the lease."""
    return wait_for(lambda: "holds the lease" in said(log)[start_at:], 60)


def _later(count, store: Path) -> int:  # noqa: ANN001
    """The count again 2 s later: a date about to start is not yet counted."""
    time.sleep(2)
    return count(store)


def _settle_recovery(
    store: Path, before: int, ledger: invariants.Ledger, landing: Path, when: str
) -> None:
    """Wait until nothing of the dead scheduler runs (30 s at most), then the live checks;
    a problem must still be there 2 s later (a process may be between exit and record)."""
    wait_for(
        lambda: (
            _scalar(
                store, "SELECT COUNT(*) FROM attempts WHERE status = 'RUNNING' AND id <= ?", before
            )
            == 0
        ),
        30,
    )
    found = invariants.live_problems(store, landing, before)
    if found:
        time.sleep(2)
        again = set(invariants.live_problems(store, landing, before))
        found = [f for f in found if f in again]
    ledger.snapshots += 1
    ledger.add(when, found)


def _end_problems(store: Path, landing: Path, log: Path, code: int | None) -> list[str]:
    found = []
    output = said(log)
    if code != 0:
        found.append(f"the last scheduler ended with {code} on SIGTERM")
    if "Traceback" in output:
        found.append(
            "a scheduler printed a traceback: " + output[output.index("Traceback") :][:300]
        )
    twice = landing / "TWICE"
    if twice.exists():
        found.append("two processes of one instance ran at once: " + twice.read_text()[:300])
    running = _scalar(store, "SELECT COUNT(*) FROM attempts WHERE status = 'RUNNING'")
    if running:
        found.append(f"{running} attempts RUNNING after the last scheduler stopped")
    if not wait_for(lambda: not processes_with("OPSCENTER_LANDING", str(landing)), 5):
        left = processes_with("OPSCENTER_LANDING", str(landing))
        found.append(f"{len(left)} node processes outlived every scheduler")
    return found
