"""GitHub's GraphQL and web addresses derived from the REST API URL (GitHub.com, Enterprise Server/Cloud)."""

from __future__ import annotations

import pytest

from generator.endpoints import graphql_url, resolved, web_url


@pytest.mark.parametrize(
    ("api_url", "graphql", "web"),
    [
        pytest.param(
            "https://api.github.com", "https://api.github.com/graphql", "https://github.com", id="github.com"
        ),
        pytest.param(
            "https://api.github.com/", "https://api.github.com/graphql", "https://github.com", id="slash"
        ),
        pytest.param(
            "https://ghe.example.com/api/v3", "https://ghe.example.com/api/graphql", "https://ghe.example.com",
            id="enterprise-server",
        ),
        pytest.param(
            "https://ghe.example.com:8443/api/v3/", "https://ghe.example.com:8443/api/graphql",
            "https://ghe.example.com:8443", id="enterprise-server-port",
        ),
        pytest.param(
            "https://api.acme.ghe.com", "https://api.acme.ghe.com/graphql", "https://acme.ghe.com",
            id="enterprise-cloud-data-residency",
        ),
        pytest.param(
            "http://127.0.0.1:8123", "http://127.0.0.1:8123/graphql", "http://127.0.0.1:8123",
            id="fake-or-proxy",
        ),
        pytest.param(
            "https://api.example.com", "https://api.example.com/graphql", "https://api.example.com",
            id="api-host-not-github",
        ),
    ],
)
def test_derived_from_the_api_url(api_url: str, graphql: str, web: str) -> None:
    assert graphql_url(api_url) == graphql
    assert web_url(api_url) == web


def test_explicit_values_win() -> None:
    github = {
        "apiUrl": "https://ghe.example.com/api/v3/",
        "graphqlUrl": "https://graphql.example.com/",
        "webUrl": "https://web.example.com",
    }
    assert resolved(github) == {**github, "apiUrl": "https://ghe.example.com/api/v3"}
    assert resolved({**github, "graphqlUrl": "", "webUrl": ""}) == {
        "apiUrl": "https://ghe.example.com/api/v3",
        "graphqlUrl": "https://ghe.example.com/api/graphql",
        "webUrl": "https://ghe.example.com",
    }
