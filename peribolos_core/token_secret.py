"""The token Secret's schema: its name, labels, annotations and data keys (pure, no I/O).

One Secret per installation, named from the installation id so that it survives org renames::

    metadata:
      name: peribolos-token-<installation id>
      labels:
        app.kubernetes.io/managed-by: peribolos-as-a-service
        app.kubernetes.io/component: installation-token
        peribolos.dev/installation-id: "<id>"
        peribolos.dev/account: <login, lower case>
      annotations:
        peribolos.dev/expires-at: <RFC 3339, UTC>
        peribolos.dev/account-login: <login as GitHub spells it>
        peribolos.dev/account-type: Organization | User
        peribolos.dev/suspended: "true"            # only while the installation is suspended
        peribolos.dev/disallowed-since: <RFC 3339> # only while the org is outside allowedOrgs
    type: Opaque
    data: {token: <base64>, org: <base64 login>}
"""

from __future__ import annotations

import base64
import contextlib
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from .settings import check_installation_id

SECRET_PREFIX = "peribolos-token-"  # noqa: S105 (a name prefix, not a secret)
MANAGED_BY = "peribolos-as-a-service"
COMPONENT = "installation-token"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
LABEL_COMPONENT = "app.kubernetes.io/component"
LABEL_INSTALLATION_ID = "peribolos.dev/installation-id"
LABEL_ACCOUNT = "peribolos.dev/account"
ANNOTATION_EXPIRES_AT = "peribolos.dev/expires-at"
ANNOTATION_ACCOUNT_LOGIN = "peribolos.dev/account-login"
ANNOTATION_ACCOUNT_TYPE = "peribolos.dev/account-type"
ANNOTATION_SUSPENDED = "peribolos.dev/suspended"
ANNOTATION_DISALLOWED_SINCE = "peribolos.dev/disallowed-since"
DATA_TOKEN = "token"  # noqa: S105 (a data key name)
DATA_ORG = "org"
LABEL_SELECTOR = f"{LABEL_MANAGED_BY}={MANAGED_BY},{LABEL_COMPONENT}={COMPONENT}"
"""Selects every token Secret of this service (and nothing else) in a namespace."""

_LABEL_VALUE_BAD = re.compile(r"[^A-Za-z0-9_.-]")


class MalformedSecret(ValueError):
    """A Secret with our name or labels that does not follow the schema (edited by hand?)."""


def secret_name(installation_id: int | str) -> str:
    """``peribolos-token-<installation_id>``; ConfigError unless the id is a positive integer."""
    return f"{SECRET_PREFIX}{check_installation_id(installation_id, 'installation id')}"


def account_label(login: str) -> str:
    """The login as a valid label value: lower case, at most 63 characters, alphanumeric at both ends."""
    value = _LABEL_VALUE_BAD.sub("-", login.lower())[:63]
    return value.strip("-_.")


def format_time(value: datetime) -> str:
    """RFC 3339 in UTC with a ``Z``: ``2026-01-02T03:04:05Z``."""
    if value.tzinfo is None:
        raise ValueError("times must be timezone-aware")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(raw: str | None, key: str, name: str) -> datetime:
    try:
        value = datetime.fromisoformat(raw or "")
    except ValueError as exc:
        raise MalformedSecret(f"Secret {name}: annotation {key} is not RFC 3339") from exc
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


@dataclass(frozen=True)
class StoredToken:
    """An installation token as kept in its Secret. ``repr``/``str`` leave the token out."""

    installation_id: int
    org: str
    account_type: str
    expires_at: datetime
    token: str = field(repr=False)
    suspended: bool = False
    resource_version: str | None = None
    disallowed_since: datetime | None = None
    """When the refresher first saw the org outside allowedOrgs (None: allowed, or no allowedOrgs)."""

    def valid_for(self, now: datetime) -> timedelta:
        """How long the token stays valid after ``now`` (negative once expired)."""
        return self.expires_at - now

    def needs_refresh(self, min_valid: timedelta, now: datetime) -> bool:
        """True when the token expires sooner than ``min_valid`` from ``now``: mint a new one."""
        return self.valid_for(now) < min_valid


def build_secret(
    installation_id: int,
    token: str,
    expires_at: datetime,
    org: str,
    account_type: str,
    *,
    suspended: bool = False,
    resource_version: str | None = None,
) -> dict[str, Any]:
    """The Secret body (a plain dict the client accepts) for create, or replace with ``resource_version``."""
    if not token:
        raise ValueError("refusing to store an empty token")
    if not org:
        raise ValueError("the account login (org) is required")
    annotations = {
        ANNOTATION_EXPIRES_AT: format_time(expires_at),
        ANNOTATION_ACCOUNT_LOGIN: org,
        ANNOTATION_ACCOUNT_TYPE: account_type,
    }
    if suspended:
        annotations[ANNOTATION_SUSPENDED] = "true"
    metadata: dict[str, Any] = {
        "name": secret_name(installation_id),
        "labels": {
            LABEL_MANAGED_BY: MANAGED_BY,
            LABEL_COMPONENT: COMPONENT,
            LABEL_INSTALLATION_ID: str(int(installation_id)),
            LABEL_ACCOUNT: account_label(org),
        },
        "annotations": annotations,
    }
    if resource_version is not None:
        metadata["resourceVersion"] = resource_version
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": metadata,
        "data": {
            DATA_TOKEN: base64.b64encode(token.encode()).decode(),
            DATA_ORG: base64.b64encode(org.encode()).decode(),
        },
    }


def _decode(data: dict[str, Any], key: str, name: str) -> str:
    raw = data.get(key)
    if not raw:
        raise MalformedSecret(f"Secret {name} has no data key {key!r}")
    try:
        return base64.b64decode(raw, validate=True).decode()
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedSecret(f"Secret {name}: data key {key!r} is not base64 UTF-8") from exc


def parse_secret(obj: Any) -> StoredToken:
    """A Secret (a dict with the API's camelCase keys: ``kube.to_dict`` turns a client model into one) →
    StoredToken; MalformedSecret when off-schema."""
    if not isinstance(obj, dict):
        raise MalformedSecret(f"a Secret must be a mapping, got {type(obj).__name__} (see kube.to_dict)")
    metadata = obj.get("metadata") or {}
    name = metadata.get("name") or "(unnamed)"
    labels = metadata.get("labels") or {}
    annotations = metadata.get("annotations") or {}
    raw_id = labels.get(LABEL_INSTALLATION_ID) or name.removeprefix(SECRET_PREFIX)
    if not str(raw_id).isdigit():
        raise MalformedSecret(f"Secret {name} has no valid {LABEL_INSTALLATION_ID} label")
    data = obj.get("data") or {}
    token = _decode(data, DATA_TOKEN, name)
    org = annotations.get(ANNOTATION_ACCOUNT_LOGIN) or _decode(data, DATA_ORG, name)
    expires_at = _parse_time(annotations.get(ANNOTATION_EXPIRES_AT), ANNOTATION_EXPIRES_AT, name)
    disallowed_since = None
    if ANNOTATION_DISALLOWED_SINCE in annotations:
        # A mark edited by hand into something else counts as no mark: the refresher sets it afresh.
        with contextlib.suppress(MalformedSecret):
            disallowed_since = _parse_time(annotations[ANNOTATION_DISALLOWED_SINCE], "", name)
    return StoredToken(
        installation_id=int(raw_id),
        org=org,
        account_type=annotations.get(ANNOTATION_ACCOUNT_TYPE) or "Organization",
        expires_at=expires_at,
        token=token,
        suspended=annotations.get(ANNOTATION_SUSPENDED) == "true",
        resource_version=metadata.get("resourceVersion"),
        disallowed_since=disallowed_since,
    )
