"""GitHubApp and GitHubInstallationClient against the fake GitHub: every answer kind, pagination, GHES,
JWT caching, and that no token ever shows up in logs, errors or reprs."""

import logging
import time
from datetime import UTC, datetime
from typing import Any

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from peribolos_core.errors import (
    BadCredentials,
    ConfigError,
    GitHubError,
    GitHubRequestError,
    InstallationGone,
    InstallationSuspended,
    RateLimited,
)
from peribolos_core.github import (
    GitHubApp,
    GitHubInstallationClient,
    Installation,
    InstallationToken,
    Team,
    _object,
    _sha_of,
    check_repo,
    repo_permission_level,
)
from tests.fakes.fixtures import APP_ID
from tests.fakes.github import MSG_EXP_TOO_FAR, MSG_EXPIRED, MSG_IAT, FakeGitHub, FakeTeam, Fault
from tests.fakes.github.models import RepoInvitation

SHA = "0123456789abcdef0123456789abcdef01234567"


def make_app(gh: FakeGitHub, key: rsa.RSAPrivateKey, **kw) -> GitHubApp:
    kw.setdefault("sleep", lambda _s: None)
    return GitHubApp(APP_ID, key, api_url=gh.api_url, **kw)


def test_mint_token(fake_github: FakeGitHub, app_key: rsa.RSAPrivateKey) -> None:
    before = datetime.now(UTC)
    token = make_app(fake_github, app_key).mint_token(1)
    assert isinstance(token, InstallationToken)
    assert fake_github.token_is_valid(token.token)
    assert 3500 < (token.expires_at - before).total_seconds() <= 3601
    assert token.expires_at.tzinfo is UTC
    assert token.permissions["members"] == "write"
    assert token.repository_selection == "all"
    (seen,) = fake_github.requests
    assert (seen.method, seen.path, seen.status, seen.auth_scheme) == (
        "POST",
        "/app/installations/1/access_tokens",
        201,
        "Bearer",
    )


def test_mint_scoped_token(fake_github: FakeGitHub, app_key: rsa.RSAPrivateKey) -> None:
    token = make_app(fake_github, app_key).mint_token(
        1, permissions={"contents": "read"}, repositories=[".github"]
    )
    assert dict(token.permissions) == {"contents": "read"}
    assert token.repository_selection == "selected"
    assert fake_github.requests[-1].body == {"permissions": {"contents": "read"}, "repositories": [".github"]}
    client = GitHubInstallationClient(token.token, fake_github.api_url)
    fake_github.add_file("octo-org/.github", SHA, "peribolos.yaml", "orgs: {}\n")
    fake_github.add_file("octo-org/other", SHA, "peribolos.yaml", "orgs: {}\n")
    assert client.get_file("octo-org/.github", "peribolos.yaml", SHA) == b"orgs: {}\n"
    with pytest.raises(GitHubRequestError) as outside:
        client.get_file("octo-org/other", "peribolos.yaml", SHA)
    assert outside.value.status_code == 403, "outside the token's repositories, as GitHub answers"
    with pytest.raises(GitHubRequestError) as no_checks:
        client.create_check_run("octo-org/.github", SHA, "peribolos/sync", conclusion="success")
    assert no_checks.value.status_code == 403
    assert "Resource not accessible by integration" in str(no_checks.value)


@pytest.mark.parametrize(
    ("setup", "kind", "status"),
    [
        (lambda gh: None, InstallationGone, 404),
        (lambda gh: gh.add_installation(99, "gone", suspended=True), InstallationSuspended, 403),
    ],
    ids=["unknown-404", "suspended-403"],
)
def test_mint_errors(
    fake_github: FakeGitHub, app_key: rsa.RSAPrivateKey, setup, kind: type, status: int
) -> None:
    setup(fake_github)
    with pytest.raises(kind) as info:
        make_app(fake_github, app_key).mint_token(99)
    assert info.value.status_code == status
    assert not info.value.temporary
    assert "/app/installations/99/access_tokens" in str(info.value)
    assert len(fake_github.requests) == 1, "permanent errors are not retried"


def test_get_installation(fake_github: FakeGitHub, app_key: rsa.RSAPrivateKey) -> None:
    fake_github.add_installation(7, "OctoCat", account_type="User", suspended=True)
    app = make_app(fake_github, app_key)
    assert app.get_installation(2) == Installation(2, "Acme", "Organization", False)
    assert app.get_installation("7") == Installation(7, "OctoCat", "User", True)
    with pytest.raises(InstallationGone):
        app.get_installation(8)


@pytest.mark.parametrize(
    "bad", ["0", "-3", "abc", "1.5", ""], ids=["zero", "negative", "word", "float", "empty"]
)
def test_installation_id_validated(fake_github: FakeGitHub, app_key: rsa.RSAPrivateKey, bad: str) -> None:
    with pytest.raises(ConfigError, match="positive integer"):
        make_app(fake_github, app_key).mint_token(bad)
    assert fake_github.requests == []


@pytest.mark.parametrize(
    ("count", "per_page", "pages"),
    [(0, 100, 1), (1, 100, 1), (100, 100, 1), (101, 100, 2), (250, 100, 3), (10, 3, 4)],
    ids=["none", "one", "exactly-one-page", "one-over", "three-pages", "small-pages"],
)
def test_iter_installations_follows_link_pages(
    app_key: rsa.RSAPrivateKey, count: int, per_page: int, pages: int
) -> None:
    with FakeGitHub(APP_ID, app_key.public_key()) as gh:
        gh.add_installations(count, start_id=1000)
        app = make_app(gh, app_key)
        found = list(app.iter_installations(per_page=per_page))
        assert [i.id for i in found] == list(range(1000, 1000 + count))
        assert found[:1] == ([Installation(1000, "org1000", "Organization", False)] if count else [])
        assert app.request_count == pages
        assert [r.query.get("per_page") for r in gh.requests] == [[str(per_page)]] * pages


@pytest.mark.parametrize("per_page", [0, 101], ids=["zero", "over-githubs-max"])
def test_iter_installations_per_page_limit(
    fake_github: FakeGitHub, app_key: rsa.RSAPrivateKey, per_page: int
):
    with pytest.raises(ConfigError, match="between 1 and 100"):
        next(make_app(fake_github, app_key).iter_installations(per_page=per_page))


def test_pagination_retries_a_failed_page(fake_github: FakeGitHub, app_key: rsa.RSAPrivateKey) -> None:
    fake_github.add_installations(5, start_id=10)
    fake_github.inject(Fault.server_error(502), path="/app/installations$")
    app = make_app(fake_github, app_key)
    assert len(list(app.iter_installations(per_page=3))) == 7
    assert app.request_count == 4


def test_ghes_base_url(app_key: rsa.RSAPrivateKey) -> None:
    with FakeGitHub(APP_ID, app_key.public_key(), path_prefix="/api/v3") as gh:
        gh.add_installations(3)
        app = make_app(gh, app_key)
        assert gh.api_url.endswith("/api/v3")
        assert [i.id for i in app.iter_installations(per_page=2)] == [1, 2, 3]
        token = app.mint_token(3)
        assert {r.path for r in gh.requests} == {
            "/api/v3/app/installations",
            "/api/v3/app/installations/3/access_tokens",
        }
        gh.add_file("org3/.github", SHA, "peribolos.yaml", b"x")
        assert (
            GitHubInstallationClient(token.token, gh.api_url).get_file("org3/.github", "peribolos.yaml", SHA)
            == b"x"
        )
        # The base URL without /api/v3 reaches nothing: the prefix is really used.
        with pytest.raises(GitHubRequestError) as info:
            next(GitHubApp(APP_ID, app_key, api_url=gh.url).iter_installations())
        assert info.value.status_code == 404


def test_jwt_is_reused_then_resigned(fake_github: FakeGitHub, app_key: rsa.RSAPrivateKey) -> None:
    now = [time.time()]
    fake_github.clock = lambda: now[0]
    app = make_app(fake_github, app_key, clock=lambda: now[0])
    for _ in range(5):
        app.mint_token(1)
    assert app.jwt.signed_count == 1
    now[0] += 9 * 60  # the 9-minute JWT is one minute from expiry: sign a new one
    app.mint_token(1)
    assert app.jwt.signed_count == 2


@pytest.mark.parametrize(
    ("skew", "message"),
    [(-15 * 60, MSG_EXPIRED), (5 * 60, MSG_IAT)],
    ids=["our-clock-15m-behind", "our-clock-5m-ahead"],
)
def test_clock_skew_is_bad_credentials(
    fake_github: FakeGitHub, app_key: rsa.RSAPrivateKey, skew: float, message: str
) -> None:
    app = make_app(fake_github, app_key, clock=lambda: time.time() + skew)
    with pytest.raises(BadCredentials) as info:
        app.mint_token(1)
    assert message in str(info.value)
    assert "clock" in str(info.value)


def test_small_clock_drift_is_absorbed(fake_github: FakeGitHub, app_key: rsa.RSAPrivateKey) -> None:
    make_app(fake_github, app_key, clock=lambda: time.time() + 45).mint_token(1)


@pytest.mark.parametrize(
    ("app_id", "use_other_key"), [("9999", False), (APP_ID, True)], ids=["wrong-app-id", "wrong-key"]
)
def test_wrong_identity_is_bad_credentials(
    fake_github: FakeGitHub,
    app_key: rsa.RSAPrivateKey,
    other_key: rsa.RSAPrivateKey,
    app_id: str,
    use_other_key: bool,
) -> None:
    app = GitHubApp(app_id, other_key if use_other_key else app_key, api_url=fake_github.api_url)
    with pytest.raises(BadCredentials) as info:
        app.get_installation(1)
    assert info.value.status_code == 401 and not info.value.temporary


def test_fake_rejects_a_jwt_living_too_long(fake_github: FakeGitHub, app_key: rsa.RSAPrivateKey) -> None:
    """What GitHub says when exp - iat > 10 minutes (our AppJWT cannot even be built that way)."""
    from peribolos_core.http import Transport

    now = int(time.time())
    token = jwt.encode({"iat": now - 60, "exp": now + 600, "iss": APP_ID}, app_key, algorithm="RS256")
    with pytest.raises(BadCredentials, match="too far in the future"):
        Transport(fake_github.api_url).request("GET", "/app", authorization=f"Bearer {token}")
    assert MSG_EXP_TOO_FAR == "'Expiration time' claim ('exp') is too far in the future"


def test_rate_limited_mint_waits_then_succeeds(fake_github: FakeGitHub, app_key: rsa.RSAPrivateKey) -> None:
    slept: list[float] = []
    fake_github.inject(Fault.secondary_limit(retry_after=5), path="access_tokens")
    app = make_app(fake_github, app_key, sleep=slept.append)
    app.mint_token(1)
    assert slept == [5.0]
    assert [r.status for r in fake_github.requests] == [403, 201]


def test_mint_budget_exhausted_surfaces_when_wait_is_too_long(
    fake_github: FakeGitHub, app_key: rsa.RSAPrivateKey
) -> None:
    fake_github.mint_budget_per_minute = 2
    app = make_app(fake_github, app_key, max_rate_limit_wait=10)
    app.mint_token(1)
    app.mint_token(2)
    with pytest.raises(RateLimited) as info:
        app.mint_token(1)
    assert info.value.retry_after == 60
    assert fake_github.mint_count == 2


# -- installation client -------------------------------------------------------------------------------


@pytest.fixture
def installation_token(fake_github: FakeGitHub, app_key: rsa.RSAPrivateKey) -> str:
    return make_app(fake_github, app_key).mint_token(1).token


def test_get_file_raw(fake_github: FakeGitHub, installation_token: str) -> None:
    content = b"orgs:\n  octo-org:\n    admins: [alice, bob]\n"
    fake_github.add_file("octo-org/.github", SHA, "config/peribolos.yaml", content)
    client = GitHubInstallationClient(installation_token, fake_github.api_url)
    assert client.get_file("octo-org/.github", "/config/peribolos.yaml", SHA) == content
    seen = fake_github.requests[-1]
    assert seen.path == "/repos/octo-org/.github/contents/config/peribolos.yaml"
    assert seen.query == {"ref": [SHA]}
    assert seen.headers["accept"] == "application/vnd.github.raw+json"
    assert seen.auth_scheme == "token"


@pytest.mark.parametrize(
    ("repo", "path", "ref", "status"),
    [
        ("octo-org/.github", "peribolos.yaml", "f" * 40, 404),
        ("octo-org/.github", "missing.yaml", SHA, 404),
        ("Acme/.github", "peribolos.yaml", SHA, 404),
    ],
    ids=["unknown-revision", "missing-file", "other-installations-repo"],
)
def test_get_file_not_found(
    fake_github: FakeGitHub, installation_token: str, repo: str, path: str, ref: str, status: int
) -> None:
    fake_github.add_file("octo-org/.github", SHA, "peribolos.yaml", "x")
    fake_github.add_file("Acme/.github", SHA, "peribolos.yaml", "x")
    with pytest.raises(GitHubRequestError) as info:
        GitHubInstallationClient(installation_token, fake_github.api_url).get_file(repo, path, ref)
    assert info.value.status_code == status


@pytest.mark.parametrize(
    ("repo", "path", "ref"),
    [
        ("octo-org", "p.yaml", SHA),
        ("a/b/c", "p.yaml", SHA),
        ("octo-org/..", "p.yaml", SHA),
        ("octo-org/.github", "../secrets", SHA),
        ("octo-org/.github", "", SHA),
        ("octo-org/.github", "p.yaml", " "),
    ],
    ids=["no-slash", "two-slashes", "dot-dot-repo", "dot-dot-path", "empty-path", "empty-ref"],
)
def test_get_file_rejects_bad_arguments(fake_github: FakeGitHub, repo: str, path: str, ref: str) -> None:
    with pytest.raises(ConfigError):
        GitHubInstallationClient("t" * 40, fake_github.api_url).get_file(repo, path, ref)
    assert fake_github.requests == []


def test_expired_or_unknown_token_is_bad_credentials(fake_github: FakeGitHub) -> None:
    with pytest.raises(BadCredentials):
        GitHubInstallationClient("ghs_" + "x" * 36, fake_github.api_url).get_file(
            "octo-org/.github", "p", SHA
        )


def test_create_check_run(fake_github: FakeGitHub, installation_token: str) -> None:
    fake_github.add_file("octo-org/.github", SHA, "peribolos.yaml", "orgs: {}\n")
    client = GitHubInstallationClient(installation_token, fake_github.api_url)
    run_id = client.create_check_run(
        "octo-org/.github",
        SHA,
        "peribolos/dry-run",
        conclusion="failure",
        output={"title": "peribolos failed", "summary": "exit code 1", "text": "x" * 70000},
    )
    (run,) = fake_github.check_runs
    assert run["id"] == run_id
    assert (run["repo"], run["name"], run["head_sha"], run["status"], run["conclusion"]) == (
        "octo-org/.github",
        "peribolos/dry-run",
        SHA,
        "completed",
        "failure",
    )
    assert len(run["output"]["text"]) == 65535


def test_completed_check_run_needs_a_conclusion(fake_github: FakeGitHub, installation_token: str) -> None:
    fake_github.add_file("octo-org/.github", SHA, "peribolos.yaml", "orgs: {}\n")
    client = GitHubInstallationClient(installation_token, fake_github.api_url)
    with pytest.raises(ConfigError, match="conclusion"):
        client.create_check_run("octo-org/.github", SHA, "peribolos/sync")
    assert client.create_check_run("octo-org/.github", SHA, "peribolos/sync", status="in_progress") == 1


def test_a_check_run_in_progress_then_completed_with_annotations(
    fake_github: FakeGitHub, installation_token: str
) -> None:
    fake_github.add_file("octo-org/.github", SHA, "peribolos.yaml", "orgs: {}\n")
    client = GitHubInstallationClient(installation_token, fake_github.api_url)
    run_id = client.create_check_run(
        "octo-org/.github", SHA, "peribolos/sync", status="in_progress",
        output={"title": "running", "summary": "..."}, details_url="https://tekton.example.com/tr",
    )
    note = {"path": "peribolos.yaml", "start_line": 1, "end_line": 1, "annotation_level": "failure",
            "message": "unknown key"}
    client.update_check_run("octo-org/.github", run_id, conclusion="failure",
                            output={"title": "t", "summary": "s", "text": None, "annotations": [note]})
    run = fake_github.check_run(run_id)
    assert (run["status"], run["conclusion"], run["details_url"]) == (
        "completed", "failure", "https://tekton.example.com/tr")
    assert [a["message"] for a in fake_github.annotations(run_id)] == ["unknown key"]


def test_the_default_branch_head(fake_github: FakeGitHub, installation_token: str) -> None:
    pushed = fake_github.push_commit("octo-org/.github", {"peribolos.yaml": "orgs: {}\n"})
    client = GitHubInstallationClient(installation_token, fake_github.api_url)
    head = client.default_branch_head("octo-org/.github")
    assert (head.branch, head.sha) == ("main", pushed.after)
    with pytest.raises(GitHubRequestError):
        client.default_branch_head("octo-org/nothing-here")


def test_check_repo() -> None:
    assert check_repo("octo-org/.github") == "octo-org/.github"


# -- no secret anywhere ------------------------------------------------------------------------------------


def test_no_token_in_logs_errors_or_reprs(
    fake_github: FakeGitHub,
    app_key: rsa.RSAPrivateKey,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    fake_github.inject(Fault.server_error(502), times=2)
    app = make_app(fake_github, app_key)
    token = app.mint_token(1)
    bearer = app.jwt.token(time.time())
    client = GitHubInstallationClient(token.token, fake_github.api_url, sleep=lambda _s: None)
    errors: list[GitHubError] = []
    for fault in (Fault.server_error(503), Fault.too_many_requests(3600), Fault.secondary_limit(999)):
        fake_github.inject(fault, times=10)
        with pytest.raises(GitHubError) as info:
            client.get_file("octo-org/.github", "peribolos.yaml", SHA)
        errors.append(info.value)
    with pytest.raises(GitHubError) as gone:
        app.mint_token(404)
    errors.append(gone.value)
    with pytest.raises(GitHubError) as bad:
        GitHubInstallationClient(token.token + "x", fake_github.api_url).get_file(
            "octo-org/.github", "p", SHA
        )
    errors.append(bad.value)
    texts = [
        caplog.text,
        *capsys.readouterr(),
        repr(token),
        str(token),
        repr(app),
        repr(client),
        repr(app.jwt),
    ]
    texts += [f"{e} {e!r} {e.__cause__!r}" for e in errors]
    for text in texts:
        assert token.token not in text
        assert bearer not in text
        assert token.token[4:24] not in text


# -- reading an org and proposing a file (bootstrap) --------------------------------------------------------


@pytest.fixture
def org_client(fake_github: FakeGitHub, app_key: rsa.RSAPrivateKey) -> GitHubInstallationClient:
    """A client of installation 1 (octo-org) that may write contents and pull requests."""
    fake_github.installations[1].permissions.update(contents="write", pull_requests="write")
    return GitHubInstallationClient(make_app(fake_github, app_key).mint_token(1).token, fake_github.api_url)


@pytest.mark.parametrize(
    ("permissions", "level"),
    [
        ({"admin": True, "maintain": True, "push": True, "triage": True, "pull": True}, "admin"),
        ({"admin": False, "maintain": True, "push": True, "triage": True, "pull": True}, "maintain"),
        ({"push": True, "pull": True}, "write"),
        ({"triage": True, "pull": True}, "triage"),
        ({"pull": True}, "read"),
        ({"pull": False}, "none"),
        (None, "none"),
        ({"admin": "yes"}, "none"),
    ],
    ids=["admin", "maintain", "push-is-write", "triage", "pull-is-read", "nothing", "absent", "not-a-bool"],
)
def test_repo_permission_level(permissions: object, level: str) -> None:
    assert repo_permission_level(permissions) == level


def test_org_members_and_invitations_follow_pages(
    fake_github: FakeGitHub, org_client: GitHubInstallationClient
) -> None:
    members = [f"user{i:03d}" for i in range(250)]
    org = fake_github.add_org("octo-org", admins=["alice", "Bob"], members=members)
    org.invitations.update({"dave": "direct_member", "erin": "admin"})
    assert org_client.list_org_members("octo-org", "admin") == ["alice", "Bob"]
    assert org_client.list_org_members("octo-org", "member") == members
    assert org_client.list_org_invitations("octo-org") == {"dave": "direct_member", "erin": "admin"}
    pages = [r for r in fake_github.requests if r.path == "/orgs/octo-org/members"]
    assert [r.query.get("page", ["1"])[0] for r in pages] == ["1", "1", "2", "3"]
    assert all(r.query["per_page"] == ["100"] for r in pages)


def test_teams_members_invitations_and_repos(
    fake_github: FakeGitHub, org_client: GitHubInstallationClient
) -> None:
    fake_github.add_org(
        "octo-org",
        admins=["alice", "bob"],
        members=["carol"],
        teams=[
            FakeTeam(7, "sig leads", "sig-leads", "Leads", maintainers={"alice"}, members={"carol"},
                     repos={"website": "push", "docs": "triage"}, invitations={"dave"}),
            FakeTeam(8, "child", "child", parent="sig-leads", members={"bob"}),
        ],
    )
    teams = {team.slug: team for team in org_client.list_teams("octo-org")}
    assert teams["sig-leads"] == Team(7, "sig leads", "sig-leads", "Leads", "closed", None)
    assert teams["child"].parent_id == 7
    assert org_client.list_team_members("octo-org", "sig-leads", "maintainer") == ["alice"]
    assert org_client.list_team_members("octo-org", "sig-leads", "member") == ["carol"]
    assert org_client.list_team_invitations("octo-org", "sig-leads") == ["dave"]
    assert org_client.list_team_repos("octo-org", "sig-leads") == {"docs": "triage", "website": "write"}


def test_repositories_settings_collaborators_and_invitations(
    fake_github: FakeGitHub, org_client: GitHubInstallationClient
) -> None:
    fake_github.add_repo(
        "octo-org/website", description="The site", private=False, has_wiki=False, default_branch="trunk"
    )
    fake_github.ui.add_collaborator("octo-org/website", "outsider", "push")
    fake_github.add_org("octo-org", admins=["alice", "bob"])
    fake_github.state.repo("octo-org", "website").invitations[1] = RepoInvitation(1, "newbie", "triage", 0.0)
    assert org_client.list_org_repos("octo-org") == [".github", "website"]
    website = org_client.get_repo("octo-org/website")
    assert website is not None
    assert (website.name, website.private, website.visibility, website.description, website.has_wiki) == (
        "website", False, "public", "The site", False
    )
    assert (website.default_branch, website.squash_merge_commit_title) == ("trunk", "COMMIT_OR_PR_TITLE")
    assert org_client.get_repo("octo-org/missing") is None
    assert org_client.list_direct_collaborators("octo-org/website") == {"outsider": "write"}
    assert org_client.list_repo_invitations("octo-org/website") == {"newbie": "triage"}


def test_a_branch_a_file_and_a_pull_request(
    fake_github: FakeGitHub, org_client: GitHubInstallationClient
) -> None:
    repo = "octo-org/.github"
    assert org_client.branch_head(repo, "main") is None, "an empty repository has no branch"
    first = org_client.put_file(repo, "README.md", b"# hi\n", "Start", "main")
    assert org_client.branch_head(repo, "main") == first == fake_github.head_sha(repo)
    org_client.create_branch(repo, "peribolos/bootstrap", first)
    with pytest.raises(GitHubRequestError) as exists:
        org_client.create_branch(repo, "peribolos/bootstrap", first)
    assert exists.value.status_code == 422
    assert org_client.file_sha(repo, "peribolos.yaml", "peribolos/bootstrap") is None
    made = org_client.put_file(repo, "peribolos.yaml", b"orgs: {}\n", "Add", "peribolos/bootstrap")
    sha = org_client.file_sha(repo, "peribolos.yaml", "peribolos/bootstrap")
    org_client.put_file(repo, "peribolos.yaml", b"orgs: {a: {}}\n", "Change", "peribolos/bootstrap", sha)
    assert fake_github.file_at(repo, "peribolos/bootstrap", "peribolos.yaml") == b"orgs: {a: {}}\n"
    org_client.move_branch(repo, "peribolos/bootstrap", made)
    assert fake_github.head_sha(repo, "peribolos/bootstrap") == made
    assert org_client.list_pulls(repo, "peribolos/bootstrap") == []
    pull = org_client.create_pull(repo, "Add it", "peribolos/bootstrap", "main", "Because.")
    assert (pull.number, pull.state, pull.merged, pull.head, pull.base) == (
        1, "open", False, "peribolos/bootstrap", "main"
    )
    assert org_client.list_pulls(repo, "peribolos/bootstrap") == [pull]
    assert org_client.list_pulls(repo, "other") == []
    query = fake_github.requests_to("GET", r"/pulls$")[-1].query
    assert query["head"] == ["octo-org:other"] and query["state"] == ["all"]


def test_create_org_repo(fake_github: FakeGitHub, app_key: rsa.RSAPrivateKey) -> None:
    token = make_app(fake_github, app_key).mint_token(1, permissions={"administration": "write"})
    created = GitHubInstallationClient(token.token, fake_github.api_url).create_org_repo(
        "octo-org", "config", description="peribolos config"
    )
    assert (created.full_name, created.private, created.default_branch) == ("octo-org/config", True, "main")
    assert fake_github.file_at("octo-org/config", "main", "README.md"), "auto_init: a first commit"


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda c: c.list_org_members("octo/org"), "organisation"),
        (lambda c: c.list_org_members("octo-org", "owner"), "role"),
        (lambda c: c.list_team_members("octo-org", "t", "lead"), "role"),
        (lambda c: c.branch_head("octo-org/.github", "../main"), "branch"),
        (lambda c: c.create_branch("octo-org/.github", "a//b", SHA), "branch"),
        (lambda c: c.put_file("octo-org/.github", "../x", b"", "m", "main"), "path"),
        (lambda c: c.list_pulls("octo-org/.github", "b", "merged"), "state"),
        (lambda c: c.create_org_repo("octo-org", "a/b", description=""), "repository"),
    ],
    ids=["org", "org-role", "team-role", "branch-dots", "branch-slashes", "path", "pull-state", "repo-name"],
)
def test_org_and_file_calls_reject_bad_arguments(fake_github: FakeGitHub, call: Any, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        call(GitHubInstallationClient("t" * 40, fake_github.api_url))
    assert fake_github.requests == []


@pytest.mark.parametrize(
    ("body", "error"),
    [(b'{"id": 1}', None), (b"[1, 2]", "POST pulls: expected an object"),
     (b'"text"', "POST pulls: expected an object"), (b"<html>", "GitHub answered 200 without JSON")],
    ids=["object", "list", "string", "not-json"],
)
def test_an_answer_that_must_be_an_object(body: bytes, error: str | None) -> None:
    response = _answer(body)
    if error is None:
        assert _object(response, "POST pulls") == {"id": 1}
    else:
        with pytest.raises(GitHubRequestError, match=error):
            _object(response, "POST pulls")


def _answer(body: bytes, status: int = 200) -> requests.Response:
    response = requests.Response()
    response.status_code, response._content = status, body
    return response


REF = {"what": "GET ref"}
WRITTEN = {"what": "PUT contents of a.yaml", "key": "commit", "missing": "no commit answered"}


@pytest.mark.parametrize(
    ("body", "where", "error"),
    [
        (b'{"object": {"sha": "abc"}}', REF, None),
        (b'{"commit": {"sha": "abc"}, "content": {}}', WRITTEN, None),
        (b'{"object": {}}', REF, "GET ref: no object sha in GitHub's answer"),
        (b"[]", REF, "GET ref: no object sha in GitHub's answer"),
        (b'{"object": {"sha": "abc"}}', WRITTEN, "PUT contents of a.yaml: no commit answered"),
        (b'{"commit": {"sha": ""}}', WRITTEN, "PUT contents of a.yaml: no commit answered"),
    ],
    ids=["ref", "written-file", "ref-without-sha", "a-list", "no-commit", "empty-commit-sha"],
)
def test_the_sha_of_an_answer(body: bytes, where: dict[str, str], error: str | None) -> None:
    if error is None:
        assert _sha_of(_answer(body), **where) == "abc"
    else:
        with pytest.raises(GitHubRequestError, match=error):
            _sha_of(_answer(body), **where)
