"""The rule "peribolos flag → token permissions" as a table, and against the real peribolos: each flag,
with the token this rule gives it, runs against the fake GitHub's permission table, applying (--confirm)
and as a dry run; with less, GitHub (the fake) refuses it."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from peribolos_core import scopes
from peribolos_core.scopes import FIX_FLAGS, Scope
from tests.fakes.client import mint
from tests.fakes.fixtures import APP_ID
from tests.fakes.github import FakeGitHub, FakeTeam


@pytest.mark.parametrize(
    ("flags", "confirm", "permissions", "repositories"),
    [
        pytest.param([], True, {"members": "read"}, (".github",), id="no-flag-reads-members"),
        pytest.param(["--fix-org-members"], True, {"members": "write"}, (".github",), id="org-members"),
        pytest.param(
            ["--fix-org-members"], False, {"members": "read"}, (".github",), id="org-members-dry-run"
        ),
        pytest.param(
            ["--fix-org"],
            True,
            {"members": "read", "organization_administration": "write"},
            (".github",),
            id="org",
        ),
        pytest.param(
            ["--fix-teams", "--fix-team-repos"],
            True,
            {"administration": "write", "members": "write"},
            None,
            id="team-repos-reach-every-repo",
        ),
        pytest.param(
            ["--fix-teams", "--fix-team-repos"],
            False,
            {"administration": "read", "members": "read"},
            None,
            id="team-repos-dry-run",
        ),
        pytest.param(
            ["--fix-repos=true", "--fix-org=false"],
            True,
            {"administration": "write", "members": "read"},
            None,
            id="flag-values",
        ),
        pytest.param(
            ["--fix-collaborators", "--min-admins=2"],
            True,
            {"administration": "write", "members": "read"},
            None,
            id="collaborators",
        ),
    ],
)
def test_the_scope_of_peribolos_token(
    flags: list[str], confirm: bool, permissions: dict[str, str], repositories: tuple[str, ...] | None
) -> None:
    assert scopes.peribolos_scope(flags, confirm, ".github") == Scope(permissions, repositories)


def test_every_flag_is_a_generator_value_and_our_own_steps_read_the_config_repo_only() -> None:
    from generator.values import load_schema

    keys = set(load_schema()["properties"]["peribolos"]["properties"])
    assert {fix.values_key for fix in FIX_FLAGS} <= keys
    assert scopes.config_repo_scope(scopes.FETCH_CONFIG, ".github") == Scope(
        {"contents": "read"}, (".github",)
    )
    assert scopes.config_repo_scope(scopes.REPORT, ".github").permissions == {
        "checks": "write",
        "contents": "read",
    }


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("members=write", ("members", "write")),
        (" checks = read ", ("checks", "read")),
        ("members", None),
        ("members=admin", None),
        ("=read", None),
        ("a b=read", None),
    ],
    ids=["write", "blanks", "no-level", "admin", "no-name", "space"],
)
def test_parse_permission(text: str, parsed: tuple[str, str] | None) -> None:
    if parsed is None:
        with pytest.raises(ValueError, match="PERMISSION=read"):
            scopes.parse_permission(text)
    else:
        assert scopes.parse_permission(text) == parsed


# --- the rule against the real peribolos ---------------------------------------------------------------

CONFIG = """\
orgs:
  octo-org:
    name: Octo Org
    description: managed by peribolos
    admins: [alice, bob]
    members: [carol, dave]
    teams:
      reviewers:
        description: They review
        privacy: closed
        maintainers: [alice]
        members: [carol, dave]
        repos:
          website: write
    repos:
      website:
        description: The site
        has_wiki: false
        collaborators:
          carol: admin
"""
"""A change for every flag (org metadata, a member added and one removed, a team's description, members
and repository, a repository's settings and collaborators), none creating a team or a repository (a dry
run cannot look into those, on GitHub as here)."""
FLAG_SETS = [
    ("--fix-org",),
    ("--fix-org-members",),
    ("--fix-teams",),
    ("--fix-teams", "--fix-team-members"),
    ("--fix-teams", "--fix-team-repos"),
    ("--fix-repos",),
    ("--fix-collaborators",),
]


@pytest.fixture(scope="module")
def peribolos_bin() -> Path:
    from tests.infra.controlplane import find_tools

    return find_tools(modules=("peribolos",)).bin("peribolos")


@contextmanager
def _org(app_key: rsa.RSAPrivateKey) -> Iterator[FakeGitHub]:
    """A fake GitHub whose octo-org differs from :data:`CONFIG` in something each flag changes."""
    with FakeGitHub(APP_ID, app_key.public_key()) as gh:
        gh.add_installation(1, "octo-org")
        gh.add_repo("octo-org/.github")
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
                )
            ],
        )
        gh.push_commit("octo-org/website", {"index.html": "<html/>"})
        yield gh
        assert not gh.handler_errors, gh.handler_errors


@pytest.fixture
def org(app_key: rsa.RSAPrivateKey) -> Iterator[FakeGitHub]:
    with _org(app_key) as gh:
        yield gh


def _peribolos(gh: FakeGitHub, binary: Path, token: str, tmp_path: Path, *flags: str) -> tuple[int, str]:
    (tmp_path / "token").write_text(token)
    (tmp_path / "config.yaml").write_text(CONFIG)
    gh.clear_requests()
    done = subprocess.run(
        [
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
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    return done.returncode, done.stderr


def _token(gh: FakeGitHub, key: rsa.RSAPrivateKey, scope: Scope) -> str:
    body: dict[str, object] = {"permissions": dict(scope.permissions)}
    if scope.repositories is not None:
        body["repositories"] = list(scope.repositories)
    return mint(gh, key, 1, **body)


@pytest.mark.e2e
@pytest.mark.parametrize("confirm", [True, False], ids=["sync", "dry-run"])
@pytest.mark.parametrize("flags", FLAG_SETS, ids=[" ".join(f) for f in FLAG_SETS])
def test_the_rule_gives_each_flag_enough_and_nothing_the_fake_refuses(
    org: FakeGitHub,
    app_key: rsa.RSAPrivateKey,
    peribolos_bin: Path,
    tmp_path: Path,
    flags: tuple[str, ...],
    confirm: bool,
) -> None:
    scope = scopes.peribolos_scope(flags, confirm, ".github")
    code, stderr = _peribolos(
        org, peribolos_bin, _token(org, app_key, scope), tmp_path, *flags, *(["--confirm"] if confirm else [])
    )
    refused = [(r.method, r.path, r.status) for r in org.requests if not 200 <= r.status < 300]
    assert (code, refused) == (0, []), stderr[-3000:]
    writes = [
        r for r in org.requests if r.method in ("PUT", "PATCH", "DELETE", "POST") and r.path != "/graphql"
    ]
    assert bool(writes) is confirm, "a sync changes the org, a dry run sends no write"


@pytest.mark.e2e
@pytest.mark.parametrize("flags", FLAG_SETS, ids=[" ".join(f) for f in FLAG_SETS])
def test_each_permission_the_rule_asks_for_is_needed(
    app_key: rsa.RSAPrivateKey, peribolos_bin: Path, tmp_path: Path, flags: tuple[str, ...]
) -> None:
    """Each write the rule grants for a flag, lowered to read, makes peribolos' sync fail with GitHub's 403:
    the rule asks for nothing a flag does not use."""
    scope = scopes.peribolos_scope(flags, True, ".github")
    writes = [name for name, level in scope.permissions.items() if level == "write"]
    assert writes
    for name in writes:
        lowered = Scope({**scope.permissions, name: "read"}, scope.repositories)
        with _org(app_key) as org:  # each try from the same state: an earlier one changed the org
            code, stderr = _peribolos(
                org, peribolos_bin, _token(org, app_key, lowered), tmp_path, *flags, "--confirm"
            )
        assert code != 0, f"{name}: write is not needed by {flags}"
        assert "Resource not accessible by integration" in stderr, stderr[-2000:]
