"""The rule "peribolos flag → token permissions" as a table, and against the real peribolos: each flag,
with the token this rule gives it, runs against the fake GitHub's permission table, applying (--confirm)
and as a dry run; with less, GitHub (the fake) refuses it."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from peribolos_core import scopes
from peribolos_core.scopes import FIX_FLAGS, Scope
from tests.fakes.client import mint
from tests.fakes.github import FakeGitHub
from tests.fakes.test_github_peribolos import EXISTING_ONLY, org, run_peribolos  # noqa: F401 - org: fixture


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
# The fake's own peribolos suite gives the org and the run: EXISTING_ONLY changes something for every flag
# (org metadata, members added and removed, teams edited, renamed and deleted, team members and repositories,
# a repository's settings and collaborators) and creates nothing, which a dry run could not look into.

FLAG_SETS = [
    ("--fix-org",),
    ("--fix-org-members",),
    ("--fix-teams",),
    ("--fix-teams", "--fix-team-members"),
    ("--fix-teams", "--fix-team-repos"),
    ("--fix-repos",),
    ("--fix-collaborators",),
]
WRITES_OF_FLAGS = [
    (flags, name)
    for flags in FLAG_SETS
    for name, level in scopes.peribolos_permissions(flags, True).items()
    if level == "write"
]


@pytest.fixture(scope="module")
def peribolos_bin() -> Path:
    from tests.infra.controlplane import find_tools

    return find_tools(modules=("peribolos",)).bin("peribolos")


def _token(gh: FakeGitHub, key: rsa.RSAPrivateKey, scope: Scope) -> str:
    body: dict[str, object] = {"permissions": dict(scope.permissions)}
    if scope.repositories is not None:
        body["repositories"] = list(scope.repositories)
    return mint(gh, key, 1, **body)


@pytest.mark.e2e
@pytest.mark.parametrize("confirm", [True, False], ids=["sync", "dry-run"])
@pytest.mark.parametrize("flags", FLAG_SETS, ids=[" ".join(f) for f in FLAG_SETS])
def test_the_rule_gives_each_flag_enough_and_nothing_the_fake_refuses(
    org: FakeGitHub,  # noqa: F811 - the fixture imported above
    app_key: rsa.RSAPrivateKey,
    peribolos_bin: Path,
    tmp_path: Path,
    flags: tuple[str, ...],
    confirm: bool,
) -> None:
    token = _token(org, app_key, scopes.peribolos_scope(flags, confirm, ".github"))
    run = run_peribolos(
        org, peribolos_bin, token, tmp_path, *flags, *(["--confirm"] if confirm else []), config=EXISTING_ONLY
    )
    assert (run.code, run.refused()) == (0, []), run.stderr[-3000:]
    writes = [w for w in run.writes if w[1] != "/graphql"]
    assert bool(writes) is confirm, "a sync changes the org, a dry run sends no write"


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("flags", "permission"), WRITES_OF_FLAGS, ids=[f"{' '.join(f)}-{p}" for f, p in WRITES_OF_FLAGS]
)
def test_each_write_the_rule_asks_for_is_needed(
    org: FakeGitHub,  # noqa: F811 - the fixture imported above
    app_key: rsa.RSAPrivateKey,
    peribolos_bin: Path,
    tmp_path: Path,
    flags: tuple[str, ...],
    permission: str,
) -> None:
    """The write lowered to read: peribolos' sync fails with GitHub's 403, so the rule asks for nothing a
    flag does not use."""
    scope = scopes.peribolos_scope(flags, True, ".github")
    lowered = Scope({**scope.permissions, permission: "read"}, scope.repositories)
    run = run_peribolos(
        org, peribolos_bin, _token(org, app_key, lowered), tmp_path, *flags, "--confirm", config=EXISTING_ONLY
    )
    assert run.code != 0, f"{permission}: write is not needed by {flags}"
    assert 403 in {status for _, _, status in run.refused()}
    assert "Resource not accessible by integration" in run.stderr, run.stderr[-2000:]
