"""How a finished baseline reads against its commitment: ``finished 09:01, 1m after the
commitment``, or ``finished 08:40, 20m before the commitment``.

A signed slack (``-2m``) asks the reader to know which way the sign points, and floored
to the minute it disagrees with the clock beside it (09:01:30 against 09:00 is ``-2m``
next to ``09:01``). These words count between the minutes as shown, so the two agree.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo

from opscenter.domain.records import BaselineStatus
from opscenter.domain.rules import minutes_text


def _shown(moment: datetime, day_of: datetime, zone: tzinfo) -> str:
    """The wall clock of a stored moment (naive UTC), with its day when not ``day_of``'s."""
    wall = moment.replace(tzinfo=UTC).astimezone(zone)
    same_day = wall.date() == day_of.replace(tzinfo=UTC).astimezone(zone).date()
    return f"{wall:%H:%M}" if same_day else f"{wall:%m-%d %H:%M}"


def _late_minutes(b: BaselineStatus) -> int:
    """Minutes from the commitment to the finish, between the minutes shown (negative: early)."""
    assert b.slack_minutes is not None
    return -b.slack_minutes


def late_or_early(b: BaselineStatus) -> str:
    """``1m late``, ``20m early``, ``on time``: how a finished baseline kept its promise, in
    the minutes shown (``<1m late`` within the committed minute); ``-`` until it finished."""
    if not b.finished or b.predicted_finish is None:
        return "-"
    minutes = _late_minutes(b)
    if minutes:
        return f"{minutes_text(abs(minutes))} {'late' if minutes > 0 else 'early'}"
    return "<1m late" if b.predicted_finish > b.committed_at else "on time"


def finished_words(b: BaselineStatus, zone: tzinfo) -> str:
    """``finished 09:01, 1m after the commitment``, ``finished 08:40, 20m before the
    commitment`` (with the day when it is not the committed day's)."""
    assert b.finished and b.predicted_finish is not None
    when = f"finished {_shown(b.predicted_finish, b.committed_at, zone)}"
    minutes = _late_minutes(b)
    if minutes:
        side = "after" if minutes > 0 else "before"
        return f"{when}, {minutes_text(abs(minutes))} {side} the commitment"
    if b.predicted_finish > b.committed_at:
        return f"{when}, less than a minute after the commitment"
    return f"{when}, on time"
