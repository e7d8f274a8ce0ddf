"""Section 2: a scheduler, two consoles and two CLI loops on one SQLite store for minutes.

The scheduler runs a busy simulated day (x400: a day in 3.6 minutes) of hourly and daily
shell nodes with retries, a broken and a flaky node. Two consoles run for real, the
Textual app in a pty of 120x40 each (``--no-scheduler``: they attach to the scheduler's
store), pressed by a seeded random operator (moves, rerun, rerun downstream, set success,
stop, freeze, unfreeze, each confirmed); their screens are read all along. Two threads
each run a loop of CLI processes: reads (status, instances, show, why, logs, audit) and
actions on instances picked by SQL. Counted: "database is locked" and tracebacks anywhere
(CLI output, console screens, scheduler log), CLI actions answered against audit rows.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import select
import threading
import time
from collections import Counter
from contextlib import closing
from pathlib import Path

from bench.adversarial import invariants, workspaces
from bench.adversarial.sandbox import REPO, Sandbox, said, terminate, wait_for, wait_or_kill
from tests.processes import start_console

SPEED = 400.0
START = "2025-11-01 00:00"
LOCKED = "database is locked"
TRACEBACK = "Traceback (most recent call last)"
ANSI = re.compile(rb"\x1b(\[[0-9;?<>=]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[@-Z\\-_])")

KEYS = [  # what an operator presses on the Instances screen; actions then confirm with y
    [b"j"],
    [b"j", b"j"],
    [b"k"],
    [b"G"],
    [b"g"],
    [b"t"],
    [b"r", b"y"],
    [b"R", b"y"],
    [b"s", b"y"],
    [b"x", b"y"],
    [b"f", b"y"],
    [b"u", b"y"],
    [b"\r", b"\x1b"],
]
WHERE = "SELECT id FROM instances WHERE "
ACTIONS = [  # (verb, audit action, extra arguments, targets by SQL, at most)
    ("rerun", "rerun", (), WHERE + "status = 'FAILURE' AND retry_at IS NULL", 2),
    ("rerun", "rerun downstream", ("--downstream",), WHERE + "status IN ('SUCCESS', 'FAILURE')", 1),
    ("set-success", "set success", (), WHERE + "status = 'FAILURE'", 1),
    ("stop", "stop", (), WHERE + "status IN ('RUNNING', 'WAIT_RESOURCE', 'WAIT_TIME')", 1),
    ("freeze", "freeze", (), WHERE + "status IN ('NOT_RUN', 'WAIT_TIME')", 2),
    ("unfreeze", "unfreeze", (), WHERE + "status = 'FROZEN'", 3),
]
READS = [["status"], ["instances", "--json"], ["audit"], ["nodes"], ["show"], ["why"], ["logs"]]


class Tally:
    """What every process said, counted; shared by the threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.locked = Counter[str]()
        self.tracebacks = Counter[str]()
        self.told: list[tuple[str, list[int], str]] = []
        self.reads = 0
        self.odd: list[str] = []

    def heard(self, who: str, text: str) -> None:
        with self.lock:
            self.locked[who] += text.count(LOCKED)
            self.tracebacks[who] += text.count(TRACEBACK)


class Console:
    """The console in a pty: its screen is drained all the time (a full pty would block it)."""

    def __init__(self, box: Sandbox, argv: list[str], tally: Tally, name: str) -> None:
        self.master, self.process = start_console(argv, box.env(), rows=40, columns=120, cwd=REPO)
        box.started.append(self.process)
        self.tally, self.name = tally, name
        self.screen = b""
        self.presses = 0
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        while True:
            ready, _, _ = select.select([self.master], [], [], 0.2)
            if not ready:
                if self.process.poll() is not None:
                    return
                continue
            try:
                chunk = os.read(self.master, 65536)
            except OSError:
                return
            if not chunk:
                return
            text = ANSI.sub(b"", chunk)
            self.tally.heard(self.name, text.decode(errors="replace"))
            self.screen = (self.screen + text)[-200_000:]

    def press(self, keys: list[bytes]) -> None:
        for key in keys:
            with contextlib.suppress(OSError):
                os.write(self.master, key)
            time.sleep(0.15)
        self.presses += 1

    def close(self) -> int | None:
        for key in (b"\x1b", b"q"):  # close a dialog if one is open, then quit
            with contextlib.suppress(OSError):
                os.write(self.master, key)
            time.sleep(0.5)
        code = wait_or_kill(self.process, 10)
        self.reader.join(timeout=5)
        os.close(self.master)
        return code


def _pick(store: Path, sql: str, rng: random.Random, most: int) -> list[int]:
    with closing(invariants.connect(store)) as conn:
        ids = [row[0] for row in conn.execute(sql)]
    return sorted(rng.sample(ids, min(most, len(ids))))


def cli_loop(
    box: Sandbox, where: list[str], store: Path, tally: Tally, seed: int, until: float
) -> None:
    rng = random.Random(seed)
    while time.monotonic() < until:
        if rng.random() < 0.5:
            verb, action, extra, sql, most = rng.choice(ACTIONS)
            ids = _pick(store, sql, rng, most)
            if not ids:
                continue
            ran = box.run([verb, *map(str, ids), *extra, *where], timeout=120)
            tally.heard("cli", ran.out + ran.err)
            with tally.lock:
                if ran.code in (0, 3):
                    tally.told.append((action, ids, "ok" if ran.code == 0 else "refused"))
                else:
                    tally.odd.append(f"{verb} {ids}: exit {ran.code}: {ran.err.strip()[-200:]}")
            continue
        read = list(rng.choice(READS))
        if read[0] in ("show", "why", "logs"):
            ids = _pick(store, "SELECT id FROM instances", rng, 1)
            if not ids:
                continue
            read += map(str, ids)
        ran = box.run([*read, *where], timeout=120)
        tally.heard("cli", ran.out + ran.err)
        with tally.lock:
            tally.reads += 1
            if ran.code not in (0, 3, 4):  # 3: e.g. no log yet; 4: not found
                tally.odd.append(f"{' '.join(read)}: exit {ran.code}: {ran.err.strip()[-200:]}")


def run(box: Sandbox, minutes: float) -> dict[str, object]:
    print(
        f"\n== concurrency: {minutes:g} minutes, a scheduler, two consoles, two CLI loops",
        flush=True,
    )
    base = box.folder("concurrency")
    folder = workspaces.busy_day(base / "ws")
    store = base / "state" / "state.db"
    url = f"sqlite:///{store}"
    where = ["--workspace", str(folder), "--db", url]
    log = base / "scheduler.log"
    tally = Tally()
    scheduler = box.opscenter(
        "scheduler", *where, "--speed", f"{SPEED:g}", "--start", START, log=log
    )
    if not wait_for(lambda: "holds the lease" in said(log), 90):
        raise RuntimeError("the scheduler never took the lease:\n" + said(log)[-2000:])
    consoles = [Console(box, [*where, "--no-scheduler"], tally, f"console {n}") for n in (1, 2)]
    began = time.monotonic()
    until = began + minutes * 60
    loops = [
        threading.Thread(target=cli_loop, args=(box, where, store, tally, seed, until), daemon=True)
        for seed in (1, 2)
    ]
    for loop in loops:
        loop.start()
    rng = random.Random(3)
    time.sleep(3)  # the consoles draw their first screen
    while time.monotonic() < until:
        for console in consoles:
            if console.process.poll() is None:
                console.press(rng.choice(KEYS))
        time.sleep(rng.uniform(0.1, 0.5))
    for loop in loops:
        loop.join()
    ran = time.monotonic() - began
    consoles_alive = sum(c.process.poll() is None for c in consoles)
    codes = [c.close() for c in consoles]
    scheduler_code = terminate(scheduler, 60)
    box.started.remove(scheduler)
    tally.heard("scheduler", said(log))
    ledger = invariants.Ledger()
    ledger.static(store, "after the run")
    told = Counter(invariants.audit_key(*entry) for entry in tally.told)
    audited = invariants.audited_cli(store)
    matched = sum(min(told[key], audited[key]) for key in told)
    with closing(invariants.connect(store)) as conn:
        console_actions = conn.execute(
            "SELECT COUNT(*) FROM audit WHERE source = 'tui' AND action != 'deploy'"
        ).fetchone()[0]
    gaps = [
        f"{key}: the CLI said it {told[key]} times, the audit has {audited[key]}"
        for key in sorted(set(told) | set(audited))
        if told[key] != audited[key]
    ]
    return {
        "minutes": round(ran / 60, 2),
        "processes": "1 scheduler, 2 consoles (Textual in a pty, 120x40), 2 CLI loops",
        "CLI commands (reads / actions)": f"{tally.reads + len(tally.told)} "
        f"({tally.reads} / {len(tally.told)})",
        "console key presses": sum(c.presses for c in consoles),
        "CLI actions answered": len(tally.told),
        "of them audited": matched,
        "console actions audited": console_actions,
        "database is locked": sum(tally.locked.values()),
        "tracebacks": sum(tally.tracebacks.values()),
        "consoles alive at the end": f"{consoles_alive} of 2 (exit on q: {codes})",
        "scheduler exit on SIGTERM": scheduler_code,
        "invariant violations": len(ledger.violations),
        "problems": [*gaps, *ledger.violations, *tally.odd]
        + [f"{who}: {n} x {LOCKED}" for who, n in tally.locked.items() if n]
        + [f"{who}: {n} tracebacks" for who, n in tally.tracebacks.items() if n],
    }
