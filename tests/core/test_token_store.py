"""TokenStore against a real kube-apiserver (the ``core_v1`` / ``namespace`` fixtures of tests/conftest.py):
create-or-update, delete, list by selector, suspended and disallowed marks, a real 409 race, RBAC, no token
leaks; and against a server that is no kube-apiserver."""

import base64
import logging
import subprocess
import sys
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from peribolos_core.errors import KubeConflict, KubeError, KubeForbidden, KubeNotFound
from peribolos_core.github import InstallationToken
from peribolos_core.kube import load_core_v1
from peribolos_core.token_secret import build_secret
from peribolos_core.token_store import StoredToken, TokenStore
from tests.not_kube import ANSWERS, not_a_kube_apiserver

EXPIRES = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)


def token(n: int, expires: datetime = EXPIRES) -> InstallationToken:
    return InstallationToken(f"ghs_{n:04d}" + "Z" * 512, expires, {"members": "write"}, "all")


def test_put_creates_then_updates(core_v1: Any, namespace: str) -> None:
    store = TokenStore(core_v1, namespace)
    assert store.get(42) is None
    assert store.put(42, token(1), "Octo-Org", "Organization") == "created"
    first = store.get(42)
    assert first == StoredToken(
        42, "Octo-Org", "Organization", EXPIRES, token(1).token, False, first.resource_version
    )
    later = EXPIRES + timedelta(hours=1)
    assert store.put(42, token(2, later), "Octo-Org", "Organization") == "updated"
    second = store.get(42)
    assert (second.token, second.expires_at) == (token(2).token, later)
    assert second.resource_version != first.resource_version
    raw = core_v1.read_namespaced_secret("peribolos-token-42", namespace)
    assert raw.metadata.labels["peribolos.dev/account"] == "octo-org"
    assert raw.metadata.annotations["peribolos.dev/expires-at"] == "2030-01-02T04:04:05Z"
    assert base64.b64decode(raw.data["org"]).decode() == "Octo-Org"


def test_put_is_idempotent(core_v1: Any, namespace: str) -> None:
    store = TokenStore(core_v1, namespace)
    results = [store.put(7, token(1), "o", "Organization") for _ in range(3)]
    assert results == ["created", "updated", "updated"]
    assert [s.installation_id for s in store.list()] == [7]


def test_put_into_a_missing_namespace_fails_at_once(core_v1: Any) -> None:
    store = TokenStore(core_v1, "no-such-namespace")
    with pytest.raises(KubeNotFound, match="create Secret no-such-namespace/peribolos-token-1"):
        store.put(1, token(1), "o", "Organization")
    assert store.request_count == 2


def test_delete(core_v1: Any, namespace: str) -> None:
    store = TokenStore(core_v1, namespace)
    store.put(5, token(1), "o", "Organization")
    assert store.delete(5) is True
    assert store.get(5) is None
    assert store.delete(5) is False


def test_list_uses_the_label_selector(core_v1: Any, namespace: str) -> None:
    store = TokenStore(core_v1, namespace)
    for i in (3, 1, 2):
        store.put(i, token(i), f"org{i}", "Organization")
    # Not ours: no labels. Ours but broken: skipped with a warning, not a crash.
    core_v1.create_namespaced_secret(
        namespace, {"metadata": {"name": "unrelated"}, "stringData": {"token": "x"}}
    )
    broken = build_secret(9, "t" * 20, EXPIRES, "o9", "Organization")
    del broken["data"]["token"]
    core_v1.create_namespaced_secret(namespace, broken)
    before = store.request_count
    listed = store.list()
    assert store.request_count == before + 1
    assert sorted((s.installation_id, s.org) for s in listed) == [(1, "org1"), (2, "org2"), (3, "org3")]


def test_malformed_secret_reads_as_missing_and_is_replaced(
    core_v1: Any, namespace: str, caplog: pytest.LogCaptureFixture
) -> None:
    broken = build_secret(8, "t" * 20, EXPIRES, "o8", "Organization")
    broken["metadata"]["annotations"]["peribolos.dev/expires-at"] = "whenever"
    core_v1.create_namespaced_secret(namespace, broken)
    store = TokenStore(core_v1, namespace)
    assert store.get(8) is None
    assert "does not follow the schema" in caplog.text
    assert store.put(8, token(8), "o8", "Organization") == "updated"
    assert store.get(8).expires_at == EXPIRES


def test_mark_suspended(core_v1: Any, namespace: str) -> None:
    store = TokenStore(core_v1, namespace)
    store.put(4, token(4), "o", "Organization")
    store.mark_suspended(4)
    marked = store.get(4)
    assert marked.suspended and marked.token == token(4).token
    store.put(4, token(5), "o", "Organization")
    assert store.get(4).suspended is False, "a fresh token clears the mark"
    assert store.mark_suspended(404) is False
    assert store.get(404) is None, "marking a missing Secret creates nothing"


def test_mark_disallowed(core_v1: Any, namespace: str) -> None:
    store = TokenStore(core_v1, namespace)
    store.put(6, token(6), "o", "Organization")
    since = datetime(2026, 5, 6, 7, 8, 9, tzinfo=UTC)
    assert store.mark_disallowed(6, since) is True
    marked = store.get(6)
    assert marked.disallowed_since == since and marked.token == token(6).token
    store.put(6, token(7), "o", "Organization")
    assert store.get(6).disallowed_since is None, "a fresh token clears the mark"
    assert store.mark_disallowed(405, since) is False
    assert store.get(405) is None


@dataclass(frozen=True)
class PlainToken:
    token: str
    expires_at: datetime


def test_put_takes_any_token_value(core_v1: Any, namespace: str) -> None:
    """The store needs a token and its expiry, not GitHub's answer type."""
    store = TokenStore(core_v1, namespace)
    store.put(12, PlainToken("ghs_plain" + "p" * 40, EXPIRES), "o", "Organization")
    assert store.get(12).token == "ghs_plain" + "p" * 40


def test_the_store_does_not_load_the_github_client() -> None:
    code = "import sys, peribolos_core.token_store; print(sorted(m for m in sys.modules if 'github' in m))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).parents[2])
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("answer", sorted(ANSWERS), ids=sorted(ANSWERS))
@pytest.mark.parametrize(
    ("call", "what"),
    [
        (lambda s: s.get(1), "read Secret ns/peribolos-token-1"),
        (lambda s: s.list(), "list token Secrets in ns"),
        (lambda s: s.delete(1), "delete Secret ns/peribolos-token-1"),
        (lambda s: s.mark_suspended(1), "mark Secret ns/peribolos-token-1 suspended"),
        (lambda s: s.put(1, token(1), "o", "User", listed=None), "create Secret ns/peribolos-token-1"),
    ],
    ids=["get", "list", "delete", "mark", "create"],
)
def test_a_server_that_is_no_apiserver_is_a_kube_error(tmp_path: Path, answer: str, call, what: str) -> None:
    """Issue 14: an HTML page or broken JSON answered with 200 was a JSONDecodeError (a traceback), and a
    write against it passed for done."""
    body, content_type = ANSWERS[answer]
    with not_a_kube_apiserver(tmp_path, body, content_type) as kubeconfig:
        store = TokenStore(load_core_v1(str(kubeconfig)), "ns")
        with pytest.raises(KubeError) as info:
            call(store)
    media_type = content_type.split(";")[0]
    assert str(info.value).startswith(f"{what}: the server answered HTTP 200 with {media_type}")
    assert "not a Kubernetes object" in str(info.value) and not info.value.temporary


class ConcurrentWriterApi:
    """The real CoreV1Api, except that right after our first read another writer (a second TokenStore on the
    same API server) replaces the Secret, so our replace meets a real 409 from the API server."""

    def __init__(self, api: Any, other: TokenStore, other_token: InstallationToken) -> None:
        self._api, self._other, self._other_token = api, other, other_token
        self.interleaved = 0

    def read_namespaced_secret(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return self._api.read_namespaced_secret(*args, **kwargs)
        finally:  # also after a 404: the other writer then creates it first
            if not self.interleaved:
                self.interleaved += 1
                self._other.put(1, self._other_token, "o", "Organization")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._api, name)


@pytest.mark.parametrize("exists", [True, False], ids=["replace-conflict", "create-conflict"])
def test_conflict_is_reread_and_retried(core_v1: Any, namespace: str, exists: bool) -> None:
    other = TokenStore(core_v1, namespace)
    if exists:
        other.put(1, token(0), "o", "Organization")
    api = ConcurrentWriterApi(core_v1, other, token(2))
    store = TokenStore(api, namespace)
    assert store.put(1, token(1), "o", "Organization") == "updated"
    assert api.interleaved == 1
    assert store.request_count == 4, "read, conflicting write, read again, write"
    assert store.get(1).token == token(1).token, "the writer that saw the latest version wins"


@pytest.mark.parametrize(
    ("before", "stale", "expected", "requests"),
    [
        ("absent", False, "created", 1),
        ("present", False, "updated", 1),
        ("present", True, "updated", 3),
        ("absent", True, "updated", 3),
    ],
    ids=["listed-absent", "listed-version", "listed-version-stale", "listed-absent-but-created-since"],
)
def test_put_after_a_list_writes_without_reading(
    core_v1: Any, namespace: str, before: str, stale: bool, expected: str, requests: int
) -> None:
    """A caller that has just listed the Secrets passes what it saw: one write when nothing moved since,
    and the usual read-and-retry when another writer got there first."""
    store = TokenStore(core_v1, namespace)
    if before == "present":
        store.put(1, token(0), "o", "Organization")
    listed = {s.installation_id: s for s in store.list()}.get(1)
    if stale:
        TokenStore(core_v1, namespace).put(1, token(9), "o", "Organization")
    store.request_count = 0
    assert store.put(1, token(1), "o", "Organization", listed=listed) == expected
    assert store.request_count == requests
    assert store.get(1).token == token(1).token


def test_conflicts_that_never_end_raise(core_v1: Any, namespace: str) -> None:
    class AlwaysRacing(ConcurrentWriterApi):
        def read_namespaced_secret(self, *args: Any, **kwargs: Any) -> Any:
            try:
                return self._api.read_namespaced_secret(*args, **kwargs)
            finally:  # a different token each time: an identical write would not change resourceVersion
                self.interleaved += 1
                self._other.put(1, token(1000 + self.interleaved), "o", "Organization")

    other = TokenStore(core_v1, namespace)
    other.put(1, token(0), "o", "Organization")
    store = TokenStore(AlwaysRacing(core_v1, other, token(2)), namespace, max_attempts=3)
    with pytest.raises(KubeConflict, match="still conflicting after 3 attempts") as info:
        store.put(1, token(1), "o", "Organization")
    assert info.value.temporary


def test_two_writers_in_threads(core_v1: Any, namespace: str) -> None:
    stores = [TokenStore(core_v1, namespace, max_attempts=50) for _ in range(2)]
    barrier = threading.Barrier(2)
    results: list[list[str]] = [[], []]
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            barrier.wait()
            for i in range(15):
                results[n].append(stores[n].put(11, token(100 * n + i), "o", "Organization"))
        except BaseException as exc:  # noqa: BLE001 (reported by the assertion below)
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert sorted(results[0] + results[1]).count("created") == 1
    assert len(results[0]) == len(results[1]) == 15
    final = stores[0].get(11).token
    assert final in {token(14).token, token(114).token}
    writes = sum(s.request_count for s in stores)
    print(f"two writers x 15 puts: {writes} API calls, {writes - 60} extra from conflicts")


def test_forbidden_without_rbac(kube_apiserver: Any, core_v1: Any, namespace: str) -> None:
    core_v1.create_namespaced_service_account(namespace, client.V1ServiceAccount(metadata={"name": "nobody"}))
    kubeconfig = kube_apiserver.service_account_kubeconfig(namespace, "nobody")
    store = TokenStore(load_core_v1(str(kubeconfig)), namespace)
    with pytest.raises(KubeForbidden) as info:
        store.get(1)
    assert f"read Secret {namespace}/peribolos-token-1: HTTP 403" in str(info.value)
    assert "Role" in str(info.value)


def test_no_token_in_logs_errors_or_reprs(
    core_v1: Any, namespace: str, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = token(77)
    store = TokenStore(core_v1, namespace)
    store.put(77, secret, "o", "Organization")
    store.put(77, secret, "o", "Organization")
    stored = store.get(77)
    listed = store.list()
    bad = TokenStore(core_v1, "no-such-namespace")
    with pytest.raises(KubeNotFound) as info:
        bad.put(77, secret, "o", "Organization")
    encoded = base64.b64encode(secret.token.encode()).decode()
    texts = [
        caplog.text,
        *capsys.readouterr(),
        repr(stored),
        str(stored),
        repr(listed),
        repr(store),
        str(info.value),
        repr(info.value),
    ]
    for text in texts:
        assert secret.token not in text
        assert encoded[:40] not in text
