"""Refresher test fixtures: the strict fake GitHub, the real kube-apiserver, and a Refresher on both."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from peribolos_core.github import GitHubApp, InstallationToken
from peribolos_core.http import new_session
from peribolos_core.mint_budget import LocalMintBudget
from peribolos_core.token_store import TokenStore
from tests.fakes.clock import FakeClock
from tests.fakes.fixtures import *  # noqa: F403 (the fixtures app_key, app_key_file, other_key)
from tests.fakes.fixtures import APP_ID
from tests.fakes.github import FakeGitHub
from token_refresher.reconcile import Refresher


def quick_sleep(seconds: float) -> None:
    """The transport's backoff and rate-limit waits, shortened: the tests check behaviour, not patience."""
    time.sleep(min(seconds, 0.02))


@pytest.fixture
def github(app_key: rsa.RSAPrivateKey) -> Iterator[FakeGitHub]:
    """A started fake GitHub with no installation; each test adds its own."""
    with FakeGitHub(APP_ID, app_key.public_key()) as gh:
        yield gh
        assert not gh.handler_errors, gh.handler_errors


@pytest.fixture
def store(core_v1: Any, namespace: str) -> TokenStore:
    return TokenStore(core_v1, namespace)


def app_for(github: FakeGitHub, key: rsa.RSAPrivateKey, **kwargs: Any) -> GitHubApp:
    kwargs.setdefault("sleep", quick_sleep)
    kwargs.setdefault("timeout", 2.0)
    return GitHubApp(APP_ID, key, api_url=github.api_url, session=new_session(32), **kwargs)


def instant() -> dict[str, Any]:
    """A Refresher's ``clock`` and ``sleep`` on a :class:`FakeClock`: waits for a mint's instant and for
    the budget pass at once (the tokens' expiries and the fake GitHub stay on the wall clock)."""
    clock = FakeClock()
    return {"clock": clock, "sleep": clock.sleep}


@pytest.fixture
def make_refresher(github: FakeGitHub, store: TokenStore, app_key: rsa.RSAPrivateKey
                   ) -> Callable[..., Refresher]:
    """``make_refresher(budget=..., concurrency=..., dry_run=..., app=...)`` on the fake and the apiserver.

    Its clock is :func:`instant` unless given."""

    def make(*, budget: LocalMintBudget | None = None, app: GitHubApp | None = None, **kwargs: Any
             ) -> Refresher:
        budget = budget or LocalMintBudget(10_000)
        if "clock" not in kwargs:
            kwargs |= instant()
        return Refresher(app or app_for(github, app_key), store, budget=budget, **kwargs)

    return make


def mint_real(github: FakeGitHub, key: rsa.RSAPrivateKey, installation_id: int) -> InstallationToken:
    """A token the fake really minted (so validity checks against the fake mean something)."""
    return app_for(github, key).mint_token(installation_id)


@pytest.fixture
def seed(github: FakeGitHub, store: TokenStore, app_key: rsa.RSAPrivateKey
         ) -> Callable[..., InstallationToken]:
    """``seed(id, expires_in=timedelta, org=..., account_type=...)``: a stored token whose recorded expiry is
    ``expires_in`` from now (the token itself is a real one of the fake, minted before the test's counts)."""

    def put(installation_id: int, expires_in: timedelta, org: str | None = None,
            account_type: str = "Organization") -> InstallationToken:
        inst = github.installations.get(installation_id)
        if inst is not None and not inst.suspended:
            real = mint_real(github, app_key, installation_id)
            value = real.token
        else:
            value = f"ghs_seeded_{installation_id}_" + "x" * 40
        token = InstallationToken(token=value, expires_at=datetime.now(UTC) + expires_in)
        store.put(installation_id, token, org or (inst.account_login if inst else f"org{installation_id}"),
                  account_type)
        return token

    return put


SCRIPT = Path(sys.executable).parent / "peribolos-refresh-tokens"


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 120
            ) -> subprocess.CompletedProcess:
    return subprocess.run([str(SCRIPT), *args], env=script_env(env), capture_output=True, text=True,
                          timeout=timeout, check=False)


def script_env(env: dict[str, str] | None) -> dict[str, str]:
    """This process's environment without its GitHub/Kubernetes settings, plus ``env``."""
    assert SCRIPT.exists(), f"{SCRIPT} missing: run `make venv` (pip install -e .)"
    ours = ("GITHUB_", "POD_", "KUBECONFIG", "LOG_", "MINT_", "REFRESHER_")
    return {k: v for k, v in os.environ.items() if not k.startswith(ours)} | (env or {})


@pytest.fixture
def cli_env(github: FakeGitHub, app_key_file: Path, kube_apiserver: Any, namespace: str) -> dict[str, str]:
    return {"GITHUB_APP_ID": APP_ID, "GITHUB_APP_PRIVATE_KEY_FILE": str(app_key_file),
            "GITHUB_API_URL": github.api_url, "KUBECONFIG": str(kube_apiserver.kubeconfig),
            "POD_NAMESPACE": namespace}
