"""Installation tokens kept in Kubernetes Secrets, one per installation (schema in :mod:`token_secret`).

Writes are optimistic: read the Secret, then create it or replace it carrying the ``resourceVersion`` that
was read; a 409 (someone created or changed it in between) means read again and retry. Two writers racing
both end with a valid token stored, and neither overwrites a change it did not see.
"""

from __future__ import annotations

import functools
import logging
from datetime import datetime
from typing import Any, Literal, Protocol

from kubernetes import client

from .errors import KubeConflict, KubeNotFound
from .kube import CountedCalls
from .token_secret import (
    ANNOTATION_DISALLOWED_SINCE,
    ANNOTATION_SUSPENDED,
    LABEL_SELECTOR,
    MalformedSecret,
    StoredToken,
    build_secret,
    format_time,
    parse_secret,
    secret_name,
)

__all__ = ["NOT_LISTED", "Listed", "StoredToken", "TokenStore", "TokenValue"]

log = logging.getLogger(__name__)


class TokenValue(Protocol):
    """What is stored of a token (``peribolos_core.github.InstallationToken`` is one)."""

    @property
    def token(self) -> str: ...
    @property
    def expires_at(self) -> datetime: ...


class _NotListed:
    """Type of :data:`NOT_LISTED`: the caller has not listed the Secrets, so ``put`` reads first."""


NOT_LISTED = _NotListed()
Listed = StoredToken | _NotListed | None
"""What a caller knows of a Secret before writing it: as its list returned it, None (absent from the list),
or :data:`NOT_LISTED` (nothing known: read first)."""


class TokenStore(CountedCalls):
    """The token Secrets of one namespace, through a ``CoreV1Api``. Thread-safe (the client's pool is)."""

    def __init__(self, core_v1: client.CoreV1Api, namespace: str, *, max_attempts: int = 5) -> None:
        super().__init__()
        self.api = core_v1
        self.namespace = namespace
        self.max_attempts = max_attempts

    def _read(self, name: str) -> dict[str, Any] | None:
        try:
            return self._call(f"read Secret {self.namespace}/{name}", self.api.read_namespaced_secret, name,
                              self.namespace)
        except KubeNotFound:
            return None

    def get(self, installation_id: int) -> StoredToken | None:
        """The stored token, or None when there is no Secret (or one off-schema: it will be overwritten)."""
        name = secret_name(installation_id)
        obj = self._read(name)
        if obj is None:
            return None
        try:
            return parse_secret(obj)
        except MalformedSecret as exc:
            log.warning(
                "token Secret does not follow the schema; treating it as missing, the next write replaces it",
                extra={"secret": name, "namespace": self.namespace, "problem": str(exc)},
            )
            return None

    def list(self) -> list[StoredToken]:
        """Every token Secret of this service in the namespace, in one label-selector list call."""
        result = self._call(
            f"list token Secrets in {self.namespace}",
            functools.partial(self.api.list_namespaced_secret, label_selector=LABEL_SELECTOR),
            self.namespace,
        )
        stored = []
        for item in result.get("items") or []:
            try:
                stored.append(parse_secret(item))
            except MalformedSecret as exc:
                log.warning(
                    "skipping a token Secret that does not follow the schema",
                    extra={"secret": (item.get("metadata") or {}).get("name"), "problem": str(exc)},
                )
        return stored

    def put(
        self,
        installation_id: int,
        token: TokenValue,
        org: str,
        account_type: str,
        *,
        listed: Listed = NOT_LISTED,
    ) -> Literal["created", "updated"]:
        """Store ``token`` (clearing any suspended or disallowed mark): create the Secret, or replace the
        version read.

        ``listed`` is what a caller that has just listed the Secrets saw (None: no Secret): the first
        attempt then writes at once, without reading, so a refresh costs one request. On a 409 (a
        concurrent writer) read again and retry, up to ``max_attempts`` times.
        """
        name = secret_name(installation_id)
        where = f"Secret {self.namespace}/{name}"
        for attempt in range(self.max_attempts):
            if attempt == 0 and not isinstance(listed, _NotListed):
                version = None if listed is None else listed.resource_version
                existing = None if listed is None else {"metadata": {"resourceVersion": version}}
            else:
                existing = self._read(name)
            try:
                if existing is None:
                    body = build_secret(installation_id, token.token, token.expires_at, org, account_type)
                    # A 404 here is a missing namespace: not retried (only KubeConflict is, below).
                    self._call(f"create {where}", self.api.create_namespaced_secret, self.namespace, body)
                    return "created"
                version = (existing.get("metadata") or {}).get("resourceVersion")
                body = build_secret(
                    installation_id,
                    token.token,
                    token.expires_at,
                    org,
                    account_type,
                    resource_version=version,
                )
                self._call(f"replace {where}", self.api.replace_namespaced_secret, name, self.namespace, body)
                return "updated"
            except KubeNotFound as exc:
                if existing is None:
                    raise
                # Deleted by someone else between our read and our replace: read again (and create).
                log.info(
                    "token Secret deleted concurrently, retrying",
                    extra={"secret": name, "reason": exc.message},
                )
            except KubeConflict as exc:
                # Created or changed by someone else since our read: read again.
                log.info(
                    "token Secret changed concurrently, retrying",
                    extra={"secret": name, "reason": exc.message},
                )
        raise KubeConflict(409, f"write {where}: still conflicting after {self.max_attempts} attempts")

    def delete(self, installation_id: int) -> bool:
        """Delete the Secret; True when it existed, False when it was already gone (both are success)."""
        name = secret_name(installation_id)
        try:
            self._call(f"delete Secret {self.namespace}/{name}", self.api.delete_namespaced_secret, name,
                       self.namespace)
        except KubeNotFound:
            return False
        return True

    def mark_suspended(self, installation_id: int) -> bool:
        """Annotate the Secret ``peribolos.dev/suspended: "true"`` (the refresher stops minting for it).

        A missing Secret stays missing: there is nothing to mark, and no token to keep (False).
        """
        return self._annotate(installation_id, ANNOTATION_SUSPENDED, "true", "suspended")

    def mark_disallowed(self, installation_id: int, since: datetime) -> bool:
        """Annotate the Secret ``peribolos.dev/disallowed-since: <since>``: its org left allowedOrgs, and
        the refresher deletes the Secret once the grace has passed. False when there is no Secret."""
        return self._annotate(installation_id, ANNOTATION_DISALLOWED_SINCE, format_time(since), "disallowed")

    def _annotate(self, installation_id: int, key: str, value: str, mark: str) -> bool:
        name = secret_name(installation_id)
        patch = {"metadata": {"annotations": {key: value}}}
        try:
            self._call(f"mark Secret {self.namespace}/{name} {mark}", self.api.patch_namespaced_secret, name,
                       self.namespace, patch)
        except KubeNotFound:
            log.info(f"no token Secret to mark {mark}", extra={"secret": name, "namespace": self.namespace})
            return False
        return True

    def __repr__(self) -> str:
        return f"TokenStore(namespace={self.namespace!r})"

