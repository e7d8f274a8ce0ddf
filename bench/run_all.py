"""Every benchmark, one table: ``python bench/run_all.py`` from the repository root.

Runs bench/scheduler.py, bench/sla.py, bench/tui.py and bench/cli.py one after another, each in a
process of its own (their peak-RSS and first-import figures are per process), by
importing the bench and calling its ``run(parts)``; the figures it returns come back as
JSON, not scraped from its output. Each bench's progress is printed as it goes, then one
table: figure, value, goal, met?, headed by the machine (CPU model, cores, RAM, Python,
SQLite and DuckDB versions, load averages at the start) and the floors of the run
(bench/floors.py: ``python -c pass``, ``bash -c true``), measured once and handed to every
bench, whose goals are ratios to them.

    python bench/run_all.py                      # all four, every part (several minutes)
    python bench/run_all.py sla tui              # only these benches
    python bench/run_all.py scheduler:virtual    # only some parts of a bench
    python bench/run_all.py --list               # the benches and their parts

The full set takes minutes and loads both cores: run it on a quiet machine. A bench that
fails is a row of the table (met: no) and the exit status is 1.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

import floors
from figures import grid, met_word

HERE = Path(__file__).resolve().parent
BENCHES = ("scheduler", "sla", "tui", "cli")


def load_bench(name: str):  # noqa: ANN201 - a bench module
    """Import bench/<name>.py as a module (its helpers ``figures``, ``_workspaces`` beside it)."""
    sys.path.insert(0, str(HERE))
    spec = importlib.util.spec_from_file_location(f"bench_{name}", HERE / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def child(name: str, parts: list[str], out: Path) -> None:
    """In a fresh process: run one bench, write its figures as JSON to ``out``."""
    bench = load_bench(name)
    unknown = sorted(set(parts) - set(bench.PARTS))
    if unknown:
        raise SystemExit(f"{name} has no part {', '.join(unknown)}: {', '.join(bench.PARTS)}")
    figures = bench.run(parts or bench.PARTS)
    out.write_text(json.dumps([asdict(f) for f in figures]), encoding="utf-8")


def run_bench(name: str, parts: list[str]) -> tuple[list[dict], str]:
    """The bench's figures, and "" or why it failed."""
    print(f"\n=== {name}" + (f" ({', '.join(parts)})" if parts else ""), flush=True)
    with tempfile.TemporaryDirectory(prefix="opscenter-run-all-") as tmp:
        out = Path(tmp) / "figures.json"
        command = [sys.executable, __file__, "--child", name, str(out), *parts]
        done = subprocess.run(command, cwd=HERE.parent)
        figures = json.loads(out.read_text(encoding="utf-8")) if out.exists() else []
    failed = f"exit status {done.returncode}" if done.returncode else ""
    return figures, failed


# -- the machine -------------------------------------------------------------------------------


def _proc_field(path: str, key: str) -> str:
    try:
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            if line.split(":")[0].strip() == key:
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


def machine() -> list[tuple[str, str]]:
    memory_kb = _proc_field("/proc/meminfo", "MemTotal").split()[:1]
    try:
        import duckdb

        duck = duckdb.__version__
    except ImportError:
        duck = "not installed"
    load = os.getloadavg()
    return [
        ("CPU", _proc_field("/proc/cpuinfo", "model name") or platform.processor() or "?"),
        ("cores", str(os.cpu_count())),
        ("RAM", f"{int(memory_kb[0]) / 1024 / 1024:.1f} GiB" if memory_kb else "?"),
        ("Python", f"{platform.python_version()} ({platform.python_implementation()})"),
        ("SQLite / DuckDB", f"{sqlite3.sqlite_version} / {duck}"),
        ("load average at start (1 / 5 / 15 min)", " / ".join(f"{x:.2f}" for x in load)),
    ]


# -- the table ---------------------------------------------------------------------------------


def table(sections: list[tuple[str, list[dict], str]]) -> list[tuple[str, str, str, str]]:
    """One row per figure, each bench headed by its name; a failed bench is a row too."""
    rows = []
    for name, figures, failed in sections:
        rows.append((f"[{name}]", "", "", ""))
        for f in figures:
            rows.append((f["name"], f["value"], f["goal"], met_word(f["met"])))
        if failed:
            rows.append((f"{name} did not finish", failed, "finish", "no"))
    return rows


def render(header: list[tuple[str, str]], rows: list[tuple[str, str, str, str]]) -> str:
    lines = [f"{key}: {value}" for key, value in header]
    lines += ["", *grid([("figure", "value", "goal", "met?"), *rows])]
    goals = [r for r in rows if r[3] in ("yes", "no")]
    met = sum(r[3] == "yes" for r in goals)
    lines.append(f"\n{met} of {len(goals)} goals met")
    return "\n".join(lines)


def selection(words: list[str]) -> list[tuple[str, list[str]]]:
    """``scheduler:virtual,chain sla`` -> [("scheduler", ["virtual", "chain"]), ("sla", [])]."""
    chosen = []
    for word in words or BENCHES:
        name, _, parts = word.partition(":")
        if name not in BENCHES:
            raise SystemExit(f"no bench {name!r}; the benches are {', '.join(BENCHES)}")
        chosen.append((name, [p for p in parts.split(",") if p]))
    return chosen


def main() -> int:
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2], sys.argv[4:], Path(sys.argv[3]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("benches", nargs="*", metavar="BENCH[:PART,...]")
    parser.add_argument("--list", action="store_true", help="list the benches and their parts")
    args = parser.parse_args()
    if args.list:
        for name in BENCHES:
            print(f"{name}: {', '.join(load_bench(name).PARTS)}")
        return 0
    chosen = selection(args.benches)
    header = machine()  # the load average before anything runs
    found = floors.measure()
    floors.hand_down(found)
    header.append(("floors of this run", found.describe()))
    sections = [(name, *run_bench(name, parts)) for name, parts in chosen]
    print("\n" + render(header, table(sections)))
    return 1 if any(failed for _name, _figures, failed in sections) else 0


if __name__ == "__main__":
    sys.exit(main())
