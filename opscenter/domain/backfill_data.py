"""Whether a backfill's business dates have data to read.

A node reads what its upstream nodes wrote for the same business date. An upstream with no
instance for a date never wrote anything for it: a workspace (the demo too) has instances
from its first day on, so a backfill of an earlier date reads data that does not exist,
and its SQL fails on a missing table or, worse, succeeds on nothing. A virtual node writes
nothing itself: what is read through it comes from its own upstreams.
"""

from __future__ import annotations

from datetime import date

from opscenter.domain.model import NodeType


def writes_data(node_type: str) -> bool:
    """Whether a node's instances write data a downstream node reads (a virtual one's do not)."""
    return node_type != NodeType.VIRTUAL


def no_data(node: str, day: date, upstream: str) -> str:
    """Why ``node`` cannot be backfilled from ``day``: ``upstream`` has nothing for it."""
    return (
        f"no data for {day}: {node} reads {upstream}, which has no instance for that "
        f"business date, so the data does not exist for it; start later, or backfill "
        f"{upstream} with its downstream"
    )
