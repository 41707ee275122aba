"""The org export: table tests over org shapes (pure), the file's YAML read back as go-yaml reads it and
accepted by the config check, and the real peribolos run on the export against the same org in the fake
GitHub: its dry run plans no change and ``--confirm`` writes nothing. And why the export is ours:
peribolos' own ``--dump`` cannot run with an installation token.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from peribolos_core.github import GitHubApp, GitHubInstallationClient, Repository, Team
from tekton.steps import org_export
from tekton.steps.org_export import ExportOptions, OrgState, RepoState, TeamState
from tekton.steps.peribolos_config import check
from tekton.steps.plan_summary import summarize
from tekton.steps.yaml_nodes import Mapping, Scalar, Sequence, read
from tests.fakes.fixtures import APP_ID
from tests.fakes.github import FakeGitHub, FakeTeam
from tests.fakes.github.models import RepoInvitation
from tests.infra.controlplane import find_tools

ORG = "octo-org"


def team(id_: int, name: str, parent: int | None = None, privacy: str = "closed", description: str = "",
         **kw: Any) -> TeamState:
    return TeamState(Team(id_, name, name.lower().replace(" ", "-"), description, privacy, parent), **kw)


def repo(name: str, **settings: Any) -> Repository:
    base: dict[str, Any] = {
        "private": False, "visibility": "public", "archived": False, "default_branch": "main",
        "has_issues": True, "has_projects": True, "has_wiki": True, "allow_squash_merge": True,
        "allow_merge_commit": True, "allow_rebase_merge": True,
        "squash_merge_commit_title": "COMMIT_OR_PR_TITLE", "squash_merge_commit_message": "COMMIT_MESSAGES",
    }
    return Repository(name, f"{ORG}/{name}", **{**base, **settings})


def org(
    admins: tuple[str, ...] = ("alice", "bob"), members: tuple[str, ...] = ("carol",), **kw: Any
) -> OrgState:
    return OrgState(ORG, admins, members, **kw)


def config(**org_config: Any) -> dict[str, Any]:
    return {"orgs": {ORG: {"admins": ["alice", "bob"], "members": ["carol"], **org_config}}}


CASES = [
    pytest.param(
        org(admins=("bob", "Alice"), members=("erin", "Carol", "dave")),
        ExportOptions(),
        {"orgs": {ORG: {"admins": ["Alice", "bob"], "members": ["Carol", "dave", "erin"]}}},
        id="flat-sorted-any-case",
    ),
    pytest.param(
        org(teams=(
            team(3, "grandchild", parent=2, members=("carol",)),
            team(1, "top", description="The top", maintainers=("alice",)),
            team(2, "child", parent=1),
        )),
        ExportOptions(),
        config(teams={"top": {
            "description": "The top", "privacy": "closed", "maintainers": ["alice"],
            "teams": {"child": {"privacy": "closed", "teams": {"grandchild": {
                "privacy": "closed", "members": ["carol"]}}}},
        }}),
        id="nested-three-deep",
    ),
    pytest.param(
        org(teams=(team(1, "security", privacy="secret", maintainers=("bob",)), team(2, "open"))),
        ExportOptions(),
        config(teams={"open": {"privacy": "closed"},
                      "security": {"privacy": "secret", "maintainers": ["bob"]}}),
        id="secret-team",
    ),
    pytest.param(
        org(teams=(team(1, "security", privacy="secret"), team(2, "open"))),
        ExportOptions(ignore_secret_teams=True),
        config(teams={"open": {"privacy": "closed"}}),
        id="secret-team-ignored",
    ),
    pytest.param(
        org(teams=(team(1, "devs", repos={"website": "write", "API": "admin", "docs": "triage",
                                          "infra": "maintain", ".github": "read"}),)),
        ExportOptions(),
        config(teams={"devs": {"privacy": "closed", "repos": {
            ".github": "read", "API": "admin", "docs": "triage", "infra": "maintain", "website": "write"}}}),
        id="team-repos",
    ),
    pytest.param(
        org(teams=(team(1, "sig leads", members=("carol",)), team(2, "release team: 2024 #1", parent=1))),
        ExportOptions(),
        config(teams={"sig leads": {"privacy": "closed", "members": ["carol"],
                                    "teams": {"release team: 2024 #1": {"privacy": "closed"}}}}),
        id="names-with-spaces",
    ),
    pytest.param(
        org(admins=("Alice", "bob"), members=("Carol",),
            teams=(team(1, "devs", maintainers=("ALICE",), members=("carol", "BOB")),)),
        ExportOptions(),
        {"orgs": {ORG: {"admins": ["Alice", "bob"], "members": ["Carol"],
                        "teams": {"devs": {"privacy": "closed", "maintainers": ["Alice"],
                                           "members": ["bob", "Carol"]}}}}},
        id="members-in-other-case",
    ),
    pytest.param(
        org(invitations={"dave": "direct_member", "erin": "admin", "frank": "direct_member"},
            teams=(team(1, "devs", invitees=("frank", "ghost"), members=("carol",)),)),
        ExportOptions(),
        config(admins=["alice", "bob", "erin"], members=["carol", "dave", "frank"],
               teams={"devs": {"privacy": "closed", "members": ["carol", "frank"]}}),
        id="pending-invitations",
    ),
    pytest.param(
        org(teams=(team(1, "child", parent=999),)),
        ExportOptions(),
        config(teams={"child": {"privacy": "closed"}}),
        id="unknown-parent-is-top-level",
    ),
    pytest.param(
        org(members=("no", "y", "0123", "true", "null", "1e3", "carol")),
        ExportOptions(),
        config(members=["0123", "1e3", "carol", "no", "null", "true", "y"]),
        id="logins-yaml-reads-otherwise",
    ),
    pytest.param(
        org(repos=(RepoState(repo("website")), RepoState(repo("docs")))),
        ExportOptions(),
        config(),
        id="repos-not-managed",
    ),
    pytest.param(
        org(repos=(
            RepoState(repo("website", description="The site", homepage="https://x.example", has_wiki=False)),
            RepoState(repo("infra", private=True, visibility="private", default_branch="master",
                           allow_merge_commit=False, squash_merge_commit_title="PR_TITLE",
                           squash_merge_commit_message="PR_BODY")),
            RepoState(repo("old", archived=True, has_projects=False)),
            RepoState(repo("corp", private=True, visibility="internal")),
        )),
        ExportOptions(repos=True),
        config(repos={
            "corp": {"has_projects": True, "visibility": "internal"},
            "infra": {"has_projects": True, "allow_merge_commit": False,
                      "squash_merge_commit_title": "PR_TITLE", "squash_merge_commit_message": "PR_BODY",
                      "default_branch": "master", "visibility": "private"},
            "old": {"has_projects": False, "archived": True},
            "website": {"description": "The site", "homepage": "https://x.example", "has_projects": True,
                        "has_wiki": False},
        }),
        id="repo-settings",
    ),
    pytest.param(
        org(repos=(RepoState(repo("website", has_wiki=False), {"outsider": "write", "Carol": "admin"}),
                   RepoState(repo("docs"), {}))),
        ExportOptions(collaborators=True),
        config(repos={"docs": {}, "website": {"collaborators": {"carol": "admin", "outsider": "write"}}}),
        id="collaborators-only",
    ),
]


@pytest.mark.parametrize(("state", "options", "expected"), CASES)
def test_config_of_each_org_shape(state: OrgState, options: ExportOptions, expected: dict[str, Any]) -> None:
    assert org_export.to_config(state, options) == expected


def _plain(node: Any) -> Any:
    """A node of :mod:`yaml_nodes` (go-yaml's reading) as plain Python, scalars as go-yaml typed them."""
    if isinstance(node, Mapping):
        return {_plain(pair.key): _plain(pair.value) for pair in node.pairs}
    if isinstance(node, Sequence):
        return [_plain(item) for item in node.items]
    assert isinstance(node, Scalar)
    return node.value


@pytest.mark.parametrize(("state", "options", "expected"), CASES)
def test_the_file_reads_back_as_go_yaml_reads_it_and_passes_the_check(
    state: OrgState, options: ExportOptions, expected: dict[str, Any]
) -> None:
    text = org_export.export(state, options, ["a header line", ""])
    assert text.startswith("# a header line\n#\norgs:\n")
    assert _plain(read(text).root) == expected, "every value, as peribolos reads it"
    assert yaml.safe_load(text) == expected
    result = check(text.encode(), org=ORG)
    assert result.problems == (), [p.format("peribolos.yaml") for p in result.problems]


def test_the_export_is_deterministic_whatever_order_github_lists_in() -> None:
    state = CASES[1].values[0]
    shuffled = OrgState(state.login, state.admins[::-1], state.members[::-1], teams=state.teams[::-1])
    assert org_export.export(state, ExportOptions()) == org_export.export(shuffled, ExportOptions())


def test_what_the_pull_request_points_out() -> None:
    state = org(invitations={"zed": "direct_member", "amy": "admin"},
                teams=(team(1, "b", privacy="secret"), team(2, "a", privacy="secret"), team(3, "c")))
    assert org_export.secret_teams(state) == ["a", "b"]
    assert list(org_export.pending(state)) == ["amy", "zed"]


LOGIN = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9-]{0,10}", fullmatch=True)
NAME = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=20).filter(
    lambda name: name.strip() == name and name
)


@settings(max_examples=150, deadline=None)
@given(
    admins=st.lists(LOGIN, min_size=1, max_size=4, unique_by=str.lower),
    members=st.lists(LOGIN | st.sampled_from(["no", "Y", "0x1F", "1e3", "0123", "Null", "off"]), max_size=6),
    names=st.lists(NAME | st.sampled_from(["~", "<<", "1_0", ".5", "- x", "a: b", "#c"]), max_size=4,
                   unique_by=lambda n: n.lower()),
    description=NAME,
)
def test_any_names_survive_the_round_trip(
    admins: list[str], members: list[str], names: list[str], description: str
) -> None:
    taken = {a.lower() for a in admins}
    members = [m for m in dict.fromkeys(members) if m.lower() not in taken]
    members = list({m.lower(): m for m in members}.values())
    teams = tuple(team(i, name, parent=i - 1 if i % 2 else None, description=description,
                       members=tuple(members[:1])) for i, name in enumerate(names, start=1))
    state = OrgState(ORG, tuple(admins), tuple(members), teams=teams)
    text = org_export.export(state, ExportOptions())
    assert _plain(read(text).root) == org_export.to_config(state, ExportOptions())
    assert check(text.encode(), org=ORG).errors == ()


# -- against the real peribolos ---------------------------------------------------------------------------

FIX_DEFAULT = ("--fix-org-members", "--fix-teams", "--fix-team-members", "--fix-team-repos")
"""The generator's default ``--fix-*`` set."""


@pytest.fixture(scope="module")
def peribolos_bin() -> Path:
    return find_tools(modules=("peribolos",)).bin("peribolos")


@pytest.fixture
def rich_org(fake_github: FakeGitHub) -> FakeGitHub:
    """octo-org with every shape the export handles: nested teams three deep, a secret team, team repos at
    every level, names with spaces, a team member listed in other case, pending org and team invitations,
    repositories with settings, direct collaborators and a pending collaborator invitation."""
    gh = fake_github
    gh.add_repo(f"{ORG}/website", description="The site", private=False, has_wiki=False)
    gh.add_repo(f"{ORG}/docs", private=True, default_branch="master", allow_merge_commit=False)
    gh.add_repo(f"{ORG}/old", private=False, archived=True)
    state = gh.add_org(
        ORG,
        admins=["alice", "Bob"],
        members=["carol", "dave", "no"],
        teams=[
            FakeTeam(1, "sig leads", "sig-leads", "Leads of the SIGs", maintainers={"alice"},
                     members={"CAROL"}, repos={"website": "push", "docs": "triage"}),
            FakeTeam(2, "sig docs", "sig-docs", parent="sig-leads", members={"dave"},
                     repos={"docs": "maintain"}),
            FakeTeam(3, "docs reviewers", "docs-reviewers", parent="sig-docs", maintainers={"no"},
                     repos={".github": "admin"}),
            FakeTeam(4, "security", "security", privacy="secret", maintainers={"Bob"}, repos={"old": "pull"}),
            FakeTeam(5, "release", "release", members={"carol"}, invitations={"erin"}),
        ],
    )
    state.invitations.update({"erin": "direct_member", "frank": "admin"})
    gh.ui.add_collaborator(f"{ORG}/website", "outsider", "push")
    gh.state.repo(ORG, "docs").invitations[1] = RepoInvitation(1, "newbie", "triage", 0.0)
    return gh


def _export(gh: FakeGitHub, key: rsa.RSAPrivateKey, options: ExportOptions) -> str:
    """The export as the bootstrap step reads it: a token with its read scope only."""
    scope = {"members": "read", "metadata": "read"}
    if options.lists_repos:
        scope["administration"] = "read"
    token = GitHubApp(APP_ID, key, api_url=gh.api_url).mint_token(1, permissions=scope).token
    state = org_export.read_org(GitHubInstallationClient(token, gh.api_url), ORG, options)
    return org_export.export(state, options)


def _peribolos(gh: FakeGitHub, binary: Path, key: rsa.RSAPrivateKey, workdir: Path, config: str,
               *flags: str) -> subprocess.CompletedProcess[str]:
    (workdir / "token").write_text(GitHubApp(APP_ID, key, api_url=gh.api_url).mint_token(1).token)
    (workdir / "peribolos.yaml").write_text(config)
    gh.clear_requests()
    argv = [
        str(binary),
        f"--config-path={workdir / 'peribolos.yaml'}",
        f"--github-endpoint={gh.api_url}",
        f"--github-graphql-endpoint={gh.graphql_url}",
        f"--github-token-path={workdir / 'token'}",
        "--require-self=false",
        "--min-admins=2",
        "--maximum-removal-delta=0.25",
        "--github-client.initial-delay=10ms",
        *flags,
    ]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(workdir)})


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("flags", "options"),
    [
        pytest.param(FIX_DEFAULT, ExportOptions(), id="default-flags"),
        pytest.param((*FIX_DEFAULT, "--ignore-secret-teams"), ExportOptions(ignore_secret_teams=True),
                     id="ignore-secret-teams"),
        pytest.param((*FIX_DEFAULT, "--fix-repos"), ExportOptions(repos=True), id="fix-repos"),
        pytest.param((*FIX_DEFAULT, "--fix-repos", "--fix-collaborators"),
                     ExportOptions(repos=True, collaborators=True), id="fix-repos-and-collaborators"),
        pytest.param(("--fix-collaborators",), ExportOptions(collaborators=True), id="fix-collaborators"),
    ],
)
def test_peribolos_on_the_export_changes_nothing(
    rich_org: FakeGitHub,
    app_key: rsa.RSAPrivateKey,
    peribolos_bin: Path,
    tmp_path: Path,
    flags: tuple[str, ...],
    options: ExportOptions,
) -> None:
    config = _export(rich_org, app_key, options)
    assert check(config.encode(), org=ORG, min_admins=2).problems == ()
    dry = _peribolos(rich_org, peribolos_bin, app_key, tmp_path, config, *flags)
    summary = summarize(dry.stdout + dry.stderr, confirm=False, exit_code=dry.returncode)
    assert dry.returncode == 0, dry.stderr[-3000:]
    assert (summary.changes, summary.failed) == (0, False), summary.markdown
    assert summary.title == "No change: GitHub matches the config", summary.markdown
    applied = _peribolos(rich_org, peribolos_bin, app_key, tmp_path, config, *flags, "--confirm")
    assert applied.returncode == 0, applied.stderr[-3000:]
    writes = [(r.method, r.path) for r in rich_org.requests if r.method != "GET" and r.route != "/graphql"]
    assert writes == [], "in sync: nothing to change"


@pytest.mark.e2e
def test_peribolos_dump_cannot_run_with_an_installation_token(
    rich_org: FakeGitHub, app_key: rsa.RSAPrivateKey, peribolos_bin: Path, tmp_path: Path
) -> None:
    """peribolos' ``--dump`` asks ``GET /user`` whose token it holds before it reads any member; GitHub
    answers an installation token 403 there. (With ``--github-app-id`` it would need the App's private key
    inside peribolos, which the security model forbids.) So the bootstrap export is this project's code."""
    (tmp_path / "token").write_text(GitHubApp(APP_ID, app_key, api_url=rich_org.api_url).mint_token(1).token)
    rich_org.clear_requests()
    result = subprocess.run(
        [str(peribolos_bin), f"--dump={ORG}", f"--github-endpoint={rich_org.api_url}",
         f"--github-graphql-endpoint={rich_org.graphql_url}", f"--github-token-path={tmp_path / 'token'}",
         "--require-self=false", "--github-client.initial-delay=10ms"],
        capture_output=True, text=True, timeout=120, check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert result.returncode != 0
    assert "failed to obtain username for this token" in result.stderr
    asked = [(r.method, r.path, r.status) for r in rich_org.requests]
    assert ("GET", "/user", 403) in asked
    assert not any(path.startswith(f"/orgs/{ORG}/members") for _, path, _ in asked), "stopped before members"
