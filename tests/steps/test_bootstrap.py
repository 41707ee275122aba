"""bootstrap: the decisions (pure, table-driven) and the command against the fake GitHub: the pull request
opened with the exported file, never twice, nothing over an existing file, a missing repository created
only when allowed, a public one left alone unless allowed, and tokens scoped to each job."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from cryptography.hazmat.primitives.asymmetric import rsa

from peribolos_core.github import PullRequest, Repository, Team
from tekton.steps.bootstrap import (
    BRANCH,
    ExportOptions,
    Outcome,
    Request,
    notes,
    pull_request_text,
    pull_step,
    repo_step,
    token_scopes,
)
from tekton.steps.org_export import OrgState, TeamState
from tekton.steps.peribolos_config import check
from tests.fakes.client import call, mint
from tests.fakes.github import FakeGitHub, FakeTeam
from tests.steps.conftest import log_lines

ORG = "octo-org"
REPO = f"{ORG}/.github"
CONFIG = b"orgs:\n  octo-org:\n    admins: [alice, bob]\n"


def request(**kw: Any) -> Request:
    return Request(1, ORG, REPO, **kw)


def pull(state: str = "open", merged: bool = False, number: int = 1) -> PullRequest:
    return PullRequest(number, state, merged, BRANCH, "main", f"https://github.test/{REPO}/pull/{number}")


REPOSITORY = Repository(".github", REPO, True, "private", False, "main")


# -- the decisions ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("repo", "req", "expected"),
    [
        pytest.param(REPOSITORY, request(), "use", id="exists"),
        pytest.param(None, request(create_repo=True), "create", id="missing-create-allowed"),
        pytest.param(None, request(), "no-repo", id="missing-create-off"),
    ],
)
def test_repo_step(repo: Repository | None, req: Request, expected: str) -> None:
    step = repo_step(repo, req)
    assert (step.action if isinstance(step, Outcome) else step) == expected


@pytest.mark.parametrize(
    ("file_exists", "pulls", "public", "req", "expected"),
    [
        pytest.param(False, [], False, request(), None, id="nothing-yet"),
        pytest.param(True, [], False, request(), "file-exists", id="file-exists"),
        pytest.param(True, [pull()], False, request(), "file-exists", id="file-and-pull"),
        pytest.param(False, [pull()], False, request(), "pull-open", id="pull-open"),
        pytest.param(False, [pull("closed", merged=True)], False, request(), "pull-merged", id="merged"),
        pytest.param(False, [pull("closed")], False, request(), "pull-closed", id="declined"),
        pytest.param(False, [pull("closed", number=2), pull(number=1)], False, request(), "pull-open",
                     id="any-open-one-counts"),
        pytest.param(False, [], True, request(), "public-repo", id="public"),
        pytest.param(False, [], True, request(allow_public_repo=True), None, id="public-allowed"),
        pytest.param(True, [], True, request(), "file-exists", id="public-with-file"),
    ],
)
def test_pull_step(
    file_exists: bool, pulls: list[PullRequest], public: bool, req: Request, expected: str | None
) -> None:
    outcome = pull_step(file_exists, pulls, public, req)
    assert (outcome.action if outcome else None) == expected


@pytest.mark.parametrize(
    ("req", "read"),
    [
        pytest.param(request(), {"members": "read", "metadata": "read"}, id="members-only"),
        pytest.param(request(export=ExportOptions(repos=True)),
                     {"members": "read", "metadata": "read", "administration": "read"}, id="fix-repos"),
        pytest.param(request(export=ExportOptions(collaborators=True)),
                     {"members": "read", "metadata": "read", "administration": "read"},
                     id="fix-collaborators"),
    ],
)
def test_token_scopes(req: Request, read: dict[str, str]) -> None:
    scopes = token_scopes(req)
    assert scopes["read"] == read
    assert scopes["write"] == {"contents": "write", "pull_requests": "write"}
    assert scopes["create"] == {"administration": "write"}


def state(admins: tuple[str, ...] = ("alice", "bob"), **kw: Any) -> OrgState:
    return OrgState(ORG, admins, ("carol",), **kw)


@pytest.mark.parametrize(
    ("org_state", "req", "public", "expected"),
    [
        pytest.param(state(), request(), False, [], id="nothing-to-say"),
        pytest.param(state(admins=("alice",)), request(), False, ["1 owner", "--min-admins=2"],
                     id="one-owner"),
        pytest.param(state(admins=("alice",), invitations={"bob": "admin"}), request(), False,
                     ["1 pending invitation(s) are listed (`bob`)"], id="invited-owner-counts"),
        pytest.param(state(), request(min_admins=3), False, ["2 owners", "--min-admins=3"],
                     id="min-admins-3"),
        pytest.param(state(), request(required_admins=("root", "Alice")), False, ["`root`"],
                     id="required-admin-missing"),
        pytest.param(state(invitations={"dave": "direct_member"}), request(), False, ["1 pending", "`dave`"],
                     id="invitation"),
        pytest.param(
            state(teams=(TeamState(Team(1, "security", "security", "", "secret", None)),)),
            request(), False, ["secret team", "`security`", REPO], id="secret-team",
        ),
        pytest.param(state(), request(allow_public_repo=True), True, ["is public"], id="public"),
    ],
)
def test_notes_before_merging(org_state: OrgState, req: Request, public: bool, expected: list[str]) -> None:
    found = notes(org_state, req, public)
    assert len(found) == (1 if expected else 0), found
    for words in expected:
        assert words in found[0]


def test_the_pull_request_explains_itself() -> None:
    title, body = pull_request_text(
        request(docs_url="https://docs.example/org-admins", export=ExportOptions(repos=True)),
        "main",
        ["A note."],
    )
    assert title == "Manage this organisation as code: add peribolos.yaml (its current state)"
    for words in (
        "octo-org as it is on GitHub now",
        "Nothing changes on GitHub",
        "and its repositories' settings.",
        "`peribolos.yaml` on `main` is the truth",
        "peribolos-step check-config peribolos.yaml --org octo-org",
        "[the org admins' guide](https://docs.example/org-admins)",
        "### Before merging\n\n- A note.",
    ):
        assert words in body
    _, plain = pull_request_text(request(), "main", [])
    assert "Repositories are not listed" in plain and "### Before merging" not in plain
    assert "the org admins' guide of this service (docs/org-admins.md)" in plain


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        pytest.param({"repo": "other-org/.github"}, "not a repository of --org", id="other-orgs-repo"),
        pytest.param({"org": "octo/org"}, "organisation", id="bad-org"),
        pytest.param({"repo": "octo-org"}, "ORG/REPO", id="bad-repo"),
        pytest.param({"min_admins": 1}, "at least 2", id="min-admins"),
    ],
)
def test_bad_requests_are_refused(kw: dict[str, Any], match: str) -> None:
    from peribolos_core.errors import ConfigError

    args = {"installation_id": 1, "org": ORG, "repo": REPO, **kw}
    with pytest.raises(ConfigError, match=match):
        Request(**args)


# -- the command against the fake GitHub -------------------------------------------------------------------

Step = Callable[..., Result]


@pytest.fixture
def gh(fake_github: FakeGitHub) -> FakeGitHub:
    """octo-org with members and a team; its installation grants what bootstrap needs (the App manifest's
    install row); octo-org/.github has one commit on main."""
    fake_github.installations[1].permissions.update(contents="write", pull_requests="write")
    fake_github.add_org(
        ORG, admins=["alice", "bob"], members=["carol"],
        teams=[FakeTeam(7, "sig leads", "sig-leads", maintainers={"alice"}, members={"carol"},
                        repos={"website": "push"})],
    )
    fake_github.push_commit(REPO, {"README.md": "# .github\n"})
    return fake_github


def bootstrap(step: Step, app_args: list[str], *extra: str) -> Result:
    return step(
        "bootstrap", "--installation-id", "1", "--org", ORG, "--repo", REPO, *app_args, *extra
    )


def outcome(result: Result) -> dict[str, Any]:
    (line,) = [entry for entry in log_lines(result) if "outcome" in entry]
    return line


def writes(gh: FakeGitHub) -> list[tuple[str, str | None]]:
    return [(r.method, r.route) for r in gh.requests if r.method != "GET" and "access_tokens" not in r.path]


def test_opens_a_pull_request_with_the_exported_file(gh: FakeGitHub, step: Step, app_args: list[str]) -> None:
    base = gh.head_sha(REPO)
    result = bootstrap(step, app_args)
    assert result.exit_code == 0, result.stderr
    (opened,) = gh.pulls(REPO)
    assert outcome(result)["outcome"] == "opened" and outcome(result)["pull_request"] == opened["html_url"]
    assert (opened["head"]["ref"], opened["base"]["ref"], opened["state"]) == (BRANCH, "main", "open")
    assert opened["user"]["type"] == "Bot"
    assert "octo-org as it is on GitHub now" in opened["body"]
    content = gh.file_at(REPO, BRANCH, "peribolos.yaml")
    assert content is not None and content.startswith(b"# peribolos config of octo-org")
    assert check(content, org=ORG, min_admins=2).problems == ()
    assert b"    teams:\n      sig leads:\n" in content and b"website: write" in content
    assert gh.head_sha(REPO) == base, "the default branch is not touched"
    assert gh.file_at(REPO, "main", "peribolos.yaml") is None
    assert writes(gh) == [
        ("POST", "/repos/{owner}/{repo}/git/refs"),
        ("PUT", "/repos/{owner}/{repo}/contents/{path+}"),
        ("POST", "/repos/{owner}/{repo}/pulls"),
    ]


def test_a_second_run_does_nothing(gh: FakeGitHub, step: Step, app_args: list[str]) -> None:
    assert bootstrap(step, app_args).exit_code == 0
    gh.clear_requests()
    again = bootstrap(step, app_args)
    assert again.exit_code == 0, again.stderr
    assert outcome(again)["outcome"] == "pull-open"
    assert len(gh.pulls(REPO)) == 1 and writes(gh) == []
    assert not gh.requests_to("GET", r"/orgs/octo-org/members"), "nothing exported when nothing is opened"


@pytest.mark.parametrize(
    ("pull_state", "merged", "expected"),
    [("closed", True, "pull-merged"), ("closed", False, "pull-closed")],
    ids=["merged-then-file-removed", "closed-unmerged"],
)
def test_a_merged_or_closed_bootstrap_pull_request_is_never_proposed_again(
    gh: FakeGitHub, step: Step, app_args: list[str], pull_state: str, merged: bool, expected: str
) -> None:
    assert bootstrap(step, app_args).exit_code == 0
    (made,) = gh.state.pulls[REPO.lower()]
    made.state, made.merged_at = pull_state, (gh.clock() if merged else None)
    gh.clear_requests()
    again = bootstrap(step, app_args)
    assert (again.exit_code, outcome(again)["outcome"]) == (0, expected)
    assert writes(gh) == []


def test_an_existing_file_means_nothing_to_do(gh: FakeGitHub, step: Step, app_args: list[str]) -> None:
    gh.push_commit(REPO, {"peribolos.yaml": CONFIG})
    gh.clear_requests()
    result = bootstrap(step, app_args)
    assert (result.exit_code, outcome(result)["outcome"]) == (0, "file-exists")
    assert gh.pulls(REPO) == [] and writes(gh) == []


def test_no_repository_and_no_create_repo_is_a_clear_line_and_success(
    gh: FakeGitHub, step: Step, app_args: list[str]
) -> None:
    result = step("bootstrap", "--installation-id", "1", "--org", ORG, "--repo", f"{ORG}/config", *app_args)
    assert result.exit_code == 0, result.stderr
    line = outcome(result)
    assert (line["outcome"], line["level"]) == ("no-repo", "warning")
    assert "octo-org/config does not exist" in line["msg"] and "bootstrap.createRepo" in line["msg"]
    assert gh.state.repo(ORG, "config") is None and writes(gh) == []
    assert all("administration" not in gh.token_scope(t)[0] for t in gh.state.tokens), "no create token"


def test_create_repo_makes_a_private_repository_then_the_pull_request(
    gh: FakeGitHub, step: Step, app_args: list[str]
) -> None:
    result = step(
        "bootstrap", "--installation-id", "1", "--org", ORG, "--repo", f"{ORG}/config", "--create-repo",
        *app_args,
    )
    assert result.exit_code == 0, result.stderr
    assert (outcome(result)["outcome"], outcome(result)["created_repo"]) == ("opened", True)
    created = gh.state.repo(ORG, "config")
    assert created is not None and created.private
    assert [p["head"]["ref"] for p in gh.pulls(f"{ORG}/config")] == [BRANCH]


def test_an_empty_repository_gets_a_first_commit_to_branch_from(
    fake_github: FakeGitHub, step: Step, app_args: list[str]
) -> None:
    fake_github.installations[1].permissions.update(contents="write", pull_requests="write")
    fake_github.add_org(ORG, admins=["alice", "bob"])
    result = bootstrap(step, app_args)
    assert result.exit_code == 0, result.stderr
    assert fake_github.file_at(REPO, "main", "README.md") is not None
    assert fake_github.file_at(REPO, "main", "peribolos.yaml") is None
    assert len(fake_github.pulls(REPO)) == 1


def test_a_public_repository_gets_no_export_unless_allowed(
    gh: FakeGitHub, step: Step, app_args: list[str]
) -> None:
    gh.state.repo(ORG, ".github").private = False
    refused = bootstrap(step, app_args)
    assert (refused.exit_code, outcome(refused)["outcome"]) == (0, "public-repo")
    assert gh.pulls(REPO) == [] and writes(gh) == []
    allowed = bootstrap(step, app_args, "--allow-public-repo")
    assert outcome(allowed)["outcome"] == "opened"
    (opened,) = gh.pulls(REPO)
    assert "is public: the file shows every member" in opened["body"]


def test_a_branch_left_by_a_run_that_stopped_half_way_is_reused(
    gh: FakeGitHub, step: Step, app_args: list[str]
) -> None:
    gh.push_commit(REPO, {"stale.txt": "x"}, branch=BRANCH)
    result = bootstrap(step, app_args)
    assert outcome(result)["outcome"] == "opened", result.stderr
    assert gh.file_at(REPO, BRANCH, "stale.txt") is None, "the branch starts again from the default branch"
    assert gh.file_at(REPO, BRANCH, "peribolos.yaml") is not None


def test_each_token_holds_only_its_job(
    gh: FakeGitHub, step: Step, app_args: list[str], app_key: rsa.RSAPrivateKey
) -> None:
    result = bootstrap(step, app_args, "--fix-repos")
    assert result.exit_code == 0, result.stderr
    scopes = sorted((gh.token_scope(t) for t in gh.state.tokens), key=lambda s: sorted(s[0]))
    assert scopes == [
        ({"members": "read", "metadata": "read", "administration": "read"}, None),
        ({"contents": "write", "pull_requests": "write"}, frozenset({".github"})),
    ]
    by_scope = {frozenset(gh.token_scope(t)[0]): t for t in gh.state.tokens}
    writer = by_scope[frozenset({"contents", "pull_requests"})]
    reader = by_scope[frozenset({"members", "metadata", "administration"})]
    member = {"json": {"role": "member"}}
    assert call(gh, "PUT", f"/orgs/{ORG}/memberships/mallory", writer, **member).status_code == 403
    assert call(gh, "PUT", f"/orgs/{ORG}/memberships/mallory", reader, **member).status_code == 403
    assert call(gh, "GET", f"/repos/{ORG}/website", writer).status_code == 403, "the config repo alone"
    assert call(gh, "PUT", f"/repos/{REPO}/contents/x", reader,
                json={"message": "m", "content": ""}).status_code == 403
    assert "mallory" not in gh.orgs[ORG].invitations
    assert mint(gh, app_key, 1)  # the installation itself still works


def test_an_installation_without_the_new_permissions_is_told_what_to_accept(
    fake_github: FakeGitHub, step: Step, app_args: list[str]
) -> None:
    fake_github.add_org(ORG, admins=["alice", "bob"])  # the fixture's installation: contents read only
    result = bootstrap(step, app_args)
    assert result.exit_code == 0, result.stderr
    line = outcome(result)
    assert (line["outcome"], line["level"]) == ("not-granted", "warning")
    assert "contents: write, pull_requests: write on octo-org/.github" in line["msg"]
    assert "accepts the App's new permissions" in line["msg"]


def test_the_org_must_be_the_installations(gh: FakeGitHub, step: Step, app_args: list[str]) -> None:
    result = step("bootstrap", "--installation-id", "2", "--org", ORG, "--repo", REPO, *app_args)
    assert result.exit_code == 2
    assert "installation 2 is on Acme, not --org octo-org" in result.stderr
    assert writes(gh) == []


def test_no_token_in_the_log(gh: FakeGitHub, step: Step, app_args: list[str], tmp_path: Path) -> None:
    result = bootstrap(step, app_args, "--log-format", "text")
    assert result.exit_code == 0
    for token in gh.state.tokens:
        assert token not in result.stderr and token not in result.stdout
