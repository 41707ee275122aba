"""Every answer of every operation in GitHub's OpenAPI subset (``tests/fixtures/github-openapi``) validates
against that operation's response schema: successes and the documented errors alike.

The OpenAPI 3.0 schemas are turned into JSON Schema (``nullable`` -> ``null`` allowed; ``$ref``s inside
the file resolved; the components the subset could not include are "anything"). ``date-time`` fields are
checked to be timestamps. An installation's ``account`` is also checked against ``simple-user`` (its
schema is "simple-user or enterprise", and enterprise is one of the unresolved components).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
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


@dataclass(frozen=True)
class Case:
    """One request and the status it must get; ``op`` and ``method`` name the operation of the subset."""

    op: str
    method: str
    status: int
    path: str
    auth: str = "token"
    """``token`` (a full one of octo-org), ``app`` (the App's JWT), ``none``, ``bad-jwt``."""
    scope: dict[str, Any] = field(default_factory=dict)
    body: dict[str, Any] | None = None

    def send(self, gh: FakeGitHub, key: rsa.RSAPrivateKey) -> requests.Response:
        headers = {"Authorization": "Bearer x"} if self.auth == "bad-jwt" else {}
        token = mint(gh, key, 1, **self.scope) if self.auth == "token" else None
        app_key = key if self.auth == "app" else None
        body = (
            {**self.body, "head_sha": gh.head_sha("octo-org/.github")}
            if self.op.endswith("check-runs")
            else self.body
        )
        return call(gh, self.method, self.path, token, app_key, headers=headers, json=body)


READ_ONLY = {"permissions": {"contents": "read"}}
MEMBERS_READ = {"permissions": {"members": "read"}}
TOKENS = "/app/installations/{installation_id}/access_tokens"
M = "/orgs/{org}/memberships/{username}"
CONTENTS = "/repos/{owner}/{repo}/contents/{path}"
CHECK_RUN = {
    "name": "peribolos/sync",
    "conclusion": "failure",
    "details_url": "https://ci.example.com/run/1",
    "external_id": "run-1",
    "output": {
        "title": "t",
        "summary": "s",
        "text": "x",
        "annotations": [
            {"path": SHA_FILE, "start_line": 1, "end_line": 1, "annotation_level": "failure", "message": "m"}
        ],
    },
}
CASES = [
    Case("/app", "GET", 200, "/app", "app"),
    Case("/app/installations", "GET", 200, "/app/installations", "app"),
    Case("/app/installations/{installation_id}", "GET", 200, "/app/installations/3", "app"),
    Case("/app/installations/{installation_id}", "GET", 404, "/app/installations/99", "app"),
    Case(
        TOKENS,
        "POST",
        201,
        "/app/installations/1/access_tokens",
        "app",
        body={"repositories": [".github"], "permissions": {"contents": "read"}},
    ),
    Case(TOKENS, "POST", 403, "/app/installations/3/access_tokens", "app"),
    Case(TOKENS, "POST", 401, "/app/installations/1/access_tokens", "bad-jwt"),
    Case(TOKENS, "POST", 404, "/app/installations/99/access_tokens", "app"),
    Case(
        TOKENS,
        "POST",
        422,
        "/app/installations/1/access_tokens",
        "app",
        body={"permissions": {"secrets": "write"}},
    ),
    Case("/orgs/{org}", "GET", 200, "/orgs/octo-org"),
    Case("/orgs/{org}", "GET", 404, "/orgs/nope"),
    Case("/orgs/{org}/members", "GET", 200, "/orgs/octo-org/members?role=all"),
    Case("/orgs/{org}/members", "GET", 422, "/orgs/octo-org/members?role=owner"),
    Case("/orgs/{org}/invitations", "GET", 200, "/orgs/octo-org/invitations"),
    Case("/orgs/{org}/invitations", "GET", 404, "/orgs/Acme/invitations"),
    Case(M, "GET", 200, "/orgs/octo-org/memberships/carol"),
    Case(M, "GET", 200, "/orgs/octo-org/memberships/dave"),
    Case(M, "GET", 404, "/orgs/octo-org/memberships/zed"),
    Case(M, "GET", 403, "/orgs/octo-org/memberships/carol", scope=READ_ONLY),
    Case(M, "PUT", 200, "/orgs/octo-org/memberships/erin", body={"role": "member"}),
    Case(M, "PUT", 200, "/orgs/octo-org/memberships/carol", body={"role": "admin"}),
    Case(M, "PUT", 403, "/orgs/octo-org/memberships/erin", scope=MEMBERS_READ, body={"role": "member"}),
    Case(M, "PUT", 422, "/orgs/octo-org/memberships/erin", body={"role": "owner"}),
    Case(M, "DELETE", 204, "/orgs/octo-org/memberships/carol"),
    Case(M, "DELETE", 403, "/orgs/octo-org/memberships/carol", scope=MEMBERS_READ),
    Case("/orgs/{org}/teams", "GET", 200, "/orgs/octo-org/teams"),
    Case("/orgs/{org}/teams", "GET", 403, "/orgs/octo-org/teams", scope=READ_ONLY),
    Case("/orgs/{org}/teams/{team_slug}/members", "GET", 200, "/orgs/octo-org/teams/reviewers/members"),
    Case(
        "/orgs/{org}/teams/{team_slug}/invitations", "GET", 200, "/orgs/octo-org/teams/reviewers/invitations"
    ),
    Case("/orgs/{org}/teams/{team_slug}/repos", "GET", 200, "/orgs/octo-org/teams/reviewers/repos"),
    Case(CONTENTS, "GET", 200, f"/repos/octo-org/.github/contents/{SHA_FILE}"),
    Case(CONTENTS, "GET", 200, "/repos/octo-org/.github/contents/docs?ref=main"),
    Case(CONTENTS, "GET", 404, "/repos/octo-org/.github/contents/missing.yaml"),
    Case(CONTENTS, "GET", 403, "/repos/octo-org/website/contents/x", scope={"repositories": [".github"]}),
    Case(
        "/repos/{owner}/{repo}/check-runs", "POST", 201, "/repos/octo-org/.github/check-runs", body=CHECK_RUN
    ),
    Case(
        "/repos/{owner}/{repo}/check-runs/{check_run_id}", "GET", 200, "/repos/octo-org/.github/check-runs/1"
    ),
]


@pytest.mark.parametrize(
    "case",
    CASES,
    ids=[f"{i:02d}-{c.method}-{c.op.strip('/').replace('/', '-')}-{c.status}" for i, c in enumerate(CASES)],
)
def test_answers_conform_to_githubs_schema(world: FakeGitHub, app_key: rsa.RSAPrivateKey, case: Case) -> None:
    answer = case.send(world, app_key)
    assert answer.status_code == case.status, answer.text
    assert_conforms(case.op, case.method, answer)


def test_every_operation_of_the_subset_is_checked() -> None:
    operations = {
        (path, method.upper())
        for path, item in _document()["paths"].items()
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    }
    checked = {(c.op, c.method) for c in CASES}
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
