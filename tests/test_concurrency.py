"""Concurrency (issue 7.2): one store, a scheduler, two consoles and a CLI loop, a day.

A real `opscenter scheduler` runs a simulated day of shell nodes (hourly and daily, retries,
a broken node) while two consoles (the Textual app driven by pilots in this event loop)
and a loop of CLI processes read and act on the same instances: rerun, rerun with
downstream, set success, stop, freeze, unfreeze, as fast as they can. Nobody may ever see
"database is locked" or a backend failure, every action answered is audited, and the
store ends consistent: every status change follows the one before it (a lost update
breaks that chain), no instance is RUNNING without its attempt, none is SUCCESS over a
failed attempt.
"""

from __future__ import annotations

import asyncio
import json
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from opscenter.backends.local import LocalBackend
from opscenter.domain.clock import ManualClock
from opscenter.scheduler.generate import ensure_generated
from opscenter.scheduler.worldclock import StoreClock
from opscenter.store import lease
from opscenter.store.db import open_store
from opscenter.tui import app as app_module
from opscenter.tui.app import OpsApp
from tests import store_checks
from tests.conftest import deploy_folder, write_workspace
from tests.processes import start_scheduler, wait_for_words
from tests.tui.helpers import press, settle

pytestmark = pytest.mark.slow

SPEED = 2400.0  # a simulated day in 36 real seconds
START = datetime(2025, 11, 1, 0, 0)  # workspace time (UTC)
DAY_ENDS = datetime(2025, 11, 2, 0, 0, tzinfo=UTC)
HOURLY = "00 00 00-23/1 * * ?"

# what an operator does at a console: keys on the Instances screen, now and then elsewhere
MOVES = [
    ("t",),
    ("t",),
    ("j",),
    ("j", "j"),
    ("k",),
    ("G",),
    ("g",),
    ("r", "y"),
    ("R", "y"),
    ("s", "y"),
    ("x", "y"),
    ("f", "y"),
    ("u", "y"),
    ("r", "y"),
    ("enter", "escape"),
    ("1", "3"),
    ("7", "3"),
]
ACTIONS = {"rerun", "rerun downstream", "set success", "stop", "freeze", "unfreeze"}


def busy_workspace(folder: Path) -> Path:
    nodes: list[dict] = []

    def add(name: str, cron: str, code: str, **extra: object) -> None:
        nodes.append(
            {"name": name, "type": "shell", "trigger": {"cron": cron}, "code": code, **extra}
        )

    add("h_pull", HOURLY, "sleep 0.2", rerun_times=2, rerun_interval=60, resource_group="work")
    add("h_push", HOURLY, "sleep 0.1", depends=["h_pull"], resource_group="work")
    for layer in range(3):
        for n in range(5):
            add(
                f"d{layer}_{n}",
                f"00 {10 * n:02d} {2 + 7 * layer:02d} * * ?",
                f"sleep 0.{2 + n}",
                depends=[f"d{layer - 1}_{u}" for u in range(5)] if layer else [],
                rerun_times=2,
                rerun_interval=60,
                resource_group="work",
            )
    add("broken", "00 00 06 * * ?", "echo 'bad input' >&2; exit 2", rerun_times=1)
    add("flaky", "00 00 08 * * ?", '[ "$OPSCENTER_ATTEMPT" -ge 2 ] || exit 1', rerun_times=2)
    add("long", "00 00 09 * * ?", "sleep 4")
    lines = [
        "workspace: {name: conc, timezone: UTC}",
        "resource_groups: [{name: work, slots: 3}]",
        "nodes:",
        *(f"  - {json.dumps(node)}" for node in nodes),
    ]
    return write_workspace(folder, "\n".join(lines) + "\n")


class Console(OpsApp):
    """The console, remembering everything it told its operator (notifications expire)."""

    CSS_PATH = Path(app_module.__file__).with_name("app.tcss")

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.said: list[tuple[str, str, str]] = []  # (title, severity, message)
        self.went_stale = 0

    def notify(self, message: str, **kwargs: object) -> None:  # type: ignore[override]
        self.said.append((str(kwargs.get("title", "")), str(kwargs.get("severity", "")), message))
        super().notify(message, **kwargs)  # type: ignore[arg-type]

    def backend_failed(self, error: BaseException) -> None:
        self.went_stale += 1
        super().backend_failed(error)


ENOUGH = 10  # console moves and CLI commands each, whatever the machine's speed


async def operate(pilot, rng: random.Random, until: float) -> int:  # noqa: ANN001 - a Pilot
    await settle(pilot)
    moves = 0
    while time.monotonic() < until or moves < ENOUGH:  # a loaded machine plays the day slower
        for key in rng.choice(MOVES):
            await press(pilot, key)
        moves += 1
    return moves


# -- the CLI loop, in processes of its own ----------------------------------------------------

WHERE = "SELECT id FROM instances WHERE "
CLI_ACTIONS = [  # (verb, audit action, extra arguments, targets by SQL)
    ("rerun", "rerun", (), WHERE + "status IN ('FAILURE', 'SUCCESS')"),
    ("rerun", "rerun downstream", ("--downstream",), WHERE + "status = 'SUCCESS'"),
    ("set-success", "set success", (), WHERE + "status = 'FAILURE'"),
    ("stop", "stop", (), WHERE + "status IN ('RUNNING', 'WAIT_RESOURCE', 'WAIT_TIME')"),
    ("freeze", "freeze", (), WHERE + "status IN ('NOT_RUN', 'WAIT_TIME', 'RUNNING')"),
    ("unfreeze", "unfreeze", (), WHERE + "status = 'FROZEN'"),
]
CLI_READS = [
    ("status",),
    ("instances", "--all-dates", "--status", "FAILURE,RUNNING"),
    ("show", "{id}"),
    ("why", "{id}"),
    ("logs", "{id}"),
    ("audit", "--limit", "5"),
]


class CliLoop(threading.Thread):
    def __init__(self, db: Engine, folder: Path, url: str, stop: threading.Event) -> None:
        super().__init__(name="cli-loop", daemon=True)
        self.db, self.folder, self.url, self.stop = db, folder, url, stop
        self.rng = random.Random(3)
        self.runs: list[tuple[list[str], int, str]] = []  # argv, exit code, stderr
        self.told: list[tuple[str, list, str]] = []  # (audit action, targets, outcome)

    def ids(self, sql: str) -> list[int]:
        with self.db.connect() as conn:
            return list(conn.execute(text(sql)).scalars())

    def run(self) -> None:
        while not self.stop.is_set():
            audit = None
            if self.rng.random() < 0.6:
                name, action, extra, sql = self.rng.choice(CLI_ACTIONS)
                found = self.ids(sql)
                if not found:
                    continue
                targets = sorted(self.rng.sample(found, min(2, len(found))))
                argv = [name, *map(str, targets), *extra]
                audit = (action, targets)
            else:
                some = self.ids(WHERE + "1 = 1 ORDER BY random() LIMIT 1")
                argv = [
                    part.format(id=some[0] if some else 1) for part in self.rng.choice(CLI_READS)
                ]
            done = subprocess.run(
                [sys.executable, "-m", "opscenter", *argv, "--workspace", str(self.folder)]
                + ["--db", self.url],
                capture_output=True,
                text=True,
                timeout=60,
            )
            self.runs.append((argv, done.returncode, done.stderr))
            if audit is not None and done.returncode in (0, 3):
                self.told.append((*audit, "ok" if done.returncode == 0 else "refused"))


# -- the day ------------------------------------------------------------------------------------


async def test_a_scheduler_two_consoles_and_a_cli_loop_share_one_store_for_a_day(
    tmp_path: Path, store_url: str
) -> None:
    folder = busy_workspace(tmp_path / "ws")
    url = store_url
    log = tmp_path / "scheduler.log"
    scheduler = start_scheduler(
        ["--workspace", str(folder), "--db", url]
        + ["--speed", f"{SPEED:g}", "--start", START.isoformat(sep=" ")],
        log,
    )
    try:
        wait_for_words(log, "holds the lease", 30, scheduler)  # before any console runs
        # the consoles read the world's clock the scheduler published with the lease
        db = open_store(url)
        clock = StoreClock(db)
        assert clock.speed == SPEED
        until = time.monotonic() + clock.real_seconds_until(DAY_ENDS)
        stop = threading.Event()
        cli = CliLoop(db, folder, url, stop)
        cli.start()
        consoles = [
            Console(
                LocalBackend(db, "conc", clock, user=user, source="tui"),
                start="instances",
                refresh_seconds=0.5,
            )
            for user in ("carol", "dave")
        ]
        try:
            async with (
                consoles[0].run_test(size=(100, 30)) as first,
                consoles[1].run_test(size=(100, 30)) as second,
            ):
                moves = await asyncio.gather(
                    operate(first, random.Random(1), until),
                    operate(second, random.Random(2), until),
                )
                for pilot in (first, second):
                    await settle(pilot)
                while len(cli.runs) < ENOUGH and cli.is_alive():  # as above, for the CLI
                    await asyncio.sleep(0.2)
        finally:
            stop.set()
            cli.join(timeout=90)
    finally:
        scheduler.send_signal(signal.SIGTERM)
        code = scheduler.wait(timeout=60)
    said = log.read_text()
    assert code == 0 and "scheduler stopped" in said, said[-3000:]
    for words in ("Traceback", "locked", "heartbeat failed"):
        assert words not in said, said

    # nobody saw the database locked, a backend failure, or a traceback
    for console in consoles:
        user = console.backend.user
        problems = [
            entry
            for entry in console.said
            if (entry[1] == "error" and entry[0] != "refused")
            or any(w in entry[2] for w in ("locked", "did not answer", "backend failed"))
        ]
        assert problems == [], f"{user} was told: {problems}"
        assert console.went_stale == 0 and console.stale_since is None, user
    for argv, exit_code, err in cli.runs:
        assert exit_code in (0, 3), f"opscenter {' '.join(argv)}: exit {exit_code}\n{err}"
        assert "Traceback" not in err and "locked" not in err, err
    assert min(moves) >= ENOUGH and len(cli.runs) >= ENOUGH, (moves, len(cli.runs))

    # every action answered is audited once, by whom it was told to
    store_checks.assert_sound(db, "after the day")
    with db.connect() as conn:
        rows = conn.execute(text('SELECT "user", source, action, outcome FROM audit')).all()
    for console in consoles:
        user = console.backend.user
        told_ok = sum(title in ACTIONS for title, _, _ in console.said)
        told_refused = sum(title == "refused" for title, _, _ in console.said)
        ok = sum(r.user == user and r.outcome == "ok" for r in rows)
        refused = sum(r.user == user and r.outcome == "refused" for r in rows)
        assert ok == told_ok and refused <= told_refused, (user, ok, told_ok, refused)
        assert all(r.source == "tui" for r in rows if r.user == user)
        assert ok > 0, f"{user}'s actions never got through"
    expected = Counter(store_checks.audit_key(*entry) for entry in cli.told)
    assert store_checks.audited(db, source="cli") == expected
    with db.connect() as conn:
        finished = conn.execute(
            text("SELECT COUNT(*) FROM attempts WHERE status != 'RUNNING'")
        ).scalar()
    assert finished > 50, "the scheduler hardly ran anything meanwhile"
    db.dispose()


def test_the_rerun_preview_of_a_console_never_meets_a_locked_database(
    tmp_path: Path, any_store: Engine
) -> None:
    """The confirm of a rerun with downstream asks the backend what the rerun would reset
    (it runs the rerun and rolls it back) while a scheduler writes all the time: its
    heartbeat here, as fast as it can. Every preview answers; none says "locked"."""
    report = deploy_folder(any_store, busy_workspace(tmp_path / "ws"), now=START)
    ensure_generated(any_store, report.workspace_id, START)
    backend = LocalBackend(any_store, "conc", ManualClock(START.replace(tzinfo=UTC)), user="carol")
    with any_store.connect() as conn:
        first = conn.execute(
            text(
                "SELECT i.id FROM instances i JOIN nodes n ON n.id = i.node_id "
                "WHERE n.name = 'd0_0'"
            )
        ).scalar()
    stop = threading.Event()
    beats = []

    def scheduler_heartbeat() -> None:
        holder = lease.new_holder_name()
        lease.try_acquire(any_store, holder)
        while not stop.is_set():  # a scheduler's turns, back to back
            beats.append(lease.renew(any_store, holder))
            time.sleep(0.002)

    beat = threading.Thread(target=scheduler_heartbeat, daemon=True)
    beat.start()
    try:
        previews = []
        for _ in range(60):  # an operator's pace is slower: the writer gets in between
            previews.append(backend.preview_rerun([first], downstream=True))
            time.sleep(0.005)
    finally:
        stop.set()
        beat.join()
    assert len(beats) > 60 and all(beats)  # previews and writes interleaved
    assert {len(p.affected) for p in previews} == {11}  # d0_0, d1_*, d2_*
    assert backend.get_instance(first).status.value == "NOT_RUN"  # a preview changes nothing
