"""The refresher's cron schedule and the longest gap between two of its runs (pure).

The refresher mints, in each run, what would fall below the margin before the next run could mint it, so
it must be told the longest gap between two runs (``--interval``), and the seed's "every 30 minutes" is the
longest gap allowed. That gap is computed here from the schedule, so the schedule stays the one value to
set. Only schedules that fire every hour of every day can be judged that way: the minutes field may be
anything cron accepts (``*``, ``*/10``, ``5,25,45``, ``0-50/10``), the other four fields must be ``*``.
"""

from __future__ import annotations

import itertools
import re
from datetime import timedelta

LONGEST_GAP = timedelta(minutes=30)
_ITEM = re.compile(r"^(?:(\*)|(\d{1,2})(?:-(\d{1,2}))?)(?:/(\d{1,2}))?$")


class ScheduleError(ValueError):
    """The schedule cannot be judged, or does not fire often enough; the message says how to write it."""


def minutes(field: str) -> list[int]:
    """The minutes of the hour a cron minutes field fires at, sorted."""
    found: set[int] = set()
    for item in field.split(","):
        match = _ITEM.fullmatch(item)
        if not match:
            raise ScheduleError(f"cannot read the minutes field {field!r} (item {item!r})")
        star, first, last, step = match.groups()
        low, high = (0, 59) if star else (int(first), int(last) if last is not None else None)
        if high is None:
            high = 59 if step is not None else low
        stride = int(step) if step is not None else 1
        if not (0 <= low <= high <= 59) or stride < 1:
            raise ScheduleError(f"minutes field {field!r}: {item!r} is outside 0-59 or has a zero step")
        found.update(range(low, high + 1, stride))
    return sorted(found)


def longest_gap(schedule: str) -> timedelta:
    """The longest time between two runs of ``schedule``; ScheduleError when it cannot be told."""
    fields = schedule.split()
    if len(fields) != 5 or any(f != "*" for f in fields[1:]):
        raise ScheduleError(
            "the refresher must run every hour of every day: set only the minutes field, the others * "
            "(e.g. */10 * * * *)"
        )
    at = minutes(fields[0])
    gaps = [b - a for a, b in itertools.pairwise(at)] + [60 - at[-1] + at[0]]
    return timedelta(minutes=max(gaps))


def check(schedule: str) -> timedelta:
    """The schedule's longest gap, refused over :data:`LONGEST_GAP`."""
    gap = longest_gap(schedule)
    if gap > LONGEST_GAP:
        raise ScheduleError(
            f"runs up to {int(gap.total_seconds() // 60)} minutes apart; at most 30 (the refresher keeps "
            "every token above the margin only if the next run comes within 30 minutes)"
        )
    return gap
