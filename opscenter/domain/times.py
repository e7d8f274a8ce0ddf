"""The store's time convention in one place.

Moments (started, finished, due, deployed ...) are kept as naive UTC; cyctimes are
naive wall-clock times in the workspace's zone, as operators read them.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo


def to_store(moment: datetime) -> datetime:
    """An aware moment as the store keeps it: naive UTC."""
    return moment.astimezone(UTC).replace(tzinfo=None)


def wall_to_store(wall: datetime, zone: tzinfo) -> datetime:
    """A wall-clock time in ``zone`` (a cyctime, a committed time) as naive UTC."""
    return wall.replace(tzinfo=zone).astimezone(UTC).replace(tzinfo=None)


def to_local(moment: datetime, zone: tzinfo) -> datetime:
    """A stored moment (naive UTC) in ``zone``, aware."""
    return moment.replace(tzinfo=UTC).astimezone(zone)
