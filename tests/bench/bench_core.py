"""The shared core's costs: app JWT signing, the transport against the fake GitHub at 50 ms a request
(10,000 installations), retries under 20% faults, and the token store on a real kube-apiserver.

Prints figures; asserts nothing about time. ``BENCH_CORE_STORE=0`` leaves out the kube-apiserver part.
"""

from __future__ import annotations

import logging
import os
import statistics
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import rsa
from kubernetes import client

from peribolos_core.app_jwt import AppJWT
from peribolos_core.errors import GitHubError
from peribolos_core.github import GitHubApp, InstallationToken
from peribolos_core.http import new_session
from peribolos_core.token_store import TokenStore
from tests.fakes.fixtures import APP_ID
from tests.fakes.github import FakeGitHub
from tests.infra.controlplane import find_tools, start_control_plane

LATENCY = 0.05
INSTALLATIONS = 10_000


def _jwt(key: rsa.RSAPrivateKey) -> None:
    signer = AppJWT(APP_ID, key)
    t0 = time.perf_counter()
    for i in range(200):
        signer.token(1_700_000_000 + i * 600)  # every call is past the refresh margin: a new signature
    signed = (time.perf_counter() - t0) / 200
    t0 = time.perf_counter()
    for _ in range(100_000):
        signer.token(1_700_000_000 + 199 * 600)
    cached = (time.perf_counter() - t0) / 100_000
    print(f"app JWT: sign {signed * 1e3:.2f} ms, cached {cached * 1e6:.2f} us ({signer.signed_count} signed)")


def _mints(gh: FakeGitHub, key: rsa.RSAPrivateKey, concurrency: int, count: int) -> tuple[float, int, int]:
    app = GitHubApp(APP_ID, key, api_url=gh.api_url, session=new_session(pool_size=max(concurrency, 4)))
    failures = 0

    def one(iid: int) -> None:
        nonlocal failures
        try:
            app.mint_token(iid)
        except GitHubError:
            failures += 1

    t0 = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, range(1, count + 1)))
    return time.perf_counter() - t0, app.request_count, failures


def _github(key: rsa.RSAPrivateKey) -> None:
    with FakeGitHub(APP_ID, key.public_key(), latency=LATENCY, record=False) as gh:
        gh.add_installations(INSTALLATIONS)
        app = GitHubApp(APP_ID, key, api_url=gh.api_url)
        t0 = time.perf_counter()
        found = sum(1 for _ in app.iter_installations())
        took = time.perf_counter() - t0
        print(
            f"list {found} installations at {LATENCY * 1e3:.0f} ms/request: {took:.2f} s, "
            f"{app.request_count} requests (per_page=100)"
        )
        for concurrency in (1, 8, 32):
            count = 100 if concurrency == 1 else 400
            took, requests, failures = _mints(gh, key, concurrency, count)
            print(
                f"mint {count} tokens, concurrency {concurrency:>2}: {count / took:6.1f} mints/s, "
                f"{requests} requests, {failures} failed, fake peak in-flight {gh.max_in_flight}"
            )
    with FakeGitHub(
        APP_ID, key.public_key(), latency=LATENCY, fault_probability=0.2, record=False, seed=1
    ) as gh:
        gh.add_installations(400)
        took, requests, failures = _mints(gh, key, 8, 400)
        print(
            f"mint 400 tokens, concurrency 8, 20% random 5xx: {400 / took:.1f} mints/s, {requests} requests "
            f"({requests - 400} retries), {failures} failed after 4 retries"
        )


def _store() -> None:
    if os.environ.get("BENCH_CORE_STORE", "1") == "0":
        print("token store: left out (BENCH_CORE_STORE=0)")
        return
    with tempfile.TemporaryDirectory(prefix="bench-core-") as tmp:
        plane = start_control_plane(Path(tmp), find_tools(modules=("kube",)))
        try:
            core = client.CoreV1Api(plane.api_client())
            namespace = f"bench-{uuid.uuid4().hex[:8]}"
            core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace)))
            store = TokenStore(core, namespace)
            expires = datetime.now(UTC) + timedelta(hours=1)
            count = 500
            timings = []
            for iid in range(1, count + 1):
                t0 = time.perf_counter()
                store.put(iid, InstallationToken("ghs_" + "c" * 516, expires), f"org{iid}", "Organization")
                timings.append(time.perf_counter() - t0)
            print(
                f"store put (create) x{count}: median {statistics.median(timings) * 1e3:.1f} ms, "
                f"p95 {sorted(timings)[int(count * 0.95)] * 1e3:.1f} ms ({store.request_count} API calls)"
            )
            timings = []
            for iid in range(1, 101):
                t0 = time.perf_counter()
                store.put(iid, InstallationToken("ghs_" + "d" * 516, expires), f"org{iid}", "Organization")
                timings.append(time.perf_counter() - t0)
            print(f"store put (update) x100: median {statistics.median(timings) * 1e3:.1f} ms")
            t0 = time.perf_counter()
            listed = store.list()
            print(f"store list {len(listed)} Secrets (one call): {(time.perf_counter() - t0) * 1e3:.0f} ms")
        finally:
            plane.stop()


def main() -> int:
    logging.getLogger("peribolos_core.http").setLevel(logging.ERROR)  # the retry warnings are counted instead
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    _jwt(key)
    _github(key)
    _store()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
