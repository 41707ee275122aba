"""Building the clients from settings: what each one checks, and how the GitHub App's pool is sized."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from peribolos_core import clients
from peribolos_core.errors import ConfigError
from peribolos_core.mint_budget import KubeMintBudget, LocalMintBudget
from peribolos_core.settings import AppSettings, GitHubSettings, KubeSettings, MintBudgetSettings
from tests.fakes.fixtures import APP_ID, write_key


@pytest.fixture(scope="module")
def key_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return write_key(key, tmp_path_factory.mktemp("key") / "app.pem")


def test_github_app(key_file: Path) -> None:
    app = clients.github_app(AppSettings(APP_ID, key_file, GitHubSettings("https://ghe.example/api/v3/", 1)),
                             pool_size=20)
    assert (app.app_id, app.api_url, app.transport.max_retries) == (APP_ID, "https://ghe.example/api/v3", 1)
    adapter = app.transport.session.get_adapter("https://ghe.example")
    assert adapter.poolmanager.connection_pool_kw["maxsize"] == 20


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (lambda key: AppSettings(APP_ID, Path("/no/such.pem")), "key file /no/such.pem does not exist"),
        (lambda key: AppSettings(APP_ID, key, GitHubSettings("ftp://x")), "not an http(s) base URL"),
        (lambda key: AppSettings(APP_ID, key.parent), "cannot be read"),
    ],
    ids=["missing-key", "bad-api-url", "key-is-a-directory"],
)
def test_github_app_refuses(key_file: Path, settings, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        clients.github_app(settings(key_file))


def test_installation_client() -> None:
    client = clients.installation_client(GitHubSettings("https://ghe.example/api/v3", 0), "ghs_" + "t" * 36)
    assert (client.transport.api_url, client.transport.max_retries) == ("https://ghe.example/api/v3", 0)
    with pytest.raises(ConfigError, match="installation token is empty"):
        clients.installation_client(GitHubSettings(), " ")


def test_token_store_needs_usable_credentials(tmp_path: Path) -> None:
    broken = tmp_path / "kubeconfig"
    broken.write_text("apiVersion: v1\nkind: Config\n")
    with pytest.raises(ConfigError, match="cannot load Kubernetes credentials from kubeconfig"):
        clients.token_store(KubeSettings("ns", str(broken)))


def test_a_minter_without_a_shared_budget_keeps_one_of_its_own(key_file: Path) -> None:
    minter = clients.minter(AppSettings(APP_ID, key_file, mint_budget=MintBudgetSettings(120)))
    assert isinstance(minter.budget, LocalMintBudget) and minter.budget.per_minute == 120
    assert minter.clock is time.time


def test_a_minter_spends_the_app_wide_budget_on_its_config_map(key_file: Path, kube_apiserver) -> None:
    budget = MintBudgetSettings(150, "peribolos-mint-budget", "peribolos")
    minter = clients.minter(AppSettings(APP_ID, key_file, mint_budget=budget),
                            KubeSettings("tokens", str(kube_apiserver.kubeconfig)))
    assert isinstance(minter.budget, KubeMintBudget)
    assert (minter.budget.name, minter.budget.maps.namespace, minter.budget.per_minute) == (
        "peribolos-mint-budget", "peribolos", 150)
