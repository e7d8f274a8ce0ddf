"""The floors every goal is a ratio to, measured on the machine of the run.

Machines differ (a Xeon kind and an AMD kind, 2x apart), so a goal in bare seconds says
nothing: each is stated as a multiple of a floor measured in the same run. ``run_all.py``
measures the floors once and hands them to each bench's process through
``OPSCENTER_BENCH_FLOORS``; a bench run alone measures them itself.

- ``python``: a fresh ``python -c pass`` (this interpreter, not a shim), median of 11.
- ``bash``: a fresh ``bash -c true``, median of 41 (what a shell node costs at the least).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass

ENV = "OPSCENTER_BENCH_FLOORS"


@dataclass(frozen=True)
class Floors:
    python: float  # seconds
    bash: float  # seconds

    def describe(self) -> str:
        return f"python -c pass {self.python * 1000:.1f} ms; bash -c true {self.bash * 1000:.2f} ms"


def _median_wall(command: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, check=True, stdin=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure() -> Floors:
    bash = shutil.which("bash") or "/bin/bash"
    _median_wall([sys.executable, "-c", "pass"], 3)  # warm the page cache first
    return Floors(
        python=_median_wall([sys.executable, "-c", "pass"], 11),
        bash=_median_wall([bash, "-c", "true"], 41),
    )


def spawns(count: int) -> float:
    """Seconds for ``count`` spawns of ``bash -c true``, one after another, timed now: the
    floor of a chain of as many shell no-ops, measured beside it."""
    bash = shutil.which("bash") or "/bin/bash"
    start = time.perf_counter()
    for _ in range(count):
        subprocess.run([bash, "-c", "true"], check=True, stdin=subprocess.DEVNULL)
    return time.perf_counter() - start


def floors() -> Floors:
    """The run's floors: handed down by run_all.py, or measured now (once per process)."""
    global _FLOORS
    if _FLOORS is None:
        given = os.environ.get(ENV)
        _FLOORS = Floors(**json.loads(given)) if given else measure()
    return _FLOORS


def hand_down(found: Floors) -> None:
    """Let the bench processes started after this share these floors."""
    os.environ[ENV] = json.dumps(asdict(found))


def ratio_figure_text(seconds: float, floor: float, floor_name: str) -> str:
    """``412 ms = 17.2x python -c pass``."""
    return f"{seconds * 1000:,.0f} ms = {seconds / floor:.1f}x {floor_name}"


_FLOORS: Floors | None = None
