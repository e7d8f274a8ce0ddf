"""DataWorks rules every screen reads the same: when a run is SLOW, how a duration is
worded, and which business date a list opens on.

Each is written here once. The SLA monitor raises its SLOW events, the CLI marks ▲ and the
console marks ▲ with ``is_slow``; the CLI, the console, event messages and the diagnosis word
a duration with ``duration_text``; the CLI verbs, ``opscenter summary`` and the console open on
``default_bizdate``. A second copy drifts (a ``>`` becomes a ``≥``, a truncation a rounding)
and the CLI and the console then disagree about the same instance.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, tzinfo

from opscenter.domain.times import wall_to_store

SLOW_FACTOR = 1.5  # decision 13.10: more than 1.5 x the node's average ...
SLOW_MARGIN = timedelta(minutes=10)  # ... and at least 10 minutes over it


def _span(value: float | timedelta) -> timedelta:
    return value if isinstance(value, timedelta) else timedelta(seconds=value)


def is_slow(elapsed: float | timedelta | None, average: float | timedelta | None) -> bool:
    """Decision 13.10 (spec 7.4): a run is SLOW when it has taken more than 1.5 x its node's
    average and at least 10 minutes more than it. Seconds or timedeltas; without a run time
    or an average (no history) nothing is slow."""
    if elapsed is None or average is None:
        return False
    took, usual = _span(elapsed), _span(average)
    return took > SLOW_FACTOR * usual and took - usual >= SLOW_MARGIN


def duration_text(
    span: float | timedelta | None, *, minutes: bool = False, signed: bool = False
) -> str:
    """A duration as an operator reads it everywhere: ``12s``, ``4m12s``, ``2h05m``; with
    ``minutes`` to the minute only (``12m``, ``2h05m``); ``-`` when unknown.

    Truncated toward zero (a run of 59.9 s has not run a minute), hours from the first
    full hour in both forms; a negative span keeps its ``-``, ``signed`` writes ``+`` too."""
    if span is None:
        return "-"
    seconds = _span(span).total_seconds()
    whole = int(abs(seconds))
    shown = whole // 60 if minutes else whole  # what is left once truncated: -0 is 0
    sign = "-" if seconds < 0 and shown else "+" if signed else ""
    if whole >= 3600:
        text = f"{whole // 3600}h{whole % 3600 // 60:02d}m"
    elif minutes:
        text = f"{whole // 60}m"
    elif whole >= 60:
        text = f"{whole // 60}m{whole % 60:02d}s"
    else:
        text = f"{whole}s"
    return sign + text


def run_time_text(
    took: float | None, average: float | None, *, mark: str = "▲", label: str = "avg "
) -> str:
    """``41m12s ▲ (avg 18m00s)``: a run time beside its node's average (when it has one, or
    it is SLOW all the same), ``mark`` when SLOW; ``""`` when it has not run."""
    if took is None:
        return ""
    slow = is_slow(took, average)
    text = duration_text(took) + (f" {mark}" if slow else "")
    if average or slow:
        text += f" ({label}{duration_text(average)})"
    return text


def minutes_text(minutes: int, *, signed: bool = False) -> str:
    """A whole number of minutes (a slack, a margin, a timeout), worded as ``duration_text``
    words it to the minute: ``41m``, ``1h05m``, ``-18m``, ``+2h00m``."""
    return duration_text(minutes * 60, minutes=True, signed=signed)


def bizdate_of(day: date) -> date:
    """The business date of the instances scheduled on ``day``: the day before."""
    return day - timedelta(days=1)


def default_bizdate(now: datetime, zone: tzinfo) -> date:
    """Spec 10: lists open on yesterday's business date, yesterday in the workspace's zone
    by the world's clock (``now`` aware, as ``Backend.now()`` and a Clock give it): what
    today's daily instances run for."""
    return bizdate_of(now.astimezone(zone).date())


def committed_moment(bizdate: date, hhmm: str, zone: tzinfo) -> datetime:
    """The committed time of a business date as naive UTC; hh 24..47 is the day after."""
    hours, minutes = (int(part) for part in hhmm.split(":"))
    local = datetime.combine(bizdate + timedelta(days=1), time(0)) + timedelta(
        hours=hours, minutes=minutes
    )
    return wall_to_store(local, zone)
