"""Fixtures of the end-to-end scenarios: ``stack`` (session) is :func:`tests.e2e.stack.start_stack` on the
shared ``kube_apiserver``, with the fake GitHub serving two organisations."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.e2e.stack import Stack, start_stack
from tests.fakes.fixtures import APP_ID, app_key  # noqa: F401 - re-exported fixture
from tests.fakes.github import FakeGitHub
from tests.infra.controlplane import ControlPlane

ORG = "octo-org"
INSTALLATION_ID = 1001
OTHER_ORG_INSTALLATION_ID = 1002
OTHER_ORG = "Other-Org"


@pytest.fixture(scope="session")
def fake_github_session(app_key: rsa.RSAPrivateKey) -> Iterator[FakeGitHub]:  # noqa: F811
    # Tokens live 30 min here (GitHub: 1 h), so the refresher's default --min-valid 45m re-mints them.
    with FakeGitHub(APP_ID, app_key.public_key(), token_ttl=1800) as github:
        github.add_installation(INSTALLATION_ID, ORG)
        github.add_installation(OTHER_ORG_INSTALLATION_ID, OTHER_ORG)
        yield github
        assert not github.handler_errors, github.handler_errors


@pytest.fixture(scope="session")
def stack(
    kube_apiserver: ControlPlane,
    fake_github_session: FakeGitHub,
    app_key: rsa.RSAPrivateKey,  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    stack = start_stack(
        kube_apiserver, fake_github_session, APP_ID, app_key, tmp_path_factory.mktemp("stack")
    )
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="session")
def stack_with_github_interceptor(
    stack: Stack,
    app_key: rsa.RSAPrivateKey,  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    """A second EventListener, rendered with ``eventListener.githubInterceptor=true`` in its own
    namespace: Triggers' core GitHub interceptor checks the signature and event type before ours."""
    github_stack = start_stack(
        stack.plane,
        stack.github,
        APP_ID,
        app_key,
        tmp_path_factory.mktemp("stack-gh"),
        namespace="peribolos-gh",
        github_interceptor=True,
        share_with=stack,
    )
    try:
        yield github_stack
    finally:
        github_stack.stop()
