"""Which instances a node gets on a schedule date: the slots of its cron, dry-run or not.

Pure, so the scheduler's generation, the backfill planner and a remote backend's preview
all count instances the same way.
"""

from __future__ import annotations

from datetime import date, time
from zoneinfo import ZoneInfo

from opscenter.domain.cron import parse_cron
from opscenter.domain.model import Recurrence, Slot
from opscenter.domain.rules import bizdate_of


def day_slots(
    node: str,
    cron: str,
    recurrence: str,
    day: date,
    zone: ZoneInfo,
    window: tuple[time, time] | None = None,
) -> list[tuple[Slot, bool, str]]:
    """The node's instances for schedule date ``day`` as (slot, dry_run, reason).

    Weekly/monthly/yearly nodes get a dry-run instance on the days they do not
    run; Skip nodes dry-run. Daylight saving (spec 4.4): a node with many a day
    gets no slot in the hour clocks skip, and a once-a-day time in it moves one
    hour later and dry-runs. ``window`` keeps only the slots of a node with many
    a day whose time of day falls inside it (backfill, spec 6.3).
    """
    schedule = parse_cron(cron)
    bizdate = bizdate_of(day)
    skip = recurrence == Recurrence.SKIP.value
    if schedule.cycle_type.many_per_day:
        numbered = list(enumerate(schedule.fire_times_on(day, zone), start=1))
        if window:  # the cycle number stays the slot's own
            numbered = [(n, t) for n, t in numbered if window[0] <= t.time() <= window[1]]
        reason = "dry-run node" if skip else ""
        return [(Slot(node, t, bizdate, n), skip, reason) for n, t in numbered]
    wall, moved = schedule.daily_time_on(day, zone)
    if skip:
        reason = "dry-run node"
    elif not schedule.runs_on(day):
        reason = "not a run day"
    elif moved:
        reason = f"{schedule.time_of_day:%H:%M} skipped by daylight saving"
    else:
        reason = ""
    return [(Slot(node, wall, bizdate, 1), bool(reason), reason)]
