"""Workspace YAML for the scheduler benchmark: a random 10k-node DAG and fixed shell shapes."""

from __future__ import annotations

import random

GROUP = "bench"
GROUP_SLOTS = 16
LAST_MINUTE = 29  # every cyctime is before 23:30, when the engine would generate tomorrow


def _header(name: str) -> str:
    return (
        f"workspace: {{name: {name}, timezone: UTC}}\n"
        f"resource_groups:\n  - {{name: {GROUP}, slots: {GROUP_SLOTS}}}\n"
        "nodes:\n"
    )


def _node(name: str, cron: str, depends: list[str], shell: bool = False) -> str:
    extra = f", depends: [{', '.join(depends)}]" if depends else ""
    if shell:
        extra += f", resource_group: {GROUP}, code: 'true'"
    kind = "shell" if shell else "virtual"
    return f'  - {{name: {name}, type: {kind}, trigger: {{cron: "{cron}"}}{extra}}}\n'


def _random_cron(rng: random.Random) -> str:
    minute, hour, pick = rng.randint(0, LAST_MINUTE), rng.randint(0, 23), rng.random()
    if pick < 0.20:
        return f"00 {minute:02d} 00-23/1 * * ?"  # hourly: 24 instances a day
    if pick < 0.25:
        return f"00 {minute:02d} {hour:02d} ? * 1"  # weekly (Monday), dry-run other days
    if pick < 0.30:
        return f"00 {minute:02d} {hour:02d} 1 * ?"  # monthly (1st), dry-run other days
    return f"00 {minute:02d} {hour:02d} * * ?"


def random_dag(nodes: int = 10_000, layers: int = 40, seed: int = 20251201) -> str:
    """A layered random DAG of virtual nodes; each node has 1-4 upstreams, mostly from the
    previous layer and sometimes from further back. Deterministic for a given seed."""
    rng = random.Random(seed)
    width = nodes // layers
    names = [[f"n{layer:02d}_{i:04d}" for i in range(width)] for layer in range(layers)]
    lines = [_header("big")]
    for layer, row in enumerate(names):
        for name in row:
            depends: set[str] = set()
            for _ in range(rng.randint(1, 4) if layer else 0):
                back = min(layer, 1 + int(rng.expovariate(1.5)))
                depends.add(rng.choice(names[layer - back]))
            lines.append(_node(name, _random_cron(rng), sorted(depends)))
    return "".join(lines)


def chain(length: int = 40) -> str:
    """A linear chain of shell no-ops, all due at 00:00."""
    lines = [_header("chain")]
    for i in range(length):
        lines.append(_node(f"c{i:02d}", "00 00 00 * * ?", [f"c{i - 1:02d}"] if i else [], True))
    return "".join(lines)


def layered(layers: int = 10, width: int = 20) -> str:
    """``layers`` x ``width`` shell no-ops; each depends on every node of the layer before."""
    lines = [_header("layers")]
    for layer in range(layers):
        depends = [f"l{layer - 1}_{j:02d}" for j in range(width)] if layer else []
        for i in range(width):
            lines.append(_node(f"l{layer}_{i:02d}", "00 00 00 * * ?", depends, True))
    return "".join(lines)
