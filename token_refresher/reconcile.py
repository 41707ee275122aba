"""One refresh run: list, plan, carry the plan out with bounded concurrency and the mint budget, summarise.

I/O goes through the two clients passed in (``GitHubApp``, ``TokenStore``); decisions come from
:mod:`token_refresher.plan`. Each Secret changes by one create, one replace or one delete, never by a
delete followed by a create, so a run killed at any instant leaves each Secret either as it was (its old
token, still valid: minting a new token does not revoke the old one) or fully new. Rerunning converges
because the plan is recomputed from what is stored.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from peribolos_core.errors import InstallationGone, InstallationSuspended, PeribolosError, RateLimited
from peribolos_core.logs import register_secret

from .budget import MintBudget, peak_per_window
from .executor import DEFAULT_CONCURRENCY, run_bounded
from .plan import MINTING, Kind, Plan, Step, plan

if TYPE_CHECKING:
    from peribolos_core.github import GitHubApp
    from peribolos_core.token_store import StoredToken, TokenStore

log = logging.getLogger("peribolos.refresher")

RESULTS = ("refreshed", "created", "deleted", "suspended", "skipped", "fresh", "deferred", "failed")
_WOULD = {
    Kind.CREATE: "created", Kind.REFRESH: "refreshed", Kind.DELETE: "deleted", Kind.SUSPEND: "suspended",
    Kind.SKIP: "skipped", Kind.FRESH: "fresh", Kind.DEFER: "deferred",
}


@dataclass(frozen=True)
class Outcome:
    step: Step
    result: str
    """One of :data:`RESULTS`."""
    minted: bool = False
    error: str | None = None


@dataclass(frozen=True)
class Summary:
    counts: dict[str, int]
    mints_used: int
    duration_s: float
    github_requests: int
    kube_requests: int
    peak_mints_per_minute: int
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
        fields: dict[str, Any] = {"counts": dict(self.counts)}
        fields.update(
            mints_used=self.mints_used, duration_s=round(self.duration_s, 3),
            github_requests=self.github_requests, kube_requests=self.kube_requests,
            peak_mints_per_minute=self.peak_mints_per_minute, installations=self.installations,
            dry_run=self.dry_run,
        )
        return fields


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Refresher:
    """Carries out one run. ``now`` is the wall clock (token expiries); the budget has its own clock."""

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
        now: Callable[[], datetime] = _utcnow,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self.store = store
        self.min_valid = min_valid
        self.concurrency = concurrency
        self.budget = budget or MintBudget(150)
        self.max_run_time = max_run_time
        self.dry_run = dry_run
        self.now = now
        self.monotonic = monotonic
        self._stored: dict[int, StoredToken] = {}
        self._deadline = 0.0

    def plan(self) -> Plan:
        """List both sides and plan. Raises the listing's PeribolosError: nothing is planned from half a
        list (a Secret missing from a partial installation list would be deleted)."""
        stored = self.store.list()
        installations = list(self.app.iter_installations())
        self._stored = {s.installation_id: s for s in stored}
        capacity = self.budget.capacity(self.max_run_time.total_seconds())
        return plan(stored, installations, now=self.now(), min_valid=self.min_valid, mint_capacity=capacity)

    def run(self) -> Summary:
        """List, plan, carry out. Raises only when listing fails (then nothing has been changed)."""
        started = self.monotonic()
        github_before, kube_before = self.app.request_count, self.store.request_count
        return self.execute(self.plan(), started=started, counts_before=(github_before, kube_before))

    def execute(
        self, the_plan: Plan, *, started: float | None = None, counts_before: tuple[int, int] | None = None
    ) -> Summary:
        """Carry out ``the_plan`` (from :meth:`plan`) and log the summary; one installation never raises."""
        started = self.monotonic() if started is None else started
        github_before, kube_before = counts_before or (self.app.request_count, self.store.request_count)
        if self.dry_run:
            outcomes = [self._would(step) for step in the_plan.steps]
        else:
            work = the_plan.of(Kind.DELETE, Kind.SUSPEND) + the_plan.mints
            self._deadline = self.budget.now() + self.max_run_time.total_seconds()
            done = run_bounded(work, self._carry_out, self.concurrency)
            by_id = {o.step.installation_id: o for o in done}
            outcomes = [by_id.get(s.installation_id) or Outcome(s, _WOULD[s.kind]) for s in the_plan.steps]
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
        summary = Summary(
            counts={name: counts.get(name, 0) for name in RESULTS},
            mints_used=sum(o.minted for o in outcomes),
            duration_s=self.monotonic() - started,
            github_requests=self.app.request_count - github_before,
            kube_requests=self.store.request_count - kube_before,
            peak_mints_per_minute=peak_per_window(self.budget.granted, self.budget.window),
            installations=len({s.installation_id for s in the_plan.steps}),
            dry_run=self.dry_run,
            deferred_earliest_expiry=earliest,
            outcomes=outcomes,
        )
        log.info("refresh run finished", extra={"event": "summary", **summary.log_fields()})
        return summary

    # -- one installation ---------------------------------------------------------------------------------

    def _would(self, step: Step) -> Outcome:
        if step.kind not in (Kind.FRESH, Kind.SKIP, Kind.DEFER):
            _change(f"would {step.kind.value}: {step.reason}", step, _WOULD[step.kind], dry_run=True)
        return Outcome(step, _WOULD[step.kind])

    def _carry_out(self, step: Step) -> Outcome:
        """Never raises: one failing installation must not stop the others."""
        try:
            if step.kind is Kind.DELETE:
                return self._delete_if_gone(step)
            if step.kind is Kind.SUSPEND:
                self.store.mark_suspended(step.installation_id)
                _change("token Secret marked suspended: no more mints until the org unsuspends the App", step,
                        "suspended")
                return Outcome(step, "suspended")
            return self._mint(step)
        except PeribolosError as exc:
            return self._failed(step, exc)
        except Exception as exc:  # noqa: BLE001 - a bug for one installation must not stop the others
            return self._failed(step, exc)

    def _delete_if_gone(self, step: Step) -> Outcome:
        # Absent from the list is not proof: pagination can skip an entry while installations come and go.
        try:
            self.app.get_installation(step.installation_id)
        except InstallationGone:
            self.store.delete(step.installation_id)
            _change("token Secret deleted: the App is no longer installed", step, "deleted")
            return Outcome(step, "deleted")
        log.warning(
            "installation missing from the list but GitHub still has it: Secret kept, next run rechecks",
            extra={"event": "kept", "installation_id": step.installation_id, "org": step.org},
        )
        return Outcome(step, "skipped")

    def _mint(self, step: Step, *, minted: bool = False) -> Outcome:
        if not self.budget.acquire(deadline=self._deadline):
            return Outcome(step, "deferred", minted=minted)
        try:
            token = self.app.mint_token(step.installation_id)
        except RateLimited as exc:
            # The transport already waited as told and gave up; hold every worker, then try once more.
            self.budget.hold(exc.retry_after)
            if minted:
                raise
            return self._mint(step, minted=True)
        except InstallationGone:
            if step.installation_id not in self._stored:
                return self._nothing_to_do(step, "installation uninstalled before its token was minted")
            self.store.delete(step.installation_id)
            _change("token Secret deleted: minting answered 404, the App is no longer installed", step,
                    "deleted")
            return Outcome(step, "deleted", minted=True)
        except InstallationSuspended:
            if step.installation_id not in self._stored:
                return self._nothing_to_do(step, "installation suspended before its token was minted")
            self.store.mark_suspended(step.installation_id)
            _change("installation suspended: no more mints until the org unsuspends the App", step,
                    "suspended")
            return Outcome(step, "suspended", minted=True)
        register_secret(token.token)
        written = self.store.put(
            step.installation_id, token, step.org, step.account_type,
            listed=self._stored.get(step.installation_id),
        )
        result = "created" if written == "created" else "refreshed"
        _change(f"token Secret {result}", step, result, expires_at=token.expires_at.isoformat())
        return Outcome(step, result, minted=True)

    def _nothing_to_do(self, step: Step, why: str) -> Outcome:
        fields = {"event": "skipped", "installation_id": step.installation_id, "org": step.org}
        log.info(f"{why}: no Secret to change", extra=fields)
        return Outcome(step, "skipped", minted=True)

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
    """The one JSON log line per change (``event`` is the result: created, refreshed, deleted, suspended)."""
    fields: dict[str, Any] = {
        "event": result, "installation_id": step.installation_id, "org": step.org,
        "reason": step.reason,
        "previous_expires_at": step.expires_at.isoformat() if step.expires_at else None,
    }
    if dry_run:
        fields["dry_run"] = True
    fields.update(extra)
    log.info(message, extra=fields)


__all__ = ["MINTING", "RESULTS", "Outcome", "Refresher", "Summary"]
