"""pytest fixtures around the fakes: RSA keys for the App and a started :class:`FakeGitHub`.

Import them into a ``conftest.py`` (``from tests.fakes.fixtures import *``) to use them in a test folder.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fakes.github import FakeGitHub

APP_ID = "4242"

__all__ = ["APP_ID", "app_key", "app_key_file", "fake_github", "other_key"]


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def app_key() -> rsa.RSAPrivateKey:
    """The test App's private key: generated once per session, never written to the repository."""
    return _new_key()


@pytest.fixture(scope="session")
def other_key() -> rsa.RSAPrivateKey:
    """A second key GitHub does not know (a wrong or rotated-away key)."""
    return _new_key()


def write_key(key: rsa.RSAPrivateKey, path: Path, fmt: str = "pkcs1") -> Path:
    """Write ``key`` as PEM: ``pkcs1`` (``BEGIN RSA PRIVATE KEY``, what GitHub hands out) or ``pkcs8``."""
    formats = {
        "pkcs1": serialization.PrivateFormat.TraditionalOpenSSL,
        "pkcs8": serialization.PrivateFormat.PKCS8,
    }
    pem = key.private_bytes(serialization.Encoding.PEM, formats[fmt], serialization.NoEncryption())
    path.write_bytes(pem)
    path.chmod(0o600)
    return path


@pytest.fixture(scope="session")
def app_key_file(app_key: rsa.RSAPrivateKey, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The App key as a PKCS#1 PEM file, like the one GitHub lets you download."""
    return write_key(app_key, tmp_path_factory.mktemp("app-key") / "private-key.pem")


@pytest.fixture
def fake_github(app_key: rsa.RSAPrivateKey) -> Iterator[FakeGitHub]:
    """A started fake GitHub for :data:`APP_ID`; installations 1 (org ``octo-org``) and 2 (``Acme``), each
    org with an empty ``.github`` repository (commits and files are each test's own)."""
    with FakeGitHub(APP_ID, app_key.public_key()) as gh:
        gh.add_installation(1, "octo-org")
        gh.add_installation(2, "Acme")
        gh.add_repo("octo-org/.github")
        gh.add_repo("Acme/.github")
        yield gh
        assert not gh.handler_errors, gh.handler_errors
