from datetime import timedelta

import click
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from peribolos_core.durations import DURATION, format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("45m", timedelta(minutes=45)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("90s", timedelta(seconds=90)),
        ("2d", timedelta(days=2)),
        ("1d2h3m4s", timedelta(days=1, hours=2, minutes=3, seconds=4)),
        (" 10M ", timedelta(minutes=10)),
        ("0s", timedelta(0)),
    ],
    ids=["minutes", "hours-minutes", "seconds", "days", "all-units", "spaces-upper-case", "zero"],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "45", "m", "1x", "30m1h", "1h1h", "-5m", "1.5h", "1h 30m", "45m!"],
    ids=[
        "empty",
        "bare-number",
        "unit-only",
        "unknown-unit",
        "wrong-order",
        "repeated",
        "negative",
        "fraction",
        "inner-space",
        "trailing-junk",
    ],
)
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    "text",
    [
        "99999999999999999999d",
        "99999999999999999999999d",
        "1000000000d",
        "9" * 5000 + "s",
        "1" + "0" * 30 + "m",
    ],
    ids=["20-digit-days", "23-digit-days", "past-timedelta-max", "5000-digits", "31-digit-minutes"],
)
def test_parse_duration_refuses_what_no_timedelta_holds(text: str) -> None:
    """Issue 14: these raised OverflowError (a traceback, exit 1) instead of one line."""
    with pytest.raises(ValueError, match="longer than 999999999d") as caught:
        parse_duration(text)
    assert len(str(caught.value)) < 120, "a huge value is not echoed whole"


def test_the_longest_duration_is_accepted() -> None:
    assert parse_duration("999999999d") == timedelta(days=999_999_999)


@pytest.mark.parametrize(
    ("value", "text"),
    [(timedelta(minutes=90), "1h30m"), (timedelta(0), "0s"), (timedelta(days=1, seconds=5), "1d5s")],
    ids=["hours-minutes", "zero", "days-seconds"],
)
def test_format_duration_round_trips(value: timedelta, text: str) -> None:
    assert format_duration(value) == text
    assert parse_duration(text) == value


def test_click_type_converts_and_reports_usage_errors() -> None:
    @click.command()
    @click.option("--min-valid", type=DURATION, default="45m")
    def cmd(min_valid: timedelta) -> None:
        click.echo(int(min_valid.total_seconds()))

    runner = CliRunner()
    assert runner.invoke(cmd, []).output.strip() == "2700"
    assert runner.invoke(cmd, ["--min-valid", "1h"]).output.strip() == "3600"
    bad = runner.invoke(cmd, ["--min-valid", "soon"])
    assert bad.exit_code == 2
    assert "invalid duration 'soon'" in bad.output
    huge = runner.invoke(cmd, ["--min-valid", "99999999999999999999d"])
    assert huge.exit_code == 2 and "longer than" in huge.output
    assert huge.exception is None or isinstance(huge.exception, SystemExit)


@given(
    st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=400)).map(
        lambda d: timedelta(seconds=int(d.total_seconds()))
    )
)
def test_format_then_parse_is_identity(value: timedelta) -> None:
    assert parse_duration(format_duration(value)) == value


@given(st.text(max_size=12))
def test_parse_never_raises_anything_but_value_error(text: str) -> None:
    try:
        assert parse_duration(text) >= timedelta(0)
    except ValueError:
        pass
