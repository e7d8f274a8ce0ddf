"""Sparklines of hourly counts that read without colour: block heights on a stated scale.

Zero is the lowest block and any count above zero is at least one step higher,
so a quiet hour and an idle one differ; hours still to come are blank.
"""

from __future__ import annotations

from collections.abc import Sequence
from math import ceil

BLOCKS = "▁▂▃▄▅▆▇█"
ASCII_BLOCKS = "_.-:=+*#"


def sparkline(
    values: Sequence[int | None], top: int, *, unicode: bool = True, cell: int = 1
) -> str:
    """One block per value (``cell`` wide), scaled so ``top`` is the full block; None is blank."""
    blocks = BLOCKS if unicode else ASCII_BLOCKS
    steps = len(blocks) - 1
    out = []
    for value in values:
        if value is None:
            out.append(" " * cell)
            continue
        level = min(steps, ceil(value / top * steps)) if top > 0 else 0
        out.append(blocks[level] * cell)
    return "".join(out)


def hour_axis(hours: int, cell: int) -> str:
    """Hour numbers every six hours over a ``hours``-long line of ``cell``-wide columns."""
    line = [" "] * (hours * cell)
    for hour in range(0, hours, 6):
        label = str(hour)
        at = hour * cell
        line[at : at + len(label)] = label
    return "".join(line)[: hours * cell]
