"""The refresher's schedule: the minutes it fires at, the longest gap between two runs, what is refused."""

from __future__ import annotations

from datetime import timedelta

import pytest

from generator.schedule import ScheduleError, check, longest_gap, minutes

MINUTES = [
    ("star", "*", list(range(60))),
    ("step", "*/20", [0, 20, 40]),
    ("list", "5,25,45", [5, 25, 45]),
    ("range", "10-12", [10, 11, 12]),
    ("range-step", "0-50/25", [0, 25, 50]),
    ("start-step", "7/30", [7, 37]),
    ("mixed-and-duplicates", "0,*/30,30", [0, 30]),
]


@pytest.mark.parametrize(("field", "expected"), [c[1:] for c in MINUTES], ids=[c[0] for c in MINUTES])
def test_minutes(field, expected) -> None:
    assert minutes(field) == expected


GAPS = [
    ("every-10", "*/10 * * * *", 10),
    ("the-seeds-30", "*/30 * * * *", 30),
    ("uneven-step-wraps-the-hour", "*/7 * * * *", 7),
    ("uneven-list", "0,7,30 * * * *", 30),
    ("wrap-around", "50,55 * * * *", 55),
    ("every-minute", "* * * * *", 1),
]


@pytest.mark.parametrize(("schedule", "gap"), [c[1:] for c in GAPS], ids=[c[0] for c in GAPS])
def test_longest_gap(schedule, gap) -> None:
    assert longest_gap(schedule) == timedelta(minutes=gap)


REFUSED = [
    ("hourly", "0 * * * *", "runs up to 60 minutes apart; at most 30"),
    ("31-minutes", "0,29 * * * *", "runs up to 31 minutes apart"),
    ("office-hours", "*/10 9-17 * * *", "must run every hour of every day"),
    ("weekdays", "*/10 * * * 1-5", "must run every hour of every day"),
    ("macro", "@hourly", "must run every hour of every day"),
    ("minute-60", "60 * * * *", "outside 0-59"),
    ("zero-step", "*/0 * * * *", "zero step"),
    ("words", "often * * * *", "cannot read the minutes field"),
    ("backwards-range", "30-10 * * * *", "outside 0-59"),
]


@pytest.mark.parametrize(("schedule", "message"), [c[1:] for c in REFUSED], ids=[c[0] for c in REFUSED])
def test_what_cannot_keep_tokens_fresh_is_refused_with_how_to_write_it(schedule, message) -> None:
    with pytest.raises(ScheduleError, match=message):
        check(schedule)
