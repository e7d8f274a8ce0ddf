"""A finished baseline against its commitment, in the minutes a reader sees beside it."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from opscenter.domain.commitment import finished_words, late_or_early
from opscenter.domain.records import BaselineStatus

SHANGHAI = ZoneInfo("Asia/Shanghai")
COMMITTED = datetime(2026, 11, 20, 1, 0)  # 09:00 in Shanghai, naive UTC as stored


def finished_at(hh: int, mm: int, ss: int = 0, day: int = 20) -> BaselineStatus:
    finish = datetime(2026, 11, day, hh - 8, mm, ss)  # Shanghai wall time -> naive UTC
    return BaselineStatus(
        "exec_dashboard", "alice", 8, "DAILY", date(2026, 11, 19), 1, "OVER", True,
        COMMITTED, datetime(2026, 11, 20, 0, 30), finish, None, 36, ("ads",),
    )  # fmt: skip


@pytest.mark.parametrize(
    ("finish", "short", "words"),
    [
        ((9, 1, 30), "1m late", "finished 09:01, 1m after the commitment"),  # not -2m
        ((8, 40), "20m early", "finished 08:40, 20m before the commitment"),
        ((10, 5), "1h05m late", "finished 10:05, 1h05m after the commitment"),
        ((9, 0, 20), "<1m late", "finished 09:00, less than a minute after the commitment"),
        ((9, 0), "on time", "finished 09:00, on time"),
    ],
)
def test_finish_words_count_the_minutes_shown(finish, short, words) -> None:
    b = finished_at(*finish)
    assert late_or_early(b) == short
    assert finished_words(b, SHANGHAI) == words


def test_a_finish_on_another_day_says_the_day() -> None:
    b = finished_at(8, 30, day=21)  # 08:30 the next day
    assert finished_words(b, SHANGHAI) == "finished 11-21 08:30, 23h30m after the commitment"


def test_an_unfinished_baseline_has_no_verdict_yet() -> None:
    assert late_or_early(replace(finished_at(9, 1), finished=False)) == "-"


@pytest.mark.parametrize(
    ("predicted", "slack"),
    [((8, 0, 30), 60), ((8, 59, 59), 1), ((9, 0, 40), 0), ((9, 2, 10), -2)],
)
def test_slack_counts_the_minutes_shown_beside_it(predicted, slack) -> None:
    """08:00:30 predicted against 09:00 reads 08:00 and 09:00: 60m to spare, not 59m."""
    b = replace(finished_at(*predicted), finished=False, status="SAFE")
    assert b.slack_minutes == slack
