"""prepare against the fake GitHub (which keeps each token's scope, as GitHub does), the real App client,
and an org lock in memory (the Lease itself: tests/core/test_leases.py, on the real API server)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from peribolos_core import scopes
from peribolos_core.actions import ACTIONS, CHANGED_OR_FAILED
from peribolos_core.errors import GitHubRequestError, LockBusy
from peribolos_core.github import GitHubApp, GitHubInstallationClient
from peribolos_core.leases import Held
from peribolos_core.tokens import Minter
from tekton.steps import state
from tekton.steps.prepare import Prepare, Request, TokenFiles
from tests.fakes.fixtures import APP_ID
from tests.fakes.github import FakeGitHub

REPO = "octo-org/.github"
DETAILS = "https://tekton.example.com/#/namespaces/peribolos/taskruns/peribolos-sync-d1"
PERIBOLOS = scopes.peribolos_scope(["--fix-org-members", "--fix-teams"], True, ".github")


@dataclass
class MemoryLocks:
    """OrgLocks' contract, in memory: one holder per name; ``busy`` holds a name for someone else."""

    busy: dict[str, str] = field(default_factory=dict)
    held: dict[str, str] = field(default_factory=dict)
    waited: list[str] = field(default_factory=list)

    def acquire(
        self, name: str, me: str, duration: int, wait: float, on_wait: Callable[[Held], None] | None = None
    ) -> Held:
        if name in self.busy:
            held = Held(self.busy[name], datetime.now(UTC), duration)
            if on_wait is not None:
                on_wait(held)
            self.waited.append(held.holder)
            raise LockBusy(held.holder, f"{name} is still held by {held.holder}")
        self.held[name] = me
        return Held(me, datetime.now(UTC), duration)

    def release(self, name: str, me: str) -> bool:
        return self.held.pop(name, None) == me


@dataclass
class Run:
    record: state.Record
    saved: list[state.Record]
    files: TokenFiles
    locks: MemoryLocks

    def token(self, which: str) -> str | None:
        path = getattr(self.files, which)
        return path.read_text() if path.exists() else None


@pytest.fixture
def run_prepare(fake_github: FakeGitHub, app_key: rsa.RSAPrivateKey, tmp_path: Path) -> Callable[..., Run]:
    def run(
        action: str = "sync", revision: str | None = None, locks: MemoryLocks | None = None, **request: Any
    ) -> Run:
        locks = locks or MemoryLocks()
        row = ACTIONS.get(action)
        assert row is not None
        files = TokenFiles(
            tmp_path / "report" / "token", tmp_path / "fetch" / "token", tmp_path / "peribolos" / "token"
        )
        saved: list[state.Record] = []
        fields: dict[str, Any] = {
            "peribolos": PERIBOLOS,
            "details_url": DETAILS,
            "holder": "peribolos-sync-d1",
        }
        fields.update(request)
        head = fake_github.head_sha(REPO)
        prepare = Prepare(
            Request(row, 1, "octo-org", REPO, head if revision is None else revision, **fields),
            Minter(GitHubApp(APP_ID, app_key, api_url=fake_github.api_url)),
            lambda token: GitHubInstallationClient(token, fake_github.api_url),
            files,
            saved.append,
            locks,  # type: ignore[arg-type]
        )
        return Run(prepare.run(), saved, files, locks)

    return run


@pytest.fixture(autouse=True)
def config_commit(fake_github: FakeGitHub) -> None:
    fake_github.push_commit(REPO, {"peribolos.yaml": "orgs: {}\n"})


def test_a_sync_at_the_head_mints_three_scoped_tokens_and_holds_the_lock(
    fake_github: FakeGitHub, run_prepare: Callable[..., Run]
) -> None:
    head = fake_github.head_sha(REPO)
    run = run_prepare()
    assert run.record.outcome == state.OK, run.record.reason
    assert (run.record.revision, run.record.branch, run.record.lease) == (head, "main", "peribolos-sync-1")
    assert run.locks.held == {"peribolos-sync-1": "peribolos-sync-d1"}
    assert fake_github.mint_count == 3
    scoped = {
        which: fake_github.token_scope(run.token(which) or "")
        for which in ("report", "fetch_config", "peribolos")
    }
    assert scoped == {
        "report": ({"checks": "write", "contents": "read"}, frozenset({".github"})),
        "fetch_config": ({"contents": "read"}, frozenset({".github"})),
        "peribolos": ({"members": "write"}, frozenset({".github"})),
    }
    for which in ("report", "fetch_config", "peribolos"):
        assert getattr(run.files, which).stat().st_mode & 0o077 == 0
    (check,) = fake_github.check_runs
    assert (check["name"], check["status"], check["head_sha"], check["details_url"]) == (
        "peribolos/sync",
        "in_progress",
        head,
        DETAILS,
    )
    assert check["output"]["title"] == "peribolos: sync in progress"
    assert run.record.check_run_id == check["id"]
    # Saved at each milestone: a crash later leaves report the check run and the lease to finish.
    assert next(r.outcome for r in run.saved) == state.RUNNING and run.saved[-1] == run.record


def test_a_sync_of_an_older_revision_is_superseded_and_peribolos_gets_nothing(
    fake_github: FakeGitHub, run_prepare: Callable[..., Run]
) -> None:
    old = fake_github.head_sha(REPO)
    newer = fake_github.push_commit(REPO, {"peribolos.yaml": "orgs: {octo-org: {}}\n"}).after
    run = run_prepare(revision=old)
    assert (run.record.outcome, run.record.newer) == (state.SUPERSEDED, newer)
    assert f"{newer[:7]} is newer" in run.record.reason and "Nothing was changed" in run.record.reason
    assert fake_github.mint_count == 1, "only report's token: peribolos' is never minted"
    assert run.token("peribolos") is None and run.token("fetch_config") is None
    assert run.record.lease == "peribolos-sync-1", "report releases it"
    (check,) = fake_github.check_runs
    assert (check["head_sha"], check["status"]) == (old, "in_progress")


def test_a_sync_without_revision_applies_the_head_it_reads_after_the_lock(
    fake_github: FakeGitHub, run_prepare: Callable[..., Run]
) -> None:
    run = run_prepare(revision="")
    head = fake_github.head_sha(REPO)
    assert (run.record.outcome, run.record.revision) == (state.OK, head)
    (check,) = fake_github.check_runs
    assert check["head_sha"] == head


def test_a_dry_run_checks_no_head_and_takes_no_lock(
    fake_github: FakeGitHub, run_prepare: Callable[..., Run]
) -> None:
    pr_head = fake_github.push_commit(REPO, {"peribolos.yaml": "orgs: {}\n# pr\n"}, branch="pr").after
    scope = scopes.peribolos_scope(["--fix-org-members"], False, ".github")
    run = run_prepare("dry-run", revision=pr_head, peribolos=scope)
    assert run.record.outcome == state.OK
    assert (run.record.lease, run.locks.held) == ("", {})
    assert fake_github.token_scope(run.token("peribolos") or "") == (
        {"members": "read"},
        frozenset({".github"}),
    )
    assert [c["name"] for c in fake_github.check_runs] == ["peribolos/dry-run"]


def test_a_scheduled_run_posts_no_check_run_in_progress(
    fake_github: FakeGitHub, run_prepare: Callable[..., Run]
) -> None:
    run = run_prepare(revision="", check_run_when=CHANGED_OR_FAILED)
    assert run.record.outcome == state.OK and run.record.check_run_id is None
    assert fake_github.check_runs == []


def test_another_sync_holding_the_org_stops_this_one(
    fake_github: FakeGitHub, run_prepare: Callable[..., Run]
) -> None:
    locks = MemoryLocks(busy={"peribolos-sync-1": "peribolos-sync-other"})
    run = run_prepare(locks=locks, lock_wait_seconds=60)
    assert (run.record.outcome, run.record.cause) == (state.FAILED, "lock")
    assert "Another sync of octo-org (peribolos-sync-other) was still running after 1 minutes" in (
        run.record.reason
    )
    assert locks.waited == ["peribolos-sync-other"] and fake_github.mint_count == 1
    assert run.record.check_run_id is not None, "the check run in progress is what report completes"


@pytest.mark.parametrize(
    ("setup", "cause", "words", "mints", "check_runs"),
    [
        pytest.param(
            lambda gh: gh.remove_installation(1),
            "token",
            "GitHub gave no token to report this check run",
            0,
            0,
            id="installation-gone",
        ),
        pytest.param(
            lambda gh: gh.installations[1].permissions.pop("members"),
            "token",
            "lacks a permission the service needs for its --fix-* flags",
            2,
            1,
            id="installation-lacks-members",
        ),
    ],
)
def test_a_token_github_refuses_is_recorded_in_plain_words(
    fake_github: FakeGitHub,
    run_prepare: Callable[..., Run],
    setup: Callable[[FakeGitHub], Any],
    cause: str,
    words: str,
    mints: int,
    check_runs: int,
) -> None:
    setup(fake_github)
    run = run_prepare()
    assert (run.record.outcome, run.record.cause) == (state.FAILED, cause)
    assert words in run.record.reason
    assert fake_github.mint_count == mints and len(fake_github.check_runs) == check_runs
    assert run.token("peribolos") is None


def test_a_check_run_github_refuses_in_progress_is_left_to_report(
    fake_github: FakeGitHub, run_prepare: Callable[..., Run]
) -> None:
    run = run_prepare("dry-run", revision="f" * 40)  # a commit GitHub does not have: 422
    assert run.record.outcome == state.OK and run.record.check_run_id is None


@pytest.mark.parametrize(
    ("which", "config_repo_read"),
    [("report", True), ("fetch_config", True), ("peribolos", False)],
    ids=["report", "fetch-config", "peribolos"],
)
def test_a_step_given_its_token_cannot_write_members_or_read_another_repository(
    fake_github: FakeGitHub, run_prepare: Callable[..., Run], which: str, config_repo_read: bool
) -> None:
    """Each token, used with the project's own client: the config repository at most, never the org's
    members (peribolos' here manages members only, so no repository at all)."""
    fake_github.push_commit("octo-org/website", {"secret.txt": "internal"})
    run = run_prepare()
    client = GitHubInstallationClient(run.token(which) or "", fake_github.api_url, max_retries=0)
    with pytest.raises(GitHubRequestError, match="Resource not accessible by integration") as other:
        client.get_file("octo-org/website", "secret.txt", "main")
    assert other.value.status_code == 403
    if config_repo_read:
        assert client.get_file(REPO, "peribolos.yaml", "main") == b"orgs: {}\n"
    else:
        with pytest.raises(GitHubRequestError, match="Resource not accessible by integration"):
            client.get_file(REPO, "peribolos.yaml", "main")
    if which != "peribolos":
        with pytest.raises(GitHubRequestError, match="Resource not accessible by integration"):
            client.transport.request(
                "PUT",
                "/orgs/octo-org/memberships/mallory",
                authorization=client._auth(),
                json_body={"role": "admin"},
            )
    assert "mallory" not in fake_github.orgs["octo-org"].members | set(
        fake_github.orgs["octo-org"].invitations
    )
