"""What one refresh run should do, decided from data alone (no I/O, no clock).

Input: the token Secrets as stored, the App's installations as GitHub lists them, ``now``, the minimum
validity a stored token must keep, how many mints this run may spend, and the orgs served (allowedOrgs).
Output: one :class:`Step` per installation or Secret, so that the run can be logged, dry-run, and tested
as a table.

An org outside allowedOrgs gets no Secret and no mint. Its existing Secret is marked with the instant the
refresher first saw it disallowed, kept for a grace (an allowedOrgs edit may be undone), then deleted; an
org allowed again gets a fresh token, which clears the mark.

Mints (creates and refreshes) are ordered soonest expiry first, a missing Secret counting as already
expired. When the run's mint capacity cannot cover them all, the ones left (``DEFER``) are exactly those
that expire last: they are still valid the longest, and the sync Task's ``ensure-token`` step mints on
demand for any that a TaskRun needs before the next run.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Protocol

from peribolos_core.settings import org_allowed

ORGANIZATION = "Organization"
DEFAULT_DISALLOWED_GRACE = timedelta(hours=24)
_NEVER = datetime.min.replace(tzinfo=UTC)


class StoredLike(Protocol):
    """What the planner reads of a stored token (``peribolos_core.token_store.StoredToken``)."""

    @property
    def installation_id(self) -> int: ...
    @property
    def org(self) -> str: ...
    @property
    def account_type(self) -> str: ...
    @property
    def expires_at(self) -> datetime: ...
    @property
    def suspended(self) -> bool: ...
    @property
    def disallowed_since(self) -> datetime | None: ...


class InstallationLike(Protocol):
    """What the planner reads of a listed installation (``peribolos_core.github.Installation``)."""

    @property
    def id(self) -> int: ...
    @property
    def account_login(self) -> str: ...
    @property
    def account_type(self) -> str: ...
    @property
    def suspended(self) -> bool: ...


class Kind(StrEnum):
    CREATE = "create"
    """Listed organisation installation without a Secret (a missed install webhook): mint and write."""
    REFRESH = "refresh"
    """Stored token expires sooner than the minimum validity, was marked suspended (or disallowed) and is
    active (allowed) again, or the account was renamed (the Secret's org and labels follow the new login)."""
    DELETE = "delete"
    """Secret of an installation absent from the list (a missed uninstall webhook)."""
    SUSPEND = "suspend"
    """Listed as suspended and its Secret not marked yet: mark it, never mint."""
    DISALLOW = "disallow"
    """The org is outside allowedOrgs and its Secret not marked yet: mark it with ``now``, never mint."""
    REMOVE = "remove"
    """The org has been outside allowedOrgs for longer than the grace: delete its Secret."""
    SKIP = "skip"
    """Nothing to do and nothing to mint: a user account or an org outside allowedOrgs (not served), or
    suspended and already handled."""
    FRESH = "fresh"
    """Stored token is valid long enough: no write."""
    DEFER = "defer"
    """Due, but beyond this run's mint capacity; among the due ones, these expire last."""


MINTING = frozenset({Kind.CREATE, Kind.REFRESH})


@dataclass(frozen=True)
class Step:
    kind: Kind
    installation_id: int
    org: str
    """Account login as GitHub spells it (from the list when listed, else from the Secret)."""
    account_type: str
    expires_at: datetime | None
    """Expiry of the stored token; None when there is no Secret."""
    reason: str


@dataclass(frozen=True)
class Plan:
    steps: tuple[Step, ...]
    """Mints first (soonest expiry first), then the rest ordered by installation id."""

    def of(self, *kinds: Kind) -> list[Step]:
        return [s for s in self.steps if s.kind in kinds]

    @property
    def mints(self) -> list[Step]:
        """Creates and refreshes this run performs, in the order it should perform them."""
        return self.of(*MINTING)

    def counts(self) -> dict[str, int]:
        counts = {kind.value: 0 for kind in Kind}
        for step in self.steps:
            counts[step.kind.value] += 1
        return counts


def _mint_order(step: Step) -> tuple[datetime, int]:
    return (step.expires_at or _NEVER, step.installation_id)


def plan(
    stored: Iterable[StoredLike],
    installations: Iterable[InstallationLike],
    *,
    now: datetime,
    min_valid: timedelta,
    mint_capacity: int | None = None,
    allowed_orgs: frozenset[str] | None = None,
    disallowed_grace: timedelta = DEFAULT_DISALLOWED_GRACE,
) -> Plan:
    """Decide every installation's and every Secret's step (see the module docstring).

    ``installations`` must be the complete list: a Secret whose installation is absent is planned for
    deletion (the executor confirms with GitHub before deleting). ``mint_capacity`` None means unbounded;
    ``allowed_orgs`` None serves every org (lower-case logins otherwise, ``settings.parse_allowed_orgs``).
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware (UTC)")
    if mint_capacity is not None and mint_capacity < 0:
        raise ValueError(f"mint_capacity must be >= 0, got {mint_capacity}")
    secrets = {s.installation_id: s for s in stored}
    listed = {i.id: i for i in installations}
    due_before = now + min_valid
    policy = _Policy(due_before, allowed_orgs, now - disallowed_grace)

    due: list[Step] = []
    rest: list[Step] = []
    for inst_id in sorted(listed.keys() | secrets.keys()):
        inst, secret = listed.get(inst_id), secrets.get(inst_id)
        expires = secret.expires_at if secret else None
        if inst is None:
            assert secret is not None
            rest.append(Step(Kind.DELETE, inst_id, secret.org, secret.account_type, expires,
                             "installation not in the App's installation list"))
            continue
        step = _listed_step(inst, secret, policy)
        (due if step.kind in MINTING else rest).append(step)

    due.sort(key=_mint_order)
    if mint_capacity is not None and len(due) > mint_capacity:
        left = [Step(Kind.DEFER, s.installation_id, s.org, s.account_type, s.expires_at,
                     f"over this run's mint capacity of {mint_capacity}; {s.reason}")
                for s in due[mint_capacity:]]
        due = due[:mint_capacity] + left
    return Plan(tuple(due) + tuple(rest))


@dataclass(frozen=True)
class _Policy:
    due_before: datetime
    """A stored token expiring before this is due."""
    allowed_orgs: frozenset[str] | None
    removed_before: datetime
    """The Secret of an org disallowed since before this is deleted (now minus the grace)."""


def _listed_step(inst: InstallationLike, secret: StoredLike | None, policy: _Policy) -> Step:
    login, kind_of = inst.account_login, inst.account_type
    expires = secret.expires_at if secret else None
    if kind_of != ORGANIZATION:
        reason = f"{kind_of} account: only organisations are served"
        return Step(Kind.SKIP, inst.id, login, kind_of, expires, reason)
    if not org_allowed(login, policy.allowed_orgs):
        return _disallowed_step(inst, secret, policy)
    if inst.suspended:
        if secret is None:
            return Step(Kind.SKIP, inst.id, login, kind_of, None, "suspended, no Secret")
        if secret.suspended:
            return Step(Kind.SKIP, inst.id, login, kind_of, expires, "suspended, Secret already marked")
        return Step(Kind.SUSPEND, inst.id, login, kind_of, expires, "suspended on GitHub")
    if secret is None:
        return Step(Kind.CREATE, inst.id, login, kind_of, None, "no Secret")
    if secret.suspended:
        return Step(Kind.REFRESH, inst.id, login, kind_of, expires, "unsuspended on GitHub")
    if secret.disallowed_since is not None:
        return Step(Kind.REFRESH, inst.id, login, kind_of, expires, "org allowed again")
    if secret.org != login:
        return Step(Kind.REFRESH, inst.id, login, kind_of, expires, f"account renamed from {secret.org}")
    if secret.expires_at < policy.due_before:  # "expires sooner than", as StoredToken.needs_refresh
        return Step(Kind.REFRESH, inst.id, login, kind_of, expires, "expires within the minimum validity")
    return Step(Kind.FRESH, inst.id, login, kind_of, expires, "valid long enough")


def _disallowed_step(inst: InstallationLike, secret: StoredLike | None, policy: _Policy) -> Step:
    login, kind_of = inst.account_login, inst.account_type
    if secret is None:
        return Step(Kind.SKIP, inst.id, login, kind_of, None, "org not in --allowed-orgs, no Secret")
    since = secret.disallowed_since
    if since is None:
        return Step(Kind.DISALLOW, inst.id, login, kind_of, secret.expires_at,
                    "org not in --allowed-orgs: no more mints; the Secret goes after the grace")
    if since <= policy.removed_before:
        return Step(Kind.REMOVE, inst.id, login, kind_of, secret.expires_at,
                    f"org not in --allowed-orgs since {since.isoformat()}, longer than the grace")
    return Step(Kind.SKIP, inst.id, login, kind_of, secret.expires_at,
                f"org not in --allowed-orgs since {since.isoformat()}; Secret kept for the grace")
