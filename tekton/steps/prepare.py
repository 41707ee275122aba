"""prepare: the first step of the sync and dry-run Tasks, the only one that holds the App private key.

In order, each failure recorded for ``report`` in plain words (the step still exits 0):

1. mint **report's token** (``checks: write``, ``contents: read``, the config repository only) and, unless
   the run posts only news, create the check run ``in_progress`` (with ``details_url``);
2. for a sync (an action that applies the config): take the org's **Lease**, waiting while another sync
   of the org holds it, then read the **default branch's head**: a revision that is no longer the head is
   superseded and nothing more is minted, so peribolos has no token and no config to act with; a run
   given no revision applies the head it read;
3. mint **fetch-config's token** (``contents: read``, the config repository only) and **peribolos'**
   (what its ``--fix-*`` flags need, :mod:`peribolos_core.scopes`), each into its own memory-backed file.

So a TaskRun costs 3 mints, 1 when superseded. The class takes its clients and a ``save`` for the record;
:mod:`tekton.steps.cli` builds them from the flags.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from peribolos_core import scopes
from peribolos_core.actions import ALWAYS, Action
from peribolos_core.errors import GitHubError, LockBusy, PeribolosError
from peribolos_core.github import GitHubInstallationClient, InstallationToken
from peribolos_core.leases import Held, OrgLocks, lease_name
from peribolos_core.scopes import Scope
from peribolos_core.tokens import Minter

from . import state
from .state import Record
from .tokens import write_token_file

log = logging.getLogger("peribolos.step.prepare")



@dataclass(frozen=True)
class Request:
    """One run, as the TaskRun's params and the Task's arguments give it."""

    action: Action
    installation_id: int
    org: str
    repo: str
    """``org/.github``: the config repository."""
    revision: str
    """The commit to apply or check; empty: the default branch's head (drift repair, a config repository
    newly added to the App's repositories)."""
    peribolos: Scope
    check_run_when: str = ALWAYS
    details_url: str = ""
    app_name: str = "peribolos"
    holder: str = ""
    """Who holds the org's Lease: the TaskRun's name."""
    lease_seconds: int = 1800
    lock_wait_seconds: float = 1200.0

    @property
    def repo_name(self) -> str:
        return self.repo.split("/", 1)[1]


@dataclass(frozen=True)
class TokenFiles:
    """Where each consumer's token goes; each file's folder is mounted into that consumer only."""

    report: Path
    fetch_config: Path
    peribolos: Path


def short(sha: str) -> str:
    return sha[:7]


class Prepare:
    def __init__(
        self,
        request: Request,
        minter: Minter,
        github: Callable[[str], GitHubInstallationClient],
        files: TokenFiles,
        save: Callable[[Record], None],
        locks: OrgLocks | None = None,
    ) -> None:
        if request.action.locks and locks is None:
            raise ValueError(f"{request.action.name} holds the org's Lease: OrgLocks needed")
        self.request = request
        self.minter = minter
        self.github = github
        self.files = files
        self.save = save
        self.locks = locks

    # -- the steps ---------------------------------------------------------------------------------------

    def run(self) -> Record:
        request = self.request
        record = Record(state.PREPARE, revision=request.revision)
        self.save(record)
        try:
            token = self._mint(scopes.config_repo_scope(scopes.REPORT, request.repo_name))
        except PeribolosError as exc:
            return self._fail(record, "token", f"GitHub gave no token to report this check run: {exc}")
        write_token_file(self.files.report, token.token)
        client = self.github(token.token)
        if request.revision:
            record = self._start_check_run(client, record)
        if request.action.locks:
            record, stop = self._lock_and_check_head(client, record)
            if stop:
                return record
        for scope, path, whom in (
            (scopes.config_repo_scope(scopes.FETCH_CONFIG, request.repo_name), self.files.fetch_config,
             "to read the config"),
            (request.peribolos, self.files.peribolos, f"for peribolos ({_describe(request.peribolos)})"),
        ):
            try:
                token = self._mint(scope)
            except PeribolosError as exc:
                return self._fail(record, "token", _mint_failure(whom, exc))
            write_token_file(path, token.token)
        record = record.but(outcome=state.OK)
        self.save(record)
        log.info("prepared", extra=self._fields(record))
        return record

    def _lock_and_check_head(self, client: GitHubInstallationClient, record: Record) -> tuple[Record, bool]:
        """Take the org's Lease, then read the head; (record, True) when the run stops there."""
        request = self.request
        assert self.locks is not None
        name = lease_name(request.installation_id)
        try:
            self.locks.acquire(name, request.holder, request.lease_seconds, request.lock_wait_seconds,
                               on_wait=self._waiting)
        except LockBusy as exc:
            return self._fail(record, "lock", (
                f"Another sync of {request.org} ({exc.holder}) was still running after "
                f"{request.lock_wait_seconds / 60:.0f} minutes, so this one applied nothing. Re-run this "
                "check once it has finished."
            )), True
        except PeribolosError as exc:
            reason = f"The org's lock (Lease {name}) could not be taken: {exc}"
            return self._fail(record, "lock", reason), True
        record = record.but(lease=name, holder=request.holder)
        self.save(record)
        try:
            head = client.default_branch_head(request.repo)
        except PeribolosError as exc:
            return self._fail(record, "github", (
                f"The head of {request.repo}'s default branch could not be read, so nothing was "
                f"applied: {exc}"
            )), True
        record = record.but(branch=head.branch)
        if not request.revision:
            record = self._start_check_run(client, record.but(revision=head.sha))
        elif head.sha != request.revision:
            record = record.but(outcome=state.SUPERSEDED, newer=head.sha, reason=(
                f"{short(request.revision)} is no longer the head of {head.branch}: {short(head.sha)} is "
                f"newer, and the sync of {short(head.sha)} applies the config. Nothing was changed for "
                f"{short(request.revision)}."
            ))
            self.save(record)
            log.info("superseded", extra=self._fields(record))
            return record, True
        self.save(record)
        return record, False

    def _start_check_run(self, client: GitHubInstallationClient, record: Record) -> Record:
        """The check run, in progress (not for a run that posts only news). A failure here is logged:
        report creates the check run completed instead."""
        request = self.request
        if request.check_run_when != ALWAYS or request.action.check_run is None:
            return record
        what = request.action.title or request.action.name
        try:
            run_id = client.create_check_run(
                request.repo,
                record.revision,
                request.action.check_run,
                status="in_progress",
                output={
                    "title": f"{request.app_name}: {what} in progress",
                    "summary": f"{request.app_name} is running peribolos ({what}) on "
                               f"`{short(record.revision)}`; the result follows here.",
                },
                details_url=request.details_url or None,
            )
        except GitHubError as exc:
            log.warning("the check run could not be created in progress; report creates it completed",
                        extra={"error": str(exc), "repo": request.repo})
            return record
        record = record.but(check_run_id=run_id)
        self.save(record)
        return record

    # -- helpers -----------------------------------------------------------------------------------------

    def _mint(self, scope: Scope) -> InstallationToken:
        return self.minter.mint(
            self.request.installation_id,
            permissions=scope.permissions,
            repositories=list(scope.repositories) if scope.repositories is not None else None,
        )

    def _waiting(self, held: Held) -> None:
        expires = held.expires.isoformat() if held.expires else None
        log.info("waiting for another sync of the org", extra={
            **self._fields(None), "holder": held.holder, "lease_expires_at": expires,
        })

    def _fail(self, record: Record, cause: str, reason: str) -> Record:
        record = record.but(outcome=state.FAILED, cause=cause, reason=reason)
        self.save(record)
        log.error("prepare failed", extra={**self._fields(record), "cause": cause, "reason": reason})
        return record

    def _fields(self, record: Record | None) -> dict[str, object]:
        out: dict[str, object] = {
            "action": self.request.action.name,
            "installation_id": self.request.installation_id,
            "org": self.request.org,
            "repo": self.request.repo,
        }
        if record is not None:
            out.update(revision=record.revision, outcome=record.outcome, check_run_id=record.check_run_id,
                       lease=record.lease or None)
        return out


def _describe(scope: Scope) -> str:
    permissions = ", ".join(f"{k}: {v}" for k, v in scope.permissions.items())
    where = "every repository" if scope.repositories is None else ", ".join(scope.repositories)
    return f"{permissions}; {where}"


def _mint_failure(whom: str, exc: PeribolosError) -> str:
    text = f"GitHub gave no token {whom}: {exc}"
    if isinstance(exc, GitHubError) and exc.status_code == 422:
        text += (
            ". The App's installation lacks a permission the service needs for its --fix-* flags: an owner "
            "of the organisation accepts the App's requested permissions in the organisation's settings "
            "(Settings → GitHub Apps)."
        )
    return text
