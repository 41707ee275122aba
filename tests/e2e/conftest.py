"""Fixtures of the end-to-end scenarios.

- ``cluster`` (session): the real single-node cluster (:mod:`tests.infra.cluster`): kubelet, containerd,
  Tekton Pipelines and Triggers from their release config. It fails (never skips) when the tools or
  images are missing, with what to run, and when the test run has no network namespace of its own.
- ``cluster_github`` (session): the fake GitHub on the node's address, so Pods reach it: org ``octo-org``
  (installation 1001) and ``Other-Org`` (1002), each with a ``.github`` repository.
- ``product`` (session): Peribolos as a Service installed on it as docs/operations.md says.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fakes.fixtures import APP_ID, app_key  # noqa: F401 - re-exported fixture
from tests.fakes.github import FakeGitHub
from tests.infra.cluster import NODE_IP, Cluster, ClusterError, start_cluster
from tests.infra.controlplane import ControlPlaneError
from tests.infra.images import ImageError
from tests.infra.product import Product, install_with_fake_github

ORG = "octo-org"
INSTALLATION_ID = 1001
OTHER_ORG_INSTALLATION_ID = 1002
OTHER_ORG = "Other-Org"
DETAILS_URL = "https://tekton.example.com/#/namespaces/{namespace}/taskruns/{taskrun}"
"""The check runs' details_url template of the test install (a Tekton Dashboard would serve it)."""


@pytest.fixture(scope="session")
def fake_github_session(app_key: rsa.RSAPrivateKey) -> Iterator[FakeGitHub]:  # noqa: F811
    # Tokens live 30 min here (GitHub: 1 h): ensure-token (--min-valid 45m) re-mints them for every TaskRun.
    with FakeGitHub(APP_ID, app_key.public_key(), token_ttl=1800) as github:
        github.add_installation(INSTALLATION_ID, ORG)
        github.add_installation(OTHER_ORG_INSTALLATION_ID, OTHER_ORG)
        yield github
        assert not github.handler_errors, github.handler_errors


@pytest.fixture(scope="session")
def cluster(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    workdir = Path(os.environ.get("E2E_CLUSTER_WORKDIR") or tmp_path_factory.mktemp("cluster"))
    try:
        started = start_cluster(workdir)
    except (ClusterError, ControlPlaneError, ImageError) as exc:
        pytest.fail(f"the test cluster did not start (logs in {workdir / 'logs'}): {exc}", pytrace=False)
    request.session._peribolos_cluster = started  # type: ignore[attr-defined]
    print(f"\ncluster up in {sum(started.startup_seconds.values()):.0f}s: {started.startup_seconds}")
    try:
        yield started
    finally:
        started.stop()  # raises when the host's kernel settings changed or cgroups were left


@pytest.fixture(scope="session")
def cluster_github(app_key: rsa.RSAPrivateKey) -> Iterator[FakeGitHub]:  # noqa: F811
    # Tokens live 30 min here (GitHub: 1 h): ensure-token (--min-valid 45m) re-mints them for every TaskRun.
    with FakeGitHub(APP_ID, app_key.public_key(), host=NODE_IP, token_ttl=1800) as github:
        for installation_id, org in ((INSTALLATION_ID, ORG), (OTHER_ORG_INSTALLATION_ID, OTHER_ORG)):
            github.add_installation(installation_id, org)
            github.add_repo(f"{org}/.github")
        yield github
        assert not github.handler_errors, github.handler_errors


@pytest.fixture(scope="session")
def product(
    cluster: Cluster,
    cluster_github: FakeGitHub,
    app_key: rsa.RSAPrivateKey,  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
) -> Product:
    try:
        return install_with_fake_github(
            cluster,
            tmp_path_factory.mktemp("product"),
            cluster_github,
            app_id=APP_ID,
            app_key=app_key,
            overrides={"checkRun": {"detailsUrl": DETAILS_URL}},
        )
    except ClusterError as exc:
        pytest.fail(f"the product did not install as docs/operations.md says: {exc}", pytrace=False)
