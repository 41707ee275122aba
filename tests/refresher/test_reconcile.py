"""Each reconcile case against the strict fake GitHub and a real kube-apiserver.

A row: how the installation looks on GitHub (or absent), what is stored (or nothing), what changes on
GitHub between planning and minting (an uninstall or suspension mid-run), and what the run must report
and leave in the namespace.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from peribolos_core.mint_budget import LocalMintBudget
from peribolos_core.token_store import TokenStore
from tests.fakes.clock import FakeClock
from tests.fakes.github import FakeGitHub
from token_refresher.reconcile import Refresher

IID = 7


@dataclass(frozen=True)
class Case:
    installed: str | None
    """None (not installed), "org", "user", "suspended"."""
    stored: timedelta | None
    """Expiry of the stored token from now; None = no Secret."""
    marked_suspended: bool = False
    mid_run: str | None = None
    """"uninstall" or "suspend" between planning and minting; "reinstall" re-adds an absent one."""
    result: str = ""
    secret: str = ""
    """After the run: "absent", "new" (a token just minted), "unchanged", "marked"."""
    mints: int = 0


CASES = {
    "missing-secret-created": Case("org", None, result="created", secret="new", mints=1),
    "expiring-refreshed": Case("org", timedelta(minutes=10), result="refreshed", secret="new", mints=1),
    "expired-refreshed": Case("org", timedelta(minutes=-5), result="refreshed", secret="new", mints=1),
    "fresh-untouched": Case("org", timedelta(minutes=50), result="fresh", secret="unchanged"),
    "gone-deleted": Case(None, timedelta(minutes=50), result="deleted", secret="absent"),
    "listed-late-kept": Case(None, timedelta(minutes=50), mid_run="reinstall", result="skipped",
                             secret="unchanged"),
    "suspended-marked": Case("suspended", timedelta(minutes=30), result="suspended", secret="marked"),
    "suspended-already-marked-skipped": Case("suspended", timedelta(minutes=-30), marked_suspended=True,
                                             result="skipped", secret="marked"),
    "suspended-without-secret-skipped": Case("suspended", None, result="skipped", secret="absent"),
    "unsuspended-refreshed-and-unmarked": Case("org", timedelta(minutes=55), marked_suspended=True,
                                               result="refreshed", secret="new", mints=1),
    "user-account-skipped": Case("user", None, result="skipped", secret="absent"),
    "uninstalled-mid-run-404-deleted": Case("org", timedelta(minutes=10), mid_run="uninstall",
                                            result="deleted", secret="absent"),
    "uninstalled-before-create-skipped": Case("org", None, mid_run="uninstall", result="skipped",
                                              secret="absent"),
    "suspended-mid-run-403-marked": Case("org", timedelta(minutes=10), mid_run="suspend",
                                         result="suspended", secret="marked"),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_reconcile_case(case: Case, github: FakeGitHub, store: TokenStore, seed: Callable,
                        make_refresher: Callable[..., Refresher]) -> None:
    if case.installed:
        github.add_installation(IID, "Octo-Org", "User" if case.installed == "user" else "Organization")
    old = seed(IID, case.stored, org="Octo-Org") if case.stored is not None else None
    if case.marked_suspended:
        store.mark_suspended(IID)
    if case.installed == "suspended":
        github.set_suspended(IID)
    before = store.get(IID)
    mints_before = github.mint_count

    refresher = make_refresher()
    plan = refresher.plan()
    if case.mid_run == "uninstall":
        github.remove_installation(IID)
    elif case.mid_run == "suspend":
        github.set_suspended(IID)
    elif case.mid_run == "reinstall":
        github.add_installation(IID, "Octo-Org")
    summary = refresher.execute(plan)

    assert [o.result for o in summary.outcomes] == [case.result]
    assert summary.counts[case.result] == 1
    assert summary.exit_code == 0
    assert github.mint_count - mints_before == case.mints
    after = store.get(IID)
    if case.secret == "absent":
        assert after is None
    elif case.secret == "unchanged":
        assert after == before
    elif case.secret == "marked":
        assert after is not None and after.suspended
        assert after.token == old.token
    else:
        assert after is not None and not after.suspended
        assert after.token != (old.token if old else None)
        assert github.token_is_valid(after.token)
        assert after.expires_at > datetime.now(UTC) + timedelta(minutes=55)
        assert (after.org, after.account_type) == ("Octo-Org", "Organization")


def _fleet(github: FakeGitHub, seed: Callable) -> None:
    """12 installations in every state, for the whole-run tests."""
    for i in range(1, 11):
        github.add_installation(i, f"org-{i}")
    github.add_installation(11, "someone", "User")
    github.add_installation(12, "paused-org")
    for i, minutes in [(1, 5), (2, 20), (3, 50), (4, 55), (5, -10), (12, 30)]:
        seed(i, timedelta(minutes=minutes))
    seed(99, timedelta(minutes=40), org="gone-org")
    github.set_suspended(12)


def test_a_run_logs_each_change_and_a_summary(github, store, seed, make_refresher, caplog) -> None:
    _fleet(github, seed)
    caplog.set_level(logging.INFO, logger="peribolos.refresher")
    summary = make_refresher().run()

    assert summary.counts == {"refreshed": 3, "created": 5, "deleted": 1, "suspended": 1, "disallowed": 0,
                              "skipped": 1, "fresh": 2, "deferred": 0, "failed": 0}
    changes = {(r.event, r.installation_id) for r in caplog.records if getattr(r, "event", None) in
               ("refreshed", "created", "deleted", "suspended")}
    assert changes == {("refreshed", 1), ("refreshed", 2), ("refreshed", 5), ("created", 6), ("created", 7),
                       ("created", 8), ("created", 9), ("created", 10), ("deleted", 99), ("suspended", 12)}
    [final] = [r for r in caplog.records if getattr(r, "event", None) == "summary"]
    assert final.counts == summary.counts and final.tokens_minted == 8 and final.mint_requests == 8
    assert final.duration_s >= 0
    for record in caplog.records:
        for token in (s.token for s in store.list()):
            assert token not in record.getMessage() and token not in str(vars(record))


def test_kube_traffic_is_one_list_plus_the_writes_and_a_rerun_writes_nothing(github, store, seed,
                                                                            make_refresher) -> None:
    _fleet(github, seed)
    first = make_refresher().run()
    changed = first.counts["refreshed"] + first.counts["created"]
    # one list; per minted Secret one write (what the list saw is passed on), per delete/mark one call
    assert first.kube_requests == 1 + changed + first.counts["deleted"] + first.counts["suspended"]

    mints_before = github.mint_count
    again = make_refresher().run()
    assert again.kube_requests == 1
    assert github.mint_count == mints_before
    assert again.counts["fresh"] == 10 and again.counts["skipped"] == 2
    assert again.github_requests == 1  # one page of installations, nothing else


def test_dry_run_mints_and_writes_nothing_and_says_what_would_change(github, store, seed, make_refresher,
                                                                      caplog) -> None:
    _fleet(github, seed)
    before = {s.installation_id: s for s in store.list()}
    mints_before = github.mint_count
    caplog.set_level(logging.INFO, logger="peribolos.refresher")
    summary = make_refresher(dry_run=True).run()

    assert {s.installation_id: s for s in store.list()} == before
    assert github.mint_count == mints_before
    assert summary.kube_requests == 1 and summary.github_requests == 1
    would = {(r.event, r.installation_id) for r in caplog.records if getattr(r, "dry_run", False) is True
             and r.msg.startswith("would")}
    assert would == {("refreshed", 1), ("refreshed", 2), ("refreshed", 5), ("created", 6), ("created", 7),
                     ("created", 8), ("created", 9), ("created", 10), ("deleted", 99), ("suspended", 12)}
    assert summary.counts["created"] == 5 and summary.dry_run


def test_mints_wait_for_their_instant_and_the_budget_and_what_finds_no_slot_is_deferred(
    github, store, seed, make_refresher, caplog
) -> None:
    """Margin 15 m, next run within 10 m: 4 and 2 are below the margin, 6 (expiring in 20 m) falls below it
    before the next run, 5, 1 and 3 are the next runs'. The budget's pace (2 a minute) leaves room for 2
    mints before this run stops minting (40 s): 7 (no Secret) first, then 6, which can still be kept above
    the margin; 2 and 4 are already below it and wait for a slot: deferred."""
    expiries = {1: 30, 2: 3, 3: 44, 4: -2, 5: 28, 6: 20}
    for i, minutes in expiries.items():
        github.add_installation(i, f"org-{i}")
        seed(i, timedelta(minutes=minutes))
    github.add_installation(7, "org-7")  # no Secret: first in line
    clock = FakeClock(now=0.0)
    caplog.set_level(logging.INFO, logger="peribolos.refresher")
    summary = make_refresher(budget=LocalMintBudget(2), clock=clock, sleep=clock.sleep,
                             interval=timedelta(minutes=10), max_run_time=timedelta(seconds=40),
                             concurrency=1).run()

    minted = {o.step.installation_id for o in summary.outcomes if o.minted}
    left = {o.step.installation_id for o in summary.outcomes if o.result == "deferred"}
    fresh = {o.step.installation_id for o in summary.outcomes if o.result == "fresh"}
    assert (minted, left, fresh) == ({7, 6}, {2, 4}, {1, 3, 5})
    assert summary.tokens_minted == summary.mint_requests == 2
    assert summary.peak_mint_requests_per_minute == 2
    assert clock.slept == [pytest.approx(40.0)]  # 6 waits for its instant: capped at the run's end
    assert summary.exit_code == 0 and summary.below_margin == 2
    [warning] = [r for r in caplog.records if getattr(r, "event", None) == "deferred"]
    assert warning.deferred == 2
    assert warning.earliest_deferred_expiry == store.get(4).expires_at.isoformat()
    for i in left:  # left alone: still the old token
        assert store.get(i).expires_at < datetime.now(UTC) + timedelta(minutes=45)


def test_a_token_is_minted_at_its_instant_not_at_the_start(github, store, seed, make_refresher) -> None:
    github.add_installation(1, "org-1")
    seed(1, timedelta(minutes=25))
    clock = FakeClock(now=0.0)
    summary = make_refresher(clock=clock, sleep=clock.sleep, interval=timedelta(minutes=10)).run()
    assert [o.result for o in summary.outcomes] == ["refreshed"]
    # 25 minutes left: minted when 15 (margin) + 2 (slack) are left, 8 minutes from now
    assert [w for w in clock.slept if w > 0.01] == [pytest.approx(480.0, abs=2.0)]
    assert summary.earliest_expiry > datetime.now(UTC) + timedelta(minutes=59)


def test_orgs_outside_allowed_orgs_are_not_minted_and_lose_their_secret_after_the_grace(
    github, store, seed, make_refresher, core_v1, namespace
) -> None:
    """Issue 13: the refresher created and re-minted Secrets of orgs the interceptor refuses."""
    github.add_installation(1, "Served-Org")
    github.add_installation(2, "Left-Org")
    github.add_installation(3, "Never-Allowed")
    old = seed(2, timedelta(minutes=5))
    allowed = frozenset({"served-org"})
    start = datetime.now(UTC)
    mints_before = github.mint_count

    first = make_refresher(allowed_orgs=allowed, now=lambda: start).run()
    assert {o.step.installation_id: o.result for o in first.outcomes} == {1: "created", 2: "disallowed",
                                                                           3: "skipped"}
    assert github.mint_count - mints_before == 1
    raw = core_v1.read_namespaced_secret("peribolos-token-2", namespace)
    assert raw.metadata.annotations["peribolos.dev/disallowed-since"] == start.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert store.get(2).token == old.token and store.get(3) is None

    within = make_refresher(allowed_orgs=allowed, now=lambda: start + timedelta(hours=23)).run()
    assert within.counts["skipped"] == 2 and store.get(2) is not None
    assert within.tokens_minted == 1  # installation 1's token was due again (its clock moved 23 h)

    after = make_refresher(allowed_orgs=allowed, now=lambda: start + timedelta(hours=24, seconds=1)).run()
    assert {o.step.installation_id: o.result for o in after.outcomes}[2] == "deleted"
    assert store.get(2) is None


def test_an_org_allowed_again_gets_a_token_and_loses_the_mark(github, store, seed, make_refresher) -> None:
    github.add_installation(2, "Back-Org")
    seed(2, timedelta(minutes=50))
    make_refresher(allowed_orgs=frozenset({"someone-else"})).run()
    assert store.get(2).disallowed_since is not None

    summary = make_refresher(allowed_orgs=frozenset({"back-org"})).run()
    assert [o.result for o in summary.outcomes] == ["refreshed"]
    assert store.get(2).disallowed_since is None and github.token_is_valid(store.get(2).token)
