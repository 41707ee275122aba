"""The fake GitHub itself: it must refuse what GitHub refuses, or the tests built on it prove nothing.
Requests here are raw (``requests``), not through our client, so the fake is checked independently."""

import json
import threading
import time

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fakes.fixtures import APP_ID
from tests.fakes.github import (
    MSG_EXP_TOO_FAR,
    MSG_EXPIRED,
    MSG_IAT,
    MSG_JWT_UNDECODABLE,
    MSG_SUSPENDED,
    FakeGitHub,
    Fault,
)


def sign(key: rsa.RSAPrivateKey, iat_offset: int = -60, lifetime: int = 540, iss: str = APP_ID, **kw) -> str:
    now = int(time.time())
    claims = {"iat": now + iat_offset, "exp": now + iat_offset + lifetime, "iss": iss}
    return jwt.encode(claims, key, algorithm=kw.get("alg", "RS256"))


@pytest.mark.parametrize(
    ("auth", "status", "message"),
    [
        (lambda k, o: f"Bearer {sign(k)}", 200, None),
        (lambda k, o: f"bearer {sign(k)}", 200, None),
        (lambda k, o: None, 401, "Requires authentication"),
        (lambda k, o: f"token {sign(k)}", 401, MSG_JWT_UNDECODABLE),
        (lambda k, o: "Bearer not.a.jwt", 401, MSG_JWT_UNDECODABLE),
        (lambda k, o: f"Bearer {sign(o)}", 401, MSG_JWT_UNDECODABLE),
        (
            lambda k, o: (
                "Bearer " + jwt.encode({"iss": APP_ID, "iat": 1, "exp": 2}, "s" * 32, algorithm="HS256")
            ),
            401,
            MSG_JWT_UNDECODABLE,
        ),
        (lambda k, o: f"Bearer {sign(k, iss='777')}", 401, "Integration not found"),
        (lambda k, o: f"Bearer {sign(k, lifetime=601)}", 401, MSG_EXP_TOO_FAR),
        (lambda k, o: f"Bearer {sign(k, iat_offset=0, lifetime=601)}", 401, MSG_EXP_TOO_FAR),
        (lambda k, o: f"Bearer {sign(k, iat_offset=-1200)}", 401, MSG_EXPIRED),
        (lambda k, o: f"Bearer {sign(k, iat_offset=120)}", 401, MSG_IAT),
    ],
    ids=[
        "valid",
        "lower-case-scheme",
        "missing",
        "token-scheme",
        "garbage",
        "wrong-key",
        "hs256",
        "wrong-iss",
        "exp-601s-after-iat",
        "exp-too-far",
        "expired",
        "iat-in-future",
    ],
)
def test_jwt_rules(
    fake_github: FakeGitHub, app_key, other_key, auth, status: int, message: str | None
) -> None:
    value = auth(app_key, other_key)
    headers = {"Authorization": value} if value else {}
    answer = requests.get(f"{fake_github.api_url}/app/installations/1", headers=headers, timeout=5)
    assert answer.status_code == status
    if message:
        assert answer.json()["message"] == message
    else:
        assert answer.json()["account"] == {
            "login": "octo-org",
            "id": 1001,
            "node_id": answer.json()["account"]["node_id"],
            "type": "Organization",
            "url": f"{fake_github.api_url}/users/octo-org",
            "site_admin": False,
        }


def test_client_id_is_accepted_as_issuer(app_key) -> None:
    with FakeGitHub(APP_ID, app_key.public_key(), client_id="Iv23liXYZ") as gh:
        answer = requests.get(
            f"{gh.api_url}/app",
            headers={"Authorization": f"Bearer {sign(app_key, iss='Iv23liXYZ')}"},
            timeout=5,
        )
        assert answer.status_code == 200


def test_tokens_are_opaque_and_expire(fake_github: FakeGitHub, app_key) -> None:
    now = [time.time()]
    fake_github.clock = lambda: now[0]
    answer = requests.post(
        f"{fake_github.api_url}/app/installations/1/access_tokens",
        headers={"Authorization": f"Bearer {sign(app_key)}"},
        timeout=5,
    )
    assert answer.status_code == 201
    token = answer.json()["token"]
    assert len(token) > 500
    assert answer.json()["expires_at"].endswith("Z")
    assert fake_github.token_is_valid(token)
    fake_github.add_file("octo-org/.github", "main", "f", "x")
    url = f"{fake_github.api_url}/repos/octo-org/.github/contents/f"
    assert requests.get(url, headers={"Authorization": f"token {token}"}, timeout=5).status_code == 200
    now[0] += 3601
    assert not fake_github.token_is_valid(token)
    gone = requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=5)
    assert (gone.status_code, gone.json()["message"]) == (401, "Bad credentials")


def test_contents_json_form_is_base64(fake_github: FakeGitHub, app_key) -> None:
    import base64

    token = requests.post(
        f"{fake_github.api_url}/app/installations/1/access_tokens",
        headers={"Authorization": f"Bearer {sign(app_key)}"},
        timeout=5,
    ).json()["token"]
    fake_github.add_file("octo-org/.github", "abc", "dir/p.yaml", b"orgs: {}\n")
    answer = requests.get(
        f"{fake_github.api_url}/repos/octo-org/.github/contents/dir/p.yaml?ref=abc",
        headers={"Authorization": f"token {token}"},
        timeout=5,
    ).json()
    assert (answer["type"], answer["encoding"], answer["path"]) == ("file", "base64", "dir/p.yaml")
    assert base64.b64decode(answer["content"]) == b"orgs: {}\n"


def test_suspended_and_unknown_installations(fake_github: FakeGitHub, app_key) -> None:
    fake_github.set_suspended(2)
    auth = {"Authorization": f"Bearer {sign(app_key)}"}
    suspended = requests.post(
        f"{fake_github.api_url}/app/installations/2/access_tokens", headers=auth, timeout=5
    )
    assert (suspended.status_code, suspended.json()["message"]) == (403, MSG_SUSPENDED)
    assert requests.get(f"{fake_github.api_url}/app/installations/2", headers=auth, timeout=5).json()[
        "suspended_at"
    ]
    assert (
        requests.post(
            f"{fake_github.api_url}/app/installations/3/access_tokens", headers=auth, timeout=5
        ).status_code
        == 404
    )


def test_link_pagination_and_rate_limit_headers(app_key) -> None:
    with FakeGitHub(APP_ID, app_key.public_key(), rate_limit=5000) as gh:
        gh.add_installations(250)
        auth = {"Authorization": f"Bearer {sign(app_key)}"}
        first = requests.get(f"{gh.api_url}/app/installations?per_page=500", headers=auth, timeout=5)
        assert len(first.json()) == 100, "per_page is capped at 100"
        assert first.links["next"]["url"] == f"{gh.api_url}/app/installations?per_page=100&page=2"
        assert first.links["last"]["url"].endswith("page=3")
        last = requests.get(first.links["last"]["url"], headers=auth, timeout=5)
        assert (
            len(last.json()) == 50
            and "next" not in last.links
            and last.links["prev"]["url"].endswith("page=2")
        )
        assert last.headers["x-ratelimit-limit"] == "5000"
        assert last.headers["x-ratelimit-remaining"] == "4998"
        assert last.headers["x-ratelimit-used"] == "2"
        assert int(last.headers["x-ratelimit-reset"]) > time.time()


@pytest.mark.parametrize(
    ("fault", "status", "headers"),
    [
        (Fault.server_error(503), 503, {}),
        (Fault.too_many_requests(retry_after=9), 429, {"retry-after": "9"}),
        (Fault.secondary_limit(), 403, {}),
        (Fault.primary_limit(reset_in=100), 403, {"x-ratelimit-remaining": "0"}),
    ],
    ids=["503", "429", "secondary", "primary"],
)
def test_injected_faults_apply_to_matching_requests_only(
    fake_github: FakeGitHub, app_key, fault: Fault, status: int, headers: dict
) -> None:
    auth = {"Authorization": f"Bearer {sign(app_key)}"}
    fake_github.inject(fault, times=1, method="GET", path="/installations/2$")
    assert (
        requests.get(f"{fake_github.api_url}/app/installations/1", headers=auth, timeout=5).status_code == 200
    )
    failed = requests.get(f"{fake_github.api_url}/app/installations/2", headers=auth, timeout=5)
    assert failed.status_code == status
    for name, value in headers.items():
        assert failed.headers[name] == value
    assert (
        requests.get(f"{fake_github.api_url}/app/installations/2", headers=auth, timeout=5).status_code == 200
    )
    assert [r.status for r in fake_github.requests] == [200, status, 200]


def test_timeout_fault_delays_the_answer(fake_github: FakeGitHub) -> None:
    fake_github.inject(Fault.timeout(0.5))
    with pytest.raises(requests.Timeout):
        requests.get(f"{fake_github.api_url}/app", timeout=0.1)


def test_random_faults_are_a_fraction(app_key) -> None:
    with FakeGitHub(APP_ID, app_key.public_key(), fault_probability=0.2, seed=7) as gh:
        auth = {"Authorization": f"Bearer {sign(app_key)}"}
        with requests.Session() as session:
            statuses = [
                session.get(f"{gh.api_url}/app", headers=auth, timeout=5).status_code for _ in range(300)
            ]
        failed = sum(s >= 500 for s in statuses)
        assert 30 <= failed <= 90, failed


def test_mint_budget_and_counters(app_key) -> None:
    with FakeGitHub(APP_ID, app_key.public_key(), mint_budget_per_minute=5, latency=0.05) as gh:
        gh.add_installations(10)
        auth = {"Authorization": f"Bearer {sign(app_key)}"}
        url = f"{gh.api_url}/app/installations/1/access_tokens"
        results: list[int] = []

        def mint() -> None:
            results.append(requests.post(url, headers=auth, timeout=5).status_code)

        threads = [threading.Thread(target=mint) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(results) == [201] * 5 + [403] * 3
        assert gh.mint_count == 5 and gh.max_mints_in_window(60) == 5 and gh.mints_per_minute() == [5]
        assert gh.max_in_flight >= 2, "latency is per request, served concurrently"
        rejected = [r for r in gh.requests if r.status == 403]
        assert all(r.auth_scheme == "Bearer" and "authorization" not in r.headers for r in rejected)


def test_check_run_validation(fake_github: FakeGitHub, app_key) -> None:
    token = requests.post(
        f"{fake_github.api_url}/app/installations/1/access_tokens",
        headers={"Authorization": f"Bearer {sign(app_key)}"},
        timeout=5,
    ).json()["token"]
    url = f"{fake_github.api_url}/repos/octo-org/.github/check-runs"
    auth = {"Authorization": f"token {token}"}
    bad = [
        {"name": "x"},
        {"name": "x", "head_sha": "a", "status": "completed"},
        {"name": "x", "head_sha": "a", "status": "done"},
        {
            "name": "x",
            "head_sha": "a",
            "conclusion": "success",
            "status": "completed",
            "output": {"title": "t"},
        },
    ]
    for body in bad:
        assert requests.post(url, data=json.dumps(body), headers=auth, timeout=5).status_code == 422, body
    assert fake_github.check_runs == []
