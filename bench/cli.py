"""CLI benchmark: run as ``python bench/cli.py``; prints figures, then a table.

What a person waits for at the command line, each as a ratio to ``python -c pass`` measured
in the same run (bench/floors.py):

1. ``verbs``: each read verb (``opscenter status``, ``instances``, ``show``, ``logs``,
   ``why``, ``nodes``, ``node``, ``audit``, ``baselines``) in a fresh process, median wall of
   7, over the demo deployed with its day generated and a scheduler's first minutes run.
2. ``console``: the console's cold start in a terminal (a pty of 80x24): from starting
   ``opscenter`` over the deployed demo to the dashboard showing its status counts, median
   of 5.

Every process is ``python -m opscenter`` with this interpreter (not a shim that starts
another), XDG folders in a temporary folder. opscenter's own modules are compiled once, as
an installed package's are: the children write their bytecode under that temporary folder
(``PYTHONPYCACHEPREFIX``), never into the repository, and one run of each command before
the measured ones compiles it. See bench/README.md for what each figure means.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import select
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import floors
from figures import FIGURES, Figure, figure, print_table

LOAD_AT_START = os.getloadavg()[0]
PARTS = ("verbs", "console")
VERB_RUNS = 7
CONSOLE_RUNS = 5
VERB_GOAL = 20  # x python -c pass: the "a CLI that answers at once"
CONSOLE_GOAL = 60  # x python -c pass: "a console that opens in a second" (1 s / 16 ms)
TIMEOUT = 60.0  # seconds any one command may take before the bench gives up on it
SCHEDULER_SPEED = 600  # the demo's world runs 10 simulated minutes a second while it is set up
FINISHED_WANTED = 5  # instances finished (attempts, logs, run history) before the verbs run
# the dashboard's counts panel: its title (the business date and the total) and a count
COUNTS_TITLE = re.compile(rb"Instances \d{4}-\d{2}-\d{2} \xc2\xb7 \d+")
COUNT_LINE = re.compile(rb"(SUCCESS|RUNNING|WAIT_TIME|WAIT_RES|NOT_RUN|FAILURE|FROZEN) +\d+")
ESCAPES = re.compile(rb"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[()][0-9A-Za-z]|.)")


def environment(folder: Path) -> dict[str, str]:
    """A user's environment with every XDG folder under ``folder``, no personal config, and
    bytecode kept (under ``folder``) as an installed opscenter has it."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONDONTWRITEBYTECODE", "OPSCENTER_CONFIG")
    }
    for name in ("STATE", "CONFIG", "CACHE", "DATA"):
        env[f"XDG_{name}_HOME"] = str(folder / name.lower())
    env["PYTHONPYCACHEPREFIX"] = str(folder / "pycache")
    return env


def opscenter(*args: str) -> list[str]:
    return [sys.executable, "-m", "opscenter", *args]


def answer(env: dict[str, str], *args: str) -> str:
    """What ``opscenter ARGS`` prints; a failure stops the bench with its words."""
    done = subprocess.run(
        opscenter(*args),
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        stdin=subprocess.DEVNULL,
    )
    if done.returncode != 0:
        raise RuntimeError(f"opscenter {' '.join(args)} exited {done.returncode}: {done.stderr}")
    return done.stdout


def finished(env: dict[str, str]) -> list[dict]:
    """The demo's finished instances, by the CLI."""
    listed = answer(env, "instances", "--all-dates", "--status", "SUCCESS,FAILURE", "--json")
    return json.loads(listed)["items"]


def deploy_demo(env: dict[str, str]) -> dict:
    """The demo deployed and its day generated (``opscenter summary``), then a headless
    scheduler run until a few instances finished, so that the verbs read attempts, logs,
    audit rows and run history: a finished instance, as the CLI lists it."""
    answer(env, "summary")
    scheduler = subprocess.Popen(
        opscenter("scheduler", "--speed", str(SCHEDULER_SPEED)),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 4 * TIMEOUT
        while len(done := finished(env)) < FINISHED_WANTED:
            if scheduler.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the demo's scheduler finished {len(done)} instances")
            time.sleep(0.5)
    finally:
        scheduler.send_signal(signal.SIGTERM)
        try:
            scheduler.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(scheduler.pid, signal.SIGKILL)
            scheduler.wait()
    return next((i for i in done if i["node_type"] == "shell"), done[0])


def wall(command: list[str], env: dict[str, str], runs: int) -> float:
    """The median wall time of ``command`` in a fresh process, after one run not counted
    (the bytecode compiled, the files in the page cache)."""
    times = []
    for _ in range(runs + 1):
        start = time.perf_counter()
        process = subprocess.Popen(
            command,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        # a blocking wait: Popen.wait(timeout) polls in steps of up to 50 ms, which the
        # figure would carry; a timer ends a command that hangs instead
        guard = threading.Timer(TIMEOUT, process.kill)
        guard.start()
        code = process.wait()
        times.append(time.perf_counter() - start)
        guard.cancel()
        if code != 0:
            raise subprocess.CalledProcessError(code, command)
    return statistics.median(times[1:])


def ratio_figure(name: str, seconds: float, goal: int, goal_text: str) -> None:
    floor = floors.floors().python
    figure(
        name,
        floors.ratio_figure_text(seconds, floor, "python -c pass"),
        f"<= {goal}x python -c pass{goal_text}",
        seconds / floor <= goal,
    )


def bench_verbs(env: dict[str, str]) -> None:
    instance = deploy_demo(env)
    ident, node = str(instance["id"]), instance["node"]
    print(f"1. read verbs over the demo, instance {ident} ({node}, {instance['status']})")
    verbs = [
        ["status"],
        ["instances"],
        ["show", ident],
        ["logs", ident],
        ["why", ident],
        ["nodes"],
        ["node", node],
        ["audit"],
        ["baselines"],
    ]
    for verb in verbs:
        seconds = wall(opscenter(*verb), env, VERB_RUNS)
        ratio_figure(f"opscenter {verb[0]}: wall, median of {VERB_RUNS}", seconds, VERB_GOAL, "")


def shown(screen: bytes) -> bool:
    """The dashboard's counts are on the screen: its title and a status with its count."""
    plain = ESCAPES.sub(b"", screen)
    return COUNTS_TITLE.search(plain) is not None and COUNT_LINE.search(plain) is not None


def cold_start(env: dict[str, str]) -> float:
    """Seconds from starting ``opscenter`` on a pty of 80x24 to the dashboard's counts on
    its screen; then ``q``, and the console is waited for (ended if it does not go)."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    start = time.perf_counter()
    console = subprocess.Popen(
        opscenter(), stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True
    )
    os.close(slave)
    screen, seconds = b"", None
    try:
        deadline = time.monotonic() + TIMEOUT
        while seconds is None and time.monotonic() < deadline and console.poll() is None:
            ready, _, _ = select.select([master], [], [], 0.05)
            if ready:
                with contextlib.suppress(OSError):
                    screen += os.read(master, 65536)
                if shown(screen):
                    seconds = time.perf_counter() - start
        if seconds is None:
            tail = ESCAPES.sub(b"", screen)[-400:].decode(errors="replace")
            raise RuntimeError(f"the console showed no status counts in {TIMEOUT:g} s: {tail!r}")
        os.write(master, b"q")
        console.wait(timeout=TIMEOUT)
    finally:
        if console.poll() is None:
            os.killpg(console.pid, signal.SIGKILL)
            console.wait()
        os.close(master)
    return seconds


def bench_console(env: dict[str, str]) -> None:
    print("2. the console's cold start on a pty of 80x24, to the dashboard's status counts")
    if not (Path(env["XDG_STATE_HOME"]) / "opscenter" / "shop").exists():
        answer(env, "summary")  # the demo deployed, as it is after a first run
    cold_start(env)  # not counted: the bytecode compiled, the files in the page cache
    runs = [cold_start(env) for _ in range(CONSOLE_RUNS)]
    ratio_figure(
        f"console cold start to the dashboard's counts, 80x24: median of {CONSOLE_RUNS}",
        statistics.median(runs),
        CONSOLE_GOAL,
        " (1 s at 16 ms)",
    )


def run(parts: Sequence[str] = PARTS) -> list[Figure]:
    """Measure the named parts (printing each figure as it comes); their figures."""
    print(f"1-minute load average at start: {LOAD_AT_START:.2f} on {os.cpu_count()} cores")
    if LOAD_AT_START > 1.5:
        print("  warning: the machine is busy; figures will be noisy")
    print(f"floors: {floors.floors().describe()}")
    with tempfile.TemporaryDirectory(prefix="opscenter-bench-cli-") as tmp:
        env = environment(Path(tmp))
        if "verbs" in parts:
            bench_verbs(env)
        if "console" in parts:
            bench_console(env | {"NO_COLOR": "1", "TERM": "xterm-256color"})
    return FIGURES


if __name__ == "__main__":
    run(sys.argv[1:] or PARTS)  # or name the parts to run
    print_table(LOAD_AT_START)
