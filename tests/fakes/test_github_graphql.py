"""GraphQL: the direct-collaborators query peribolos sends, paged; any other query is a gap of the fake and
says so."""

from __future__ import annotations

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fakes.client import mint
from tests.fakes.github import FakeGitHub

QUERY = (
    "query($after:String$first:Int!$name:String!$owner:String!){repository(owner: $owner, name: $name)"
    "{collaborators(affiliation: DIRECT, first: $first, after: $after){edges{permission,node{login}},"
    "pageInfo{hasNextPage,endCursor}}}}"
)


def graphql(gh: FakeGitHub, token: str, query: str, **variables: object) -> requests.Response:
    return requests.post(
        gh.graphql_url,
        json={"query": query, "variables": variables},
        headers={"Authorization": f"bearer {token}"},
        timeout=5,
    )


@pytest.fixture
def token(fake_github: FakeGitHub, app_key: rsa.RSAPrivateKey) -> str:
    for i, permission in enumerate(["pull", "push", "admin"]):
        fake_github.ui.add_collaborator("octo-org/.github", f"user{i}", permission)
    return mint(fake_github, app_key, 1)


def test_direct_collaborators_page_by_page(fake_github: FakeGitHub, token: str) -> None:
    seen: dict[str, str] = {}
    after = None
    for _ in range(5):
        data = graphql(
            fake_github, token, QUERY, owner="octo-org", name=".github", first=2, after=after
        ).json()
        page = data["data"]["repository"]["collaborators"]
        seen |= {e["node"]["login"]: e["permission"] for e in page["edges"]}
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == {"user0": "READ", "user1": "WRITE", "user2": "ADMIN"}


@pytest.mark.parametrize(
    ("owner", "name", "error"),
    [
        pytest.param("octo-org", "nope", "NOT_FOUND", id="unknown-repo"),
        pytest.param("Acme", ".github", "NOT_FOUND", id="another-installations-repo"),
    ],
)
def test_unreachable_repositories_are_graphql_errors(
    fake_github: FakeGitHub, token: str, owner: str, name: str, error: str
) -> None:
    data = graphql(fake_github, token, QUERY, owner=owner, name=name, first=100).json()
    assert data["data"]["repository"] is None and data["errors"][0]["type"] == error


def test_a_token_limited_to_another_repository_is_forbidden(
    fake_github: FakeGitHub, app_key: rsa.RSAPrivateKey, token: str
) -> None:
    fake_github.add_repo("octo-org/website")
    scoped = mint(fake_github, app_key, 1, repositories=["website"])
    data = graphql(fake_github, scoped, QUERY, owner="octo-org", name=".github", first=100).json()
    assert data["errors"][0]["type"] == "FORBIDDEN"


def test_other_queries_are_a_gap_the_fake_reports(fake_github: FakeGitHub, token: str) -> None:
    answer = graphql(fake_github, token, "query { viewer { login } }")
    assert answer.status_code == 500
    assert fake_github.handler_errors == [
        "UnsupportedQuery: the fake GitHub does not serve this GraphQL query: query { viewer { login } }"
    ]
    fake_github.handler_errors.clear()
    assert graphql(fake_github, "ghs_nope", QUERY).status_code == 401
