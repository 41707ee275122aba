"""The token refresher at 1,000 and 10,000 installations: fake GitHub (50 ms a request), real kube-apiserver.

Scenarios (docs/performance.md explains why these):

- ``steady``: every installation has a Secret, expiries spread evenly over the next hour (a fleet that has
  been refreshed for a while); ``--min-valid 45m`` makes ~75% of them due. The console script runs as a
  subprocess with the budget lifted (1,000,000 a minute) for a throughput figure, and its peak RSS is read
  with ``wait4``.
- ``rerun``: the same namespace again right after, under the default budget: only what became due in the
  meantime (expiries are spread over the hour, so a few a second) is minted; the rest is one list call.
- ``budget``: the same start as ``steady`` with the default budget (150 a minute, 20 minute runs). Real
  requests, but the budget's clock skips its waits (a 20 minute run takes seconds); reports how many were
  left and checks they are exactly the latest-expiring.
- ``cold`` (1,000 only): installations without any Secret (first deployment, or many missed webhooks).

``BENCH_REFRESHER_SIZES=1000`` runs a subset. Prints figures; asserts nothing about time.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa
from kubernetes import client

from peribolos_core.github import GitHubApp
from peribolos_core.http import new_session
from peribolos_core.mint_budget import LocalMintBudget as MintBudget
from peribolos_core.token_secret import build_secret
from peribolos_core.token_store import TokenStore
from tests.fakes.fixtures import APP_ID, write_key
from tests.fakes.github import FakeGitHub
from tests.infra.controlplane import start_control_plane
from token_refresher.executor import run_bounded
from token_refresher.reconcile import Refresher

LATENCY = 0.05
SCRIPT = Path(sys.executable).parent / "peribolos-refresh-tokens"
PLACEHOLDER = "ghs_" + "b" * 516  # new tokens are ~520 characters; never sent anywhere


class CompressedClock:
    """Real monotonic time plus every wait skipped so far: sleeping moves the clock, not the thread.

    Concurrent sleepers towards the same instant advance it once, as real sleepers would."""

    def __init__(self) -> None:
        self.offset = 0.0
        self.lock = threading.Lock()

    def __call__(self) -> float:
        return time.monotonic() + self.offset

    def sleep(self, seconds: float) -> None:
        with self.lock:
            target = time.monotonic() + self.offset + seconds
            self.offset = max(self.offset, target - time.monotonic())


def new_namespace(core: client.CoreV1Api) -> str:
    name = f"bench-{uuid.uuid4().hex[:8]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    return name


def spread_expiries(count: int, now: datetime) -> dict[int, datetime]:
    """Expiries evenly over the next hour, in an order unrelated to the installation id."""
    offsets = [3600 * (k + 0.5) / count for k in range(count)]
    random.Random(count).shuffle(offsets)
    return {i + 1: now + timedelta(seconds=offsets[i]) for i in range(count)}


def seed(core: client.CoreV1Api, namespace: str, expiries: dict[int, datetime]) -> float:
    """Create one token Secret per installation (one create each, 8 at a time); seconds taken."""
    started = time.monotonic()

    def create(iid: int) -> None:
        body = build_secret(iid, PLACEHOLDER, expiries[iid], f"org{iid}", "Organization")
        core.create_namespaced_secret(namespace, body)

    run_bounded(sorted(expiries), create, 8)
    return time.monotonic() - started


def run_script(github: FakeGitHub, key_file: Path, kubeconfig: Path, namespace: str, *args: str
               ) -> dict[str, Any]:
    """Run the console script once; its summary line, wall time, and peak RSS (MB) from wait4."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "POD_", "KUBECONFIG"))}
    env |= {"GITHUB_APP_ID": APP_ID, "GITHUB_APP_PRIVATE_KEY_FILE": str(key_file),
            "GITHUB_API_URL": github.api_url, "KUBECONFIG": str(kubeconfig), "POD_NAMESPACE": namespace,
            "LOG_LEVEL": "warning"}
    github.mint_times.clear()
    with tempfile.TemporaryFile("w+") as err:
        started = time.monotonic()
        proc = subprocess.Popen([str(SCRIPT), "--log-level", "info", *args], env=env,
                                stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.monotonic() - started
        err.seek(0)
        lines = [json.loads(line) for line in err if line.startswith("{")]
    summaries = [x for x in lines if x.get("event") == "summary"]
    if proc.returncode not in (0, 1) or not summaries:
        tail = "\n".join(json.dumps(x) for x in lines[-5:])
        raise RuntimeError(f"refresher exited {proc.returncode}:\n{tail}")
    return {**summaries[0], "deferred": summaries[0]["counts"]["deferred"],
            "failed": summaries[0]["counts"]["failed"], "wall_s": wall, "rss_mb": usage.ru_maxrss / 1024,
            "fake_peak_per_min": github.max_mints_in_window(60.0), "exit": proc.returncode}


def run_budget_limited(github: FakeGitHub, key: rsa.RSAPrivateKey, core: client.CoreV1Api, namespace: str,
                       expiries: dict[int, datetime]) -> dict[str, Any]:
    clock = CompressedClock()
    app = GitHubApp(APP_ID, key, api_url=github.api_url, session=new_session(16))
    refresher = Refresher(app, TokenStore(core, namespace), budget=MintBudget(150), concurrency=8,
                          max_run_time=timedelta(minutes=20), clock=clock, sleep=clock.sleep)
    started_real, started_budget = time.monotonic(), clock()
    summary = refresher.run()
    minted = [expiries[o.step.installation_id] for o in summary.outcomes if o.minted]
    left = [expiries[o.step.installation_id] for o in summary.outcomes if o.result == "deferred"]
    latest_left = not (minted and left) or max(minted) <= min(left)
    return {**summary.log_fields(), "deferred": summary.counts["deferred"],
            "wall_s": time.monotonic() - started_real,
            "budget_minutes": (clock() - started_budget) / 60, "latest_left": latest_left,
            "rss_mb": None, "fake_peak_per_min": None}


def row(name: str, n: int, r: dict[str, Any]) -> str:
    rss = f"{r['rss_mb']:.0f}" if r.get("rss_mb") else "-"
    fake_peak = r.get("fake_peak_per_min")
    peak = f"{r['peak_mint_requests_per_minute']}" + (f" ({fake_peak} seen)" if fake_peak is not None else "")
    return (f"{name:<8} {n:>6} {r['wall_s']:>8.1f} {r['tokens_minted']:>6} {r.get('deferred', 0):>6} "
            f"{r['github_requests'] / n:>8.3f} {r['kube_requests'] / n:>8.3f} {peak:>16} {rss:>7}")


def bench_size(n: int, plane: Any, core: client.CoreV1Api, key: rsa.RSAPrivateKey, key_file: Path
               ) -> list[str]:
    lines = []
    with FakeGitHub(APP_ID, key.public_key(), latency=LATENCY, record=False) as github:
        github.add_installations(n)
        now = datetime.now(UTC)
        expiries = spread_expiries(n, now)
        due = sum(1 for e in expiries.values() if e < now + timedelta(minutes=45))

        ns = new_namespace(core)
        took = seed(core, ns, expiries)
        print(f"[{n}] seeded {n} Secrets in {took:.1f}s; {due} expire within 45m", flush=True)
        steady = run_script(github, key_file, plane.kubeconfig, ns, "--mint-budget-per-minute", "1000000")
        lines.append(row("steady", n, steady))
        rerun = run_script(github, key_file, plane.kubeconfig, ns)
        lines.append(row("rerun", n, rerun))

        ns2 = new_namespace(core)
        seed(core, ns2, expiries)
        budget = run_budget_limited(github, key, core, ns2, expiries)
        lines.append(row("budget", n, budget))
        print(f"[{n}] budget-limited: {budget['tokens_minted']} minted over {budget['budget_minutes']:.1f} "
              f"budget minutes, {budget['deferred']} left; the left ones are the latest-expiring: "
              f"{budget['latest_left']}", flush=True)
        if n <= 1000:
            cold = run_script(github, key_file, plane.kubeconfig, new_namespace(core),
                              "--mint-budget-per-minute", "1000000")
            lines.append(row("cold", n, cold))
        for name, r in (("steady", steady), ("rerun", rerun)):
            if r["exit"] != 0 or r["failed"]:
                print(f"[{n}] {name}: {r['failed']} failed (exit {r['exit']})", flush=True)
    return lines


def main() -> int:
    sizes = [int(s) for s in os.environ.get("BENCH_REFRESHER_SIZES", "1000,10000").split(",") if s.strip()]
    header = (f"{'scenario':<8} {'inst':>6} {'wall s':>8} {'mints':>6} {'left':>6} {'GH/inst':>8} "
              f"{'kube/inst':>8} {'peak mints/min':>16} {'RSS MB':>7}")
    with tempfile.TemporaryDirectory(prefix="bench-refresher-") as tmp:
        plane = start_control_plane(Path(tmp) / "plane")
        try:
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            key_file = write_key(key, Path(tmp) / "app.pem")
            core = client.CoreV1Api(plane.api_client())
            lines = []
            for n in sizes:
                lines += bench_size(n, plane, core, key, key_file)
        finally:
            plane.stop()
    print(f"\nfake GitHub {LATENCY * 1000:.0f} ms a request, concurrency 8, real kube-apiserver + etcd")
    print(header)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
