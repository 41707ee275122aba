"""One sync per org at a time: a ``coordination.k8s.io/v1`` Lease per installation, taken with optimistic
concurrency.

A sync's ``prepare`` step takes the Lease ``peribolos-sync-<installation id>`` before it checks that its
revision is still the default branch's head, and its ``report`` step releases it. Taking it is a read
followed by a create, or by a replace carrying the ``resourceVersion`` that was read: of two syncs that
race, the API server lets one write (the other gets 409, reads again and waits). A Lease held by a Pod
that died expires by itself after ``leaseDurationSeconds`` (the TaskRun's timeout), so nothing has to
clean up after a killed run.

:func:`verdict` is the pure rule (take, wait, ours); :class:`OrgLocks` is the Kubernetes side. Errors are
the project's (:class:`~peribolos_core.errors.KubeError`, :class:`~peribolos_core.errors.LockBusy`).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from kubernetes import client

from .errors import KubeConflict, KubeNotFound, LockBusy
from .kube import REQUEST_TIMEOUT, kube_errors
from .settings import check_installation_id

log = logging.getLogger(__name__)

LEASE_PREFIX = "peribolos-sync-"
LABELS = {"app.kubernetes.io/part-of": "peribolos-as-a-service", "app.kubernetes.io/component": "org-lock"}
"""The labels of every org Lease (docs/operations.md selects them)."""
POLL_SECONDS = 2.0
"""How often a waiting sync looks at the Lease again."""
LOG_EVERY_SECONDS = 30.0
"""A waiting sync says who it waits for when it starts waiting and then this often."""

Verdict = Literal["create", "take", "ours", "wait"]


def lease_name(installation_id: int | str) -> str:
    """``peribolos-sync-<installation id>``: stable across org renames, like the token Secret's name."""
    return f"{LEASE_PREFIX}{check_installation_id(installation_id, 'installation id')}"


@dataclass(frozen=True)
class Held:
    """What a Lease says: who holds it, since when it was renewed, for how long, at which version."""

    holder: str
    renewed: datetime | None
    duration_seconds: int | None
    resource_version: str | None = None

    @property
    def expires(self) -> datetime | None:
        if self.renewed is None or self.duration_seconds is None:
            return None
        return self.renewed + timedelta(seconds=self.duration_seconds)


def verdict(lease: Held | None, me: str, now: datetime) -> Verdict:
    """What ``me`` may do with the Lease at ``now``: ``create`` it (none exists), ``take`` it (released,
    expired, or without a renew time or duration, which never expires otherwise), find it already
    ``ours``, or ``wait`` for its holder."""
    if lease is None:
        return "create"
    if lease.holder == me:
        return "ours"
    if not lease.holder:
        return "take"
    expires = lease.expires
    if expires is None or expires <= now:
        return "take"
    return "wait"


def _micro_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_lease(obj: dict[str, Any]) -> Held:
    """A Lease object (JSON, as the API answers) as :class:`Held`."""
    spec = obj.get("spec") or {}
    duration = spec.get("leaseDurationSeconds")
    return Held(
        holder=str(spec.get("holderIdentity") or ""),
        renewed=_parse_time(spec.get("renewTime") or spec.get("acquireTime")),
        duration_seconds=duration if isinstance(duration, int) and not isinstance(duration, bool) else None,
        resource_version=(obj.get("metadata") or {}).get("resourceVersion"),
    )


def lease_body(name: str, me: str, now: datetime, duration_seconds: int, previous: Held | None,
               labels: dict[str, str] | None = None) -> dict[str, Any]:
    """The Lease ``me`` writes to hold ``name`` from ``now`` (replacing ``previous`` at its version)."""
    metadata: dict[str, Any] = {"name": name, "labels": dict(labels or {})}
    if previous is not None and previous.resource_version:
        metadata["resourceVersion"] = previous.resource_version
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": metadata,
        "spec": {
            "holderIdentity": me,
            "leaseDurationSeconds": duration_seconds,
            "acquireTime": _micro_time(now),
            "renewTime": _micro_time(now),
        },
    }


class OrgLocks:
    """The org Leases of one namespace, through a ``CoordinationV1Api``."""

    def __init__(
        self,
        api_client: client.ApiClient,
        namespace: str,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        labels: dict[str, str] | None = None,
    ) -> None:
        self.api = client.CoordinationV1Api(api_client)
        self.namespace = namespace
        self.clock = clock
        self.sleep = sleep
        self.labels = dict(labels or {})

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    def _call(self, what: str, method: Callable[..., Any], *args: Any) -> dict[str, Any]:
        with kube_errors(what):
            response = method(*args, _request_timeout=REQUEST_TIMEOUT, _preload_content=False)
            try:
                return json.loads(response.data)
            finally:
                response.release_conn()

    def read(self, name: str) -> Held | None:
        try:
            return parse_lease(self._call(f"read Lease {self.namespace}/{name}",
                                          self.api.read_namespaced_lease, name, self.namespace))
        except KubeNotFound:
            return None

    def try_acquire(self, name: str, me: str, duration_seconds: int) -> tuple[bool, Held | None]:
        """One attempt: (True, the Lease as written) when ``me`` holds it now, else (False, what it says;
        None after a write conflict, which the next attempt reads again)."""
        current = self.read(name)
        now = self._now()
        decision = verdict(current, me, now)
        if decision == "ours":
            return True, current
        if decision == "wait":
            return False, current
        body = lease_body(name, me, now, duration_seconds, current if decision == "take" else None,
                          self.labels)
        where = f"Lease {self.namespace}/{name}"
        try:
            if decision == "create":
                written = self._call(f"create {where}", self.api.create_namespaced_lease, self.namespace,
                                     body)
            else:
                written = self._call(f"take {where}", self.api.replace_namespaced_lease, name,
                                     self.namespace, body)
        except KubeConflict:
            return False, None  # another sync wrote first: read again
        return True, parse_lease(written)

    def acquire(
        self,
        name: str,
        me: str,
        duration_seconds: int,
        wait_seconds: float,
        on_wait: Callable[[Held], None] | None = None,
    ) -> Held:
        """Hold ``name`` as ``me``, waiting up to ``wait_seconds`` for its holder; ``on_wait`` hears who
        holds it when waiting starts and every :data:`LOG_EVERY_SECONDS`. LockBusy after the wait."""
        deadline = self.clock() + wait_seconds
        told: tuple[str, float] | None = None
        while True:
            ours, held = self.try_acquire(name, me, duration_seconds)
            if ours:
                assert held is not None
                return held
            now = self.clock()
            if held is not None and on_wait is not None and (
                told is None or told[0] != held.holder or now - told[1] >= LOG_EVERY_SECONDS
            ):
                on_wait(held)
                told = (held.holder, now)
            if now >= deadline:
                holder = held.holder if held is not None else "another sync"
                raise LockBusy(holder, f"{name} is still held by {holder} after waiting {wait_seconds:.0f} s")
            self.sleep(min(POLL_SECONDS, max(deadline - now, 0.0)))

    def release(self, name: str, me: str) -> bool:
        """Give the Lease up (its holder emptied, at the version read) when ``me`` holds it; False when it
        is not ours (any more): taken over after expiring, or never taken."""
        for _ in range(3):
            current = self.read(name)
            if current is None or current.holder != me:
                return False
            body = lease_body(name, me, self._now(), current.duration_seconds or 1, current, self.labels)
            body["spec"]["holderIdentity"] = None
            try:
                self._call(f"release Lease {self.namespace}/{name}", self.api.replace_namespaced_lease, name,
                           self.namespace, body)
            except KubeConflict:
                continue
            return True
        return False

    def __repr__(self) -> str:
        return f"OrgLocks(namespace={self.namespace!r})"
