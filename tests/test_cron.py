"""DataWorks cron (spec 2.1, 2.2): parsing, cycle types, fire times, DST, descriptions.

Expected values come from the spec and the calendar: 2025-11-03 is a Monday,
2025-11-01 a Saturday, 2025-12-01 a Monday, 2025-01-01 a Wednesday; February
has 29 days in 2024 and 28 in 2025; New York springs forward on 2025-03-09 at
02:00 and falls back on 2025-11-02 at 02:00.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from opscenter.domain.cron import CronError, Schedule, parse_cron
from opscenter.domain.model import CycleType

SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")
MONDAY = date(2025, 11, 3)


def at(day: date, *hhmm: str) -> list[datetime]:
    """Naive datetimes on ``day`` for "HH:MM" strings."""
    return [datetime.combine(day, time.fromisoformat(t)) for t in hhmm]


def every_day(start: date, end: date) -> list[date]:
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


def run_days(schedule: Schedule, start: date, end: date) -> list[date]:
    return [d for d in every_day(start, end) if schedule.runs_on(d)]


# --- spec 2.2 example table --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "cycle", "run_day", "times"),
    [
        pytest.param("00 00 02 * * ?", CycleType.DAY, MONDAY, ["02:00"], id="daily 02:00"),
        pytest.param(
            "00 00 00-23/1 * * ?",
            CycleType.HOUR,
            MONDAY,
            [f"{h:02}:00" for h in range(24)],
            id="hourly, every hour",
        ),
        pytest.param(
            "00 00 00-03/1 * * ?",
            CycleType.HOUR,
            MONDAY,
            ["00:00", "01:00", "02:00", "03:00"],
            id="hourly 00:00-03:00, closed at both ends",
        ),
        pytest.param(
            "00 */30 00-23 * * ?",
            CycleType.MINUTE,
            MONDAY,
            [f"{h:02}:{m:02}" for h in range(24) for m in (0, 30)],
            id="every 30 min",
        ),
        pytest.param(
            "00 00 01 1,3 * ?", CycleType.MONTH, date(2025, 11, 3), ["01:00"], id="1st and 3rd"
        ),
        pytest.param("00 00 00 L * ?", CycleType.MONTH, date(2025, 11, 30), ["00:00"], id="L"),
        pytest.param("00 00 00 ? * 1,5", CycleType.WEEK, MONDAY, ["00:00"], id="Mon and Fri"),
        pytest.param(
            "00 00 00-23/6 * * ?",
            CycleType.HOUR,
            MONDAY,
            ["00:00", "06:00", "12:00", "18:00"],
            id="step 6 over 00-23",
        ),
        pytest.param("00 00 00 * * ?", CycleType.DAY, MONDAY, ["00:00"], id="default"),
        pytest.param("00 30 02 * * ?", CycleType.DAY, MONDAY, ["02:30"], id="two-digit"),
    ],
)
def test_spec_examples_parse_with_cycle_type_and_fire_times(
    expr: str, cycle: CycleType, run_day: date, times: list[str]
) -> None:
    schedule = parse_cron(expr)
    assert schedule.cycle_type is cycle
    assert schedule.fire_times_on(run_day) == at(run_day, *times)
    assert schedule.per_day == len(times)
    assert schedule.time_of_day == time.fromisoformat(times[0])


def test_instances_per_day_match_spec_2_1() -> None:
    assert parse_cron("00 */30 00-23 * * ?").per_day == 48
    assert parse_cron("00 00 00-03/1 * * ?").per_day == 4
    assert parse_cron("00 00 00-23/6 * * ?").per_day == 4
    assert parse_cron("00 */5 00-23 * * ?").per_day == 288


def test_first_and_third_of_month_run_only_on_those_days() -> None:
    schedule = parse_cron("00 00 01 1,3 * ?")
    assert run_days(schedule, date(2025, 11, 1), date(2025, 12, 31)) == [
        date(2025, 11, 1),
        date(2025, 11, 3),
        date(2025, 12, 1),
        date(2025, 12, 3),
    ]
    assert schedule.fire_times_on(date(2025, 11, 2)) == []


# --- cycle type inference ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "cycle"),
    [
        ("00 00 00 1 1 ?", CycleType.YEAR),
        ("00 00 00 L 2 ?", CycleType.YEAR),
        ("00 00 00 ? * 1#2", CycleType.WEEK),
        ("00 00 00 1,L * ?", CycleType.MONTH),
        ("00 00 * ? * 1-5", CycleType.HOUR),  # many a day wins over restricted days
        ("00 5/10 9 * * ?", CycleType.MINUTE),
        ("00 00 01,13 * * ?", CycleType.HOUR),
        ("00 00 00 ? * ?", CycleType.DAY),
        ("00 00 00 * * *", CycleType.DAY),
    ],
)
def test_cycle_type_is_inferred(expr: str, cycle: CycleType) -> None:
    assert parse_cron(expr).cycle_type is cycle


# --- day of week: 1 = Monday .. 7 = Sunday -----------------------------------------------------


def test_weekday_numbers_are_monday_first() -> None:
    week = every_day(date(2025, 11, 3), date(2025, 11, 9))  # Monday .. Sunday
    for number, day in enumerate(week, 1):
        assert run_days(parse_cron(f"00 00 00 ? * {number}"), week[0], week[-1]) == [day]


def test_sunday_is_7() -> None:
    schedule = parse_cron("00 00 00 ? * 7")
    assert schedule.runs_on(date(2025, 11, 9))
    assert not schedule.runs_on(date(2025, 11, 3))


def test_monday_and_friday() -> None:
    schedule = parse_cron("00 00 00 ? * 1,5")
    assert run_days(schedule, date(2025, 11, 3), date(2025, 11, 16)) == [
        date(2025, 11, 3),
        date(2025, 11, 7),
        date(2025, 11, 10),
        date(2025, 11, 14),
    ]


def test_weekday_range_and_names() -> None:
    workdays = every_day(date(2025, 11, 3), date(2025, 11, 7))
    for expr in ("00 00 00 ? * 1-5", "00 00 00 ? * MON-FRI", "00 00 00 ? * mon-fri"):
        assert run_days(parse_cron(expr), date(2025, 11, 1), date(2025, 11, 9)) == workdays


def test_nth_weekday() -> None:
    second_monday = parse_cron("00 00 00 ? * 1#2")
    assert run_days(second_monday, date(2025, 11, 1), date(2025, 12, 31)) == [
        date(2025, 11, 10),
        date(2025, 12, 8),
    ]
    first_sunday = parse_cron("00 00 00 ? * 7#1")
    assert run_days(first_sunday, date(2025, 11, 1), date(2025, 11, 30)) == [date(2025, 11, 2)]


# --- day of month ------------------------------------------------------------------------------


def test_last_day_of_february() -> None:
    schedule = parse_cron("00 00 00 L * ?")
    assert run_days(schedule, date(2024, 2, 1), date(2024, 2, 29)) == [date(2024, 2, 29)]
    assert run_days(schedule, date(2025, 2, 1), date(2025, 2, 28)) == [date(2025, 2, 28)]


def test_last_day_of_other_months() -> None:
    schedule = parse_cron("00 00 00 L * ?")
    assert schedule.runs_on(date(2025, 1, 31))
    assert schedule.runs_on(date(2025, 4, 30))
    assert not schedule.runs_on(date(2025, 1, 30))


def test_first_and_last_day() -> None:
    schedule = parse_cron("00 00 12 1,L * ?")
    assert run_days(schedule, date(2025, 4, 1), date(2025, 5, 31)) == [
        date(2025, 4, 1),
        date(2025, 4, 30),
        date(2025, 5, 1),
        date(2025, 5, 31),
    ]


def test_yearly() -> None:
    schedule = parse_cron("00 00 00 1 1 ?")
    assert run_days(schedule, date(2025, 1, 1), date(2026, 12, 31)) == [
        date(2025, 1, 1),
        date(2026, 1, 1),
    ]


def test_question_mark_in_both_day_fields_is_every_day() -> None:
    schedule = parse_cron("00 00 00 ? * ?")
    assert run_days(schedule, date(2025, 11, 1), date(2025, 11, 30)) == every_day(
        date(2025, 11, 1), date(2025, 11, 30)
    )


# --- accepted syntax ---------------------------------------------------------------------------


def test_leading_zeros_are_optional() -> None:
    assert parse_cron("0 0 2 * * ?").fire_times_on(MONDAY) == at(MONDAY, "02:00")
    assert parse_cron("0 5 0-3/1 * * ?").fire_times_on(MONDAY) == at(
        MONDAY, "00:05", "01:05", "02:05", "03:05"
    )


def test_start_slash_step_runs_to_the_end_of_the_field() -> None:
    schedule = parse_cron("00 5/10 09 * * ?")
    assert schedule.fire_times_on(MONDAY) == at(
        MONDAY, "09:05", "09:15", "09:25", "09:35", "09:45", "09:55"
    )


def test_hour_list() -> None:
    schedule = parse_cron("00 00 01,05,13 * * ?")
    assert schedule.fire_times_on(MONDAY) == at(MONDAY, "01:00", "05:00", "13:00")


def test_month_names_are_case_insensitive() -> None:
    for expr in ("00 00 00 1 JAN,jul ?", "00 00 00 1 1,7 ?"):
        schedule = parse_cron(expr)
        assert run_days(schedule, date(2025, 1, 1), date(2025, 12, 31)) == [
            date(2025, 1, 1),
            date(2025, 7, 1),
        ]


def test_surrounding_and_repeated_whitespace() -> None:
    schedule = parse_cron("  00\t30  02 * * ?\n")
    assert schedule.expression == "00\t30  02 * * ?"
    assert schedule.fire_times_on(MONDAY) == at(MONDAY, "02:30")


# --- invalid crons -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "field", "says"),
    [
        ("00 00 00 * *", "expression", "expected 6 fields"),
        ("00 00 00 * * ? 2025", "expression", "no year field"),
        ("   ", "expression", "empty"),
        ("30 00 00 * * ?", "second", "must be 00"),
        ("* 00 00 * * ?", "second", "must be 00"),
        ("00 61 * * * ?", "minute", "61 is out of range 0-59"),
        ("00 00 24 * * ?", "hour", "24 is out of range 0-23"),
        ("00 00 00 32 * ?", "day-of-month", "32 is out of range 1-31"),
        ("00 00 00 0 * ?", "day-of-month", "0 is out of range 1-31"),
        ("00 00 00 * 13 ?", "month", "13 is out of range 1-12"),
        ("00 00 00 * 0 ?", "month", "0 is out of range 1-12"),
        ("00 00 00 ? * 8", "day-of-week", "8 is out of range 1-7"),
        ("00 00 00 ? * 0", "day-of-week", "1 = Monday .. 7 = Sunday"),
        ("00 00 00 ? * 0-4", "day-of-week", "1 = Monday .. 7 = Sunday"),
        ("00 00 00 ? * 1#6", "day-of-week", "1-5"),
        ("00 00 00 ? * 1#2,5", "day-of-week", "mixes N#k with plain weekdays"),
        ("00 */0 * * * ?", "minute", "step 0"),
        ("00 00 */x * * ?", "hour", "step 'x'"),
        ("00 00 00-23/24 * * ?", "hour", "between 1 and 23"),
        ("00 00 05-02 * * ?", "hour", "runs backwards"),
        ("00 00 00 1 * 1", "expression", "both set"),
        ("00 00 00 L * 1#2", "expression", "both set"),
        ("00 */2 * * * ?", "minute", "at least 5 minutes"),
        ("00 0,3 * * * ?", "minute", "at least 5 minutes"),
        ("00 * * * * ?", "minute", "at least 5 minutes"),
        ("00 0,58 * * * ?", "minute", "00:58 and 01:00"),
        ("00 00 00 30 2 ?", "day-of-month", "never occurs in Feb"),
        ("00 00 00 15W * ?", "day-of-month", "'15W'"),
        ("00 00 00 * ? ?", "month", "only allowed in day-of-month and day-of-week"),
        ("00 1,,2 * * * ?", "minute", "empty value"),
        ("00 0x * * * ?", "minute", "'0x'"),
        ("every day at two", "expression", "got 4"),
        ("a b c d e f", "second", "'a'"),
    ],
)
def test_invalid_cron_names_the_field(expr: str, field: str, says: str) -> None:
    with pytest.raises(CronError) as caught:
        parse_cron(expr)
    assert caught.value.field == field
    assert says in caught.value.reason
    assert caught.value.expression == expr.strip()


def test_error_message_format() -> None:
    with pytest.raises(ValueError, match="minute") as caught:
        parse_cron("00 61 * * * ?")
    assert str(caught.value) == 'invalid cron "00 61 * * * ?": minute: 61 is out of range 0-59'


# --- daylight saving ---------------------------------------------------------------------------


def test_spring_forward_hourly_gets_23_instances() -> None:
    hourly = parse_cron("00 00 00-23/1 * * ?")
    times = hourly.fire_times_on(date(2025, 3, 9), NEW_YORK)
    assert len(times) == 23
    assert datetime(2025, 3, 9, 2, 0) not in times
    assert times[:3] == at(date(2025, 3, 9), "00:00", "01:00", "03:00")


def test_spring_forward_every_30_minutes_loses_the_skipped_hour() -> None:
    times = parse_cron("00 */30 00-23 * * ?").fire_times_on(date(2025, 3, 9), NEW_YORK)
    assert len(times) == 46
    assert at(date(2025, 3, 9), "01:30", "03:00") == times[3:5]


def test_spring_forward_daily_in_skipped_hour_has_no_fire_time() -> None:
    schedule = parse_cron("00 30 02 * * ?")
    assert schedule.runs_on(date(2025, 3, 9))
    assert schedule.fire_times_on(date(2025, 3, 9), NEW_YORK) == []
    assert schedule.time_of_day == time(2, 30)  # the slot of its dry-run instance


def test_fall_back_does_not_repeat_01_00() -> None:
    hourly = parse_cron("00 00 00-23/1 * * ?")
    times = hourly.fire_times_on(date(2025, 11, 2), NEW_YORK)
    assert times == at(date(2025, 11, 2), *[f"{h:02}:00" for h in range(24)])
    assert times.count(datetime(2025, 11, 2, 1, 0)) == 1


def test_spring_forward_at_midnight_skips_00_00() -> None:
    havana = ZoneInfo("America/Havana")  # Cuba springs forward on 2025-03-09 at 00:00
    hourly = parse_cron("00 00 00-23/1 * * ?")
    times = hourly.fire_times_on(date(2025, 3, 9), havana)
    assert len(times) == 23
    assert times[0] == datetime(2025, 3, 9, 1, 0)
    assert len(hourly.fire_times_on(date(2025, 3, 8), havana)) == 24


def test_shanghai_has_no_daylight_saving() -> None:
    hourly = parse_cron("00 00 00-23/1 * * ?")
    for day in (date(2025, 3, 9), date(2025, 11, 2)):
        assert len(hourly.fire_times_on(day, SHANGHAI)) == 24


def test_next_fire_times_across_spring_forward() -> None:
    hourly = parse_cron("00 00 00-23/1 * * ?")
    after = datetime(2025, 3, 9, 0, 30, tzinfo=NEW_YORK)  # EST, 05:30 UTC
    times = hourly.next_fire_times(after, 3, NEW_YORK)
    assert [t.astimezone(UTC) for t in times] == [
        datetime(2025, 3, 9, 6, 0, tzinfo=UTC),  # 01:00 EST
        datetime(2025, 3, 9, 7, 0, tzinfo=UTC),  # 03:00 EDT
        datetime(2025, 3, 9, 8, 0, tzinfo=UTC),  # 04:00 EDT
    ]


def test_next_fire_times_across_fall_back_fire_01_00_once() -> None:
    hourly = parse_cron("00 00 00-23/1 * * ?")
    after = datetime(2025, 11, 2, 0, 30, tzinfo=NEW_YORK)  # EDT, 04:30 UTC
    times = hourly.next_fire_times(after, 3, NEW_YORK)
    assert [t.astimezone(UTC) for t in times] == [
        datetime(2025, 11, 2, 5, 0, tzinfo=UTC),  # 01:00 EDT
        datetime(2025, 11, 2, 7, 0, tzinfo=UTC),  # 02:00 EST
        datetime(2025, 11, 2, 8, 0, tzinfo=UTC),  # 03:00 EST
    ]


def test_next_fire_times_during_the_repeated_hour() -> None:
    half_past = parse_cron("00 30 00-23/1 * * ?")
    after = datetime(2025, 11, 2, 1, 10, fold=1, tzinfo=NEW_YORK)  # second 01:10, EST
    # 01:30 fired at its first occurrence (EDT), before `after`; next is 02:30 EST.
    assert half_past.next_fire_times(after, 1, NEW_YORK)[0].astimezone(UTC) == datetime(
        2025, 11, 2, 7, 30, tzinfo=UTC
    )


# --- next fire times (detail screen) -----------------------------------------------------------


def test_next_five_fire_times_of_a_daily_node() -> None:
    daily = parse_cron("00 00 02 * * ?")
    after = datetime(2025, 11, 1, 15, 0, tzinfo=SHANGHAI)
    assert daily.next_fire_times(after, 5, SHANGHAI) == [
        datetime(2025, 11, day, 2, 0, tzinfo=SHANGHAI) for day in range(2, 7)
    ]


def test_next_fire_times_are_strictly_after() -> None:
    daily = parse_cron("00 00 02 * * ?")
    for after in (
        datetime(2025, 11, 2, 2, 0, tzinfo=SHANGHAI),
        datetime(2025, 11, 2, 2, 0, 0, 500_000, tzinfo=SHANGHAI),
    ):
        assert daily.next_fire_times(after, 1, SHANGHAI) == [
            datetime(2025, 11, 3, 2, 0, tzinfo=SHANGHAI)
        ]


def test_next_fire_times_converts_after_into_the_zone() -> None:
    daily = parse_cron("00 00 02 * * ?")
    after = datetime(2025, 11, 1, 17, 0, tzinfo=UTC)  # 2025-11-02 01:00 in Shanghai
    assert daily.next_fire_times(after, 1, SHANGHAI) == [
        datetime(2025, 11, 2, 2, 0, tzinfo=SHANGHAI)
    ]


def test_next_fire_times_map_sunday_for_croniter() -> None:
    sunday = parse_cron("00 00 00 ? * 7")
    after = datetime(2025, 11, 3, 0, 0, tzinfo=SHANGHAI)
    assert sunday.next_fire_times(after, 2, SHANGHAI) == [
        datetime(2025, 11, 9, tzinfo=SHANGHAI),
        datetime(2025, 11, 16, tzinfo=SHANGHAI),
    ]


def test_next_fire_times_need_an_aware_start() -> None:
    with pytest.raises(ValueError, match="aware"):
        parse_cron("00 00 02 * * ?").next_fire_times(datetime(2025, 11, 1), 5, SHANGHAI)


CROSS_CHECK = [
    "00 00 02 * * ?",
    "00 00 00-23/1 * * ?",
    "00 00 00-03/1 * * ?",
    "00 */30 00-23 * * ?",
    "00 00 01 1,3 * ?",
    "00 00 00 L * ?",
    "00 00 00 ? * 1,5",
    "00 00 00-23/6 * * ?",
    "00 00 00 ? * 1#2",
    "00 15 08 ? * 7",
    "00 00 00 1 1 ?",
    "00 5/20 9-17 ? * MON-FRI",
    "00 30 23 L 2 ?",
    "00 00 12 1,L * ?",
    "00 45 06 ? * 5#5",
]


def _both_ways(expr: str, start: date, end: date, tz: ZoneInfo) -> tuple[list, list]:
    """Fire times in [start, end] by own expansion and by croniter, as UTC instants."""
    schedule = parse_cron(expr)
    expanded = [
        t.replace(tzinfo=tz).astimezone(UTC)
        for day in every_day(start, end)
        for t in schedule.fire_times_on(day, tz)
    ]
    after = datetime.combine(start, time(), tz) - timedelta(seconds=1)
    walked = schedule.next_fire_times(after, len(expanded) + 1, tz)
    assert walked[-1] >= datetime.combine(end + timedelta(days=1), time(), tz)
    return expanded, [t.astimezone(UTC) for t in walked[:-1]]


@pytest.mark.parametrize("expr", CROSS_CHECK)
def test_croniter_and_own_expansion_agree_over_a_year(expr: str) -> None:
    expanded, walked = _both_ways(expr, date(2025, 1, 1), date(2025, 12, 31), SHANGHAI)
    assert expanded, "every cross-check cron fires in 2025"
    assert walked == expanded


@pytest.mark.parametrize(
    "expr", ["00 00 00-23/1 * * ?", "00 */30 00-23 * * ?", "00 30 02 * * ?", "00 00 01 ? * 7"]
)
@pytest.mark.parametrize(
    ("start", "end"),
    [(date(2025, 3, 1), date(2025, 3, 16)), (date(2025, 10, 26), date(2025, 11, 9))],
)
def test_croniter_and_own_expansion_agree_across_dst(expr: str, start: date, end: date) -> None:
    expanded, walked = _both_ways(expr, start, end, NEW_YORK)
    assert walked == expanded


# --- descriptions ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "words"),
    [
        ("00 00 02 * * ?", "daily at 02:00"),
        ("00 05 00-07 * * ?", "hourly at :05, 00:00–07:00"),
        ("00 00 00-23/1 * * ?", "hourly at :00, 00:00–23:00"),
        ("00 00 00-23/6 * * ?", "every 6 hours at :00, 00:00–18:00"),
        ("00 00 01,05,13 * * ?", "at 01:00, 05:00, 13:00"),
        ("00 */30 00-23 * * ?", "every 30 minutes, 00:00–23:59"),
        ("00 00 00 ? * 1,5", "weekly on Mon, Fri at 00:00"),
        ("00 00 00 ? * 1-5", "weekly on Mon–Fri at 00:00"),
        ("00 00 00 ? * 1#2", "monthly on the 2nd Mon at 00:00"),
        ("00 00 01 1,3 * ?", "monthly on day 1, 3 at 01:00"),
        ("00 00 00 L * ?", "monthly on the last day at 00:00"),
        ("00 00 12 1,L * ?", "monthly on day 1 and the last day at 12:00"),
        ("00 00 00 1 1 ?", "yearly on Jan 1 at 00:00"),
        ("00 00 00 L 2 ?", "yearly in Feb on the last day at 00:00"),
        ("00 00 * ? * 1-5", "hourly at :00, 00:00–23:00, on Mon–Fri"),
    ],
)
def test_describe(expr: str, words: str) -> None:
    assert parse_cron(expr).describe() == words
