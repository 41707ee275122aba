"""The server and the facade's bookkeeping: bind address, pagination and rate-limit headers, request
records (route and token, no Authorization), the mint budget, bad JSON, unknown routes."""

from __future__ import annotations

import threading

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fakes.client import app_jwt, call, mint
from tests.fakes.fixtures import APP_ID
from tests.fakes.github import FakeGitHub


def test_binds_the_address_it_is_given(app_key: rsa.RSAPrivateKey) -> None:
    with FakeGitHub(APP_ID, app_key.public_key(), host="127.0.0.2") as gh:
        assert gh.url.startswith("http://127.0.0.2:")
        assert call(gh, "GET", "/app", app_key=app_key).status_code == 200
        with pytest.raises(requests.ConnectionError):
            requests.get(gh.url.replace("127.0.0.2", "127.0.0.1") + "/app", timeout=2)


def test_not_started_has_no_url(app_key: rsa.RSAPrivateKey) -> None:
    with pytest.raises(RuntimeError, match="not started"):
        _ = FakeGitHub(APP_ID, app_key.public_key()).url


def test_link_pagination_and_rate_limit_headers(app_key: rsa.RSAPrivateKey) -> None:
    with FakeGitHub(APP_ID, app_key.public_key(), rate_limit=5000) as gh:
        gh.add_installations(250)
        auth = {"Authorization": f"Bearer {app_jwt(app_key)}"}
        first = requests.get(f"{gh.api_url}/app/installations?per_page=500", headers=auth, timeout=5)
        assert len(first.json()) == 100, "per_page is capped at 100"
        assert first.links["next"]["url"] == f"{gh.api_url}/app/installations?per_page=100&page=2"
        assert first.links["last"]["url"].endswith("page=3")
        last = requests.get(first.links["last"]["url"], headers=auth, timeout=5)
        assert len(last.json()) == 50 and "next" not in last.links
        assert last.links["prev"]["url"].endswith("page=2")
        assert last.headers["x-ratelimit-limit"] == "5000"
        assert last.headers["x-ratelimit-remaining"] == "4998"
        assert last.headers["x-ratelimit-used"] == "2"
        assert call(gh, "GET", "/app/installations?per_page=x", app_key=app_key).status_code == 422


def test_requests_are_recorded_with_route_and_token_never_the_credential(
    fake_github: FakeGitHub, app_key: rsa.RSAPrivateKey
) -> None:
    first, second = mint(fake_github, app_key, 1), mint(fake_github, app_key, 1)
    fake_github.clear_requests()
    call(fake_github, "GET", "/orgs/octo-org", first)
    call(fake_github, "GET", "/orgs/octo-org", second)
    call(fake_github, "GET", "/repos/octo-org/.github", second)
    call(fake_github, "GET", "/no/such/route", second)
    assert fake_github.requests_per_route() == {
        ("GET", "/orgs/{org}"): 2,
        ("GET", "/repos/{owner}/{repo}"): 1,
        ("GET", "None"): 1,
    }
    assert fake_github.requests_per_token() == {1: 1, 2: 2}
    assert [r.path for r in fake_github.requests_with_token(second)] == [
        "/orgs/octo-org",
        "/repos/octo-org/.github",
    ]
    assert fake_github.token_id("ghs_unknown") is None
    for entry in fake_github.requests:
        assert entry.auth_scheme == "token" and "authorization" not in entry.headers
        assert first not in repr(entry) and second not in repr(entry)


def test_mint_budget_and_counters(app_key: rsa.RSAPrivateKey) -> None:
    with FakeGitHub(APP_ID, app_key.public_key(), mint_budget_per_minute=5, latency=0.05) as gh:
        gh.add_installations(10)
        url = f"{gh.api_url}/app/installations/1/access_tokens"
        auth = {"Authorization": f"Bearer {app_jwt(app_key)}"}
        results: list[int] = []

        def mint_one() -> None:
            results.append(requests.post(url, headers=auth, timeout=5).status_code)

        threads = [threading.Thread(target=mint_one) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(results) == [201] * 5 + [403] * 3
        assert gh.mint_count == 5 and gh.max_mints_in_window(60) == 5 and gh.mints_per_minute() == [5]
        assert gh.mints_by_installation() == {1: 5}
        assert gh.max_in_flight >= 2, "latency is per request, served concurrently"
        rejected = [r for r in gh.requests if r.status == 403]
        assert all(r.auth_scheme == "Bearer" and "authorization" not in r.headers for r in rejected)


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        pytest.param("POST", "/repos/octo-org/.github/check-runs", b"{not json", 400, id="bad-json"),
        pytest.param("GET", "/nowhere", None, 404, id="unknown-route"),
        pytest.param("DELETE", "/app", None, 404, id="method-github-has-not"),
    ],
)
def test_bad_requests(
    fake_github: FakeGitHub,
    app_key: rsa.RSAPrivateKey,
    method: str,
    path: str,
    body: bytes | None,
    status: int,
) -> None:
    answer = call(fake_github, method, path, mint(fake_github, app_key), data=body)
    assert answer.status_code == status
    assert "message" in answer.json()


def test_enterprise_prefix(app_key: rsa.RSAPrivateKey) -> None:
    with FakeGitHub(APP_ID, app_key.public_key(), path_prefix="/api/v3") as gh:
        assert gh.api_url.endswith("/api/v3") and gh.graphql_url == f"{gh.url}/api/graphql"
        assert call(gh, "GET", "/app", app_key=app_key).status_code == 200
        assert requests.get(f"{gh.url}/app", timeout=5).status_code == 404
