"""Every answer of every operation in GitHub's OpenAPI subset (``tests/fixtures/github-openapi``) validates
against that operation's response schema: successes and the documented errors alike.

The OpenAPI 3.0 schemas are turned into JSON Schema (``nullable`` -> ``null`` allowed; ``$ref``s inside
the file resolved; the components the subset could not include are "anything"). ``date-time`` fields are
checked to be timestamps. An installation's ``account`` is also checked against ``simple-user`` (its
schema is "simple-user or enterprise", and enterprise is one of the unresolved components).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fakes.client import call, mint
from tests.fakes.github import FakeGitHub, FakeTeam

SUBSET = Path(__file__).resolve().parents[1] / "fixtures" / "github-openapi" / "subset.json"
SHA_FILE = "peribolos.yaml"


@cache
def _document() -> dict[str, Any]:
    return json.loads(SUBSET.read_text())


def to_json_schema(node: Any, seen: tuple[str, ...] = ()) -> Any:
    """An OpenAPI 3.0 schema as JSON Schema, with ``$ref``s inlined."""
    doc = _document()
    if isinstance(node, list):
        return [to_json_schema(n, seen) for n in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        ref = node["$ref"]
        if ref in doc.get("x-unresolved", []):
            return {}
        assert ref not in seen, f"$ref cycle through {ref}"
        target: Any = doc
        for part in ref.removeprefix("#/").split("/"):
            target = target[part]
        return to_json_schema(target, (*seen, ref))
    out = {k: to_json_schema(v, seen) for k, v in node.items() if k not in ("nullable", "discriminator")}
    return {"anyOf": [out, {"type": "null"}]} if node.get("nullable") else out


def _timestamp(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


FORMATS = jsonschema.FormatChecker(formats=())
FORMATS.checks("date-time")(_timestamp)


def response_schema(path: str, method: str, status: int) -> Any | None:
    """The JSON schema of an operation's answer, None when the answer has no body."""
    response = to_json_schema(_document()["paths"][path][method.lower()]["responses"][str(status)])
    content = response.get("content", {})
    return content["application/json"]["schema"] if "application/json" in content else None


def assert_conforms(path: str, method: str, answer: requests.Response) -> None:
    schema = response_schema(path, method, answer.status_code)
    if schema is None:
        assert not answer.content, f"{method} {path} {answer.status_code} should have no body"
        return
    body = answer.json()
    errors = sorted(jsonschema.Draft4Validator(schema, format_checker=FORMATS).iter_errors(body), key=str)
    assert not errors, f"{method} {path} {answer.status_code}:\n" + "\n".join(
        f"  {'/'.join(map(str, e.absolute_path))}: {e.message[:300]}" for e in errors[:10]
    )


@pytest.fixture
def world(fake_github: FakeGitHub, app_key: rsa.RSAPrivateKey) -> FakeGitHub:
    """An org with owners, a member, an invitation, nested teams with repositories and invitations, a
    config commit with a check run on it, a suspended installation and one on a user account."""
    gh = fake_github
    gh.add_org(
        "octo-org",
        admins=["alice", "bob"],
        members=["carol"],
        teams=[
            FakeTeam(
                7,
                "Reviewers",
                "reviewers",
                "They review",
                maintainers={"alice"},
                members={"carol"},
                repos={".github": "push", "website": "maintain"},
            ),
            FakeTeam(
                8, "Sub Team", "sub-team", parent="reviewers", members={"bob"}, repos={"website": "pull"}
            ),
        ],
    )
    gh.orgs["octo-org"].invitations["dave"] = "direct_member"
    gh.orgs["octo-org"].teams["reviewers"].invitations.add("dave")
    gh.push_commit("octo-org/.github", {SHA_FILE: "orgs: {}\n", "docs/README.md": "# docs\n"})
    gh.add_installation(3, "paused-org", suspended=True)
    gh.add_installation(4, "octocat", "User")
    token = mint(gh, app_key, 1)
    head = gh.head_sha("octo-org/.github")
    run = call(
        gh,
        "POST",
        "/repos/octo-org/.github/check-runs",
        token,
        json={"name": "peribolos/dry-run", "head_sha": head, "status": "in_progress"},
    )
    assert run.status_code == 201, run.text
    return gh


Case = Callable[[FakeGitHub, rsa.RSAPrivateKey], requests.Response]


def _token(gh: FakeGitHub, key: rsa.RSAPrivateKey, **scope: Any) -> str:
    return mint(gh, key, 1, **scope)


NO_MEMBERS = {"permissions": {"contents": "read"}}
M = "/orgs/{org}/memberships/{username}"
CASES: list[tuple[str, str, int, Case]] = [
    # apps
    ("/app", "GET", 200, lambda gh, k: call(gh, "GET", "/app", app_key=k)),
    ("/app/installations", "GET", 200, lambda gh, k: call(gh, "GET", "/app/installations", app_key=k)),
    (
        "/app/installations/{installation_id}",
        "GET",
        200,
        lambda gh, k: call(gh, "GET", "/app/installations/3", app_key=k),
    ),
    (
        "/app/installations/{installation_id}",
        "GET",
        404,
        lambda gh, k: call(gh, "GET", "/app/installations/99", app_key=k),
    ),
    (
        "/app/installations/{installation_id}/access_tokens",
        "POST",
        201,
        lambda gh, k: call(
            gh,
            "POST",
            "/app/installations/1/access_tokens",
            app_key=k,
            json={"repositories": [".github"], "permissions": {"contents": "read"}},
        ),
    ),
    (
        "/app/installations/{installation_id}/access_tokens",
        "POST",
        403,
        lambda gh, k: call(gh, "POST", "/app/installations/3/access_tokens", app_key=k),
    ),
    (
        "/app/installations/{installation_id}/access_tokens",
        "POST",
        401,
        lambda gh, k: call(
            gh, "POST", "/app/installations/1/access_tokens", headers={"Authorization": "Bearer x"}
        ),
    ),
    (
        "/app/installations/{installation_id}/access_tokens",
        "POST",
        404,
        lambda gh, k: call(gh, "POST", "/app/installations/99/access_tokens", app_key=k),
    ),
    (
        "/app/installations/{installation_id}/access_tokens",
        "POST",
        422,
        lambda gh, k: call(
            gh,
            "POST",
            "/app/installations/1/access_tokens",
            app_key=k,
            json={"permissions": {"secrets": "write"}},
        ),
    ),
    # orgs
    ("/orgs/{org}", "GET", 200, lambda gh, k: call(gh, "GET", "/orgs/octo-org", _token(gh, k))),
    ("/orgs/{org}", "GET", 404, lambda gh, k: call(gh, "GET", "/orgs/nope", _token(gh, k))),
    (
        "/orgs/{org}/members",
        "GET",
        200,
        lambda gh, k: call(gh, "GET", "/orgs/octo-org/members?role=all", _token(gh, k)),
    ),
    (
        "/orgs/{org}/members",
        "GET",
        422,
        lambda gh, k: call(gh, "GET", "/orgs/octo-org/members?role=owner", _token(gh, k)),
    ),
    (
        "/orgs/{org}/invitations",
        "GET",
        200,
        lambda gh, k: call(gh, "GET", "/orgs/octo-org/invitations", _token(gh, k)),
    ),
    (
        "/orgs/{org}/invitations",
        "GET",
        404,
        lambda gh, k: call(gh, "GET", "/orgs/Acme/invitations", _token(gh, k)),
    ),
    (M, "GET", 200, lambda gh, k: call(gh, "GET", "/orgs/octo-org/memberships/carol", _token(gh, k))),
    (M, "GET", 200, lambda gh, k: call(gh, "GET", "/orgs/octo-org/memberships/dave", _token(gh, k))),
    (M, "GET", 404, lambda gh, k: call(gh, "GET", "/orgs/octo-org/memberships/zed", _token(gh, k))),
    (
        M,
        "GET",
        403,
        lambda gh, k: call(gh, "GET", "/orgs/octo-org/memberships/carol", _token(gh, k, **NO_MEMBERS)),
    ),
    (
        M,
        "PUT",
        200,
        lambda gh, k: call(
            gh, "PUT", "/orgs/octo-org/memberships/erin", _token(gh, k), json={"role": "member"}
        ),
    ),
    (
        M,
        "PUT",
        200,
        lambda gh, k: call(
            gh, "PUT", "/orgs/octo-org/memberships/carol", _token(gh, k), json={"role": "admin"}
        ),
    ),
    (
        M,
        "PUT",
        403,
        lambda gh, k: call(
            gh,
            "PUT",
            "/orgs/octo-org/memberships/erin",
            _token(gh, k, permissions={"members": "read"}),
            json={"role": "member"},
        ),
    ),
    (
        M,
        "PUT",
        422,
        lambda gh, k: call(
            gh, "PUT", "/orgs/octo-org/memberships/erin", _token(gh, k), json={"role": "owner"}
        ),
    ),
    (M, "DELETE", 204, lambda gh, k: call(gh, "DELETE", "/orgs/octo-org/memberships/carol", _token(gh, k))),
    (
        M,
        "DELETE",
        403,
        lambda gh, k: call(
            gh, "DELETE", "/orgs/octo-org/memberships/carol", _token(gh, k, permissions={"members": "read"})
        ),
    ),
    # teams
    ("/orgs/{org}/teams", "GET", 200, lambda gh, k: call(gh, "GET", "/orgs/octo-org/teams", _token(gh, k))),
    (
        "/orgs/{org}/teams",
        "GET",
        403,
        lambda gh, k: call(gh, "GET", "/orgs/octo-org/teams", _token(gh, k, **NO_MEMBERS)),
    ),
    (
        "/orgs/{org}/teams/{team_slug}/members",
        "GET",
        200,
        lambda gh, k: call(gh, "GET", "/orgs/octo-org/teams/reviewers/members", _token(gh, k)),
    ),
    (
        "/orgs/{org}/teams/{team_slug}/invitations",
        "GET",
        200,
        lambda gh, k: call(gh, "GET", "/orgs/octo-org/teams/reviewers/invitations", _token(gh, k)),
    ),
    (
        "/orgs/{org}/teams/{team_slug}/repos",
        "GET",
        200,
        lambda gh, k: call(gh, "GET", "/orgs/octo-org/teams/reviewers/repos", _token(gh, k)),
    ),
    # repositories and checks
    (
        "/repos/{owner}/{repo}/contents/{path}",
        "GET",
        200,
        lambda gh, k: call(gh, "GET", f"/repos/octo-org/.github/contents/{SHA_FILE}", _token(gh, k)),
    ),
    (
        "/repos/{owner}/{repo}/contents/{path}",
        "GET",
        200,
        lambda gh, k: call(gh, "GET", "/repos/octo-org/.github/contents/docs?ref=main", _token(gh, k)),
    ),
    (
        "/repos/{owner}/{repo}/contents/{path}",
        "GET",
        404,
        lambda gh, k: call(gh, "GET", "/repos/octo-org/.github/contents/missing.yaml", _token(gh, k)),
    ),
    (
        "/repos/{owner}/{repo}/contents/{path}",
        "GET",
        403,
        lambda gh, k: call(
            gh, "GET", "/repos/octo-org/website/contents/x", _token(gh, k, repositories=[".github"])
        ),
    ),
    (
        "/repos/{owner}/{repo}/check-runs",
        "POST",
        201,
        lambda gh, k: call(
            gh,
            "POST",
            "/repos/octo-org/.github/check-runs",
            _token(gh, k),
            json={
                "name": "peribolos/sync",
                "head_sha": gh.head_sha("octo-org/.github"),
                "conclusion": "failure",
                "details_url": "https://ci.example.com/run/1",
                "external_id": "run-1",
                "output": {
                    "title": "t",
                    "summary": "s",
                    "text": "x",
                    "annotations": [
                        {
                            "path": SHA_FILE,
                            "start_line": 1,
                            "end_line": 1,
                            "annotation_level": "failure",
                            "message": "m",
                        }
                    ],
                },
            },
        ),
    ),
    (
        "/repos/{owner}/{repo}/check-runs/{check_run_id}",
        "GET",
        200,
        lambda gh, k: call(gh, "GET", "/repos/octo-org/.github/check-runs/1", _token(gh, k)),
    ),
]


@pytest.mark.parametrize(
    ("path", "method", "status", "case"),
    CASES,
    ids=[f"{i:02d}-{m}-{p.strip('/').replace('/', '-')}-{s}" for i, (p, m, s, _) in enumerate(CASES)],
)
def test_answers_conform_to_githubs_schema(
    world: FakeGitHub, app_key: rsa.RSAPrivateKey, path: str, method: str, status: int, case: Case
) -> None:
    answer = case(world, app_key)
    assert answer.status_code == status, answer.text
    assert_conforms(path, method, answer)


def test_every_operation_of_the_subset_is_checked() -> None:
    operations = {
        (path, method.upper())
        for path, item in _document()["paths"].items()
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    }
    checked = {(p, m) for p, m, _, _ in CASES}
    assert operations - checked == set()
    assert len(operations) == 17


def test_installation_accounts_are_simple_users(world: FakeGitHub, app_key: rsa.RSAPrivateKey) -> None:
    """The schema lets ``account`` be an enterprise (unresolved here); ours are users and orgs, so they must
    be full ``simple-user`` objects."""
    user = to_json_schema({"$ref": "#/components/schemas/simple-user"})
    installations = call(world, "GET", "/app/installations", app_key=app_key).json()
    assert {i["account"]["type"] for i in installations} == {"Organization", "User"}
    for inst in installations:
        jsonschema.Draft4Validator(user).validate(inst["account"])
        assert inst["target_id"] == inst["account"]["id"]


@pytest.mark.parametrize(
    ("schema", "bad"),
    [
        ({"$ref": "#/components/schemas/simple-user"}, {"login": "x"}),
        ({"$ref": "#/components/schemas/check-run"}, {"id": 1, "status": "done"}),
        ({"type": "string", "format": "date-time"}, "yesterday"),
    ],
    ids=["user-missing-fields", "check-run-bad-status", "bad-timestamp"],
)
def test_the_checker_can_fail(schema: dict, bad: Any) -> None:
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft4Validator(to_json_schema(schema), format_checker=FORMATS).validate(bad)
