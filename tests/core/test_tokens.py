"""The token use-cases against the strict fake GitHub: the Minter (budget waits, deferral, rate-limit holds,
scoped tokens, redaction) without Kubernetes; install, ensure, refresh one, suspend, disallow and forget
against the real kube-apiserver too."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from peribolos_core import logs, tokens
from peribolos_core.errors import InstallationSuspended, MintDeferred, RateLimited
from peribolos_core.github import GitHubApp, InstallationToken
from peribolos_core.token_store import TokenStore
from tests.fakes.clock import FakeClock
from tests.fakes.fixtures import APP_ID
from tests.fakes.github import FakeGitHub, Fault

NOW = datetime(2026, 1, 1, tzinfo=UTC)


class RecordingBudget:
    """A MintBudget that answers ``wait`` (or defers) and records what it was asked."""

    def __init__(self, wait: float = 0.0, defer: bool = False) -> None:
        self.wait, self.defer = wait, defer
        self.acquired: list[tuple[float, float | None]] = []
        self.held: list[tuple[float, float]] = []

    def acquire(self, now: float, deadline: float | None = None) -> float:
        if self.defer:
            raise MintDeferred("no slot before the deadline")
        self.acquired.append((now, deadline))
        return self.wait

    def hold(self, now: float, seconds: float) -> None:
        self.held.append((now, seconds))


@pytest.fixture
def app(fake_github: FakeGitHub, app_key: rsa.RSAPrivateKey) -> GitHubApp:
    return GitHubApp(APP_ID, app_key, api_url=fake_github.api_url, sleep=lambda s: None,
                     max_rate_limit_wait=5)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(now=100.0)


def minter(app: GitHubApp, budget: Any, clock: FakeClock) -> tokens.Minter:
    return tokens.Minter(app, budget, clock=clock, sleep=clock.sleep)


def test_a_mint_waits_what_the_budget_says_on_the_minters_clock(
    app: GitHubApp, fake_github: FakeGitHub, clock: FakeClock
) -> None:
    budget = RecordingBudget(wait=3.5)
    token = minter(app, budget, clock).mint(1, deadline=500.0)
    assert budget.acquired == [(100.0, 500.0)] and clock.slept == [3.5]
    assert fake_github.token_is_valid(token.token) and fake_github.mint_count == 1


def test_a_deferred_mint_sends_nothing(app: GitHubApp, fake_github: FakeGitHub, clock: FakeClock) -> None:
    with pytest.raises(MintDeferred):
        minter(app, RecordingBudget(defer=True), clock).mint(1)
    assert fake_github.requests == []


def test_a_rate_limit_holds_the_budget_for_everyone(
    app: GitHubApp, fake_github: FakeGitHub, clock: FakeClock
) -> None:
    fake_github.inject(Fault.secondary_limit(retry_after=120), method="POST", path="access_tokens")
    budget = RecordingBudget()
    with pytest.raises(RateLimited):
        minter(app, budget, clock).mint(1)
    assert budget.held == [(100.0, 120.0)]


def test_no_budget_never_waits(app: GitHubApp, clock: FakeClock) -> None:
    minter(app, tokens.NO_BUDGET, clock).mint(2)
    assert clock.slept == []


def test_a_scoped_token_carries_what_was_asked(
    app: GitHubApp, fake_github: FakeGitHub, clock: FakeClock
) -> None:
    token = minter(app, tokens.NO_BUDGET, clock).mint(1, permissions={"contents": "read"},
                                                       repositories=[".github"])
    [request] = fake_github.requests_to("POST", "access_tokens")
    assert request.body == {"permissions": {"contents": "read"}, "repositories": [".github"]}
    assert dict(token.permissions) == {"contents": "read"} and token.repository_selection == "selected"


def test_every_minted_token_is_redacted_from_logs(app: GitHubApp, clock: FakeClock) -> None:
    token = minter(app, tokens.NO_BUDGET, clock).mint(1)
    assert logs.redact(f"leaked {token.token}!") == f"leaked {logs.REDACTED}!"


def test_outcome_repr_hides_the_token() -> None:
    outcome = tokens.TokenOutcome(1, "o", "created", NOW, "ghs_" + "x" * 40)
    assert "ghs_" not in repr(outcome) and "ghs_" not in str(outcome)


# --- the use-cases, with the token Secrets on a real kube-apiserver --------------------------------------


@pytest.fixture
def store(core_v1: Any, namespace: str) -> Iterator[TokenStore]:
    yield TokenStore(core_v1, namespace)


def old_token(expires_in: timedelta) -> InstallationToken:
    return InstallationToken("ghs_old" + "o" * 40, datetime.now(UTC) + expires_in)


def test_install_writes_the_account_and_marks_a_suspended_one(
    app: GitHubApp, fake_github: FakeGitHub, store: TokenStore, clock: FakeClock
) -> None:
    outcome = tokens.install(minter(app, tokens.NO_BUDGET, clock), store, 2)
    assert (outcome.action, outcome.org) == ("created", "Acme")
    assert store.get(2).token == outcome.token

    fake_github.set_suspended(2)
    mints = fake_github.mint_count
    with pytest.raises(InstallationSuspended, match="installation 2 \\(Acme\\) is suspended"):
        tokens.install(minter(app, tokens.NO_BUDGET, clock), store, 2)
    assert store.get(2).suspended and fake_github.mint_count == mints


@pytest.mark.parametrize(
    ("left", "action", "kube_requests"),
    [(timedelta(minutes=50), "reused", 1), (timedelta(minutes=10), "updated", 2)],
    ids=["valid-long-enough", "due"],
)
def test_ensure_reads_once_and_writes_at_most_once(
    app: GitHubApp, store: TokenStore, clock: FakeClock, left: timedelta, action: str, kube_requests: int
) -> None:
    store.put(1, old_token(left), "octo-org", "Organization")
    store.request_count = 0
    outcome = tokens.ensure(minter(app, tokens.NO_BUDGET, clock), store, 1, timedelta(minutes=45),
                            datetime.now(UTC))
    assert outcome.action == action
    assert store.request_count == kube_requests, "the read's resourceVersion is written at, no second read"
    assert logs.redact(outcome.token) == logs.REDACTED


def test_refresh_one_tries_once_more_after_a_rate_limit(
    app: GitHubApp, fake_github: FakeGitHub, store: TokenStore, clock: FakeClock
) -> None:
    store.put(1, old_token(timedelta(minutes=5)), "octo-org", "Organization")
    listed = store.get(1)
    fake_github.inject(Fault.secondary_limit(retry_after=30), method="POST", path="access_tokens")
    budget = RecordingBudget()
    outcome = tokens.refresh_one(minter(app, budget, clock), store, 1, "octo-org", "Organization",
                                 listed=listed, deadline=900.0)
    assert outcome.action == "updated" and fake_github.token_is_valid(store.get(1).token)
    assert budget.held == [(100.0, 30.0)] and len(budget.acquired) == 2


def test_refresh_one_marks_a_listed_secret_suspended_and_leaves_a_missing_one(
    app: GitHubApp, fake_github: FakeGitHub, store: TokenStore, clock: FakeClock
) -> None:
    fake_github.set_suspended(1)
    store.put(1, old_token(timedelta(minutes=5)), "octo-org", "Organization")
    for listed in (store.get(1), None):
        store.request_count = 0
        with pytest.raises(InstallationSuspended):
            tokens.refresh_one(minter(app, tokens.NO_BUDGET, clock), store, 1, "octo-org", "Organization",
                               listed=listed)
        assert store.request_count == (1 if listed else 0)
    assert store.get(1).suspended


def test_suspend_disallow_forget(store: TokenStore) -> None:
    store.put(3, old_token(timedelta(minutes=30)), "o", "Organization")
    assert tokens.suspend(store, 3) is True and store.get(3).suspended
    assert tokens.suspend(store, 3, listed=None) is False
    assert tokens.disallow(store, 3, NOW) is True and store.get(3).disallowed_since == NOW
    assert tokens.forget(store, 3) is True and store.get(3) is None
    assert tokens.forget(store, 3) is False
