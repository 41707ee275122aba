"""Fault injection: queued faults hit only the requests they match; random faults are a fraction;
disconnects and truncated bodies look as they would on the wire."""

from __future__ import annotations

import http.client
from urllib.parse import urlsplit

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fakes.client import app_jwt, call
from tests.fakes.fixtures import APP_ID
from tests.fakes.github import FakeGitHub, Fault
from tests.fakes.github.faults import Faults, fault_reply


@pytest.mark.parametrize(
    ("fault", "status", "headers"),
    [
        (Fault.server_error(503), 503, {}),
        (Fault.too_many_requests(retry_after=9), 429, {"retry-after": "9"}),
        (Fault.secondary_limit(), 403, {}),
        (Fault.secondary_limit(retry_after=30), 403, {"retry-after": "30"}),
        (Fault.primary_limit(reset_in=100), 403, {"x-ratelimit-remaining": "0"}),
    ],
    ids=["503", "429", "secondary", "secondary-retry-after", "primary"],
)
def test_injected_faults_apply_to_matching_requests_only(
    fake_github: FakeGitHub, app_key: rsa.RSAPrivateKey, fault: Fault, status: int, headers: dict
) -> None:
    fake_github.inject(fault, times=1, method="GET", path="/installations/2$")
    assert call(fake_github, "GET", "/app/installations/1", app_key=app_key).status_code == 200
    failed = call(fake_github, "GET", "/app/installations/2", app_key=app_key)
    assert failed.status_code == status
    for name, value in headers.items():
        assert failed.headers[name] == value
    assert call(fake_github, "GET", "/app/installations/2", app_key=app_key).status_code == 200
    assert [r.status for r in fake_github.requests] == [200, status, 200]


def test_timeout_fault_delays_the_answer(fake_github: FakeGitHub) -> None:
    fake_github.inject(Fault.timeout(0.5))
    with pytest.raises(requests.Timeout):
        requests.get(f"{fake_github.api_url}/app", timeout=0.1)


def test_disconnect_and_truncated(fake_github: FakeGitHub) -> None:
    fake_github.inject(Fault.disconnect())
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{fake_github.api_url}/app", timeout=5)
    fake_github.inject(Fault.truncated())
    parts = urlsplit(fake_github.url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
    conn.request("GET", "/app")
    answer = conn.getresponse()
    with pytest.raises(http.client.IncompleteRead):
        answer.read()
    conn.close()
    assert [r.status for r in fake_github.requests] == [-1, 200]


def test_random_faults_are_a_fraction(app_key: rsa.RSAPrivateKey) -> None:
    with FakeGitHub(APP_ID, app_key.public_key(), fault_probability=0.2, seed=7) as gh:
        auth = {"Authorization": f"Bearer {app_jwt(app_key)}"}
        with requests.Session() as session:
            statuses = [
                session.get(f"{gh.api_url}/app", headers=auth, timeout=5).status_code for _ in range(300)
            ]
        failed = sum(s >= 500 for s in statuses)
        assert 30 <= failed <= 90, failed


def test_fault_queue_counts_down() -> None:
    faults = Faults()
    faults.inject(Fault.server_error(500), times=2, method="POST")
    assert faults.take("GET", "/x") is None
    assert [faults.take("POST", "/x") for _ in range(3)] == [Fault.server_error(500)] * 2 + [None]


def test_primary_limit_reset_is_ahead_of_now() -> None:
    reply = fault_reply(Fault.primary_limit(reset_in=100), now=1000.0)
    assert reply is not None and reply.headers["x-ratelimit-reset"] == "1100"
