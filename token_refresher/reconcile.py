"""One refresh run: list, plan, carry the plan out with bounded concurrency and the mint budget, summarise.

:meth:`Refresher.plan` lists both sides and returns a :class:`RunPlan`; :meth:`Refresher.execute` carries
out the RunPlan it is handed; :meth:`Refresher.run` is the two in a row. Nothing is kept on the Refresher
between the calls. Decisions, and the instant of each mint, come from :mod:`token_refresher.plan`: a
worker waits until its mint's instant, then takes a slot of the App-wide budget; minting and storing come
from :mod:`peribolos_core.tokens` (the same use-cases as the steps'). At the end the run's figures go to
the status ConfigMap (:mod:`peribolos_core.run_status`) for the metrics exporter.

Each Secret changes by one create, one replace, one patch or one delete, never by a delete followed by a
create, so a run killed at any instant leaves each Secret either as it was (its old token, still valid:
minting a new token does not revoke the old one) or fully new. Rerunning converges because the plan is
recomputed from what is stored.
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
from peribolos_core.mint_budget import KubeMintBudget, LocalMintBudget, peak_per_window
from peribolos_core.run_status import RESULTS, RunStatus, RunStatusStore
from peribolos_core.token_store import StoredToken, TokenStore

from .executor import DEFAULT_CONCURRENCY, run_bounded
from .plan import DEFAULT_DISALLOWED_GRACE, MINTING, Kind, Plan, Step, Timing, plan

log = logging.getLogger("peribolos.refresher")

_WOULD = {
    Kind.CREATE: "created", Kind.REFRESH: "refreshed", Kind.DELETE: "deleted", Kind.SUSPEND: "suspended",
    Kind.DISALLOW: "disallowed", Kind.REMOVE: "deleted", Kind.SKIP: "skipped", Kind.FRESH: "fresh",
    Kind.DEFER: "deferred",
}
_QUIET = frozenset({Kind.FRESH, Kind.SKIP, Kind.DEFER})
"""Steps that change nothing: no line of their own (the summary counts them)."""
LATE_START = 10.0
"""Seconds a mint planned for the run's last instant may start late (the work before it, a busy budget)."""
_KEPT = frozenset({Kind.CREATE, Kind.REFRESH, Kind.FRESH, Kind.DEFER})
"""Steps of the installations whose token the refresher keeps fresh (served, active organisations)."""
Budget = LocalMintBudget | KubeMintBudget


@dataclass(frozen=True)
class Outcome:
    step: Step
    result: str
    """One of :data:`RESULTS`."""
    minted: bool = False
    """GitHub issued a token for this installation in this run (and it was stored)."""
    error: str | None = None
    expires_at: datetime | None = None
    """The new token's expiry, when one was minted."""


@dataclass(frozen=True)
class RunPlan:
    """What :meth:`Refresher.plan` listed and decided: everything :meth:`Refresher.execute` needs."""

    plan: Plan
    stored: Mapping[int, StoredToken]
    """The Secrets as listed: each write carries the resourceVersion seen here (one request a Secret)."""
    now: datetime
    """The wall-clock instant the plan was made for (expiries and the disallowed marks are judged at it)."""
    clock: float
    """The Refresher's clock at ``now``: a mint's instant ``at`` is ``clock + (at - now)`` on it."""
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
    below_margin: int = 0
    """Tokens found with less than the margin left when the run planned (expired ones included)."""
    earliest_expiry: datetime | None = None
    """The soonest expiry among the kept tokens when the run ended (None: none stored)."""
    missing: int = 0
    """Served installations still without a token when the run ended."""
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
            "below_margin": self.below_margin,
            "earliest_expiry": self.earliest_expiry.isoformat() if self.earliest_expiry else None,
            "missing": self.missing,
            "dry_run": self.dry_run,
        }


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Refresher:
    """Carries out runs. ``now`` is the wall clock (token expiries); ``clock`` and ``sleep`` time the mints'
    instants, the budget's waits, the run's deadline and its duration. With the App-wide budget (a
    :class:`~peribolos_core.mint_budget.KubeMintBudget`) ``clock`` must be ``time.time``."""

    def __init__(
        self,
        app: GitHubApp,
        store: TokenStore,
        *,
        margin: timedelta = timedelta(minutes=15),
        interval: timedelta = timedelta(minutes=30),
        max_run_time: timedelta | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        budget: Budget | None = None,
        dry_run: bool = False,
        allowed_orgs: frozenset[str] | None = None,
        disallowed_grace: timedelta = DEFAULT_DISALLOWED_GRACE,
        status: RunStatusStore | None = None,
        now: Callable[[], datetime] = _utcnow,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.app = app
        self.store = store
        self.margin = margin
        self.interval = interval
        self.max_run_time = max_run_time or default_run_time(interval)
        self.concurrency = concurrency
        self.budget: Budget = budget or LocalMintBudget(150)
        self.dry_run = dry_run
        self.allowed_orgs = allowed_orgs
        self.disallowed_grace = disallowed_grace
        self.status = status
        self.now = now
        self.clock = clock
        self.sleep = sleep
        self.minter = tokens.Minter(app, self.budget, clock=clock, sleep=sleep)

    @property
    def timing(self) -> Timing:
        return Timing(margin=self.margin, interval=self.interval, run_time=self.max_run_time,
                      seconds_per_mint=self.budget.seconds_per_mint)

    def plan(self) -> RunPlan:
        """List both sides and plan. Raises the listing's PeribolosError: nothing is planned from half a
        list (a Secret missing from a partial installation list would be deleted)."""
        started = self.clock()
        github_before, kube_before = self.app.request_count, self.store.request_count
        stored = self.store.list()
        installations = list(self.app.iter_installations())
        now, clock = self.now(), self.clock()
        the_plan = plan(
            stored, installations, now=now, timing=self.timing,
            allowed_orgs=self.allowed_orgs, disallowed_grace=self.disallowed_grace,
        )
        return RunPlan(
            plan=the_plan, stored={s.installation_id: s for s in stored}, now=now, clock=clock,
            started=started,
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
        if run.plan.below_margin:
            log.warning(
                "tokens below the margin: they are minted first among the due ones, as the budget allows",
                extra={"event": "below-margin", "below_margin": run.plan.below_margin,
                       "margin_s": self.margin.total_seconds(),
                       "hint": "after an outage or a missed run this heals by itself; if it repeats, the "
                               "fleet needs more than the mint budget: see docs/operations.md, Mint budget"},
            )
        if self.dry_run:
            outcomes = [self._would(step) for step in steps]
        else:
            work = run.plan.of(Kind.DELETE, Kind.SUSPEND, Kind.DISALLOW, Kind.REMOVE) + run.plan.mints
            deadline = run.clock + self.max_run_time.total_seconds() + LATE_START
            carry_out = functools.partial(self._carry_out, run=run, deadline=deadline)
            done = {o.step.installation_id: o for o in run_bounded(work, carry_out, self.concurrency)}
            outcomes = [done.get(s.installation_id) or Outcome(s, _WOULD[s.kind]) for s in steps]
        counts = Counter(o.result for o in outcomes)
        deferred = [o.step for o in outcomes if o.result == "deferred"]
        earliest = min((s.expires_at for s in deferred if s.expires_at), default=None)
        if deferred:
            log.warning(
                "mint budget exhausted: tokens left below the margin until a run mints them; the sync Task "
                "mints on demand",
                extra={"event": "deferred", "deferred": len(deferred),
                       "earliest_deferred_expiry": earliest.isoformat() if earliest else None,
                       "mint_budget_per_minute": self.budget.per_minute,
                       "max_run_time_s": self.max_run_time.total_seconds(),
                       "hint": "nothing to do for a one-off (the next run takes them first); if it repeats, "
                               "see docs/operations.md, Mint budget, for fleet sizing"},
            )
        granted = self.budget.granted[granted_before:]
        kept = _kept_expiries(outcomes)
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
            below_margin=run.plan.below_margin,
            earliest_expiry=min((e for e in kept if e is not None), default=None),
            missing=sum(1 for e in kept if e is None),
            outcomes=outcomes,
        )
        log.info("refresh run finished", extra={"event": "summary", **summary.log_fields()})
        self._record(summary)
        return summary

    def _record(self, summary: Summary) -> None:
        """The run's figures on the status ConfigMap; a failure to write them fails no installation."""
        if self.status is None or self.dry_run:
            return
        status = RunStatus(
            finished_at=self.now().timestamp(), duration_s=round(summary.duration_s, 3),
            exit_code=summary.exit_code, counts=summary.counts, tokens_minted=summary.tokens_minted,
            mint_requests=summary.mint_requests, installations=summary.installations,
            below_margin=summary.below_margin, margin_s=self.margin.total_seconds(),
            interval_s=self.interval.total_seconds(),
            earliest_expiry=summary.earliest_expiry.timestamp() if summary.earliest_expiry else None,
            missing=summary.missing,
        )
        try:
            self.status.write(status)
        except PeribolosError as exc:
            log.warning("cannot record the run's figures for the metrics exporter",
                        extra={"event": "status-not-written", "error_type": type(exc).__name__,
                               "error": str(exc), "status": repr(self.status)})

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
            self._wait_until(step, run)
            return self._mint(step, run.stored.get(step.installation_id), deadline)
        except PeribolosError as exc:
            return self._failed(step, exc)
        except Exception as exc:  # noqa: BLE001 - a bug for one installation must not stop the others
            return self._failed(step, exc)

    def _wait_until(self, step: Step, run: RunPlan) -> None:
        """Sleep until the mint's planned instant (the plan spreads the mints; the budget still rules)."""
        if step.at is None:
            return
        wait = run.clock + (step.at - run.now).total_seconds() - self.clock()
        if wait > 0:
            self.sleep(wait)

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
        return Outcome(step, result, minted=True, expires_at=outcome.expires_at)

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


def default_run_time(interval: timedelta) -> timedelta:
    """Start no mint later than a minute before the next run (half the interval when that is shorter)."""
    return max(interval - timedelta(minutes=1), interval / 2)


def _kept_expiries(outcomes: list[Outcome]) -> list[datetime | None]:
    """The expiry each kept installation's Secret holds after the run (None: it has no Secret)."""
    return [o.expires_at if o.minted else o.step.expires_at for o in outcomes
            if o.step.kind in _KEPT and o.result in ("refreshed", "created", "fresh", "deferred", "failed")]


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


__all__ = ["MINTING", "RESULTS", "Outcome", "Refresher", "RunPlan", "Summary", "default_run_time"]
