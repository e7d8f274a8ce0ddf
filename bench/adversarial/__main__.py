"""``python -m bench.adversarial [--quick] [--only kills,concurrency,fuzz,faults]``.

Runs the sections one after another in one sandbox (removed at the end, Ctrl-C and
SIGTERM included), prints each figure as it goes, then a summary block with every figure
and the machine's floors. Run from the repository root with opscenter installed.
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from types import FrameType

from bench.adversarial import concurrency, faults, fuzz, kills
from bench.adversarial.sandbox import REPO, Sandbox

SECTIONS = ("kills", "concurrency", "fuzz", "faults")
FULL = {"kills": 50, "fuzz": 300}
QUICK = {"kills": 8, "fuzz": 25}
MINUTES = {"full": 3.0, "quick": 0.5}


def floors() -> dict[str, object]:
    """What the machine gives any process: Python's start, cores, load."""
    starts = []
    for _ in range(5):
        began = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        starts.append(time.perf_counter() - began)
    began = time.perf_counter()
    subprocess.run([sys.executable, "-m", "opscenter", "--version"], cwd=REPO, capture_output=True)
    return {
        "python -c pass (median of 5)": f"{statistics.median(starts) * 1000:.0f} ms",
        "opscenter --version": f"{(time.perf_counter() - began) * 1000:.0f} ms",
        "cores": os.cpu_count(),
        "load average at start": " / ".join(f"{x:.2f}" for x in os.getloadavg()),
        "Python / SQLite": f"{platform.python_version()} / {sqlite3.sqlite_version}",
    }


def _interrupt(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.adversarial",
        description="An adversarial run against opscenter, as figures (issue 18): SIGKILLs, "
        "concurrency, fuzzing and outside faults on real processes. See bench/README.md.",
    )
    parser.add_argument("--quick", action="store_true", help="fewer kills, minutes and inputs")
    parser.add_argument("--only", default=",".join(SECTIONS), help="sections, comma separated")
    parser.add_argument("--kills", type=int, help="SIGKILLs (default 50, --quick 8)")
    parser.add_argument("--minutes", type=float, help="concurrency minutes (3, --quick 0.5)")
    parser.add_argument("--inputs", type=int, help="fuzz inputs per surface (300, --quick 25)")
    args = parser.parse_args()
    chosen = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = sorted(set(chosen) - set(SECTIONS))
    if unknown:
        parser.error(f"no section {', '.join(unknown)}; the sections are {', '.join(SECTIONS)}")
    sizes = QUICK if args.quick else FULL
    minutes = MINUTES["quick" if args.quick else "full"]
    runs: dict[str, Callable[[Sandbox], dict[str, object]]] = {
        "kills": lambda box: kills.run(box, args.kills or sizes["kills"]),
        "concurrency": lambda box: concurrency.run(box, args.minutes or minutes),
        "fuzz": lambda box: fuzz.run(box, args.inputs or sizes["fuzz"]),
        "faults": faults.run,
    }
    machine = floors()
    signal.signal(signal.SIGTERM, _interrupt)
    began = time.monotonic()
    results: dict[str, dict[str, object]] = {}
    box = Sandbox()
    print(f"sandbox {box.root}", flush=True)
    try:
        for name in chosen:
            section_began = time.monotonic()
            try:
                results[name] = runs[name](box)
            except Exception as error:  # a section that breaks is a figure, not the end
                results[name] = {"did not finish": f"{type(error).__name__}: {error}"}
            results[name]["section seconds"] = round(time.monotonic() - section_began, 1)
            print("\n".join(block(name, results[name])), flush=True)
    except KeyboardInterrupt:
        print("\ninterrupted: cleaning up", flush=True)
        return 130
    finally:
        box.close()
    print(summary(machine, results, time.monotonic() - began))
    return 0


def block(name: str, figures: dict[str, object]) -> list[str]:
    """A section's figures, aligned; lists (violations, verdicts) one item a line."""
    lines = [f"\n[{name}]"]
    width = max((len(k) for k, v in figures.items() if not isinstance(v, list)), default=0)
    for key, value in figures.items():
        if isinstance(value, list):
            lines.append(f"  {key} ({len(value)}):")
            lines += [f"    - {item}" for item in value[:40]]
            if len(value) > 40:
                lines.append(f"    ... and {len(value) - 40} more")
        else:
            lines.append(f"  {key.ljust(width)}  {value}")
    return lines


def summary(machine: dict[str, object], results: dict[str, dict[str, object]], took: float) -> str:
    lines = ["", "=" * 72, "Adversarial run: summary", "=" * 72]
    lines += [f"  {key}: {value}" for key, value in machine.items()]
    for name, figures in results.items():
        lines += block(name, figures)
    lines.append(f"\nwall time: {took / 60:.1f} min")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
