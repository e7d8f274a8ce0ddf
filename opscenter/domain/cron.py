"""DataWorks cron: parse, expand, describe (spec 2.1, 2.2).

Six fields ``second minute hour day-of-month month day-of-week``, Spring style,
with two DataWorks twists that generic cron libraries get wrong: day-of-week
counts 1 = Monday .. 7 = Sunday, and a minute schedule may not fire more often
than every 5 minutes. ``parse_cron`` checks all of that once and hands back a
``Schedule`` of expanded sets, so the nightly instance generation only does set
lookups; croniter is used just for "next N fire times", where it is fed a
translated expression.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from croniter import croniter

from opscenter.domain.model import CycleType

MIN_INTERVAL_MINUTES = 5
"""Spec 2.1: a minute schedule fires at most every 5 minutes."""
HORIZON_YEARS = 400
"""How far ``next_fire_times`` looks: one Gregorian cycle, so any pattern of days recurs."""

_FIELDS = ("second", "minute", "hour", "day-of-month", "month", "day-of-week")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_ORDINALS = ("1st", "2nd", "3rd", "4th", "5th")
_ALL_DAYS = frozenset(range(1, 32))
_ALL_MONTHS = frozenset(range(1, 13))
_ALL_WEEKDAYS = frozenset(range(1, 8))
_WEEKDAY_HINT = "DataWorks numbers days 1 = Monday .. 7 = Sunday"

_Fail = Callable[[str, str], "CronError"]  # (field, reason) -> error for this expression


class CronError(ValueError):
    """A cron DataWorks would refuse; says which field is wrong and why."""

    def __init__(self, expression: str, field: str, reason: str) -> None:
        self.expression = expression
        self.field = field
        self.reason = reason
        super().__init__(f'invalid cron "{expression}": {field}: {reason}')


@dataclass(frozen=True)
class _FieldSpec:
    name: str
    lo: int
    hi: int
    names: Mapping[str, int]
    expected: str  # what a value may look like, for "not valid" messages
    hint: str = ""  # appended to out-of-range messages


_SPECS = {
    "second": _FieldSpec("second", 0, 59, {}, "00"),
    "minute": _FieldSpec("minute", 0, 59, {}, "a number 0-59"),
    "hour": _FieldSpec("hour", 0, 23, {}, "a number 0-23"),
    "day-of-month": _FieldSpec("day-of-month", 1, 31, {}, "a number 1-31, L or ?"),
    "month": _FieldSpec(
        "month",
        1,
        12,
        {name.upper(): number for number, name in enumerate(_MONTHS, 1)},
        "a number 1-12 or JAN..DEC",
    ),
    "day-of-week": _FieldSpec(
        "day-of-week",
        1,
        7,
        {name.upper(): number for number, name in enumerate(_WEEKDAYS, 1)},
        "a number 1-7, MON..SUN, N#k or ?",
        hint=_WEEKDAY_HINT,
    ),
}


@dataclass(frozen=True)
class Schedule:
    """A parsed DataWorks cron as expanded sets.

    ``days`` and ``weekdays`` hold every value when their field is ``*`` or
    ``?``, so ``runs_on`` is plain membership. Weekdays use DataWorks numbers
    (1 = Monday .. 7 = Sunday, as ``date.isoweekday()``); ``nth_weekdays``
    holds ``(weekday, k)`` for ``N#k``, the k-th such weekday of the month.
    """

    expression: str
    minutes: tuple[int, ...]  # ascending
    hours: tuple[int, ...]  # ascending
    days: frozenset[int]
    last_day: bool
    months: frozenset[int]
    weekdays: frozenset[int]
    nth_weekdays: frozenset[tuple[int, int]]
    _times: tuple[time, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Precomputed once: fire_times_on is called for every node every day.
        times = tuple(time(h, m) for h in self.hours for m in self.minutes)
        object.__setattr__(self, "_times", times)

    @property
    def cycle_type(self) -> CycleType:
        """The DataWorks cycle the cron corresponds to (spec 2.1)."""
        if len(self.minutes) > 1:
            return CycleType.MINUTE
        if len(self.hours) > 1:
            return CycleType.HOUR
        if self.months != _ALL_MONTHS:
            return CycleType.YEAR
        if self._day_of_month_restricted:
            return CycleType.MONTH
        if self._day_of_week_restricted:
            return CycleType.WEEK
        return CycleType.DAY

    @property
    def time_of_day(self) -> time:
        """First fire time of a run day: the slot of dry-run instances on other days."""
        return self._times[0]

    @property
    def per_day(self) -> int:
        """Fire times on a run day, ignoring daylight saving."""
        return len(self._times)

    def runs_on(self, day: date) -> bool:
        """Whether ``day`` is a run day (month, day-of-month and day-of-week all match)."""
        if day.month not in self.months:
            return False
        if day.day not in self.days and not (
            self.last_day and day.day == calendar.monthrange(day.year, day.month)[1]
        ):
            return False
        weekday = day.isoweekday()
        return weekday in self.weekdays or (weekday, (day.day + 6) // 7) in self.nth_weekdays

    def fire_times_on(self, day: date, tz: ZoneInfo | None = None) -> list[datetime]:
        """Naive wall-clock fire times on ``day``, ascending.

        With ``tz``, wall times skipped by a spring-forward jump are left out;
        a wall time repeated by a fall-back appears once.
        """
        if not self.runs_on(day):
            return []
        times = [datetime.combine(day, t) for t in self._times]
        skipped = _skipped(day, tz) if tz is not None else None
        if skipped is not None:
            start, end = skipped
            times = [t for t in times if not start <= t < end]
        return times

    def daily_time_on(self, day: date, tz: ZoneInfo) -> tuple[datetime, bool]:
        """The wall time of a once-a-day node's instance on ``day``, and whether it moved.

        A time that clocks skip on a spring-forward day moves later by the jump (one
        hour, spec 4.4), so the instance stands at a time that exists; it dry-runs.
        """
        wall = datetime.combine(day, self.time_of_day)
        skipped = _skipped(day, tz)
        if skipped is not None and skipped[0] <= wall < skipped[1]:
            return wall + (skipped[1] - skipped[0]), True
        return wall, False

    def next_fire_times(self, after: datetime, count: int, tz: ZoneInfo) -> list[datetime]:
        """The next ``count`` fire times strictly after ``after``, aware in ``tz``.

        croniter walks naive wall-clock times and this method applies the zone,
        so skipped and repeated wall times follow the same rule as ``fire_times_on``.
        Fewer are returned when the schedule fires fewer times in the next
        ``HORIZON_YEARS`` (or before year 9999): a time that never exists in ``tz``,
        such as 02:30 on the second Sunday of March in New York, never fires.
        """
        if after.tzinfo is None:
            raise ValueError(f"after must be timezone-aware, got {after!r}")
        # Compare in UTC: same-zone comparison ignores fold, i.e. which 01:30 of a fall-back.
        after_utc = after.astimezone(UTC)
        start = after.astimezone(tz).replace(tzinfo=None)
        walk = croniter(self._croniter_expression(), start)
        found: list[datetime] = []
        while len(found) < count:
            try:
                candidate = walk.get_next(datetime)
                aware = candidate.replace(tzinfo=tz)
                due = aware.astimezone(UTC) > after_utc and _exists(candidate, tz)
            except (ValueError, OverflowError):  # past year 9999 (croniter's errors too)
                break
            if candidate.year > start.year + HORIZON_YEARS:
                break
            if due:
                found.append(aware)
        return found

    def describe(self) -> str:
        """The schedule in an operator's words, e.g. "weekly on Mon, Fri at 00:00"."""
        if self.per_day > 1:
            qualifiers = []
            if self._day_of_month_restricted:
                qualifiers.append(f"on {self._day_of_month_words()}")
            if self._day_of_week_restricted:
                qualifiers.append(f"on {self._day_of_week_words()}")
            if self.months != _ALL_MONTHS:
                qualifiers.append(f"in {_join(_MONTHS[m - 1] for m in sorted(self.months))}")
            times = self._many_times_words()
            return f"{times}, {' '.join(qualifiers)}" if qualifiers else times
        at = f"at {self.time_of_day:%H:%M}"
        match self.cycle_type:
            case CycleType.YEAR:
                return f"yearly {self._year_days_words()} {at}"
            case CycleType.MONTH:
                return f"monthly on {self._day_of_month_words()} {at}"
            case CycleType.WEEK if self.nth_weekdays:
                return f"monthly on {self._day_of_week_words()} {at}"
            case CycleType.WEEK:
                return f"weekly on {self._day_of_week_words()} {at}"
            case _:
                return f"daily {at}"

    @property
    def _day_of_month_restricted(self) -> bool:
        return self.days != _ALL_DAYS or self.last_day

    @property
    def _day_of_week_restricted(self) -> bool:
        return self.weekdays != _ALL_WEEKDAYS or bool(self.nth_weekdays)

    def _croniter_expression(self) -> str:
        """Same schedule in croniter's dialect: seconds last, 0 = Sunday, no 7."""
        day_of_month = "*"
        if self._day_of_month_restricted:
            day_of_month = _numbers(sorted(self.days)) + (",L" if self.last_day else "")
            day_of_month = day_of_month.lstrip(",")
        day_of_week = "*"
        if self.nth_weekdays:
            day_of_week = ",".join(f"{wd % 7}#{k}" for wd, k in sorted(self.nth_weekdays))
        elif self._day_of_week_restricted:
            day_of_week = _numbers(sorted(wd % 7 for wd in self.weekdays))
        month = "*" if self.months == _ALL_MONTHS else _numbers(sorted(self.months))
        return (
            f"{_numbers(self.minutes)} {_numbers(self.hours)} {day_of_month} {month} "
            f"{day_of_week} 0"
        )

    def _many_times_words(self) -> str:
        hours_step = _step(self.hours)
        if len(self.minutes) == 1:
            minute = self.minutes[0]
            if hours_step is None:
                return f"at {_join(f'{t:%H:%M}' for t in self._times)}"
            every = "hourly" if hours_step == 1 else f"every {hours_step} hours"
            return f"{every} at :{minute:02}, {self.hours[0]:02}:00–{self.hours[-1]:02}:00"
        minutes_step = _step(self.minutes)
        regular = (
            minutes_step is not None
            and len(self.minutes) * minutes_step == 60
            and (len(self.hours) == 1 or hours_step == 1)
        )
        if regular:
            start, end = self._times[0], self.hours[-1]
            return f"every {minutes_step} minutes, {start:%H:%M}–{end:02}:59"
        minutes = _join(f":{m:02}" for m in self.minutes)
        return f"at {minutes} of hours {_ranges(self.hours, lambda h: f'{h:02}')}"

    def _day_of_month_words(self) -> str:
        words = [f"day {_ranges(sorted(self.days), str)}"] if self.days else []
        if self.last_day:
            words.append("the last day")
        return " and ".join(words)

    def _day_of_week_words(self) -> str:
        if self.nth_weekdays:  # never mixed with plain weekdays
            nth = sorted(self.nth_weekdays, key=lambda pair: (pair[1], pair[0]))
            return _join(f"the {_ORDINALS[k - 1]} {_WEEKDAYS[wd - 1]}" for wd, k in nth)
        return _ranges(sorted(self.weekdays), lambda wd: _WEEKDAYS[wd - 1])

    def _year_days_words(self) -> str:
        months = sorted(self.months)
        if len(months) == 1 and self.days != _ALL_DAYS and not self.last_day:
            return f"on {_MONTHS[months[0] - 1]} {_ranges(sorted(self.days), str)}"
        month_words = _join(_MONTHS[m - 1] for m in months)
        if self._day_of_month_restricted:
            return f"in {month_words} on {self._day_of_month_words()}"
        if self._day_of_week_restricted:
            return f"in {month_words} on {self._day_of_week_words()}"
        return f"in {month_words}, every day"


@lru_cache(maxsize=32768)  # a 10k-node workspace has thousands of distinct crons
def parse_cron(expr: str) -> Schedule:
    """Parse and validate a DataWorks cron; raises ``CronError`` naming the bad field."""
    expression = expr.strip()
    parts = expression.split()
    if len(parts) != len(_FIELDS):
        raise CronError(expression, "expression", _field_count_reason(len(parts)))
    texts = dict(zip(_FIELDS, parts, strict=True))

    def fail(name: str, reason: str) -> CronError:
        return CronError(expression, name, reason)

    if _values(texts["second"], _SPECS["second"], fail) != [0]:
        raise fail("second", "must be 00: DataWorks schedules on whole minutes")
    minutes = _values(texts["minute"], _SPECS["minute"], fail)
    hours = _values(texts["hour"], _SPECS["hour"], fail)
    days, last_day = _days_of_month(texts["day-of-month"], fail)
    months = _values(texts["month"], _SPECS["month"], fail)
    weekdays, nth = _days_of_week(texts["day-of-week"], fail)
    if texts["day-of-month"] not in ("*", "?") and texts["day-of-week"] not in ("*", "?"):
        raise fail(
            "expression",
            f"day-of-month {texts['day-of-month']} and day-of-week {texts['day-of-week']} "
            "are both set; DataWorks allows one of them, write ? in the other",
        )
    _check_interval(hours, minutes, fail)
    _check_day_exists(days, last_day, months, fail)
    return Schedule(
        expression=expression,
        minutes=tuple(minutes),
        hours=tuple(hours),
        days=frozenset(days),
        last_day=last_day,
        months=frozenset(months),
        weekdays=frozenset(weekdays),
        nth_weekdays=frozenset(nth),
    )


def _field_count_reason(count: int) -> str:
    if count == 0:
        return "the expression is empty"
    reason = f"expected 6 fields ({' '.join(_FIELDS)}), got {count}"
    if count == 5:
        return f"{reason}; DataWorks cron starts with seconds, e.g. 00 30 02 * * ?"
    if count == 7:
        return f"{reason}; DataWorks cron has no year field"
    return reason


def _values(text: str, spec: _FieldSpec, fail: _Fail) -> list[int]:
    """Expand a field of numbers, names, lists, ranges and steps to sorted values."""
    if text == "?":
        raise fail(spec.name, "? is only allowed in day-of-month and day-of-week")
    values: set[int] = set()
    for item in text.split(","):
        values.update(_item(item, spec, fail))
    return sorted(values)


def _item(item: str, spec: _FieldSpec, fail: _Fail) -> range:
    """One list item: ``*``, ``n`` or ``a-b``, optionally ``/step`` (``n/step`` runs to the max)."""
    if not item:
        raise fail(spec.name, "empty value in a list (two commas, or a trailing comma?)")
    base, slash, step_text = item.partition("/")
    step = 1
    if slash:
        if not (step_text.isascii() and step_text.isdigit()):
            raise fail(spec.name, f"step {step_text!r} in {item!r} is not a number")
        step = int(step_text)
        if not 1 <= step <= spec.hi - spec.lo:
            raise fail(
                spec.name, f"step {step} in {item!r} must be between 1 and {spec.hi - spec.lo}"
            )
    if base == "*":
        return range(spec.lo, spec.hi + 1, step)
    first, dash, last = base.partition("-")
    start = _value(first, spec, fail)
    if dash:
        end = _value(last, spec, fail)
        if start > end:
            raise fail(spec.name, f"range {base} runs backwards; the start must not exceed the end")
    else:
        end = spec.hi if slash else start
    return range(start, end + 1, step)


def _value(token: str, spec: _FieldSpec, fail: _Fail) -> int:
    if token.upper() in spec.names:
        return spec.names[token.upper()]
    if not (token.isascii() and token.isdigit()):
        raise fail(spec.name, f"{token!r} is not valid here; expected {spec.expected}")
    number = int(token)
    if not spec.lo <= number <= spec.hi:
        hint = f" ({spec.hint})" if spec.hint else ""
        raise fail(spec.name, f"{number} is out of range {spec.lo}-{spec.hi}{hint}")
    return number


def _days_of_month(text: str, fail: _Fail) -> tuple[list[int], bool]:
    """Days of month plus whether ``L`` (last day of the month) is among them."""
    if text in ("*", "?"):
        return sorted(_ALL_DAYS), False
    items = text.split(",")
    last_day = "L" in (item.upper() for item in items)
    plain = [item for item in items if item.upper() != "L"]
    return (_values(",".join(plain), _SPECS["day-of-month"], fail) if plain else []), last_day


def _days_of_week(text: str, fail: _Fail) -> tuple[list[int], list[tuple[int, int]]]:
    """Weekdays (1 = Monday .. 7 = Sunday) and ``N#k`` pairs; croniter cannot mix the two."""
    spec = _SPECS["day-of-week"]
    if text in ("*", "?"):
        return sorted(_ALL_WEEKDAYS), []
    items = text.split(",")
    nth_items = [item for item in items if "#" in item]
    if not nth_items:
        return _values(text, spec, fail), []
    if len(nth_items) != len(items):
        raise fail(spec.name, f"{text!r} mixes N#k with plain weekdays; use one or the other")
    nth = []
    for item in nth_items:
        weekday, _, k = item.partition("#")
        if not (k.isascii() and k.isdigit() and 1 <= int(k) <= 5):
            raise fail(spec.name, f"k in {item!r} must be 1-5 (the k-th such weekday of the month)")
        nth.append((_value(weekday, spec, fail), int(k)))
    return [], nth


def _check_interval(hours: list[int], minutes: list[int], fail: _Fail) -> None:
    """Spec 2.1: consecutive fire times (across midnight too) are at least 5 minutes apart."""
    times = [h * 60 + m for h in hours for m in minutes]
    if len(times) < 2:
        return
    gaps = zip(times, [*times[1:], times[0] + 24 * 60], strict=True)
    first, second = min(gaps, key=lambda pair: pair[1] - pair[0])
    if second - first < MIN_INTERVAL_MINUTES:
        raise fail(
            "minute",
            f"runs at {_hhmm(first)} and {_hhmm(second)}, {second - first} min apart; "
            f"DataWorks requires at least {MIN_INTERVAL_MINUTES} minutes between runs",
        )


def _check_day_exists(days: list[int], last_day: bool, months: list[int], fail: _Fail) -> None:
    """Reject day/month pairs that never occur (Feb 30), which would never fire."""
    if last_day or not days:
        return
    longest = max(calendar.monthrange(2024, m)[1] for m in months)  # 2024: a leap year
    if days[0] > longest:
        in_months = _join(_MONTHS[m - 1] for m in months)
        raise fail("day-of-month", f"day {days[0]} never occurs in {in_months}")


@lru_cache(maxsize=4096)
def _skipped(day: date, tz: ZoneInfo) -> tuple[datetime, datetime] | None:
    """Naive wall times ``[start, end)`` that clocks jump over on ``day``, if any.

    Cached per day and zone, so a spring-forward day costs one bisection for all
    nodes instead of a zone round-trip per fire time. Assumes at most one
    forward jump a day.
    """
    if day == date.max:
        return None  # no next day to compare with
    midnight = datetime.combine(day, time(), tz)
    next_midnight = datetime.combine(day + timedelta(days=1), time(), tz)
    before, after = midnight.utcoffset(), next_midnight.utcoffset()
    if before is None or after is None or after <= before:
        return None
    # Bisect on whole seconds (transitions fall on them) for the first instant at the new
    # offset; start one second early because midnight itself may be the skipped instant.
    lo, hi = int(midnight.timestamp()) - 1, int(next_midnight.timestamp())
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if datetime.fromtimestamp(mid, tz).utcoffset() == before:
            lo = mid
        else:
            hi = mid
    jump = datetime.fromtimestamp(hi, UTC).replace(tzinfo=None)
    return jump + before, jump + after


def _exists(wall: datetime, tz: ZoneInfo) -> bool:
    """Whether a naive wall time exists in ``tz``: it survives a round trip via UTC.

    The plain definition, used by ``next_fire_times``; ``fire_times_on`` uses the
    cached ``_skipped`` interval, and the tests check the two agree.
    """
    aware = wall.replace(tzinfo=tz)
    return aware.astimezone(UTC).astimezone(tz).replace(tzinfo=None) == wall


def _step(values: tuple[int, ...]) -> int | None:
    """The common difference of an arithmetic progression of 2+ values, else None."""
    if len(values) < 2:
        return None
    steps = {b - a for a, b in zip(values, values[1:], strict=False)}
    return steps.pop() if len(steps) == 1 else None


def _ranges(values: Iterable[int], label: Callable[[int], str]) -> str:
    """Like "1, 3, 5–9": runs of three or more consecutive values collapse to a range."""
    runs: list[list[int]] = []
    for value in values:
        if runs and value == runs[-1][-1] + 1:
            runs[-1].append(value)
        else:
            runs.append([value])
    words = []
    for run in runs:
        if len(run) >= 3:
            words.append(f"{label(run[0])}–{label(run[-1])}")
        else:
            words.extend(label(v) for v in run)
    return ", ".join(words)


def _join(words: Iterable[str]) -> str:
    return ", ".join(words)


def _numbers(values: Iterable[int]) -> str:
    return ",".join(str(v) for v in values)


def _hhmm(minute_of_day: int) -> str:
    return f"{minute_of_day // 60 % 24:02}:{minute_of_day % 60:02}"
