"""The installation-token use-cases: install, ensure, refresh one, suspend, disallow, forget.

The one home of minting and storing tokens: the step commands (``tekton/steps``) and the refresher
(``token_refresher``) call these and nothing else mints. Every mint goes through :meth:`Minter.mint`, which
first spends a slot of a :class:`MintBudget` (waiting as long as it says), registers the new token for
log redaction, and on a rate limit holds the budget for every minter that shares it.

Functions take the minter, the token store and ``now``; they return what they did, raise PeribolosError
subclasses, and never log a token: :class:`TokenOutcome` hides it from ``repr``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal, Protocol

from . import logs
from .errors import InstallationSuspended, RateLimited
from .github import GitHubApp, InstallationToken
from .token_store import NOT_LISTED, Listed, TokenStore

__all__ = [
    "NO_BUDGET",
    "MintBudget",
    "Minter",
    "NoBudget",
    "TokenOutcome",
    "disallow",
    "ensure",
    "forget",
    "install",
    "refresh_one",
    "suspend",
]


class MintBudget(Protocol):
    """How many tokens the App may mint, and when: shared by everything that mints for one App.

    ``now`` and ``deadline`` are seconds on the clock the minter was given (``time.monotonic`` will do in
    one process; the App-wide budget shared between processes,
    :class:`peribolos_core.mint_budget.KubeMintBudget`, needs ``time.time``).
    :func:`peribolos_core.clients.minter` builds the right one from the settings.
    """

    def acquire(self, now: float, deadline: float | None = None) -> float:
        """Take one mint slot at ``now`` or later; return the seconds to wait until it (0: mint now).

        Raises :class:`~peribolos_core.errors.MintDeferred`, taking nothing, when the slot would come after
        ``deadline``."""
        ...

    def hold(self, now: float, seconds: float) -> None:
        """GitHub asked to wait ``seconds`` (a rate limit): grant no slot before ``now + seconds``."""
        ...


class NoBudget:
    """No budget at all: the transport still waits out GitHub's rate limits. For tests of the use-cases;
    programs build theirs with :func:`peribolos_core.clients.minter` (the App-wide budget)."""

    def acquire(self, now: float, deadline: float | None = None) -> float:
        return 0.0

    def hold(self, now: float, seconds: float) -> None:
        return None

    def __repr__(self) -> str:
        return "NoBudget()"


NO_BUDGET = NoBudget()


@dataclass(frozen=True)
class Minter:
    """The App, the budget its mints spend, and the clock the budget's waits run on."""

    app: GitHubApp
    budget: MintBudget = NO_BUDGET
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep

    def mint(
        self,
        installation_id: int,
        *,
        deadline: float | None = None,
        permissions: Mapping[str, str] | None = None,
        repositories: Sequence[str] | None = None,
    ) -> InstallationToken:
        """A new token of the installation, once the budget grants a slot (MintDeferred past ``deadline``).

        ``permissions`` and ``repositories`` narrow the token to a job (GitHub refuses more than the
        installation has). Such a token is handed to that job only: the use-cases below, which store
        tokens in the installation's Secret, always mint the installation's full token.
        """
        wait = self.budget.acquire(self.clock(), deadline)
        if wait > 0:
            self.sleep(wait)
        try:
            token = self.app.mint_token(installation_id, permissions, repositories)
        except RateLimited as exc:
            # The transport already waited what it may; everyone sharing the budget waits the rest.
            self.budget.hold(self.clock(), exc.retry_after)
            raise
        logs.register_secret(token.token)
        return token


@dataclass(frozen=True)
class TokenOutcome:
    """What a use-case left in the Secret. ``action``: reused (no mint), created or updated."""

    installation_id: int
    org: str
    action: Literal["reused", "created", "updated"]
    expires_at: datetime
    token: str = field(repr=False)


def install(minter: Minter, store: TokenStore, installation_id: int) -> TokenOutcome:
    """Mint a token and write the Secret with the account's login and type (create or update).

    A suspended installation gets its Secret marked and no token: InstallationSuspended.
    """
    installation = minter.app.get_installation(installation_id)
    if installation.suspended:
        suspend(store, installation_id)
        raise InstallationSuspended(
            403,
            f"installation {installation_id} ({installation.account_login}) is suspended: "
            "no token until the org unsuspends the App",
        )
    login, account_type = installation.account_login, installation.account_type
    return _mint_and_store(minter, store, installation_id, login, account_type)


def ensure(
    minter: Minter, store: TokenStore, installation_id: int, min_valid: timedelta, now: datetime
) -> TokenOutcome:
    """The stored token when it stays valid ``min_valid`` longer; otherwise mint one and store it.

    A missing Secret is created (the install event may have been lost). A Secret marked suspended is
    minted for again: if the org unsuspended the App and the event was missed, this heals it.
    """
    stored = store.get(installation_id)
    if stored is not None and not stored.suspended and not stored.needs_refresh(min_valid, now):
        logs.register_secret(stored.token)
        return TokenOutcome(installation_id, stored.org, "reused", stored.expires_at, stored.token)
    if stored is not None:
        org, account_type = stored.org, stored.account_type
    else:
        installation = minter.app.get_installation(installation_id)
        org, account_type = installation.account_login, installation.account_type
    return _mint_and_store(minter, store, installation_id, org, account_type, listed=stored)


def refresh_one(
    minter: Minter,
    store: TokenStore,
    installation_id: int,
    org: str,
    account_type: str,
    *,
    listed: Listed,
    deadline: float | None = None,
) -> TokenOutcome:
    """The refresher's mint for one installation: mint within the budget (MintDeferred past ``deadline``)
    and write the Secret in one request (``listed`` is what the refresher's list saw; None: no Secret).

    A rate limit longer than the transport waits out holds the budget for every worker; the mint is then
    tried once more. InstallationSuspended marks a listed Secret; InstallationGone is the caller's to judge.
    """
    try:
        return _mint_and_store(minter, store, installation_id, org, account_type, listed=listed,
                               deadline=deadline)
    except RateLimited:
        return _mint_and_store(minter, store, installation_id, org, account_type, listed=listed,
                               deadline=deadline)


def suspend(store: TokenStore, installation_id: int, *, listed: Listed = NOT_LISTED) -> bool:
    """Mark the Secret suspended: nothing mints for it until the org unsuspends the App. False when there
    is no Secret to mark (``listed`` None: the caller's list had none)."""
    if listed is None:
        return False
    return store.mark_suspended(installation_id)


def disallow(store: TokenStore, installation_id: int, since: datetime) -> bool:
    """Mark the Secret of an org outside allowedOrgs with ``since``: nothing mints for it any more, and the
    refresher deletes it once the grace has passed. False when there is no Secret."""
    return store.mark_disallowed(installation_id, since)


def forget(store: TokenStore, installation_id: int) -> bool:
    """Delete the Secret (the App was uninstalled); False when it was already gone (also success)."""
    return store.delete(installation_id)


def _mint_and_store(
    minter: Minter, store: TokenStore, installation_id: int, org: str, account_type: str, *,
    listed: Listed = NOT_LISTED, deadline: float | None = None,
) -> TokenOutcome:
    try:
        token = minter.mint(installation_id, deadline=deadline)
    except InstallationSuspended:
        suspend(store, installation_id, listed=listed)
        raise
    written = store.put(installation_id, token, org, account_type, listed=listed)
    return TokenOutcome(installation_id, org, written, token.expires_at, token.token)
