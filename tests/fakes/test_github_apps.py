"""The App endpoints: ``GET /app`` and installations (per App), and the App-manifest flow: a code converts
once, within an hour, unauthenticated, into a new App whose key then authenticates as it."""

from __future__ import annotations

import time

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fakes.client import call
from tests.fakes.github import FakeGitHub

MANIFEST = {
    "name": "Peribolos for Octo",
    "url": "https://peribolos.example.com",
    "hook_attributes": {"url": "https://hooks.example.com/peribolos"},
    "redirect_url": "http://127.0.0.1:8765/callback",
    "public": False,
    "default_permissions": {"members": "write", "contents": "read", "checks": "write"},
    "default_events": ["push", "pull_request", "check_run"],
}


def test_get_app(fake_github: FakeGitHub, app_key: rsa.RSAPrivateKey) -> None:
    app = call(fake_github, "GET", "/app", app_key=app_key).json()
    assert (app["id"], app["slug"], app["owner"]["type"]) == (4242, "peribolos-test", "Organization")
    assert "members" in app["permissions"] and "push" in app["events"]


def test_manifest_conversion(fake_github: FakeGitHub) -> None:
    code = fake_github.manifest_code(MANIFEST, owner="octo-org")
    converted = requests.post(f"{fake_github.api_url}/app-manifests/{code}/conversions", timeout=10)
    assert converted.status_code == 201, converted.text
    app = converted.json()
    assert (app["slug"], app["name"], app["owner"]["login"]) == (
        "peribolos-for-octo",
        MANIFEST["name"],
        "octo-org",
    )
    assert app["permissions"] == MANIFEST["default_permissions"]
    assert app["events"] == MANIFEST["default_events"]
    assert app["webhook_secret"] and app["client_secret"] and app["client_id"].startswith("Iv23li")
    key = serialization.load_pem_private_key(app["pem"].encode(), password=None)
    assert app["pem"].startswith("-----BEGIN RSA PRIVATE KEY-----")
    now = int(time.time())
    own_jwt = jwt.encode({"iat": now - 60, "exp": now + 500, "iss": str(app["id"])}, key, algorithm="RS256")
    me = call(fake_github, "GET", "/app", headers={"Authorization": f"Bearer {own_jwt}"}).json()
    assert me["id"] == app["id"]
    assert (
        call(fake_github, "GET", "/app/installations", headers={"Authorization": f"Bearer {own_jwt}"}).json()
        == []
    )
    assert [a.id for a in fake_github.created_apps] == [app["id"]]
    again = requests.post(f"{fake_github.api_url}/app-manifests/{code}/conversions", timeout=10)
    assert again.status_code == 404, "a code converts once"


@pytest.mark.parametrize(
    ("age", "status"),
    [pytest.param(3599, 201, id="within-the-hour"), pytest.param(3601, 404, id="expired")],
)
def test_manifest_codes_expire_after_an_hour(fake_github: FakeGitHub, age: float, status: int) -> None:
    now = [time.time()]
    fake_github.clock = lambda: now[0]
    code = fake_github.manifest_code(MANIFEST)
    now[0] += age
    assert (
        requests.post(f"{fake_github.api_url}/app-manifests/{code}/conversions", timeout=10).status_code
        == status
    )


def test_unknown_code_and_manifest_without_url(fake_github: FakeGitHub) -> None:
    assert (
        requests.post(f"{fake_github.api_url}/app-manifests/nope/conversions", timeout=5).status_code == 404
    )
    with pytest.raises(ValueError, match="url"):
        fake_github.manifest_code({"name": "x"})


def test_installation_repositories(fake_github: FakeGitHub, app_key: rsa.RSAPrivateKey) -> None:
    from tests.fakes.client import mint

    fake_github.add_repo("octo-org/website")
    everything = call(fake_github, "GET", "/installation/repositories", mint(fake_github, app_key, 1)).json()
    assert (everything["total_count"], everything["repository_selection"]) == (2, "all")
    scoped = mint(fake_github, app_key, 1, repositories=["website"])
    one = call(fake_github, "GET", "/installation/repositories", scoped).json()
    assert [r["name"] for r in one["repositories"]] == ["website"] and one[
        "repository_selection"
    ] == "selected"
