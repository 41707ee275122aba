"""The real peribolos (built by ``build.sh`` from sigs.k8s.io/prow at the pinned commit) against the fake,
with ``--confirm`` and each ``--fix-*`` flag: every request it sends is answered 2xx, as GitHub would, and
the org ends up as the config says; a second run changes nothing; a dry run writes nothing; a token
scoped below what a flag needs is refused.

peribolos gets the fake's REST and GraphQL endpoints on loopback (``--github-graphql-endpoint`` too: its
collaborator listing is a GraphQL query even without ``--confirm``), and a HOME of its own.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fakes.client import mint
from tests.fakes.github import FakeGitHub, FakeTeam, RecordedRequest
from tests.infra.controlplane import find_tools

pytestmark = pytest.mark.e2e

WRITES = ("POST", "PUT", "PATCH", "DELETE")
EVERY_FLAG = (
    "--fix-org",
    "--fix-org-members",
    "--fix-teams",
    "--fix-team-members",
    "--fix-team-repos",
    "--fix-repos",
    "--fix-collaborators",
)
ORG = """\
orgs:
  octo-org:
    name: Octo Org
    description: managed by peribolos
    company: Octo
    billing_email: billing@example.com
    email: hello@example.com
    location: Mars
    has_organization_projects: false
    has_repository_projects: true
    default_repository_permission: read
    members_can_create_repositories: false
    admins: [alice, bob]
    members: [carol, dave, erin]
    teams:
      reviewers:
        description: They review
        privacy: closed
        maintainers: [alice]
        members: [carol, dave]
        repos:
          website: write
          .github: admin
"""
NEW_TEAM = """\
        teams:
          juniors:
            description: learning
            members: [erin]
            repos:
              website: read
"""
TEAMS_AND_REPOS = """\
      Writers:
        privacy: closed
        previously: [writers]
        members: [erin]
    repos:
      website:
        description: The site
        has_wiki: false
        collaborators:
          outsider: write
          carol: admin
"""
NEW_REPO = """\
      new-repo:
        description: created by peribolos
        private: true
"""
CONFIG = ORG + NEW_TEAM + TEAMS_AND_REPOS + NEW_REPO
"""Every kind of change: org metadata, a member invited and one removed, a team created as a child, one
renamed (same slug), one deleted, team members and repositories, a repository created and one edited,
collaborators added, invited and removed."""
EXISTING_ONLY = ORG + TEAMS_AND_REPOS
"""The changes that create nothing: peribolos' dry run lists the teams and repositories it would create
(its dry ``CreateTeam`` invents a slug), which GitHub answers with 404 as the fake does."""


@dataclass
class Run:
    code: int
    stderr: str
    requests: list[RecordedRequest]

    @property
    def writes(self) -> list[tuple[str, str]]:
        return [(r.method, r.route or r.path) for r in self.requests if r.method in WRITES]

    def refused(self) -> list[tuple[str, str, int]]:
        return [(r.method, r.path, r.status) for r in self.requests if not 200 <= r.status < 300]


@pytest.fixture(scope="module")
def peribolos_bin() -> Path:
    return find_tools(modules=("peribolos",)).bin("peribolos")


@pytest.fixture
def org(fake_github: FakeGitHub) -> FakeGitHub:
    """octo-org before the sync: zed will be removed, dave and erin are new, a team to delete, one to
    rename, a collaborator to remove."""
    gh = fake_github
    gh.add_org(
        "octo-org",
        admins=["alice", "bob"],
        members=["carol", "zed"],
        teams=[
            FakeTeam(
                7,
                "reviewers",
                "reviewers",
                maintainers={"alice"},
                members={"carol"},
                repos={"website": "pull"},
            ),
            FakeTeam(8, "writers", "writers", members={"carol"}),
            FakeTeam(9, "old-team", "old-team"),
        ],
    )
    gh.push_commit("octo-org/website", {"index.html": "<html/>"})
    gh.ui.add_collaborator("octo-org/website", "gone-collab", "pull")
    return gh


def run_peribolos(
    gh: FakeGitHub, binary: Path, token: str, tmp_path: Path, *flags: str, config: str = CONFIG
) -> Run:
    (tmp_path / "token").write_text(token)
    (tmp_path / "config.yaml").write_text(config)
    argv = [
        str(binary),
        f"--config-path={tmp_path / 'config.yaml'}",
        f"--github-endpoint={gh.api_url}",
        f"--github-graphql-endpoint={gh.graphql_url}",
        f"--github-token-path={tmp_path / 'token'}",
        "--require-self=false",
        "--min-admins=2",
        "--maximum-removal-delta=1",
        "--github-client.initial-delay=10ms",
        *flags,
    ]
    gh.clear_requests()
    result = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    return Run(result.returncode, result.stderr, gh.requests)


def test_confirm_with_every_flag_converges_the_org(
    org: FakeGitHub, app_key: rsa.RSAPrivateKey, peribolos_bin: Path, tmp_path: Path
) -> None:
    run = run_peribolos(org, peribolos_bin, mint(org, app_key, 1), tmp_path, "--confirm", *EVERY_FLAG)
    assert run.code == 0, run.stderr[-3000:]
    assert run.refused() == [], run.stderr[-3000:]
    assert not org.handler_errors
    state = org.orgs["octo-org"]
    assert (
        state.name,
        state.location,
        state.has_organization_projects,
        state.members_can_create_repositories,
    ) == ("Octo Org", "Mars", False, False)
    assert (state.admins, state.members) == ({"alice", "bob"}, {"carol"})
    assert state.invitations == {"dave": "direct_member", "erin": "direct_member"}
    teams = state.teams
    assert set(teams) == {"reviewers", "juniors", "writers"}
    assert (teams["juniors"].parent, teams["juniors"].privacy, teams["writers"].name) == (
        "reviewers",
        "closed",
        "Writers",
    )
    assert teams["reviewers"].repos == {".github": "admin", "website": "push"}
    assert teams["juniors"].repos == {"website": "pull"}
    assert (teams["reviewers"].members, teams["reviewers"].invitations) == ({"carol"}, {"dave"})
    assert teams["writers"].members == set() and teams["writers"].invitations == {"erin"}
    website = state.repos["website"]
    assert (website.description, website.has_wiki) == ("The site", False)
    assert website.collaborators == {"carol": "admin"}
    assert [(i.login, i.permission) for i in website.invitations.values()] == [("outsider", "push")]
    assert state.repos["new-repo"].description == "created by peribolos"
    assert {route for _, route in run.writes} >= {
        "/orgs/{org}",
        "/orgs/{org}/memberships/{username}",
        "/orgs/{org}/repos",
        "/repos/{owner}/{repo}",
        "/repos/{owner}/{repo}/collaborators/{username}",
        "/orgs/{org}/teams",
        "/orgs/{org}/teams/{team_slug}",
        "/orgs/{org}/teams/{team_slug}/memberships/{username}",
        "/orgs/{org}/teams/{team_slug}/repos/{owner}/{repo}",
    }
    again = run_peribolos(
        org, peribolos_bin, mint(org, app_key, 1), tmp_path / "..", "--confirm", *EVERY_FLAG
    )
    assert again.code == 0, again.stderr[-3000:]
    assert [w for w in again.writes if w != ("POST", "/graphql")] == [], "in sync: nothing to change"


def test_dry_run_writes_nothing(
    org: FakeGitHub, app_key: rsa.RSAPrivateKey, peribolos_bin: Path, tmp_path: Path
) -> None:
    """Without ``--confirm`` peribolos only reads (GraphQL queries are POSTs)."""
    run = run_peribolos(
        org, peribolos_bin, mint(org, app_key, 1), tmp_path, *EVERY_FLAG, config=EXISTING_ONLY
    )
    assert run.code == 0, run.stderr[-3000:]
    assert run.refused() == []
    assert {w for w in run.writes} == {("POST", "/graphql")}
    assert org.orgs["octo-org"].members == {"carol", "zed"}


@dataclass(frozen=True)
class Flag:
    flags: tuple[str, ...]
    needs: dict[str, str]
    """The narrowest token that suffices (metadata: read comes with any repository permission)."""
    changed: Any
    config: str = CONFIG
    """Without ``--fix-repos``, a repository the config adds does not exist: peribolos' collaborator listing
    for it then fails (on GitHub too), so that flag alone syncs a config of existing repositories."""


FLAGS = [
    pytest.param(
        Flag(
            ("--fix-org",),
            {"organization_administration": "write", "members": "read"},
            lambda s: s.name == "Octo Org",
        ),
        id="fix-org",
    ),
    pytest.param(
        Flag(
            ("--fix-org-members",),
            {"members": "write"},
            lambda s: "zed" not in s.members and "dave" in s.invitations,
        ),
        id="fix-org-members",
    ),
    pytest.param(
        Flag(
            ("--fix-teams",),
            {"members": "write"},
            lambda s: "old-team" not in s.teams and s.teams["juniors"].parent == "reviewers",
        ),
        id="fix-teams",
    ),
    pytest.param(
        Flag(
            ("--fix-teams", "--fix-team-members"),
            {"members": "write"},
            lambda s: s.teams["reviewers"].invitations == {"dave"},
        ),
        id="fix-team-members",
    ),
    pytest.param(
        Flag(
            ("--fix-teams", "--fix-team-repos"),
            {"members": "write", "administration": "write"},
            lambda s: s.teams["reviewers"].repos == {".github": "admin", "website": "push"},
        ),
        id="fix-team-repos",
    ),
    pytest.param(
        Flag(
            ("--fix-repos",),
            {"administration": "write"},
            lambda s: "new-repo" in s.repos and s.repos["website"].has_wiki is False,
        ),
        id="fix-repos",
    ),
    pytest.param(
        Flag(
            ("--fix-collaborators",),
            {"administration": "write"},
            lambda s: s.repos["website"].collaborators == {"carol": "admin"},
            EXISTING_ONLY,
        ),
        id="fix-collaborators",
    ),
]


@pytest.mark.parametrize("flag", FLAGS)
def test_each_flag_works_with_the_narrowest_token(
    org: FakeGitHub, app_key: rsa.RSAPrivateKey, peribolos_bin: Path, tmp_path: Path, flag: Flag
) -> None:
    token = mint(org, app_key, 1, permissions=flag.needs)
    run = run_peribolos(org, peribolos_bin, token, tmp_path, "--confirm", *flag.flags, config=flag.config)
    assert run.code == 0, run.stderr[-3000:]
    assert run.refused() == []
    assert flag.changed(org.orgs["octo-org"])


@pytest.mark.parametrize(
    ("flags", "permissions"),
    [
        pytest.param(("--fix-org-members",), {"members": "read"}, id="members-read-cannot-invite"),
        pytest.param(("--fix-repos",), {"administration": "read"}, id="administration-read-cannot-create"),
        pytest.param(("--fix-org",), {"members": "read"}, id="no-organization-administration"),
    ],
)
def test_a_token_below_what_a_flag_needs_is_refused(
    org: FakeGitHub,
    app_key: rsa.RSAPrivateKey,
    peribolos_bin: Path,
    tmp_path: Path,
    flags: tuple[str, ...],
    permissions: dict[str, str],
) -> None:
    run = run_peribolos(
        org, peribolos_bin, mint(org, app_key, 1, permissions=permissions), tmp_path, "--confirm", *flags
    )
    assert run.code != 0
    assert {s for _, _, s in run.refused()} == {403}
    assert "Resource not accessible by integration" in run.stderr
    assert org.orgs["octo-org"].members == {"carol", "zed"} and "new-repo" not in org.orgs["octo-org"].repos
