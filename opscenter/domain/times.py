"""The store's time convention in one place, and how a time is shown to a reader.

Moments (started, finished, due, deployed ...) are kept as naive UTC; cyctimes are
naive wall-clock times in the workspace's zone, as operators read them. Whatever shows
a time (the CLI, its JSON) converts here and says the zone: a reader never has to guess
whether 08:15 is Shanghai time or UTC.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

MINUTE = "%Y-%m-%d %H:%M"  # the default reading of a shown time


def to_store(moment: datetime) -> datetime:
    """An aware moment as the store keeps it: naive UTC."""
    return moment.astimezone(UTC).replace(tzinfo=None)


def wall_to_store(wall: datetime, zone: tzinfo) -> datetime:
    """A wall-clock time in ``zone`` (a cyctime, a committed time) as naive UTC."""
    return to_store(wall_instant(wall, zone))


def to_local(moment: datetime, zone: tzinfo) -> datetime:
    """A stored moment (naive UTC) in ``zone``, aware."""
    return moment.replace(tzinfo=UTC).astimezone(zone)


def wall_instant(wall: datetime, zone: tzinfo) -> datetime:
    """A wall-clock time in ``zone`` (a cyctime) as an aware datetime that keeps its reading.

    The zone is attached, not converted to, so the wall's ``fold`` picks the offset: a naive
    time read from the store has fold 0, the first of a repeated hour (01:30 PDT, not PST, on
    the autumn day), and in a skipped hour the offset before the change. That is exactly the
    instant ``wall_to_store`` keeps as the due time, so the instant shown is the one the
    scheduler fires at.
    """
    return wall.replace(tzinfo=zone)


def aware_moment(moment: datetime, zone: tzinfo) -> datetime:
    """A moment in ``zone``: a stored one (naive UTC) or an aware one, as the same instant."""
    return to_local(moment, zone) if moment.tzinfo is None else moment.astimezone(zone)


def zone_label(moment: datetime) -> str:
    """The label of an aware time's zone at that time: its abbreviation (CST, PDT, UTC), or its
    offset (+08, +0530) where the zone has no letters for it; never empty."""
    name = moment.tzname()
    if name and (name == "UTC" or not name.startswith("UTC")):
        return name
    offset = moment.utcoffset() or timedelta(0)  # a fixed-offset zone ("UTC+08:00")
    sign = "-" if offset < timedelta(0) else "+"
    minutes = int(abs(offset).total_seconds() // 60)
    hours, minutes = divmod(minutes, 60)
    return f"{sign}{hours:02d}{minutes:02d}" if minutes else f"{sign}{hours:02d}"


def show_moment(moment: datetime | None, zone: tzinfo, fmt: str = MINUTE, none: str = "-") -> str:
    """A stored moment (naive UTC; an aware one as it is) read in ``zone``, labelled:
    ``2030-01-05 08:15 CST``."""
    if moment is None:
        return none
    local = aware_moment(moment, zone)
    return f"{local:{fmt}} {zone_label(local)}"


def show_wall(wall: datetime, zone: tzinfo, fmt: str = MINUTE, shown: tzinfo | None = None) -> str:
    """A cyctime (wall-clock in ``zone``) labelled with its zone: ``2030-01-05 00:30 CST``; with
    ``shown`` (UTC, say), the same instant read there."""
    instant = wall_instant(wall, zone)
    if shown is not None and shown is not zone:
        instant = instant.astimezone(shown)
    return f"{instant:{fmt}} {zone_label(instant)}"


@dataclass(frozen=True)
class TimeView:
    """How one command shows times: cyctimes are wall-clock in ``workspace``; everything is
    shown in ``zone`` (the workspace's own, or UTC when the reader asks for it)."""

    workspace: tzinfo
    zone: tzinfo

    @classmethod
    def of(cls, workspace: tzinfo, utc: bool = False) -> TimeView:
        return cls(workspace, UTC if utc else workspace)

    def moment(self, moment: datetime | None, fmt: str = MINUTE, none: str = "-") -> str:
        """A stored moment (naive UTC, or aware) with its label."""
        return show_moment(moment, self.zone, fmt, none)

    def wall(self, wall: datetime, fmt: str = MINUTE) -> str:
        """A cyctime with its label."""
        return show_wall(wall, self.workspace, fmt, self.zone)

    def moment_instant(self, moment: datetime) -> datetime:
        return aware_moment(moment, self.zone)

    def wall_instant(self, wall: datetime) -> datetime:
        instant = wall_instant(wall, self.workspace)
        return instant if self.zone is self.workspace else instant.astimezone(self.zone)

    def moments_label(self, moments: Iterable[datetime | None]) -> str:
        """One label for moments shown together (a column, a line): ``CST``, or ``PST/PDT``
        when they straddle a change; "" when there are none (nothing to label)."""
        return _labels(self.moment_instant(m) for m in moments if m is not None)

    def walls_label(self, walls: Iterable[datetime]) -> str:
        """One label for cyctimes shown together (see ``moments_label``)."""
        return _labels(self.wall_instant(w) for w in walls)


def _labels(instants: Iterable[datetime]) -> str:
    """The distinct labels of aware times, in order of first appearance, joined by "/"."""
    return "/".join(dict.fromkeys(zone_label(i) for i in instants))
