"""The org lock: verdict() as a table; OrgLocks on the real API server, as the rendered peribolos-sync Role
allows it (Leases get/create/update): one holder at a time under a race, waiting, expiry, release."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from peribolos_core.errors import ConfigError, LockBusy
from peribolos_core.kube import load_api_client
from peribolos_core.leases import Held, OrgLocks, lease_body, lease_name, parse_lease, verdict

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("lease", "expected"),
    [
        (None, "create"),
        (Held("me", NOW, 60), "ours"),
        (Held("", NOW, 60), "take"),
        (Held("other", NOW - timedelta(seconds=30), 60), "wait"),
        (Held("other", NOW - timedelta(seconds=60), 60), "take"),
        (Held("other", None, 60), "take"),
        (Held("other", NOW, None), "take"),
    ],
    ids=["none", "ours", "released", "held", "expired", "no-renew-time", "no-duration"],
)
def test_verdict(lease: Held | None, expected: str) -> None:
    assert verdict(lease, "me", NOW) == expected


def test_a_lease_reads_back() -> None:
    body = lease_body("peribolos-sync-7", "tr-1", NOW, 1800, Held("old", NOW, 1, "42"), {"a": "b"})
    assert body["metadata"] == {"name": "peribolos-sync-7", "labels": {"a": "b"}, "resourceVersion": "42"}
    assert body["spec"]["renewTime"] == "2026-01-01T12:00:00.000000Z"
    held = parse_lease({**body, "metadata": {**body["metadata"], "resourceVersion": "43"}})
    assert held == Held("tr-1", NOW, 1800, "43") and held.expires == NOW + timedelta(seconds=1800)


def test_the_name_comes_from_the_installation_id() -> None:
    assert lease_name(1001) == "peribolos-sync-1001"
    with pytest.raises(ConfigError):
        lease_name("../x")


# --- on the real API server ----------------------------------------------------------------------------


@pytest.fixture
def sync_identity(kube_apiserver: Any, namespace: str) -> Any:
    """A ServiceAccount with exactly the rendered peribolos-sync Role's Lease rule."""
    from kubernetes import client

    api = kube_apiserver.api_client()
    client.CoreV1Api(api).create_namespaced_service_account(
        namespace, client.V1ServiceAccount(metadata={"name": "sync"})
    )
    rbac = client.RbacAuthorizationV1Api(api)
    rule = {
        "apiGroups": ["coordination.k8s.io"],
        "resources": ["leases"],
        "verbs": ["get", "create", "update"],
    }
    rbac.create_namespaced_role(namespace, {"metadata": {"name": "sync"}, "rules": [rule]})
    rbac.create_namespaced_role_binding(
        namespace,
        {
            "metadata": {"name": "sync"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "sync"},
            "subjects": [{"kind": "ServiceAccount", "name": "sync", "namespace": namespace}],
        },
    )
    return load_api_client(str(kube_apiserver.service_account_kubeconfig(namespace, "sync")))


def test_one_holder_at_a_time_even_when_two_race(sync_identity: Any, namespace: str) -> None:
    locks = [OrgLocks(sync_identity, namespace, sleep=lambda s: time.sleep(0.05)) for _ in range(2)]
    name = lease_name(1)
    winners: list[str] = []
    barrier = threading.Barrier(2)

    def take(index: int) -> None:
        barrier.wait()
        ours, _ = locks[index].try_acquire(name, f"run-{index}", 60)
        if ours:
            winners.append(f"run-{index}")

    threads = [threading.Thread(target=take, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(winners) == 1, winners
    loser = "run-1" if winners == ["run-0"] else "run-0"
    ours, held = locks[0].try_acquire(name, loser, 60)
    assert not ours and held is not None and held.holder == winners[0]


def test_a_waiting_sync_takes_the_lock_once_it_is_released(sync_identity: Any, namespace: str) -> None:
    first = OrgLocks(sync_identity, namespace)
    second = OrgLocks(sync_identity, namespace, sleep=lambda s: time.sleep(0.05))
    name = lease_name(2)
    first.acquire(name, "first", 60, 0)
    heard: list[str] = []
    done: list[Held] = []
    waiter = threading.Thread(
        target=lambda: done.append(
            second.acquire(name, "second", 60, 20, on_wait=lambda h: heard.append(h.holder))
        )
    )
    waiter.start()
    time.sleep(0.5)
    assert done == [] and heard == ["first"], "it waits, and says for whom"
    assert first.release(name, "first") is True
    waiter.join(10)
    assert [h.holder for h in done] == ["second"]
    assert first.release(name, "first") is False, "no longer ours: nothing to release"


def test_a_lock_whose_holder_died_expires_by_itself(sync_identity: Any, namespace: str) -> None:
    locks = OrgLocks(sync_identity, namespace, sleep=lambda s: time.sleep(0.05))
    name = lease_name(3)
    locks.acquire(name, "dead-pod", 1, 0)
    with pytest.raises(LockBusy, match="still held by dead-pod"):
        locks.acquire(name, "next", 1800, 0.2)
    time.sleep(1.1)
    assert locks.acquire(name, "next", 1800, 0).holder == "next"
