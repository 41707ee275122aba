"""Faults: GitHub failing 20% of the time (500, timeouts, 429), a concurrent writer causing 409s, one
installation failing for good, a rate limit longer than the transport waits. Nothing is lost or corrupted,
the others go on, and a rerun converges."""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from kubernetes import client

from peribolos_core.errors import GitHubUnavailable
from peribolos_core.github import InstallationToken
from peribolos_core.mint_budget import LocalMintBudget
from peribolos_core.token_store import TokenStore
from tests.fakes.clock import FakeClock
from tests.fakes.fixtures import APP_ID
from tests.fakes.github import FakeGitHub, Fault
from tests.refresher.conftest import app_for, instant
from token_refresher.reconcile import Refresher

COUNT = 90
"""Organisation installations in the fault test: ~100 GitHub requests, so 20% is ~20 faults."""


class RacingCoreV1(client.CoreV1Api):
    """A real client whose replace of a Secret is, now and then, preceded by another writer's real patch of
    the same Secret, so the replace carries a stale resourceVersion and the apiserver answers 409."""

    def __init__(self, api_client: Any, probability: float, seed: int = 7) -> None:
        super().__init__(api_client)
        self.probability = probability
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.races = 0

    def replace_namespaced_secret(self, name: str, namespace: str, body: Any, **kwargs: Any) -> Any:
        with self.lock:
            race = self.rng.random() < self.probability
            if race:
                self.races += 1
                marker = str(self.races)
        if race:
            patch = {"metadata": {"annotations": {"test.peribolos.dev/other-writer": marker}}}
            super().patch_namespaced_secret(name, namespace, patch)
        return super().replace_namespaced_secret(name, namespace, body, **kwargs)


def _populate(github: FakeGitHub, seed: Callable, count: int = COUNT) -> dict[int, str]:
    """``count`` org installations: a third without a Secret, a third expiring, a third fresh; plus two
    Secrets of uninstalled apps and one suspended installation. Returns the seeded tokens."""
    seeded = {}
    for i in range(1, count + 1):
        github.add_installation(i, f"org-{i}")
        if i % 3 == 1:
            seeded[i] = seed(i, timedelta(minutes=i % 40)).token
        elif i % 3 == 2:
            seeded[i] = seed(i, timedelta(minutes=50)).token
    for gone in (500, 501):
        seeded[gone] = seed(gone, timedelta(minutes=30), org=f"gone-{gone}").token
    github.add_installation(600, "paused")
    seeded[600] = seed(600, timedelta(minutes=20)).token
    github.set_suspended(600)
    return seeded


def _check_nothing_lost_or_corrupted(github: FakeGitHub, store: TokenStore, failed: set[int],
                                     seeded: dict[int, str]) -> None:
    stored = {s.installation_id: s for s in store.list()}
    for inst in github.installations.values():
        if inst.account_type == "Organization" and not inst.suspended and inst.id not in failed:
            assert inst.id in stored, f"installation {inst.id} lost its Secret"
    for iid, secret in stored.items():
        assert github.token_is_valid(secret.token), f"Secret {iid} holds a token GitHub does not accept"
        if iid in failed and iid in seeded:
            assert secret.token == seeded[iid], f"failed installation {iid}'s old token was replaced"


def test_twenty_percent_faults_and_conflicts_lose_nothing_and_a_rerun_converges(
    github: FakeGitHub, seed: Callable, kube_apiserver: Any, namespace: str, app_key: Any, caplog: Any,
) -> None:
    seeded = _populate(github, seed)
    racing = RacingCoreV1(kube_apiserver.api_client(), probability=0.3)
    store = TokenStore(racing, namespace)
    github.fault_probability = 0.2
    github.random_faults = (Fault.server_error(500), Fault.timeout(0.5),
                            Fault.too_many_requests(retry_after=1))
    caplog.set_level(logging.INFO)

    faulty = Refresher(app_for(github, app_key, timeout=0.25), store, budget=LocalMintBudget(10_000),
                       **instant())
    summary = faulty.run()

    failed = {o.step.installation_id for o in summary.outcomes if o.result == "failed"}
    assert summary.exit_code == (1 if failed else 0)
    _check_nothing_lost_or_corrupted(github, store, failed, seeded)
    served = {r.status for r in github.requests if r.status in (500, 429)}
    assert served == {500, 429}, "the fake did not inject both kinds of answers: the test proves less"
    conflicts = [r for r in caplog.records if r.getMessage() == "token Secret changed concurrently, retrying"]
    assert racing.races > 0 and len(conflicts) >= racing.races

    github.fault_probability = 0.0
    rerun = Refresher(app_for(github, app_key), store, budget=LocalMintBudget(10_000), **instant()).run()
    assert rerun.counts["failed"] == 0
    _check_nothing_lost_or_corrupted(github, store, set(), seeded)
    settled = Refresher(app_for(github, app_key), store, budget=LocalMintBudget(10_000), **instant()).run()
    assert settled.tokens_minted == settled.mint_requests == 0 and settled.kube_requests == 1
    assert settled.counts["fresh"] == COUNT
    assert {s.installation_id for s in store.list()} == set(range(1, COUNT + 1)) | {600}


def test_one_failing_installation_never_stops_the_others(github, store, seed, make_refresher,
                                                         app_key) -> None:
    old = {}
    for i in range(1, 7):
        github.add_installation(i, f"org-{i}")
        old[i] = seed(i, timedelta(minutes=5)).token
    app = app_for(github, app_key, max_retries=2)
    github.inject(Fault.server_error(500), times=3, method="POST",
                  path=r"/app/installations/3/access_tokens$")

    summary = make_refresher(app=app).run()

    results = {o.step.installation_id: o.result for o in summary.outcomes}
    assert results == {1: "refreshed", 2: "refreshed", 3: "failed", 4: "refreshed", 5: "refreshed",
                       6: "refreshed"}
    assert summary.exit_code == 1 and summary.counts["failed"] == 1
    [failure] = [o for o in summary.outcomes if o.result == "failed"]
    assert failure.error.startswith("GitHubUnavailable")
    assert store.get(3).token == old[3] and github.token_is_valid(old[3])  # old and valid

    rerun = make_refresher().run()
    assert rerun.exit_code == 0
    assert {o.step.installation_id: o.result for o in rerun.outcomes if o.minted} == {3: "refreshed"}


def test_rate_limits_are_waited_out_as_github_says(github, store, seed, make_refresher, app_key) -> None:
    for i in (1, 2, 3):
        github.add_installation(i, f"org-{i}")
        seed(i, timedelta(minutes=5))
    transport_waits: list[float] = []
    app = app_for(github, app_key, sleep=transport_waits.append)
    # 429 with retry-after: the transport waits 3 s and retries. A secondary limit asking for 120 s (more
    # than the transport's 60 s): RateLimited reaches the refresher, which holds every mint, then retries.
    github.inject(Fault.too_many_requests(retry_after=3), times=1, method="POST",
                  path=r"/app/installations/1/access_tokens$")
    github.inject(Fault.secondary_limit(retry_after=120), times=1, method="POST",
                  path=r"/app/installations/2/access_tokens$")
    # Primary limit: x-ratelimit-remaining 0, reset 5 s ahead: the transport waits until the reset (+1 s).
    github.inject(Fault.primary_limit(reset_in=5), times=1, method="POST",
                  path=r"/app/installations/3/access_tokens$")
    clock = FakeClock(now=0.0)
    summary = make_refresher(app=app, budget=LocalMintBudget(100), clock=clock, sleep=clock.sleep,
                             concurrency=1).run()

    assert summary.exit_code == 0
    assert {o.step.installation_id: o.result for o in summary.outcomes} == {1: "refreshed", 2: "refreshed",
                                                                            3: "refreshed"}
    assert 3.0 in transport_waits
    assert any(4.0 <= w <= 6.5 for w in transport_waits), transport_waits
    assert [w for w in clock.slept if w > 61 / 100] == [120.0]  # besides the pace, the hold only
    assert all(s.expires_at > datetime.now(UTC) + timedelta(minutes=55) for s in store.list())


class PageTwoDown(FakeGitHub):
    """GitHub answering 502 to every request for the second page of installations."""

    def handle(self, method: str, raw_path: str, headers: dict[str, str], body: bytes) -> Any:
        if "page=2" in raw_path:
            self.inject(Fault.server_error(502), times=1)
        return super().handle(method, raw_path, headers, body)


def test_a_listing_that_fails_half_way_changes_nothing(app_key, store) -> None:
    """Nothing is planned from half a list: a Secret whose installation is on the missing page (or gone)
    must not be deleted, and nothing is minted."""
    with PageTwoDown(APP_ID, app_key.public_key()) as github:
        github.add_installations(150)
        expiring = datetime.now(UTC) + timedelta(minutes=5)
        for iid in [*range(1, 151), 999]:
            store.put(iid, InstallationToken(f"ghs_placeholder_{iid}_" + "x" * 40, expiring), f"org{iid}",
                      "Organization")
        before = {s.installation_id: s for s in store.list()}
        refresher = Refresher(app_for(github, app_key, max_retries=2), store, budget=LocalMintBudget(10_000),
                              **instant())

        with pytest.raises(GitHubUnavailable):
            refresher.run()

        assert {s.installation_id: s for s in store.list()} == before
        assert github.mint_count == 0
        assert len(github.requests_to("GET", r"^/app/installations$")) == 4  # page 1, page 2 and 2 retries
