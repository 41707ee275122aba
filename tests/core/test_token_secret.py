import base64
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from peribolos_core.errors import ConfigError
from peribolos_core.token_secret import (
    LABEL_SELECTOR,
    MalformedSecret,
    StoredToken,
    account_label,
    build_secret,
    format_time,
    parse_secret,
    secret_name,
)

EXPIRES = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
TOKEN = "ghs_" + "A" * 516


def test_build_secret_schema() -> None:
    body = build_secret(42, TOKEN, EXPIRES, "Octo-Org", "Organization")
    assert body["metadata"] == {
        "name": "peribolos-token-42",
        "labels": {
            "app.kubernetes.io/managed-by": "peribolos-as-a-service",
            "app.kubernetes.io/component": "installation-token",
            "peribolos.dev/installation-id": "42",
            "peribolos.dev/account": "octo-org",
        },
        "annotations": {
            "peribolos.dev/expires-at": "2026-01-02T03:04:05Z",
            "peribolos.dev/account-login": "Octo-Org",
            "peribolos.dev/account-type": "Organization",
        },
    }
    assert body["type"] == "Opaque"
    assert base64.b64decode(body["data"]["token"]).decode() == TOKEN
    assert base64.b64decode(body["data"]["org"]).decode() == "Octo-Org"
    managed, component = LABEL_SELECTOR.split(",")
    assert managed == "app.kubernetes.io/managed-by=peribolos-as-a-service"
    assert component == "app.kubernetes.io/component=installation-token"


def test_build_secret_suspended_and_version() -> None:
    body = build_secret(1, TOKEN, EXPIRES, "o", "User", suspended=True, resource_version="77")
    assert body["metadata"]["annotations"]["peribolos.dev/suspended"] == "true"
    assert body["metadata"]["resourceVersion"] == "77"


@pytest.mark.parametrize(
    ("token", "org", "expires"),
    [("", "o", EXPIRES), (TOKEN, "", EXPIRES), (TOKEN, "o", datetime(2026, 1, 1))],
    ids=["empty-token", "empty-org", "naive-expiry"],
)
def test_build_secret_refuses(token: str, org: str, expires: datetime) -> None:
    with pytest.raises(ValueError):
        build_secret(1, token, expires, org, "Organization")


@pytest.mark.parametrize(
    "suspended",
    [False, True],
    ids=["active", "suspended"],
)
def test_round_trip(suspended: bool) -> None:
    body = build_secret(42, TOKEN, EXPIRES, "Octo-Org", "User", suspended=suspended)
    body["metadata"]["resourceVersion"] = "9"
    assert parse_secret(body) == StoredToken(42, "Octo-Org", "User", EXPIRES, TOKEN, suspended, "9")


def test_parse_converts_offsets_to_utc() -> None:
    body = build_secret(3, TOKEN, EXPIRES, "o", "Organization")
    body["metadata"]["annotations"]["peribolos.dev/expires-at"] = "2026-01-02T05:04:05+02:00"
    parsed = parse_secret(body)
    assert parsed.expires_at == EXPIRES and parsed.expires_at.tzinfo is UTC


def _broken(change) -> dict:
    body = build_secret(5, TOKEN, EXPIRES, "o", "Organization")
    change(body)
    return body


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda b: b["data"].pop("token"), "no data key 'token'"),
        (lambda b: b["data"].update(token="%%%"), "not base64"),
        (lambda b: b["metadata"]["annotations"].pop("peribolos.dev/expires-at"), "not RFC 3339"),
        (lambda b: b["metadata"]["annotations"].update({"peribolos.dev/expires-at": "soon"}), "not RFC 3339"),
        (
            lambda b: (
                b["metadata"]["labels"].pop("peribolos.dev/installation-id"),
                b["metadata"].update(name="something-else"),
            ),
            "installation-id",
        ),
    ],
    ids=["no-token", "token-not-base64", "no-expiry", "bad-expiry", "no-id"],
)
def test_parse_malformed(change, message: str) -> None:
    with pytest.raises(MalformedSecret, match=message) as info:
        parse_secret(_broken(change))
    assert TOKEN not in str(info.value)


def test_parse_falls_back_to_name_and_data() -> None:
    body = _broken(
        lambda b: (
            b["metadata"]["labels"].pop("peribolos.dev/installation-id"),
            b["metadata"]["annotations"].pop("peribolos.dev/account-login"),
            b["metadata"]["annotations"].pop("peribolos.dev/account-type"),
        )
    )
    parsed = parse_secret(body)
    assert (parsed.installation_id, parsed.org, parsed.account_type) == (5, "o", "Organization")


@pytest.mark.parametrize(
    ("login", "label"),
    [("Octo-Org", "octo-org"), ("a" * 80, "a" * 63), ("weird name!", "weird-name"), ("-x-", "x")],
    ids=["lower-case", "truncated", "bad-chars", "trimmed-ends"],
)
def test_account_label(login: str, label: str) -> None:
    assert account_label(login) == label


@pytest.mark.parametrize(
    ("left", "min_valid", "refresh"),
    [
        (timedelta(hours=1), timedelta(minutes=45), False),
        (timedelta(minutes=45), timedelta(minutes=45), False),
        (timedelta(minutes=44), timedelta(minutes=45), True),
        (timedelta(minutes=-5), timedelta(0), True),
    ],
    ids=["plenty-left", "exactly-enough", "too-little", "expired"],
)
def test_needs_refresh(left: timedelta, min_valid: timedelta, refresh: bool) -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    stored = StoredToken(1, "o", "Organization", now + left, TOKEN)
    assert stored.valid_for(now) == left
    assert stored.needs_refresh(min_valid, now) is refresh


def test_repr_hides_token() -> None:
    stored = StoredToken(1, "o", "Organization", EXPIRES, TOKEN)
    assert TOKEN not in repr(stored) and TOKEN not in str(stored)
    assert "expires_at" in repr(stored)


def test_format_time_and_secret_name() -> None:
    assert (
        format_time(datetime(2026, 1, 2, 5, 0, tzinfo=timezone(timedelta(hours=2)))) == "2026-01-02T03:00:00Z"
    )
    assert secret_name("0042") == "peribolos-token-42"
    for bad in ("0", "-1", "12a", "", True):
        with pytest.raises(ConfigError, match="installation id must be a positive integer"):
            secret_name(bad)


@given(
    installation_id=st.integers(min_value=1, max_value=2**53),
    token=st.text(min_size=1, max_size=600).filter(lambda t: t.strip() == t and t),
    login=st.from_regex(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,37}[A-Za-z0-9])?", fullmatch=True),
    account_type=st.sampled_from(["Organization", "User"]),
    seconds=st.integers(min_value=0, max_value=10**10),
    suspended=st.booleans(),
)
def test_any_secret_round_trips(
    installation_id: int, token: str, login: str, account_type: str, seconds: int, suspended: bool
) -> None:
    expires = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds)
    body = build_secret(installation_id, token, expires, login, account_type, suspended=suspended)
    parsed = parse_secret(body)
    assert parsed == StoredToken(installation_id, login, account_type, expires, token, suspended, None)
    label = body["metadata"]["labels"]["peribolos.dev/account"]
    assert label == login.lower() and len(label) <= 63


def test_parse_takes_a_mapping_only() -> None:
    """The schema stays pure (no client import): a client model goes through ``kube.to_dict`` first
    (tests/core/test_kube.py)."""
    with pytest.raises(MalformedSecret, match="must be a mapping, got object"):
        parse_secret(object())


DISALLOWED = "peribolos.dev/disallowed-since"


@pytest.mark.parametrize(
    ("value", "parsed"),
    [
        ("2026-01-02T03:04:05Z", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("2026-01-02T05:04:05+02:00", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("yesterday", None),
        (None, None),
    ],
    ids=["utc", "offset", "edited-by-hand-counts-as-unmarked", "absent"],
)
def test_disallowed_mark(value: str | None, parsed: datetime | None) -> None:
    body = build_secret(8, TOKEN, EXPIRES, "o", "Organization")
    assert DISALLOWED not in body["metadata"]["annotations"], "a write clears the mark"
    if value is not None:
        body["metadata"]["annotations"][DISALLOWED] = value
    assert parse_secret(body).disallowed_since == parsed
