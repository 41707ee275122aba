"""Durations written the way people write them: ``45m``, ``1h30m``, ``90s``, ``2d``.

Every CLI takes durations through :data:`DURATION` (a click parameter type) so they read the same everywhere.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import click

_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
_PART = re.compile(r"(\d+)([dhms])")
LONGEST = timedelta(days=999_999_999)
"""The longest duration a ``timedelta`` holds; anything longer is refused, not an OverflowError."""
_LONGEST_SECONDS = int(LONGEST.total_seconds())


def parse_duration(text: str) -> timedelta:
    """``"1h30m"`` → ``timedelta(hours=1, minutes=30)``. Units d, h, m, s in that order, each at most once.

    Raises ValueError for anything else (bare numbers too: ``45`` is ambiguous, write ``45m`` or ``45s``),
    and for durations longer than :data:`LONGEST`.
    """
    raw = text.strip().lower()
    pos = 0
    seconds = 0
    seen: list[str] = []
    for match in _PART.finditer(raw):
        if match.start() != pos:
            break
        unit = match.group(2)
        if seen and list(_UNITS).index(unit) <= list(_UNITS).index(seen[-1]):
            raise ValueError(
                f"invalid duration {_show(text)}: units must come in the order d, h, m, s, once each"
            )
        seen.append(unit)
        digits = match.group(1)
        if len(digits) > len(str(_LONGEST_SECONDS)):  # int() of thousands of digits is slow, then refused
            raise _too_long(text)
        seconds += int(digits) * _UNITS[unit]
        pos = match.end()
    if not raw or pos != len(raw):
        raise ValueError(f"invalid duration {_show(text)}: write e.g. 45m, 1h30m or 90s")
    if seconds > _LONGEST_SECONDS:
        raise _too_long(text)
    return timedelta(seconds=seconds)


def _too_long(text: str) -> ValueError:
    return ValueError(f"invalid duration {_show(text)}: longer than {LONGEST.days}d, the longest there is")


def _show(text: str, limit: int = 40) -> str:
    """``text`` quoted for a message, cut short: a flag's value can be any length."""
    return repr(text) if len(text) <= limit else repr(text[:limit]) + "…"


def format_duration(value: timedelta) -> str:
    """Inverse of :func:`parse_duration` for whole seconds: ``timedelta(minutes=90)`` → ``"1h30m"``."""
    seconds = int(value.total_seconds())
    if seconds == 0:
        return "0s"
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    parts = []
    for unit, size in _UNITS.items():
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return sign + "".join(parts)


class DurationType(click.ParamType):
    """click parameter type for :func:`parse_duration`; a bad value is a usage error (exit code 2)."""

    name = "duration"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> timedelta:
        if isinstance(value, timedelta):
            return value
        try:
            return parse_duration(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


DURATION = DurationType()
