"""The workspaces the sections run: written as workspace.yaml into a folder of the sandbox."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

DAILY = "00 00 00 * * ?"
HOURLY = "00 00 00-23/1 * * ?"

# Every process of an attempt holds a lock named after its instance: a second process of the
# same instance finding it taken (two attempts of one instance at once) writes to TWICE.
GUARD = (
    'exec 9>>"$OPSCENTER_LANDING/lock.$OPSCENTER_INSTANCE_ID"; '
    'flock -n 9 || echo "$OPSCENTER_NODE #$OPSCENTER_INSTANCE_ID attempt $OPSCENTER_ATTEMPT" '
    '>> "$OPSCENTER_LANDING/TWICE"; '
)
# children and a grandchild that the shell waits for: a process tree per attempt
SPAWNING = "sleep 0.{a} & sh -c 'sleep 0.{b} & wait; echo child done' & wait; echo done"


def write(folder: Path, name: str, nodes: list[dict], slots: int = 8, **extra: object) -> Path:
    """workspace.yaml with these nodes (one resource group ``work``), in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = [
        f"workspace: {{name: {name}, timezone: UTC}}",
        f"resource_groups: [{{name: work, slots: {slots}}}]",
        "nodes:",
        *(f"  - {json.dumps(node)}" for node in nodes),
    ]
    for key, value in extra.items():
        lines.append(f"{key}: {json.dumps(value)}")
    (folder / "workspace.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def node(name: str, code: str = "", *, type_: str = "shell", cron: str = DAILY, **extra) -> dict:  # noqa: ANN003
    found = {"name": name, "type": type_, "trigger": {"cron": cron}, **extra}
    if code:
        found["code"] = code
    return found


def layered(folder: Path, seed: int, layers: int = 4, width: int = 6) -> Path:
    """``src`` and ``layers`` x ``width`` shell nodes below it, each with 1-2 upstreams in the
    layer above; every node spawns a small process tree (0.3-0.9 s) and holds its instance's
    lock, and has ten automatic reruns (the most there are): an attempt lost to a kill counts
    against them, and a date that fails halts its backfill."""
    rng = random.Random(seed)
    retries: dict[str, Any] = {"rerun_times": 10, "rerun_interval": 1, "resource_group": "work"}
    nodes = [node("src", GUARD + SPAWNING.format(a=5, b=3), **retries)]
    above = ["src"]
    for layer in range(layers):
        names = [f"l{layer}_{n}" for n in range(width)]
        for name in names:
            code = GUARD + SPAWNING.format(a=rng.randint(3, 9), b=rng.randint(1, 5))
            depends = sorted(rng.sample(above, min(len(above), rng.randint(1, 2))))
            nodes.append(node(name, code, depends=depends, **retries))
        above = names
    return write(folder, "kills", nodes)


def busy_day(folder: Path) -> Path:
    """A day of hourly and daily shell nodes with retries, a broken and a flaky node."""
    nodes = [
        node("h_pull", "sleep 0.2", cron=HOURLY, rerun_times=2, rerun_interval=60),
        node("h_push", "sleep 0.1", cron=HOURLY, depends=["h_pull"], resource_group="work"),
        node("broken", "echo 'bad input' >&2; exit 2", cron="00 00 06 * * ?", rerun_times=1),
        node("flaky", '[ "$OPSCENTER_ATTEMPT" -ge 2 ] || exit 1', cron="00 00 08 * * ?"),
        node("long", "sleep 4", cron="00 00 09 * * ?"),
    ]
    for layer in range(3):
        for n in range(5):
            nodes.append(
                node(
                    f"d{layer}_{n}",
                    f"sleep 0.{2 + n}",
                    cron=f"00 {10 * n:02d} {2 + 7 * layer:02d} * * ?",
                    depends=[f"d{layer - 1}_{u}" for u in range(5)] if layer else [],
                    rerun_times=2,
                    rerun_interval=60,
                    resource_group="work",
                )
            )
    return write(folder, "conc", nodes, slots=3)
