"""Table tests of the pure planner: one row per reconcile case, then when each mint happens (the schedule:
just in time, at the budget's pace, the most tokens kept above the margin), and the allowed orgs."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from tests.refresher.builders import installation, stored
from token_refresher.plan import Kind, Timing, plan, schedule

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
TIMING = Timing(margin=timedelta(minutes=15), interval=timedelta(minutes=30), run_time=timedelta(minutes=28),
                seconds_per_mint=0.01)
"""A token expiring within margin + slack + run time = 45 minutes is this run's (the seed's --min-valid)."""


def at(minutes: float) -> datetime:
    return NOW + timedelta(minutes=minutes)


CASES = [
    # (id, stored Secrets, listed installations, expected kind of installation 1)
    ("missing-secret-created", [], [installation(1)], Kind.CREATE),
    ("expiring-refreshed", [stored(1, at(30))], [installation(1)], Kind.REFRESH),
    ("expired-refreshed", [stored(1, at(-5))], [installation(1)], Kind.REFRESH),
    ("below-margin-refreshed", [stored(1, at(10))], [installation(1)], Kind.REFRESH),
    ("falls-below-the-margin-before-the-next-run-refreshed", [stored(1, at(44.9))], [installation(1)],
     Kind.REFRESH),
    ("next-run-in-time-left-alone", [stored(1, at(45.5))], [installation(1)], Kind.FRESH),
    ("fresh-left-alone", [stored(1, at(46))], [installation(1)], Kind.FRESH),
    ("gone-deleted", [stored(1, at(50))], [], Kind.DELETE),
    ("gone-expired-deleted", [stored(1, at(-50))], [installation(2)], Kind.DELETE),
    ("suspended-marked", [stored(1, at(10))], [installation(1, suspended=True)], Kind.SUSPEND),
    ("suspended-already-marked", [stored(1, at(-10), suspended=True)], [installation(1, suspended=True)],
     Kind.SKIP),
    ("suspended-without-secret", [], [installation(1, suspended=True)], Kind.SKIP),
    ("unsuspended-refreshed-even-if-fresh", [stored(1, at(55), suspended=True)], [installation(1)],
     Kind.REFRESH),
    ("user-account-skipped", [], [installation(1, account_type="User")], Kind.SKIP),
    ("user-account-with-secret-skipped", [stored(1, at(5), account_type="User")],
     [installation(1, account_type="User")], Kind.SKIP),
    ("renamed-org-refreshed", [stored(1, at(55), org="old-name")], [installation(1, login="new-name")],
     Kind.REFRESH),
    ("allowed-again-refreshed-to-clear-the-mark", [stored(1, at(55), disallowed_since=at(-60))],
     [installation(1)], Kind.REFRESH),
]


@pytest.mark.parametrize(("secrets", "listed", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_reconcile_case(secrets, listed, expected) -> None:
    steps = {s.installation_id: s for s in plan(secrets, listed, now=NOW, timing=TIMING).steps}
    assert steps[1].kind is expected


def test_every_secret_and_installation_gets_exactly_one_step() -> None:
    secrets = [stored(1, at(5)), stored(2, at(50)), stored(3, at(5))]
    listed = [installation(1), installation(2), installation(4), installation(5, suspended=True)]
    result = plan(secrets, listed, now=NOW, timing=TIMING)
    assert sorted(s.installation_id for s in result.steps) == [1, 2, 3, 4, 5]
    assert result.counts() == {"create": 1, "refresh": 1, "delete": 1, "suspend": 0, "disallow": 0,
                               "remove": 0, "skip": 1, "fresh": 1, "defer": 0}


def test_listed_login_wins_over_the_stored_one() -> None:
    step = plan([stored(1, at(5), org="old")], [installation(1, login="New-Name")],
                now=NOW, timing=TIMING).steps[0]
    assert (step.org, step.account_type) == ("New-Name", "Organization")


def test_urgent_mints_come_first_then_each_token_just_in_time_at_the_budgets_pace() -> None:
    secrets = [stored(10, at(40)), stored(11, at(-3)), stored(12, at(20)), stored(13, at(50)),
               stored(15, at(30), org="old-name")]
    listed = [installation(i) for i in (10, 11, 12, 13, 14)] + [installation(15, login="new-name")]
    result = plan(secrets, listed, now=NOW, timing=TIMING)
    instants = {s.installation_id: (s.at - NOW).total_seconds() for s in result.mints}
    # 14 (no Secret) and 15 (renamed) at once, 11 (expired) in the next free slot, 12 and 10 at
    # expiry - margin - slack (3 and 23 minutes from now); 13 is the next run's
    assert instants == {14: 0.0, 15: 0.0, 11: 0.01, 12: 180.0, 10: 1380.0}
    assert [s.installation_id for s in result.mints] == [14, 15, 11, 12, 10]
    assert result.of(Kind.FRESH)[0].installation_id == 13
    assert result.below_margin == 1


def test_ties_in_expiry_are_broken_by_installation_id() -> None:
    secrets = [stored(i, at(-10)) for i in (9, 3, 7)]
    result = plan(secrets, [installation(i) for i in (3, 7, 9)], now=NOW, timing=TIMING)
    assert [s.installation_id for s in result.mints] == [3, 7, 9]


SCHEDULE = {"margin": 900.0, "slack": 120.0, "window_end": 600.0, "deadline": 540.0}
SCHEDULE_CASES = [
    # (id, urgent, tokens (key, expiry s), pace, expected instants, deferred, later)
    ("just-in-time", [], [("a", 1500.0), ("b", 1200.0)], 1.0, {"a": 480.0, "b": 180.0}, [], []),
    ("next-runs-token-left", [], [("a", 1700.0)], 1.0, {}, [], ["a"]),
    ("after-the-run-stops-the-next-run-is-in-time", [], [("a", 1600.0)], 1.0, {}, [], ["a"]),
    ("urgent-and-overdue-at-once", ["x", "y"], [("a", 1020.0)], 10.0, {"x": 0.0, "y": 0.0, "a": 0.0}, [],
     []),
    ("a-clump-after-the-next-run-is-started-early", [], [(k, 1625.0) for k in "abc"], 60.0, {"a": 485.0},
     [], ["b", "c"]),
    ("below-margin-fills-free-slots-valid-first", [], [("gone", -10.0), ("low", 300.0), ("ok", 1200.0)],
     10.0, {"low": 0.0, "gone": 10.0, "ok": 180.0}, [], []),
    ("overload-keeps-the-most-on-time", [], [(k, 1000.0 + i) for i, k in enumerate("abcdef")], 50.0,
     {"a": 0.0, "b": 0.0, "c": 0.0, "d": 50.0, "e": 100.0, "f": 150.0}, [], []),
    ("overload-defers-what-finds-no-slot", [], [(k, 960.0 + i) for i, k in enumerate("abcdef")], 200.0,
     {"a": 0.0, "b": 200.0, "c": 400.0}, ["d", "e", "f"], []),
    ("urgent-past-the-deadline-deferred", ["x", "y", "z"], [], 300.0, {"x": 0.0, "y": 0.0}, ["z"], []),
]


@pytest.mark.parametrize(("urgent", "tokens", "pace", "expected", "deferred", "later"),
                         [c[1:] for c in SCHEDULE_CASES], ids=[c[0] for c in SCHEDULE_CASES])
def test_schedule(urgent, tokens, pace, expected, deferred, later) -> None:
    slots = schedule(urgent, tokens, pace=pace, **SCHEDULE)
    assert slots.at == pytest.approx(expected)
    assert (slots.deferred, slots.later) == (deferred, later)
    instants = sorted(t for t in slots.at.values() if t > 0)  # at once: the budget spaces those
    assert all(b - a >= pace - 1e-9 for a, b in itertools.pairwise(instants))
    assert all(0.0 <= t <= SCHEDULE["deadline"] for t in instants)


def test_a_run_stopping_long_before_the_next_mints_what_the_next_would_be_too_late_for() -> None:
    """Runs 10 minutes apart, this one stops minting after 5: a token due at 7 minutes is minted at 5
    (the next run, at 10, would leave it below the margin); one due at 9 is the next run's (its hard limit,
    11 minutes, comes after the next run's start)."""
    slots = schedule([], [("soon", 420.0 + 1020.0), ("later", 540.0 + 1020.0)], margin=900.0, slack=120.0,
                     window_end=600.0, deadline=300.0, pace=1.0)
    assert (slots.at, slots.later) == ({"soon": 300.0}, ["later"])


def test_an_overloaded_run_keeps_the_most_tokens_above_the_margin() -> None:
    """Three tokens must be minted within 10 s and two within 40 s, one mint per 20 s: minting in expiry
    order would keep only the first on time; dropping the ones that cannot be keeps three."""
    limits = {"a": 10.0, "b": 10.0, "c": 10.0, "d": 40.0, "e": 40.0}  # expiry - margin
    slots = schedule([], [(k, t + 900.0) for k, t in limits.items()], margin=900.0, slack=0.0,
                     window_end=600.0, deadline=540.0, pace=20.0)
    assert slots.at == {"a": 0.0, "d": 20.0, "e": 40.0, "b": 60.0, "c": 80.0}
    assert sorted(k for k, t in slots.at.items() if t <= limits[k]) == ["a", "d", "e"]
    assert slots.missed == {"b", "c"}


ALLOWED = frozenset({"org-1", "other"})
GRACE = timedelta(hours=24)
ALLOWED_CASES = [
    # (id, stored Secrets, listed installations, expected kind of installation 2, whose org is not allowed)
    ("not-allowed-no-secret-skipped", [], [installation(2)], Kind.SKIP),
    ("not-allowed-expired-secret-marked-not-minted", [stored(2, at(-5))], [installation(2)], Kind.DISALLOW),
    ("not-allowed-marked-within-grace-kept", [stored(2, at(-5), disallowed_since=at(-23 * 60))],
     [installation(2)], Kind.SKIP),
    ("not-allowed-marked-past-grace-removed", [stored(2, at(-5), disallowed_since=at(-24 * 60))],
     [installation(2)], Kind.REMOVE),
    ("not-allowed-suspended-marked-disallowed", [stored(2, at(5))], [installation(2, suspended=True)],
     Kind.DISALLOW),
    ("not-allowed-uninstalled-deleted", [stored(2, at(5), disallowed_since=at(-60))], [], Kind.DELETE),
]


@pytest.mark.parametrize(("secrets", "listed", "expected"), [c[1:] for c in ALLOWED_CASES],
                         ids=[c[0] for c in ALLOWED_CASES])
def test_orgs_outside_allowed_orgs_get_no_mint_and_lose_their_secret_after_the_grace(secrets, listed,
                                                                                     expected) -> None:
    result = plan(secrets, listed, now=NOW, timing=TIMING, allowed_orgs=ALLOWED, disallowed_grace=GRACE)
    steps = {s.installation_id: s for s in result.steps}
    assert steps[2].kind is expected
    assert 2 not in {s.installation_id for s in result.mints}


def test_allowed_orgs_compare_in_any_case_and_allowed_ones_are_planned_as_before() -> None:
    listed = [installation(1, login="ORG-1"), installation(3, login="Other")]
    result = plan([stored(3, at(5))], listed, now=NOW, timing=TIMING, allowed_orgs=ALLOWED)
    assert {s.installation_id: s.kind for s in result.steps} == {1: Kind.CREATE, 3: Kind.REFRESH}


def test_no_allowed_orgs_serves_every_org() -> None:
    result = plan([stored(2, at(-5))], [installation(2)], now=NOW, timing=TIMING, allowed_orgs=None)
    assert result.steps[0].kind is Kind.REFRESH
