"""Table tests of the pure planner: one row per reconcile case, then ordering and the mint capacity."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.refresher.builders import installation, stored
from token_refresher.plan import Kind, plan

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
MIN_VALID = timedelta(minutes=45)


def at(minutes: float) -> datetime:
    return NOW + timedelta(minutes=minutes)


CASES = [
    # (id, stored Secrets, listed installations, expected kind of installation 1)
    ("missing-secret-created", [], [installation(1)], Kind.CREATE),
    ("expiring-refreshed", [stored(1, at(30))], [installation(1)], Kind.REFRESH),
    ("expired-refreshed", [stored(1, at(-5))], [installation(1)], Kind.REFRESH),
    ("just-under-min-valid-refreshed", [stored(1, at(44.9))], [installation(1)], Kind.REFRESH),
    ("exactly-min-valid-left-alone", [stored(1, at(45))], [installation(1)], Kind.FRESH),
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
    steps = {s.installation_id: s for s in plan(secrets, listed, now=NOW, min_valid=MIN_VALID).steps}
    assert steps[1].kind is expected


def test_every_secret_and_installation_gets_exactly_one_step() -> None:
    secrets = [stored(1, at(5)), stored(2, at(50)), stored(3, at(5))]
    listed = [installation(1), installation(2), installation(4), installation(5, suspended=True)]
    result = plan(secrets, listed, now=NOW, min_valid=MIN_VALID)
    assert sorted(s.installation_id for s in result.steps) == [1, 2, 3, 4, 5]
    assert result.counts() == {"create": 1, "refresh": 1, "delete": 1, "suspend": 0, "disallow": 0,
                               "remove": 0, "skip": 1, "fresh": 1, "defer": 0}


def test_listed_login_wins_over_the_stored_one() -> None:
    step = plan([stored(1, at(5), org="old")], [installation(1, login="New-Name")],
                now=NOW, min_valid=MIN_VALID).steps[0]
    assert (step.org, step.account_type) == ("New-Name", "Organization")


def test_mints_come_first_soonest_expiry_first_missing_secret_before_all() -> None:
    secrets = [stored(10, at(40)), stored(11, at(-3)), stored(12, at(20)), stored(13, at(50))]
    listed = [installation(i) for i in (10, 11, 12, 13, 14)]
    result = plan(secrets, listed, now=NOW, min_valid=MIN_VALID)
    assert [s.installation_id for s in result.mints] == [14, 11, 12, 10]
    assert [s.installation_id for s in result.steps[:4]] == [14, 11, 12, 10]


def test_ties_in_expiry_are_broken_by_installation_id() -> None:
    secrets = [stored(i, at(10)) for i in (9, 3, 7)]
    result = plan(secrets, [installation(i) for i in (3, 7, 9)], now=NOW, min_valid=MIN_VALID)
    assert [s.installation_id for s in result.mints] == [3, 7, 9]


CAPACITY_CASES = [
    ("unbounded", None, 6, 0),
    ("covers-all", 6, 6, 0),
    ("more-than-needed", 100, 6, 0),
    ("leaves-two", 4, 4, 2),
    ("zero", 0, 0, 6),
]


@pytest.mark.parametrize(("capacity", "minted", "deferred"), [c[1:] for c in CAPACITY_CASES],
                         ids=[c[0] for c in CAPACITY_CASES])
def test_capacity_leaves_exactly_the_latest_expiring(capacity, minted, deferred) -> None:
    expiries = {1: at(30), 2: at(-1), 3: at(44), 4: at(5), 5: at(12)}
    secrets = [stored(i, e) for i, e in expiries.items()]
    listed = [installation(i) for i in range(1, 7)]  # 6 has no Secret: minted first
    result = plan(secrets, listed, now=NOW, min_valid=MIN_VALID, mint_capacity=capacity)
    mints, left = result.mints, result.of(Kind.DEFER)
    assert (len(mints), len(left)) == (minted, deferred)
    if mints and left:
        assert max(s.expires_at for s in mints if s.expires_at) <= min(s.expires_at for s in left)
    assert [s.installation_id for s in mints + left] == [6, 2, 4, 5, 1, 3]


def test_capacity_never_defers_deletes_or_suspends() -> None:
    secrets = [stored(1, at(5)), stored(2, at(5)), stored(3, at(5))]
    listed = [installation(1), installation(3, suspended=True)]
    result = plan(secrets, listed, now=NOW, min_valid=MIN_VALID, mint_capacity=0)
    assert {s.installation_id: s.kind for s in result.steps} == {1: Kind.DEFER, 2: Kind.DELETE,
                                                                3: Kind.SUSPEND}


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"now": NOW.replace(tzinfo=None), "min_valid": MIN_VALID}, "timezone-aware"),
    ({"now": NOW, "min_valid": MIN_VALID, "mint_capacity": -1}, "mint_capacity"),
], ids=["naive-now", "negative-capacity"])
def test_bad_arguments_are_refused(kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        plan([], [], **kwargs)


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
    result = plan(secrets, listed, now=NOW, min_valid=MIN_VALID, allowed_orgs=ALLOWED, disallowed_grace=GRACE)
    steps = {s.installation_id: s for s in result.steps}
    assert steps[2].kind is expected
    assert 2 not in {s.installation_id for s in result.mints}


def test_allowed_orgs_compare_in_any_case_and_allowed_ones_are_planned_as_before() -> None:
    listed = [installation(1, login="ORG-1"), installation(3, login="Other")]
    result = plan([stored(3, at(5))], listed, now=NOW, min_valid=MIN_VALID, allowed_orgs=ALLOWED)
    assert {s.installation_id: s.kind for s in result.steps} == {1: Kind.CREATE, 3: Kind.REFRESH}


def test_no_allowed_orgs_serves_every_org() -> None:
    result = plan([stored(2, at(-5))], [installation(2)], now=NOW, min_valid=MIN_VALID, allowed_orgs=None)
    assert result.steps[0].kind is Kind.REFRESH
