"""What one refresh run should do, and when, decided from data alone (no I/O, no clock).

Input: the token Secrets as stored, the App's installations as GitHub lists them, ``now``, the run's
:class:`Timing` (the margin every token keeps, the longest gap until the next run, how long this run
mints, the mint budget's pace), and the orgs served (allowedOrgs). Output: one :class:`Step` per
installation or Secret; a mint carries the instant to mint at, so the run can be logged, dry-run, and
tested as a table.

**When to mint.** A stored token must never hold less than ``margin`` (15 m) of validity. Each is re-minted
as late as that allows, a little before ``expiry - margin`` (``SLACK``: the next run's start and the
budget's queue), so a fleet of N needs N mints every ``lifetime - margin - slack`` (43 m) instead of N
every run: at 150 a minute that keeps about 6,100 installations fresh where minting every token at every
run kept 3,000. A run mints what must be minted before the next run could do it (runs come at most
``interval`` apart), each at its instant, not all at once:

1. *urgent* mints first, at once (the budget spaces them): a missing Secret, a Secret marked suspended
   or disallowed whose org is served again, a renamed org;
2. the other tokens by expiry, the ones due before this run stops minting (or that the next run would be
   too late for) kept *on time* (minted before their ``expiry - margin``) as many as the pace allows,
   dropping the one that cannot be (Moore-Hodgson: the most tokens on time); the kept ones are spread as
   late as possible at the pace (a clump of expiries after this run pulls some mints into it, so no run
   faces more than the pace allows); those already past their instant (the minute between two runs) are
   due at once;
3. tokens already below the margin, or that cannot be kept on time, take the pace's free slots, still-valid
   soonest-expiring first, so that an overloaded fleet keeps as many tokens fresh as the budget allows
   instead of letting every one of them lapse in turn;
4. what finds no slot before this run stops minting (``run_time``) is ``DEFER``: it will be below the margin
   before a run mints it (logged; the sync Task mints on demand).

An org outside allowedOrgs gets no Secret and no mint. Its existing Secret is marked with the instant the
refresher first saw it disallowed, kept for a grace (an allowedOrgs edit may be undone), then deleted; an
org allowed again gets a fresh token, which clears the mark.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Generic, Protocol, TypeVar

from peribolos_core.settings import org_allowed

ORGANIZATION = "Organization"
DEFAULT_DISALLOWED_GRACE = timedelta(hours=24)
SLACK = timedelta(minutes=2)
"""A token is minted this long before it would fall below the margin: what the next run's start (the
CronJob controller, the pod, listing the fleet) and a busy budget may add to a mint's instant."""
K = TypeVar("K", bound=Hashable)


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
    """A mint this run performs: the token's instant falls before the next run (or the pace pulls it
    forward), or the Secret was marked suspended (or disallowed) and is active (allowed) again, or the
    account was renamed (the Secret's org and labels follow the new login)."""
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
    """The token stays above the margin until a later run mints it: no write now."""
    DEFER = "defer"
    """Needed before the next run, but the budget's pace has no slot for it before this run stops minting:
    it will be (or stays) below the margin until a run mints it."""


MINTING = frozenset({Kind.CREATE, Kind.REFRESH})


@dataclass(frozen=True)
class Timing:
    """When this run mints: the guarantee's figures, and the budget's pace."""

    margin: timedelta = timedelta(minutes=15)
    """Validity every stored token keeps: a token found in a Secret is good for at least this long."""
    interval: timedelta = timedelta(minutes=30)
    """The longest gap until the next run starts (the CronJob's schedule)."""
    run_time: timedelta = timedelta(minutes=29)
    """This run starts no mint later than ``now + run_time``."""
    seconds_per_mint: float = 61 / 150
    """The budget's pace: 150 mints a 61 s window."""
    slack: timedelta = SLACK

    def __post_init__(self) -> None:
        if self.margin <= timedelta(0) or self.interval <= timedelta(0) or self.run_time <= timedelta(0):
            raise ValueError("margin, interval and run_time must be positive")
        if not self.seconds_per_mint > 0:
            raise ValueError(f"seconds_per_mint must be positive, got {self.seconds_per_mint}")


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
    at: datetime | None = None
    """For a mint: the instant to mint at (never before ``now``)."""


@dataclass(frozen=True)
class Plan:
    steps: tuple[Step, ...]
    """Mints first (by their instant), then the deferred ones (soonest expiry first), then the rest
    ordered by installation id."""
    below_margin: int = 0
    """Tokens the run found with less than the margin left (expired ones included)."""

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


@dataclass(frozen=True)
class Slots(Generic[K]):
    """What :func:`schedule` decided: instants (seconds from now) of this run's mints, and the rest."""

    at: dict[K, float]
    deferred: list[K]
    """Needed before the next run, no slot before the run stops minting."""
    later: list[K]
    """Not this run's: a later run mints them in time."""
    missed: frozenset[K] = frozenset()
    """Tokens that cannot be (or are no longer) kept above the margin."""


def schedule(
    urgent: Sequence[K],
    tokens: Sequence[tuple[K, float]],
    *,
    margin: float,
    slack: float,
    window_end: float,
    deadline: float,
    pace: float,
) -> Slots[K]:
    """The instants of this run's mints (pure; every figure in seconds, instants from ``now`` = 0).

    ``urgent`` are minted first, in order; ``tokens`` are ``(key, expiry)``. A token's soft target is
    ``expiry - margin - slack``, its hard limit ``expiry - margin``. This run mints, no later than
    ``deadline`` (when it stops minting), those whose target comes before that, and those the next run (at
    ``window_end``) would be too late for (its hard limit is before ``window_end``); the next run takes the
    rest up at its start, within their slack. Mints are planned at least ``pace`` apart, except the ones
    already overdue (urgent, or past their target): those are due at once, and the budget spaces them,
    using the minute the refresher was idle between two runs. See the module docstring for the order.
    """
    at: dict[K, float] = {}
    deferred: list[K] = []
    count = 0
    for key in urgent:
        if count * pace > deadline:
            deferred.append(key)
            continue
        at[key] = 0.0
        count += 1
    start = count * pace
    ordered = sorted(tokens, key=lambda item: item[1])
    this_run = max(deadline, window_end - slack)
    window = [(k, e) for k, e in ordered if e - margin - slack < this_run]
    future = [(k, e - margin - slack) for k, e in ordered if e - margin - slack >= this_run]

    kept: list[tuple[K, float]] = []
    missed: list[tuple[K, float]] = []
    for key, expiry in window:  # earliest deadline first, dropping what cannot be on time
        if start + len(kept) * pace <= min(expiry - margin, deadline):
            kept.append((key, min(expiry - margin - slack, deadline)))
        else:
            missed.append((key, expiry))
    spread = kept + future
    latest = [0.0] * len(spread)
    following = math.inf
    for i in range(len(spread) - 1, -1, -1):  # as late as possible, each a pace before the next
        following = latest[i] = min(spread[i][1], following - pace)
    later: list[K] = []
    for i, (key, target) in enumerate(spread):
        instant = 0.0 if target <= 0 else max(latest[i], start + i * pace)
        if instant <= deadline:
            at[key] = instant
        else:
            later.append(key)

    # The missed ones fill the pace's free slots: still-valid soonest-expiring first, expired ones last.
    queue = [k for k, _ in sorted(missed, key=lambda item: (item[1] <= 0, item[1]))]
    cursor, position = 0.0, 0
    for taken in [*sorted(at.values()), deadline + pace]:
        while position < len(queue) and cursor <= taken - pace:
            at[queue[position]] = cursor
            position += 1
            cursor += pace
        cursor = max(cursor, taken + pace)
    deferred.extend(queue[position:])
    return Slots(at, deferred, later, frozenset(k for k, _ in missed))


def plan(
    stored: Iterable[StoredLike],
    installations: Iterable[InstallationLike],
    *,
    now: datetime,
    timing: Timing = Timing(),
    allowed_orgs: frozenset[str] | None = None,
    disallowed_grace: timedelta = DEFAULT_DISALLOWED_GRACE,
) -> Plan:
    """Decide every installation's and every Secret's step, and when each mint happens (module docstring).

    ``installations`` must be the complete list: a Secret whose installation is absent is planned for
    deletion (the executor confirms with GitHub before deleting). ``allowed_orgs`` None serves every org
    (lower-case logins otherwise, ``settings.parse_allowed_orgs``).
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware (UTC)")
    secrets = {s.installation_id: s for s in stored}
    listed = {i.id: i for i in installations}
    policy = _Policy(allowed_orgs, now - disallowed_grace)

    urgent: list[Step] = []
    kept: dict[int, Step] = {}
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
        if step.kind in MINTING:
            urgent.append(step)
        elif step.kind is Kind.FRESH:
            kept[inst_id] = step
        else:
            rest.append(step)

    def seconds(instant: datetime) -> float:
        return (instant - now).total_seconds()

    slots = schedule(
        [s.installation_id for s in urgent],
        [(i, seconds(s.expires_at)) for i, s in kept.items() if s.expires_at is not None],
        margin=timing.margin.total_seconds(), slack=timing.slack.total_seconds(),
        window_end=timing.interval.total_seconds(), deadline=timing.run_time.total_seconds(),
        pace=timing.seconds_per_mint,
    )
    by_id = {s.installation_id: s for s in urgent} | kept
    mints: list[Step] = []
    for inst_id, offset in slots.at.items():
        step = by_id[inst_id]
        if step.kind is Kind.FRESH:
            why = ("below the margin, or cannot stay above it at the budget's pace" if inst_id in slots.missed
                   else "its turn at the budget's pace comes before the next run")
            step = _replace(step, Kind.REFRESH, f"{why} (expires {step.expires_at.isoformat()})")
        mints.append(_replace(step, step.kind, step.reason, at=now + timedelta(seconds=offset)))
    mints.sort(key=lambda s: (s.at, s.installation_id))
    deferred = sorted(
        (_replace(by_id[i], Kind.DEFER, "no slot of the mint budget before this run stops minting; "
                  "it will be below the margin until a run mints it") for i in slots.deferred),
        key=lambda s: (s.expires_at is not None, s.expires_at or now, s.installation_id),
    )
    later = [kept[i] for i in slots.later]
    rest = sorted(rest + later, key=lambda s: s.installation_id)
    margin_from = now + timing.margin
    below = sum(1 for s in kept.values() if s.expires_at is not None and s.expires_at <= margin_from)
    return Plan(tuple(mints) + tuple(deferred) + tuple(rest), below_margin=below)


def _replace(step: Step, kind: Kind, reason: str, *, at: datetime | None = None) -> Step:
    return Step(kind, step.installation_id, step.org, step.account_type, step.expires_at, reason, at)


@dataclass(frozen=True)
class _Policy:
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
    return Step(Kind.FRESH, inst.id, login, kind_of, expires, "stays above the margin until a later run")


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
