"""The fake's authentication: it must refuse what GitHub refuses, or the tests built on it prove nothing.
App JWTs (strict claims), installation tokens (opaque, expiring, scoped at mint time with 422 for what the
installation lacks) and their use (401 / 403 suspended / 404 other account / 403 outside the scope)."""

from __future__ import annotations

import time

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fakes.client import app_jwt, call, mint
from tests.fakes.fixtures import APP_ID
from tests.fakes.github import (
    MSG_EXP_TOO_FAR,
    MSG_EXPIRED,
    MSG_IAT,
    MSG_JWT_UNDECODABLE,
    MSG_NOT_ACCESSIBLE,
    MSG_PERMISSIONS_NOT_GRANTED,
    MSG_REPOS_NOT_ACCESSIBLE,
    MSG_SUSPENDED,
    FakeGitHub,
)


@pytest.mark.parametrize(
    ("auth", "status", "message"),
    [
        pytest.param(lambda k, o: f"Bearer {app_jwt(k)}", 200, None, id="valid"),
        pytest.param(lambda k, o: f"bearer {app_jwt(k)}", 200, None, id="lower-case-scheme"),
        pytest.param(lambda k, o: None, 401, "Requires authentication", id="missing"),
        pytest.param(lambda k, o: f"token {app_jwt(k)}", 401, MSG_JWT_UNDECODABLE, id="token-scheme"),
        pytest.param(lambda k, o: "Bearer not.a.jwt", 401, MSG_JWT_UNDECODABLE, id="garbage"),
        pytest.param(lambda k, o: f"Bearer {app_jwt(o)}", 401, MSG_JWT_UNDECODABLE, id="wrong-key"),
        pytest.param(
            lambda k, o: (
                "Bearer " + jwt.encode({"iss": APP_ID, "iat": 1, "exp": 2}, "s" * 32, algorithm="HS256")
            ),
            401,
            MSG_JWT_UNDECODABLE,
            id="hs256",
        ),
        pytest.param(
            lambda k, o: f"Bearer {app_jwt(k, iss='777')}", 401, "Integration not found", id="wrong-iss"
        ),
        pytest.param(
            lambda k, o: f"Bearer {app_jwt(k, lifetime=601)}", 401, MSG_EXP_TOO_FAR, id="exp-601s-after-iat"
        ),
        pytest.param(
            lambda k, o: f"Bearer {app_jwt(k, iat_offset=0, lifetime=601)}",
            401,
            MSG_EXP_TOO_FAR,
            id="exp-too-far",
        ),
        pytest.param(lambda k, o: f"Bearer {app_jwt(k, iat_offset=-1200)}", 401, MSG_EXPIRED, id="expired"),
        pytest.param(lambda k, o: f"Bearer {app_jwt(k, iat_offset=120)}", 401, MSG_IAT, id="iat-in-future"),
    ],
)
def test_jwt_rules(
    fake_github: FakeGitHub,
    app_key: rsa.RSAPrivateKey,
    other_key: rsa.RSAPrivateKey,
    auth,
    status: int,
    message: str | None,
) -> None:
    value = auth(app_key, other_key)
    answer = call(
        fake_github, "GET", "/app/installations/1", headers={"Authorization": value} if value else {}
    )
    assert answer.status_code == status
    if message:
        assert answer.json()["message"] == message
    else:
        account = answer.json()["account"]
        assert (account["login"], account["id"], account["type"]) == ("octo-org", 1001, "Organization")
        assert account["url"] == f"{fake_github.api_url}/users/octo-org"


def test_client_id_is_accepted_as_issuer(app_key: rsa.RSAPrivateKey) -> None:
    with FakeGitHub(APP_ID, app_key.public_key(), client_id="Iv23liXYZ") as gh:
        answer = call(
            gh, "GET", "/app", headers={"Authorization": f"Bearer {app_jwt(app_key, iss='Iv23liXYZ')}"}
        )
        assert answer.status_code == 200
        assert answer.json()["client_id"] == "Iv23liXYZ"


def test_a_rotated_in_key_is_accepted(fake_github: FakeGitHub, other_key: rsa.RSAPrivateKey) -> None:
    fake_github.public_keys.append(other_key.public_key())
    assert call(fake_github, "GET", "/app", app_key=other_key).status_code == 200


def test_tokens_are_opaque_and_expire(fake_github: FakeGitHub, app_key: rsa.RSAPrivateKey) -> None:
    now = [time.time()]
    fake_github.clock = lambda: now[0]
    answer = call(fake_github, "POST", "/app/installations/1/access_tokens", app_key=app_key)
    assert answer.status_code == 201
    token = answer.json()["token"]
    assert len(token) > 500
    assert answer.json()["expires_at"].endswith("Z")
    assert fake_github.token_is_valid(token)
    fake_github.add_file("octo-org/.github", "main", "f", "x")
    assert call(fake_github, "GET", "/repos/octo-org/.github/contents/f", token).status_code == 200
    now[0] += 3601
    assert not fake_github.token_is_valid(token)
    gone = call(
        fake_github, "GET", "/repos/octo-org/.github/contents/f", headers={"Authorization": f"Bearer {token}"}
    )
    assert (gone.status_code, gone.json()["message"]) == (401, "Bad credentials")


def test_suspended_and_unknown_installations(fake_github: FakeGitHub, app_key: rsa.RSAPrivateKey) -> None:
    token = mint(fake_github, app_key, 2)
    fake_github.set_suspended(2)
    suspended = call(fake_github, "POST", "/app/installations/2/access_tokens", app_key=app_key)
    assert (suspended.status_code, suspended.json()["message"]) == (403, MSG_SUSPENDED)
    assert call(fake_github, "GET", "/app/installations/2", app_key=app_key).json()["suspended_at"]
    assert call(fake_github, "GET", "/orgs/Acme", token).json()["message"] == MSG_SUSPENDED
    assert call(fake_github, "POST", "/app/installations/3/access_tokens", app_key=app_key).status_code == 404


@pytest.mark.parametrize(
    ("body", "status", "message", "permissions", "selection"),
    [
        pytest.param(None, 201, None, None, "selected", id="everything-the-installation-has"),
        pytest.param(
            {"permissions": {"contents": "read"}},
            201,
            None,
            {"contents": "read"},
            "selected",
            id="narrower-permissions",
        ),
        pytest.param(
            {"permissions": {"members": "read"}},
            201,
            None,
            {"members": "read"},
            "selected",
            id="read-of-a-write-grant",
        ),
        pytest.param({"repositories": [".github"]}, 201, None, None, "selected", id="one-repository"),
        pytest.param({"repository_ids": ["id-of-.github"]}, 201, None, None, "selected", id="by-id"),
        pytest.param(
            {"permissions": {"contents": "write"}},
            422,
            MSG_PERMISSIONS_NOT_GRANTED,
            None,
            None,
            id="write-where-installation-reads",
        ),
        pytest.param(
            {"permissions": {"secrets": "read"}},
            422,
            MSG_PERMISSIONS_NOT_GRANTED,
            None,
            None,
            id="permission-not-granted",
        ),
        pytest.param({"permissions": {"contents": "own"}}, 422, None, None, None, id="bad-level"),
        pytest.param(
            {"repositories": ["nope"]}, 422, MSG_REPOS_NOT_ACCESSIBLE, None, None, id="unknown-repository"
        ),
        pytest.param(
            {"repositories": ["private"]},
            422,
            MSG_REPOS_NOT_ACCESSIBLE,
            None,
            None,
            id="repository-not-selected-for-the-installation",
        ),
        pytest.param({"repository_ids": [1]}, 422, MSG_REPOS_NOT_ACCESSIBLE, None, None, id="unknown-id"),
        pytest.param({"repositories": ".github"}, 422, None, None, None, id="repositories-not-a-list"),
        pytest.param([1], 422, None, None, None, id="body-not-an-object"),
    ],
)
def test_mint_scope(
    app_key: rsa.RSAPrivateKey, body, status: int, message: str | None, permissions, selection: str | None
) -> None:
    with FakeGitHub(APP_ID, app_key.public_key()) as gh:
        inst = gh.add_installation(5, "scoped-org", repository_selection="selected")
        config = gh.add_repo("scoped-org/.github")
        gh.add_repo("scoped-org/private")
        inst.selected_repositories = {".github"}
        if isinstance(body, dict) and body.get("repository_ids") == ["id-of-.github"]:
            body = {"repository_ids": [config.id]}
        answer = call(gh, "POST", "/app/installations/5/access_tokens", app_key=app_key, json=body)
        assert answer.status_code == status, answer.text
        if message:
            assert answer.json()["message"] == message
        if status == 201:
            got = answer.json()
            assert got["permissions"] == (permissions or inst.permissions)
            assert got["repository_selection"] == selection
            assert gh.token_scope(got["token"])[0] == got["permissions"]
            if body and {"repositories", "repository_ids"} & set(body):
                assert [r["full_name"] for r in got["repositories"]] == ["scoped-org/.github"]
        else:
            assert gh.mint_count == 0


CONTENTS = "/repos/octo-org/.github/contents/peribolos.yaml"
CHECKS = "/repos/octo-org/.github/check-runs"
WEBSITE = "/repos/octo-org/website/contents/index.html"


@pytest.mark.parametrize(
    ("scope", "method", "path", "status"),
    [
        pytest.param({}, "GET", CONTENTS, 200, id="full-token-reads"),
        pytest.param(
            {"permissions": {"contents": "read"}, "repositories": [".github"]},
            "GET",
            CONTENTS,
            200,
            id="fetch-config-token-reads-config",
        ),
        pytest.param(
            {"permissions": {"contents": "read"}, "repositories": [".github"]},
            "GET",
            WEBSITE,
            403,
            id="fetch-config-token-cannot-read-another-repo",
        ),
        pytest.param(
            {"permissions": {"contents": "read"}}, "POST", CHECKS, 403, id="read-token-cannot-write-checks"
        ),
        pytest.param(
            {"permissions": {"checks": "write"}, "repositories": [".github"]},
            "GET",
            CONTENTS,
            403,
            id="report-token-cannot-read-contents",
        ),
        pytest.param(
            {"permissions": {"members": "read"}},
            "PUT",
            "/orgs/octo-org/memberships/x",
            403,
            id="members-read-cannot-invite",
        ),
        pytest.param(
            {"permissions": {"members": "read"}, "repositories": [".github"]},
            "GET",
            "/orgs/octo-org/members",
            200,
            id="org-permissions-ignore-repositories",
        ),
        pytest.param(
            {"permissions": {"contents": "read"}},
            "GET",
            "/repos/octo-org/.github",
            200,
            id="any-repository-permission-reads-metadata",
        ),
        pytest.param(
            {"permissions": {"members": "read"}},
            "GET",
            "/repos/octo-org/.github",
            403,
            id="org-permission-alone-reads-no-repository",
        ),
        pytest.param(
            {"permissions": {"members": "write"}},
            "PATCH",
            "/orgs/octo-org",
            403,
            id="fix-org-needs-organization-administration",
        ),
        pytest.param(
            {"permissions": {"members": "write"}},
            "PUT",
            "/orgs/octo-org/teams/reviewers/repos/octo-org/website",
            403,
            id="team-repos-need-administration",
        ),
        pytest.param({}, "GET", "/orgs/Acme/members", 404, id="another-installations-org"),
        pytest.param({}, "GET", "/repos/Acme/.github/contents/peribolos.yaml", 404, id="another-orgs-repo"),
        pytest.param({}, "GET", "/repos/octo-org/nope/contents/x", 404, id="no-such-repo"),
    ],
)
def test_token_scope_is_enforced(
    fake_github: FakeGitHub, app_key: rsa.RSAPrivateKey, scope: dict, method: str, path: str, status: int
) -> None:
    gh = fake_github
    gh.add_org("octo-org", admins=["alice"])
    gh.ui.create_team("octo-org", "reviewers")
    gh.add_file("octo-org/.github", "main", "peribolos.yaml", "orgs: {}\n")
    gh.add_file("octo-org/website", "main", "index.html", "<html/>")
    token = mint(gh, app_key, 1, **scope)
    body = {"name": "x", "head_sha": gh.head_sha("octo-org/.github"), "status": "queued"}
    answer = call(gh, method, path, token, json=body if method != "GET" else None)
    assert answer.status_code == status, answer.text
    if status == 403:
        assert answer.json()["message"] == MSG_NOT_ACCESSIBLE


@pytest.mark.parametrize(
    ("authorization", "status"),
    [
        pytest.param(None, 401, id="none"),
        pytest.param("token ghs_unknown", 401, id="unknown-token"),
        pytest.param("Basic dXNlcjpwYXNz", 401, id="basic-auth"),
        pytest.param("jwt", 401, id="app-jwt-is-no-installation-token"),
    ],
)
def test_installation_routes_need_an_installation_token(
    fake_github: FakeGitHub, app_key: rsa.RSAPrivateKey, authorization: str | None, status: int
) -> None:
    headers = {}
    if authorization == "jwt":
        headers["Authorization"] = f"Bearer {app_jwt(app_key)}"
    elif authorization:
        headers["Authorization"] = authorization
    answer = requests.get(f"{fake_github.api_url}/orgs/octo-org", headers=headers, timeout=5)
    assert answer.status_code == status
