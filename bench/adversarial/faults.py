"""Section 4: outside faults, each tried against a real process, with a verdict.

Each fault gets a workspace and store of its own, a real ``opscenter scheduler`` (real
clock, daily nodes due at once) or CLI, does the harm, and judges what a careful operator
would expect: the process notices and says why, or carries on correctly; no traceback; no
process of an attempt left behind. A fault the machine cannot stage (a tmpfs without the
right to mount) is skipped and said so; it counts neither as tried nor as handled.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

from bench.adversarial import invariants, workspaces
from bench.adversarial.sandbox import (
    Sandbox,
    kill_group,
    processes_with,
    said,
    terminate,
    wait_for,
)

Verdict = tuple[bool | None, str]  # handled? (None: skipped), and why in one line
SECRET_VALUE = "bench-SECRET-7f3a9c"
TRACEBACK = "Traceback (most recent call last)"
DOUBLE_FORK = """import os, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        path = os.path.join(os.environ["OPSCENTER_LANDING"], "grandchild")
        with open(path, "w") as out:
            out.write(str(os.getpid()))
        time.sleep(3003)
    os._exit(0)
time.sleep(0.5)
print("parent done")
"""


class Scene:
    """One fault's workspace, store and scheduler."""

    def __init__(self, box: Sandbox, name: str, nodes: list[dict], **extra: Any) -> None:
        self.box = box
        self.base = box.folder(f"faults/{name}")
        self.folder = workspaces.write(self.base / "ws", name.replace("-", "_"), nodes, **extra)
        self.state = self.base / "state"
        self.state.mkdir(exist_ok=True)
        self.store = self.state / "state.db"
        self.url = f"sqlite:///{self.store}"
        self.log = self.base / "scheduler.log"
        self.process: subprocess.Popen | None = None

    @property
    def where(self) -> list[str]:
        return ["--workspace", str(self.folder), "--db", self.url]

    def deploy(self) -> None:
        ran = self.box.run(["summary", *self.where])
        if ran.code != 0:
            raise RuntimeError(f"summary failed: {ran.err[-500:]}")

    def start(self, env: dict[str, str] | None = None, *extra: str) -> subprocess.Popen:
        mark = len(said(self.log))
        self.process = self.box.opscenter("scheduler", *self.where, *extra, log=self.log, env=env)
        if not wait_for(lambda: "holds the lease" in said(self.log)[mark:], 60):
            raise RuntimeError("the scheduler never took the lease:\n" + said(self.log)[-1500:])
        return self.process

    def stop(self) -> int | None:
        """SIGTERM, then SIGKILL after 20 s; the exit code (None: it had to be killed)."""
        process = self.process
        if process is None:
            return None
        code = terminate(process, 20)
        with contextlib.suppress(ValueError):
            self.box.started.remove(process)
        return code

    def query(self, sql: str, *args: object) -> tuple | None:
        try:
            with closing(invariants.connect(self.store)) as conn:
                return conn.execute(sql, args).fetchone()
        except Exception:  # the fault may have taken the store away
            return None

    def instance(self, node: str) -> tuple | None:
        """(id, status) of the node's newest instance."""
        return self.query(
            "SELECT i.id, i.status FROM instances i JOIN nodes n ON n.id = i.node_id "
            "WHERE n.name = ? ORDER BY i.id DESC LIMIT 1",
            node,
        )

    def status(self, node: str) -> str:
        found = self.instance(node)
        return found[1] if found else "?"

    def reason(self, node: str) -> str:
        found = self.query(
            "SELECT a.reason FROM attempts a JOIN instances i ON i.id = a.instance_id "
            "JOIN nodes n ON n.id = i.node_id WHERE n.name = ? ORDER BY a.id DESC LIMIT 1",
            node,
        )
        return (found[0] or "") if found else ""

    def reaches(self, node: str, statuses: tuple[str, ...], seconds: float) -> bool:
        return wait_for(lambda: self.status(node) in statuses, seconds, every=0.2)

    def landing(self) -> Path:
        found = self.query("SELECT landing FROM workspaces")
        return Path(found[0]).resolve() if found else self.state / "landing"

    def tree(self) -> list[int]:
        return processes_with("OPSCENTER_LANDING", str(self.landing()))

    def traceback(self) -> bool:
        return TRACEBACK in said(self.log)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_tail(self) -> str:
        lines = [
            line
            for line in said(self.log).splitlines()
            if line.strip() and not line.startswith("(Background on this error")
        ]
        return lines[-1][:140] if lines else "(nothing)"


def _or_traceback(scene: Scene, traced: bool) -> str:
    return "traceback" if traced else scene.log_tail()


def sleepers(*names: str, code: str = "sleep 30 & wait") -> list[dict]:
    return [workspaces.node(n, code) for n in names]


# -- the faults ---------------------------------------------------------------------------------


def store_deleted(box: Sandbox) -> Verdict:
    scene = Scene(box, "store-deleted", sleepers("a", "b"))
    scene.start()
    scene.reaches("a", ("RUNNING",), 30)
    scene.reaches("b", ("RUNNING",), 30)
    for path in scene.state.glob("state.db*"):
        path.unlink()
    ended = wait_for(lambda: not scene.alive(), 15)
    left = len(scene.tree())
    code = scene.stop()
    if ended and code not in (0, None) and not left:
        return True, f"exited {code} within 15 s, its attempts ended: {scene.log_tail()}"
    return (
        False,
        f"still running 15 s after rm state.db* (exit {code}), {left} node processes alive",
    )


def store_replaced(box: Sandbox) -> Verdict:
    scene = Scene(box, "store-replaced", sleepers("a"))
    scene.start()
    scene.reaches("a", ("RUNNING",), 30)
    copy = scene.state / "copy.db"
    with (
        closing(invariants.connect(scene.store)) as source,
        closing(sqlite3.connect(copy)) as target,
    ):
        source.backup(target)
    os.replace(copy, scene.store)
    ended = wait_for(lambda: not scene.alive(), 15)
    code = scene.stop()
    if ended and code not in (0, None):
        return True, f"noticed the new file and exited {code}: {scene.log_tail()}"
    return False, f"kept running on the replaced file for 15 s (exit {code} once stopped)"


def store_read_only(box: Sandbox) -> Verdict:
    scene = Scene(box, "store-read-only", sleepers("a", code="true"))
    scene.deploy()
    mounted = subprocess.run(
        ["mount", "--bind", str(scene.state), str(scene.state)], capture_output=True
    )
    if mounted.returncode != 0:
        return None, f"cannot bind-mount here: {mounted.stderr.decode().strip()}"
    box.mounts.append(scene.state)
    remount = subprocess.run(
        ["mount", "-o", "remount,ro,bind", str(scene.state)], capture_output=True
    )
    if remount.returncode != 0:
        return None, f"cannot remount read-only: {remount.stderr.decode().strip()}"
    read = box.run(["status", *scene.where])
    ids = scene.instance("a")
    act = box.run(["freeze", str(ids[0] if ids else 1), *scene.where])
    traced = read.traceback or act.traceback
    if read.code == 0 and act.code in (2, 3) and not traced:
        return True, f"status read it; freeze refused: {act.err.strip()[:100]}"
    said_ = (read.err or act.err).strip().splitlines()
    return False, (
        f"read-only filesystem: status exit {read.code}, freeze exit {act.code}"
        f"{' (traceback)' if traced else ''}: {said_[-1][:100] if said_ else ''}"
    )


def disk_full(box: Sandbox) -> Verdict:
    nodes = [
        workspaces.node("fill", 'head -c 3000000 /dev/zero > "$OPSCENTER_LANDING/big"; echo wrote'),
        workspaces.node("after", "echo after", depends=["fill"]),
    ]
    scene = Scene(box, "disk-full", nodes)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(scene.state)], capture_output=True
    )
    if mounted.returncode != 0:
        return None, f"no tmpfs: {mounted.stderr.decode().strip()}"
    box.mounts.append(scene.state)
    scene.start()
    ended = wait_for(
        lambda: scene.status("fill") in ("FAILURE", "SUCCESS") or not scene.alive(), 30
    )
    time.sleep(3)
    running, traced, status, reason = (
        scene.alive(),
        scene.traceback(),
        scene.status("fill"),
        scene.reason("fill"),
    )
    left = wait_for(lambda: not scene.tree(), 5)
    code = scene.stop()
    if ended and status == "FAILURE" and not traced and running:
        return True, f"the node failed with '{reason[:80]}', the scheduler carried on"
    if not running and code not in (0, None) and not traced and left:
        return True, f"the scheduler stopped its attempts and exited {code}: {scene.log_tail()}"
    return False, (
        f"fill {status} ({reason[:60]}), scheduler {'alive' if running else 'gone'}"
        f"{', traceback' if traced else ''}: {scene.log_tail()}"
    )


class SlowLoris:
    """An HTTP server that sends headers, then one byte every 3 s; it notes when the client
    hangs up."""

    def __init__(self) -> None:
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(16)
        self.url = f"http://127.0.0.1:{self.server.getsockname()[1]}/hook"
        self.held: list[float] = []  # seconds each connection was held by the client
        self.accepted = 0
        self.stopped = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        self.server.settimeout(0.5)
        while not self.stopped.is_set():
            try:
                conn, _ = self.server.accept()
            except OSError:
                continue
            self.accepted += 1
            threading.Thread(target=self._trickle, args=(conn,), daemon=True).start()

    def _trickle(self, conn: socket.socket) -> None:
        began = time.monotonic()
        with conn, contextlib.suppress(OSError):
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
            conn.settimeout(3)
            while not self.stopped.is_set():
                try:
                    if conn.recv(1) == b"":
                        break  # the client closed
                except TimeoutError:
                    pass
                conn.sendall(b"x")
        self.held.append(time.monotonic() - began)

    def close(self) -> None:
        self.stopped.set()
        self.server.close()


def _alerting(name: str, url: str) -> tuple[list[dict], list[dict]]:
    nodes = [workspaces.node("broken", "echo broken >&2; exit 1")]
    return nodes, [
        {"name": name, "trigger": "Error", "nodes": ["broken"], "webhook": url, "interval": "1m"}
    ]


def webhook_slow_loris(box: Sandbox) -> Verdict:
    loris = SlowLoris()
    nodes, alerts = _alerting("slow", loris.url)
    scene = Scene(box, "webhook-slow", nodes, alerts=alerts)
    try:
        scene.start()
        wait_for(lambda: loris.accepted > 0, 30)
        wait_for(lambda: bool(loris.held), 20)
        wait_for(lambda: bool((scene.query("SELECT last_error FROM alerts") or ("",))[0]), 20)
        error = scene.query("SELECT sent_count, last_error FROM alerts")
        running, traced = scene.alive(), scene.traceback()
    finally:
        loris.close()
        scene.stop()
    held = f"{loris.held[0]:.0f} s" if loris.held else "more than 20 s"
    if loris.held and loris.held[0] <= 10 and error and error[1] and running and not traced:
        return True, f"gave up after {held} and recorded '{error[1][:60]}'"
    return (
        False,
        f"held the POST {held}; alert row {error}; scheduler {'alive' if running else 'gone'}",
    )


def webhook_refused(box: Sandbox) -> Verdict:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    nodes, alerts = _alerting("refused", f"http://127.0.0.1:{port}/hook")
    scene = Scene(box, "webhook-refused", nodes, alerts=alerts)
    scene.start()
    recorded = wait_for(
        lambda: bool((scene.query("SELECT last_error FROM alerts") or ("",))[0]), 30, every=0.5
    )
    row = scene.query("SELECT sent_count, last_error FROM alerts")
    running, traced = scene.alive(), scene.traceback()
    scene.stop()
    if recorded and running and not traced:
        return True, f"recorded the failure: {row[1][:80] if row else ''}"
    return False, f"alert row {row}; scheduler {'alive' if running else 'gone'}"


def warehouse_locked(box: Sandbox) -> Verdict:
    nodes = [workspaces.node("q", "SELECT 42", type_="sql")]
    scene = Scene(box, "warehouse-locked", nodes)
    scene.deploy()
    found = scene.query("SELECT warehouse FROM workspaces")
    warehouse = Path(found[0]) if found else scene.state / "warehouse.duckdb"
    holder = box.spawn(
        [
            sys.executable,
            "-c",
            f"import duckdb, time; c = duckdb.connect({str(warehouse)!r}); "
            "print('holding', flush=True); time.sleep(300)",
        ],
        scene.base / "holder.log",
    )
    wait_for(lambda: "holding" in said(scene.base / "holder.log"), 30)
    scene.start()
    ended = scene.reaches("q", ("FAILURE", "SUCCESS"), 40)
    status, reason, running, traced = (
        scene.status("q"),
        scene.reason("q"),
        scene.alive(),
        scene.traceback(),
    )
    scene.stop()
    kill_group(holder)
    box.started.remove(holder)
    if ended and running and not traced:
        return True, f"the SQL node ended {status} ({reason[:70]}), the scheduler carried on"
    return (
        False,
        f"SQL node {status} after 40 s ({reason[:60]}); {_or_traceback(scene, traced)}",
    )


def landing_unwritable(box: Sandbox) -> Verdict:
    scene = Scene(
        box, "landing-unwritable", [workspaces.node("w", 'echo x > "$OPSCENTER_LANDING/out"')]
    )
    scene.deploy()
    landing = scene.landing()
    shutil.rmtree(landing, ignore_errors=True)
    landing.parent.mkdir(parents=True, exist_ok=True)
    landing.write_text("not a folder\n")  # root ignores modes: a file where the folder was
    ran = box.run(["rerun", str((scene.instance("w") or (1,))[0]), *scene.where])
    scene.start()
    ended = scene.reaches("w", ("FAILURE", "SUCCESS"), 30)
    status, reason, running, traced = (
        scene.status("w"),
        scene.reason("w"),
        scene.alive(),
        scene.traceback(),
    )
    scene.stop()
    if ended and status == "FAILURE" and reason and running and not traced:
        return True, f"the node failed: '{reason[:80]}'"
    return (
        False,
        f"node {status} ({reason[:60]}), rerun exit {ran.code}; {_or_traceback(scene, traced)}",
    )


def bash_missing(box: Sandbox) -> Verdict:
    scene = Scene(box, "bash-missing", [workspaces.node("s", "echo hi")])
    scene.start(box.env(PATH="/nonexistent"))
    ended = scene.reaches("s", ("FAILURE", "SUCCESS"), 30)
    status, reason, running, traced = (
        scene.status("s"),
        scene.reason("s"),
        scene.alive(),
        scene.traceback(),
    )
    scene.stop()
    if ended and status == "FAILURE" and running and not traced:
        return True, f"the node failed: '{reason[:80]}'"
    return False, f"node {status} ({reason[:60]}); {'traceback' if traced else scene.log_tail()}"


def setsid_grandchild(box: Sandbox) -> Verdict:
    code = 'setsid sleep 3002 & echo $! > "$OPSCENTER_LANDING/grandchild"; echo started'
    scene = Scene(box, "setsid", [workspaces.node("g", code)])
    scene.start()
    scene.reaches("g", ("SUCCESS", "FAILURE"), 30)
    gone = wait_for(lambda: not scene.tree(), 5)
    left = len(scene.tree())
    scene.stop()
    after_stop = len(scene.tree())
    if not (scene.landing() / "grandchild").exists():
        return False, "the node never started its grandchild: nothing was tried"
    if gone:
        return True, "the setsid grandchild ended with its attempt"
    return False, f"{left} setsid grandchild(ren) outlived the attempt ({after_stop} after SIGTERM)"


def python_double_fork(box: Sandbox) -> Verdict:
    code = DOUBLE_FORK
    scene = Scene(box, "double-fork", [workspaces.node("p", code, type_="python")])
    scene.start()
    scene.reaches("p", ("SUCCESS", "FAILURE"), 30)
    gone = wait_for(lambda: not scene.tree(), 5)
    left = len(scene.tree())
    scene.stop()
    if not (scene.landing() / "grandchild").exists():
        return False, "the node never double-forked: nothing was tried"
    if gone:
        return True, "the double-forked grandchild ended with its attempt"
    return False, f"{left} double-forked process(es) outlived the attempt"


def proc_environ(box: Sandbox) -> Verdict:
    code = "tr '\\0' '\\n' < /proc/$PPID/environ; echo ---; env"
    scene = Scene(box, "environ", [workspaces.node("e", code)])
    env = box.env(
        ALIBABA_CLOUD_ACCESS_KEY_ID="LTAIbench",
        ALIBABA_CLOUD_ACCESS_KEY_SECRET=SECRET_VALUE,
        OPSCENTER_EMULATOR_ACCESS_KEY_SECRET=SECRET_VALUE + "-emu",
    )
    scene.start(env)
    scene.reaches("e", ("SUCCESS", "FAILURE"), 30)
    scene.stop()
    found = scene.instance("e")
    log = box.run(["logs", str(found[0] if found else 1), *scene.where])
    seen = [line for line in log.out.splitlines() if SECRET_VALUE in line]
    if "OPSCENTER_NODE=e" not in log.out:
        return (
            False,
            f"the node's environment never reached its log: nothing was tried ({log.code})",
        )
    if log.code == 0 and not seen:
        return True, "the node's log shows no credential of the scheduler"
    return (
        False,
        f"the node read {len(seen)} credential line(s), e.g. "
        f"{seen[0].split('=')[0] if seen else log.err[:80]}",
    )


def sigterm_during_attempts(box: Sandbox) -> Verdict:
    scene = Scene(box, "sigterm", sleepers("a", "b", code="sleep 30 & sh -c 'sleep 31' & wait"))
    process = scene.start()
    scene.reaches("a", ("RUNNING",), 30)
    scene.reaches("b", ("RUNNING",), 30)
    process.send_signal(signal.SIGTERM)
    try:
        code: int | None = process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        code = None
    gone = wait_for(lambda: not scene.tree(), 5)
    running = (scene.query("SELECT COUNT(*) FROM attempts WHERE status = 'RUNNING'") or (0,))[0]
    scene.stop()
    if code == 0 and gone and not running and not scene.traceback():
        return True, f"stopped cleanly: attempts ended '{scene.reason('a')[:60]}', no process left"
    return False, f"exit {code}, {len(scene.tree())} processes left, {running} attempts RUNNING"


def node_killed(box: Sandbox) -> Verdict:
    scene = Scene(box, "node-killed", sleepers("k"))
    scene.start()
    scene.reaches("k", ("RUNNING",), 30)
    row = scene.query("SELECT pid FROM attempts WHERE status = 'RUNNING'")
    if row and row[0]:
        with contextlib.suppress(OSError):
            os.kill(row[0], signal.SIGKILL)
    ended = scene.reaches("k", ("FAILURE",), 10)
    reason, running = scene.reason("k"), scene.alive()
    scene.stop()
    if ended and running and reason:
        return True, f"recorded the kill: '{reason[:80]}'"
    return False, f"node {scene.status('k')} 10 s after kill -9 of its process ({reason[:60]})"


def stop_a_tree(box: Sandbox) -> Verdict:
    code = "sleep 3004 & setsid sleep 3005 & sleep 30; wait"
    scene = Scene(box, "stop-tree", [workspaces.node("t", code)])
    scene.start()
    scene.reaches("t", ("RUNNING",), 30)
    if not wait_for(lambda: len(scene.tree()) >= 4, 30):  # bash and its three sleeps
        scene.stop()
        return False, "the node never started its whole tree: nothing was tried"
    found = scene.instance("t")
    stopped = box.run(["stop", str(found[0] if found else 1), *scene.where])
    gone = wait_for(lambda: not scene.tree(), 10)
    left = len(scene.tree())
    scene.stop()
    if stopped.code == 0 and gone:
        return True, "opscenter stop ended the whole tree"
    return False, f"stop exit {stopped.code}; {left} process(es) of the tree alive 10 s later"


def outside_writer(box: Sandbox) -> Verdict:
    scene = Scene(box, "outside-writer", sleepers("a", code="sleep 1"))
    scene.start()
    scene.reaches("a", ("RUNNING", "SUCCESS"), 30)
    found = scene.instance("a")
    holder = box.spawn(
        [
            sys.executable,
            "-c",
            f"import sqlite3, time; c = sqlite3.connect({str(scene.store)!r}, "
            "isolation_level=None); c.execute('BEGIN EXCLUSIVE'); print('holding', flush=True); "
            "time.sleep(8); c.execute('COMMIT')",
        ],
        scene.base / "holder.log",
    )
    wait_for(lambda: "holding" in said(scene.base / "holder.log"), 20)
    read = box.run(["status", *scene.where], timeout=60)
    act = box.run(["freeze", str(found[0] if found else 1), *scene.where], timeout=60)
    holder.wait(timeout=30)
    box.started.remove(holder)
    time.sleep(2)
    running, traced = scene.alive(), scene.traceback() or read.traceback or act.traceback
    scene.stop()
    if running and not traced and not read.undocumented and not act.undocumented:
        return True, f"waited out an 8 s exclusive lock: status {read.code}, freeze {act.code}"
    return (
        False,
        f"status {read.code}, freeze {act.code}, scheduler {'alive' if running else 'gone'}"
        + (", traceback" if traced else ""),
    )


def clock_jumps(box: Sandbox) -> Verdict:
    """The system clock is shared with the machine's other work, so the world's (simulated)
    clock jumps instead: back 8 hours, then forward two days, on the same store."""
    nodes = [workspaces.node(f"h{n}", "true", cron=workspaces.HOURLY) for n in range(3)]
    scene = Scene(box, "clock-jump", nodes)
    problems = []
    for start in ("2025-11-01 10:00", "2025-11-01 02:00", "2025-11-03 10:00"):
        scene.start(None, "--speed", "600", "--start", start)
        time.sleep(4)
        if not scene.alive():
            problems.append(f"died after --start {start}")
        scene.stop()
    ledger = invariants.Ledger()
    ledger.static(scene.store, "after the jumps")
    problems += ledger.violations
    if scene.traceback():
        problems.append("traceback")
    if not problems:
        return True, "three starts with the world clock back 8 h and forward 2 days: store sound"
    return False, "; ".join(problems)[:160]


def fifo_workspace(box: Sandbox) -> Verdict:
    folder = box.folder("faults/fifo")
    os.mkfifo(folder / "workspace.yaml")
    ran = box.run(["validate", str(folder)], timeout=10)
    if ran.code is not None and ran.code != 0 and not ran.traceback:
        return True, f"refused at once: {ran.err.strip()[:90]}"
    return False, "hung 10 s reading a FIFO" if ran.code is None else f"exit {ran.code}"


FAULTS: list[tuple[str, Callable[[Sandbox], Verdict]]] = [
    ("store deleted under the scheduler", store_deleted),
    ("store replaced under the scheduler", store_replaced),
    ("store folder read-only (ro bind mount)", store_read_only),
    ("disk full (2 MB tmpfs)", disk_full),
    ("webhook trickles bytes (slow loris)", webhook_slow_loris),
    ("webhook refuses connections", webhook_refused),
    ("DuckDB warehouse locked by another process", warehouse_locked),
    ("landing folder unwritable", landing_unwritable),
    ("bash missing from PATH", bash_missing),
    ("node forks a setsid grandchild, then exits", setsid_grandchild),
    ("python node double-forks with os.setsid()", python_double_fork),
    ("node reads /proc/$PPID/environ, credentials set", proc_environ),
    ("SIGTERM to the scheduler during attempts", sigterm_during_attempts),
    ("kill -9 of a node's process from outside", node_killed),
    ("opscenter stop of a node's process tree", stop_a_tree),
    ("an outside writer holds the store 8 s", outside_writer),
    ("world clock jumps back and forward", clock_jumps),
    ("workspace.yaml is a FIFO", fifo_workspace),
]


def run(box: Sandbox) -> dict[str, object]:
    print(f"\n== faults: {len(FAULTS)} outside faults ($SANDBOX: {box.root})", flush=True)
    verdicts = []
    tried = handled = 0
    for name, fault in FAULTS:
        began = time.monotonic()
        try:
            ok, why = fault(box)
        except Exception as error:  # the staging broke: say so, count it as not handled
            ok, why = False, f"the bench could not stage it: {type(error).__name__}: {error}"[:200]
        why = " ".join(why.replace(str(box.root), "$SANDBOX").split())
        word = "skipped" if ok is None else ("handled" if ok else "NOT handled")
        line = f"{word:11}  {name}: {why} ({time.monotonic() - began:.0f} s)"
        print(f"  {line}", flush=True)
        verdicts.append(line)
        if ok is not None:
            tried += 1
            handled += ok
    return {"faults tried": tried, "handled": handled, "verdicts": verdicts}
