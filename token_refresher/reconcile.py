"""One refresh run: list, plan, carry the plan out with bounded concurrency and the mint budget, summarise.

:meth:`Refresher.plan` lists both sides and returns a :class:`RunPlan`; :meth:`Refresher.execute` carries
out the RunPlan it is handed; :meth:`Refresher.run` is the two in a row. Nothing is kept on the Refresher
between the calls. Decisions come from :mod:`token_refresher.plan`; minting and storing from
:mod:`peribolos_core.tokens` (the same use-cases as the steps'). Each Secret changes by one create, one
replace, one patch or one delete, never by a delete followed by a create, so a run killed at any instant
leaves each Secret either as it was (its old token, still valid: minting a new token does not revoke the
old one) or fully new. Rerunning converges because the plan is recomputed from what is stored.
"""

from __future__ import annotations

import functools
import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from peribolos_core import tokens
from peribolos_core.errors import InstallationGone, InstallationSuspended, MintDeferred, PeribolosError
from peribolos_core.github import GitHubApp
from peribolos_core.token_store import StoredToken, TokenStore

from .budget import MintBudget, peak_per_window
from .executor import DEFAULT_CONCURRENCY, run_bounded
from .plan import DEFAULT_DISALLOWED_GRACE, MINTING, Kind, Plan, Step, plan

log = logging.getLogger("peribolos.refresher")

RESULTS = ("refreshed", "created", "deleted", "suspended", "disallowed", "skipped", "fresh", "deferred",
           "failed")
_WOULD = {
    Kind.CREATE: "created", Kind.REFRESH: "refreshed", Kind.DELETE: "deleted", Kind.SUSPEND: "suspended",
    Kind.DISALLOW: "disallowed", Kind.REMOVE: "deleted", Kind.SKIP: "skipped", Kind.FRESH: "fresh",
    Kind.DEFER: "deferred",
}
_QUIET = frozenset({Kind.FRESH, Kind.SKIP, Kind.DEFER})
"""Steps that change nothing: no line of their own (the summary counts them)."""


@dataclass(frozen=True)
class Outcome:
    step: Step
    result: str
    """One of :data:`RESULTS`."""
    minted: bool = False
    """GitHub issued a token for this installation in this run (and it was stored)."""
    error: str | None = None


@dataclass(frozen=True)
class RunPlan:
    """What :meth:`Refresher.plan` listed and decided: everything :meth:`Refresher.execute` needs."""

    plan: Plan
    stored: Mapping[int, StoredToken]
    """The Secrets as listed: each write carries the resourceVersion seen here (one request a Secret)."""
    now: datetime
    """The wall-clock instant the plan was made for (expiries and the disallowed marks are judged at it)."""
    started: float
    """When the listing began, on the Refresher's clock (the run's duration counts from it)."""
    listing_github_requests: int
    """GitHub requests the listing took (pages of installations, retries included)."""
    listing_kube_requests: int


@dataclass(frozen=True)
class Summary:
    counts: dict[str, int]
    """Installations (and Secrets) by result, every name of :data:`RESULTS` present."""
    tokens_minted: int
    """Tokens GitHub issued in this run (each stored in its Secret)."""
    mint_requests: int
    """Mint requests this run's budget granted (a 404, a 403 or a rate limit makes it more than minted)."""
    peak_mint_requests_per_minute: int
    """The most mint requests granted in any 60 s window of this run."""
    duration_s: float
    github_requests: int
    """Every GitHub request of the run, listing included (retries too)."""
    kube_requests: int
    """Every Kubernetes API call of the run, listing included."""
    installations: int
    dry_run: bool = False
    deferred_earliest_expiry: datetime | None = None
    outcomes: list[Outcome] = field(default_factory=list, repr=False)

    @property
    def exit_code(self) -> int:
        """0 when every installation succeeded, 1 when any failed."""
        return 1 if self.counts.get("failed", 0) else 0

    def log_fields(self) -> dict[str, Any]:
        """The summary line's fields. The counts are nested: ``created`` is a reserved LogRecord name."""
        return {
            "counts": dict(self.counts),
            "tokens_minted": self.tokens_minted,
            "mint_requests": self.mint_requests,
            "peak_mint_requests_per_minute": self.peak_mint_requests_per_minute,
            "duration_s": round(self.duration_s, 3),
            "github_requests": self.github_requests,
            "kube_requests": self.kube_requests,
            "installations": self.installations,
            "dry_run": self.dry_run,
        }


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Refresher:
    """Carries out runs. ``now`` is the wall clock (token expiries); ``clock`` and ``sleep`` time the
    budget's waits, the run's deadline and its duration."""

    def __init__(
        self,
        app: GitHubApp,
        store: TokenStore,
        *,
        min_valid: timedelta = timedelta(minutes=45),
        concurrency: int = DEFAULT_CONCURRENCY,
        budget: MintBudget | None = None,
        max_run_time: timedelta = timedelta(minutes=20),
        dry_run: bool = False,
        allowed_orgs: frozenset[str] | None = None,
        disallowed_grace: timedelta = DEFAULT_DISALLOWED_GRACE,
        now: Callable[[], datetime] = _utcnow,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.app = app
        self.store = store
        self.min_valid = min_valid
        self.concurrency = concurrency
        self.budget = budget or MintBudget(150)
        self.max_run_time = max_run_time
        self.dry_run = dry_run
        self.allowed_orgs = allowed_orgs
        self.disallowed_grace = disallowed_grace
        self.now = now
        self.clock = clock
        self.minter = tokens.Minter(app, self.budget, clock=clock, sleep=sleep)

    def plan(self) -> RunPlan:
        """List both sides and plan. Raises the listing's PeribolosError: nothing is planned from half a
        list (a Secret missing from a partial installation list would be deleted)."""
        started = self.clock()
        github_before, kube_before = self.app.request_count, self.store.request_count
        stored = self.store.list()
        installations = list(self.app.iter_installations())
        now = self.now()
        the_plan = plan(
            stored, installations, now=now, min_valid=self.min_valid,
            mint_capacity=self.budget.capacity(self.max_run_time.total_seconds()),
            allowed_orgs=self.allowed_orgs, disallowed_grace=self.disallowed_grace,
        )
        return RunPlan(
            plan=the_plan, stored={s.installation_id: s for s in stored}, now=now, started=started,
            listing_github_requests=self.app.request_count - github_before,
            listing_kube_requests=self.store.request_count - kube_before,
        )

    def run(self) -> Summary:
        """List, plan, carry out. Raises only when listing fails (then nothing has been changed)."""
        return self.execute(self.plan())

    def execute(self, run: RunPlan) -> Summary:
        """Carry out ``run`` (from :meth:`plan`) and log the summary; one installation never raises."""
        github_before, kube_before = self.app.request_count, self.store.request_count
        granted_before = self.budget.used
        steps = run.plan.steps
        if self.dry_run:
            outcomes = [self._would(step) for step in steps]
        else:
            work = run.plan.of(Kind.DELETE, Kind.SUSPEND, Kind.DISALLOW, Kind.REMOVE) + run.plan.mints
            deadline = self.clock() + self.max_run_time.total_seconds()
            carry_out = functools.partial(self._carry_out, run=run, deadline=deadline)
            done = {o.step.installation_id: o for o in run_bounded(work, carry_out, self.concurrency)}
            outcomes = [done.get(s.installation_id) or Outcome(s, _WOULD[s.kind]) for s in steps]
        counts = Counter(o.result for o in outcomes)
        deferred = [o.step for o in outcomes if o.result == "deferred"]
        earliest = min((s.expires_at for s in deferred if s.expires_at), default=None)
        if deferred:
            log.warning(
                "mint budget exhausted: tokens left for the next run; ensure-token mints them on demand",
                extra={"event": "deferred", "deferred": len(deferred),
                       "earliest_deferred_expiry": earliest.isoformat() if earliest else None,
                       "mint_budget_per_minute": self.budget.per_minute,
                       "max_run_time_s": self.max_run_time.total_seconds(),
                       "hint": "nothing to do: the next run takes them first, ensure-token mints on demand; "
                               "see docs/operations.md, Mint budget, for fleet sizing"},
            )
        granted = self.budget.granted[granted_before:]
        summary = Summary(
            counts={name: counts.get(name, 0) for name in RESULTS},
            tokens_minted=sum(o.minted for o in outcomes),
            mint_requests=len(granted),
            peak_mint_requests_per_minute=peak_per_window(granted, self.budget.window),
            duration_s=self.clock() - run.started,
            github_requests=run.listing_github_requests + self.app.request_count - github_before,
            kube_requests=run.listing_kube_requests + self.store.request_count - kube_before,
            installations=len({s.installation_id for s in steps}),
            dry_run=self.dry_run,
            deferred_earliest_expiry=earliest,
            outcomes=outcomes,
        )
        log.info("refresh run finished", extra={"event": "summary", **summary.log_fields()})
        return summary

    # -- one installation ---------------------------------------------------------------------------------

    def _would(self, step: Step) -> Outcome:
        if step.kind not in _QUIET:
            _change(f"would {step.kind.value}: {step.reason}", step, _WOULD[step.kind], dry_run=True)
        return Outcome(step, _WOULD[step.kind])

    def _carry_out(self, step: Step, *, run: RunPlan, deadline: float) -> Outcome:
        """Never raises: one failing installation must not stop the others."""
        try:
            if step.kind is Kind.DELETE:
                return self._delete_if_gone(step)
            if step.kind is Kind.SUSPEND:
                tokens.suspend(self.store, step.installation_id)
                _change("token Secret marked suspended: no more mints until the org unsuspends the App", step,
                        "suspended")
                return Outcome(step, "suspended")
            if step.kind is Kind.DISALLOW:
                tokens.disallow(self.store, step.installation_id, run.now)
                _change("token Secret marked: the org is not in --allowed-orgs, no more mints; the Secret is "
                        "deleted after the grace", step, "disallowed",
                        delete_after=(run.now + self.disallowed_grace).isoformat())
                return Outcome(step, "disallowed")
            if step.kind is Kind.REMOVE:
                tokens.forget(self.store, step.installation_id)
                _change("token Secret deleted: the org has been outside --allowed-orgs longer than the grace",
                        step, "deleted")
                return Outcome(step, "deleted")
            assert step.kind in MINTING, step
            return self._mint(step, run.stored.get(step.installation_id), deadline)
        except PeribolosError as exc:
            return self._failed(step, exc)
        except Exception as exc:  # noqa: BLE001 - a bug for one installation must not stop the others
            return self._failed(step, exc)

    def _delete_if_gone(self, step: Step) -> Outcome:
        # Absent from the list is not proof: pagination can skip an entry while installations come and go.
        try:
            self.app.get_installation(step.installation_id)
        except InstallationGone:
            tokens.forget(self.store, step.installation_id)
            _change("token Secret deleted: the App is no longer installed", step, "deleted")
            return Outcome(step, "deleted")
        log.warning(
            "installation missing from the list but GitHub still has it: Secret kept, next run rechecks",
            extra={"event": "kept", "installation_id": step.installation_id, "org": step.org},
        )
        return Outcome(step, "skipped")

    def _mint(self, step: Step, listed: StoredToken | None, deadline: float) -> Outcome:
        try:
            outcome = tokens.refresh_one(self.minter, self.store, step.installation_id, step.org,
                                         step.account_type, listed=listed, deadline=deadline)
        except MintDeferred:
            return Outcome(step, "deferred")
        except InstallationGone:
            if listed is None:
                return self._nothing_to_do(step, "installation uninstalled before its token was minted")
            tokens.forget(self.store, step.installation_id)
            _change("token Secret deleted: minting answered 404, the App is no longer installed", step,
                    "deleted")
            return Outcome(step, "deleted")
        except InstallationSuspended:
            if listed is None:
                return self._nothing_to_do(step, "installation suspended before its token was minted")
            # refresh_one marked the listed Secret.
            _change("installation suspended: no more mints until the org unsuspends the App", step,
                    "suspended")
            return Outcome(step, "suspended")
        result = "created" if outcome.action == "created" else "refreshed"
        _change(f"token Secret {result}", step, result, expires_at=outcome.expires_at.isoformat())
        return Outcome(step, result, minted=True)

    def _nothing_to_do(self, step: Step, why: str) -> Outcome:
        fields = {"event": "skipped", "installation_id": step.installation_id, "org": step.org}
        log.info(f"{why}: no Secret to change", extra=fields)
        return Outcome(step, "skipped")

    def _failed(self, step: Step, exc: Exception) -> Outcome:
        temporary = bool(getattr(exc, "temporary", False))
        message = str(exc) if isinstance(exc, PeribolosError) else f"unexpected {type(exc).__name__}"
        log.error(
            "installation failed: the others go on; the next run retries it",
            extra={"event": "failed", "installation_id": step.installation_id, "org": step.org,
                   "planned": step.kind.value, "error_type": type(exc).__name__, "error": message,
                   "temporary": temporary,
                   "hint": "temporary: nothing to do if the next run succeeds" if temporary
                   else "permanent: check the error and the App's installation"},
        )
        return Outcome(step, "failed", error=f"{type(exc).__name__}: {message}")


def _change(message: str, step: Step, result: str, *, dry_run: bool = False, **extra: Any) -> None:
    """The one JSON log line per change (``event`` is the result: created, refreshed, deleted, ...)."""
    fields: dict[str, Any] = {
        "event": result, "installation_id": step.installation_id, "org": step.org,
        "reason": step.reason,
        "previous_expires_at": step.expires_at.isoformat() if step.expires_at else None,
    }
    if dry_run:
        fields["dry_run"] = True
    fields.update(extra)
    log.info(message, extra=fields)


__all__ = ["MINTING", "RESULTS", "Outcome", "Refresher", "RunPlan", "Summary"]
