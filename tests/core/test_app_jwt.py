from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from peribolos_core.app_jwt import AppJWT, load_private_key, load_private_key_pem
from peribolos_core.errors import ConfigError
from tests.fakes.fixtures import write_key

NOW = 1_700_000_000.0


def _decode(token: str, key: rsa.RSAPrivateKey) -> dict:
    return jwt.decode(
        token, key.public_key(), algorithms=["RS256"], options={"verify_exp": False, "verify_iat": False}
    )


def test_claims_follow_githubs_rules(app_key: rsa.RSAPrivateKey) -> None:
    token = AppJWT("4242", app_key).token(NOW)
    assert jwt.get_unverified_header(token)["alg"] == "RS256"
    claims = _decode(token, app_key)
    assert claims == {"iat": int(NOW) - 60, "exp": int(NOW) - 60 + 540, "iss": "4242"}
    assert claims["exp"] - claims["iat"] <= 600


def test_client_id_works_as_issuer(app_key: rsa.RSAPrivateKey) -> None:
    assert _decode(AppJWT("Iv23liABC", app_key).token(NOW), app_key)["iss"] == "Iv23liABC"


@pytest.mark.parametrize(
    ("later", "same"),
    [(0, True), (300, True), (419, True), (420, False), (3600, False), (-61, False)],
    ids=["same-instant", "5-minutes", "just-before-margin", "refresh-margin", "an-hour", "clock-went-back"],
)
def test_token_is_cached_until_close_to_expiry(app_key: rsa.RSAPrivateKey, later: float, same: bool) -> None:
    signer = AppJWT("4242", app_key)
    first = signer.token(NOW)
    second = signer.token(NOW + later)
    assert (first == second) is same
    assert signer.signed_count == (1 if same else 2)
    if not same:
        assert _decode(second, app_key)["iat"] == int(NOW + later) - 60


@pytest.mark.parametrize("lifetime", [0, 120, 601, 3600], ids=["zero", "too-short", "just-over", "an-hour"])
def test_lifetime_outside_githubs_limit_is_a_config_error(app_key: rsa.RSAPrivateKey, lifetime: int) -> None:
    with pytest.raises(ConfigError, match="JWT lifetime"):
        AppJWT("1", app_key, lifetime=lifetime)


def test_empty_issuer_is_a_config_error(app_key: rsa.RSAPrivateKey) -> None:
    with pytest.raises(ConfigError, match="GITHUB_APP_ID"):
        AppJWT(" ", app_key)


def test_repr_hides_key_and_token(app_key: rsa.RSAPrivateKey) -> None:
    signer = AppJWT("4242", app_key)
    token = signer.token(NOW)
    assert token not in repr(signer)
    assert "PRIVATE" not in repr(signer)


@pytest.mark.parametrize("fmt", ["pkcs1", "pkcs8"])
def test_load_private_key_pkcs1_and_pkcs8(app_key: rsa.RSAPrivateKey, tmp_path: Path, fmt: str) -> None:
    path = write_key(app_key, tmp_path / f"{fmt}.pem", fmt)
    header = b"BEGIN RSA PRIVATE KEY" if fmt == "pkcs1" else b"BEGIN PRIVATE KEY"
    assert header in path.read_bytes()
    loaded = load_private_key(path)
    assert loaded.private_numbers() == app_key.private_numbers()


def _ec_pem() -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _encrypted_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"passphrase"),
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is not a PEM private key"),
        (b"ghp_notakey\n", "is not a PEM private key"),
        (b"-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n", "malformed or encrypted"),
        ("encrypted", "malformed or encrypted"),
        ("ec", "not an RSA key"),
    ],
    ids=["empty", "not-pem", "truncated-pem", "encrypted", "ec-key"],
)
def test_bad_key_files_name_the_path(
    app_key: rsa.RSAPrivateKey, tmp_path: Path, content: bytes | str, message: str
) -> None:
    data = {"encrypted": lambda: _encrypted_pem(app_key), "ec": _ec_pem}.get(content, lambda: content)()
    path = tmp_path / "key.pem"
    path.write_bytes(data)
    with pytest.raises(ConfigError, match=message) as info:
        load_private_key(path)
    assert str(path) in str(info.value)
    assert "AAAA" not in str(info.value)


def test_missing_key_file_says_which_setting(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_private_key(tmp_path / "nope.pem")
    assert "nope.pem does not exist" in str(info.value)
    assert "GITHUB_APP_PRIVATE_KEY_FILE" in str(info.value)


def test_unreadable_key_path_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot be read"):
        load_private_key(tmp_path)  # a directory


def test_pem_from_bytes_names_its_source() -> None:
    with pytest.raises(ConfigError, match="secret peribolos-github-app"):
        load_private_key_pem(b"nothing", source="secret peribolos-github-app")


def test_every_signed_jwt_is_registered_for_redaction(app_key: rsa.RSAPrivateKey) -> None:
    from peribolos_core import logs

    signer = AppJWT("4242", app_key)
    first, second = signer.token(NOW), signer.token(NOW + 3600)
    assert first != second
    assert logs.redact(f"Authorization: Bearer {first} / {second}") == (
        f"Authorization: Bearer {logs.REDACTED} / {logs.REDACTED}"
    )
