"""The token refresher: its cost per installation, the fleet it keeps fresh, and the App-wide mint budget.

Fake GitHub (``tests/fakes/github/``), real kube-apiserver and etcd. docs/performance.md explains why these:

- ``steady`` / ``rerun`` / ``cold`` (1,000 and 10,000): the console script as the CronJob runs it, as a
  subprocess (peak RSS from ``wait4``), GitHub answering in 50 ms, the budget lifted (these rows measure
  the program's own cost). ``steady``: every Secret re-minted at once (``--margin 59m``, the key-rotation
  run); ``rerun``: the same namespace right after: nothing is due, one list; ``cold`` (1,000): no Secret.
- ``capacity`` (6,000 and 10,000): 90 minutes of the CronJob (every 10 minutes, margin 15 m, the default
  150 mints a minute on the App-wide budget's ConfigMap), starting from a fleet whose tokens were minted
  as the refresher mints them (remaining validity spread over 17-60 minutes). The requests to GitHub and
  the kube-apiserver are real; the clock skips every wait (a worker sleeping until its mint's instant, the
  budget's waits, the gaps between runs), so 90 minutes take a few minutes. It reports how many tokens
  ever fell below the margin, how close to expiry any was when replaced, and the mint rate GitHub saw.
- ``app-wide budget``: real time, about 3 minutes: a refresher run with 1,000 tokens due and six processes
  running ``peribolos-step install`` in a loop, all on one budget ConfigMap of 150 a minute; the fake
  GitHub refuses (403, secondary limit) any mint beyond 150 in a 60 s window. No 60 s window may hold more.

``BENCH_REFRESHER_SIZES=1000``, ``BENCH_CAPACITY_SIZES=6000``, ``BENCH_CAPACITY_MINUTES=60``,
``BENCH_BUDGET_SECONDS=120`` shorten it; ``BENCH_REFRESHER=cost,capacity,budget`` picks parts. Prints
figures; asserts nothing about time.
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
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa
from kubernetes import client

from peribolos_core.config_maps import ConfigMaps
from peribolos_core.errors import MintDeferred
from peribolos_core.github import GitHubApp
from peribolos_core.http import new_session
from peribolos_core.mint_budget import KubeMintBudget, peak_per_window
from peribolos_core.token_secret import build_secret
from peribolos_core.token_store import TokenStore
from tests.fakes.fixtures import APP_ID, write_key
from tests.fakes.github import FakeGitHub
from tests.helpers import json_lines
from tests.infra.controlplane import start_control_plane
from token_refresher.executor import run_bounded
from token_refresher.reconcile import Refresher

LATENCY = 0.05
BIN = Path(sys.executable).parent
SCRIPT = BIN / "peribolos-refresh-tokens"
STEP = BIN / "peribolos-step"
PLACEHOLDER = "ghs_" + "b" * 516  # new tokens are ~520 characters; never sent anywhere
MARGIN = timedelta(minutes=15)
INTERVAL = timedelta(minutes=10)
BUDGET_NAME = "peribolos-mint-budget"


class CountingGitHub(FakeGitHub):
    """The fake GitHub, counting the mints its per-minute limit refused (GitHub's secondary limit: 403)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.mints_refused = 0
        self._refused_lock = threading.Lock()

    def _admit_mint(self, now: float) -> bool:
        admitted = super()._admit_mint(now)
        if not admitted:
            with self._refused_lock:
                self.mints_refused += 1
        return admitted


class WarpClock:
    """The wall clock plus every wait skipped so far: sleeping moves the clock, not the thread. Exact for
    one sleeper at a time (the simulated refresher runs one worker: the budget, not the workers, bounds it).
    Everything that tells time in the simulation reads it: the fake GitHub (token expiries, JWTs, the
    mint times it records), the App's JWT, the refresher, the budget's slots on the ConfigMap."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.offset += seconds

    def now(self) -> datetime:
        return datetime.fromtimestamp(self(), UTC)


def new_namespace(core: client.CoreV1Api) -> str:
    name = f"bench-{uuid.uuid4().hex[:8]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    return name


def spread_expiries(count: int, now: datetime, low: float = 0.0, high: float = 3600.0) -> dict[int, datetime]:
    """Expiries evenly over ``[now + low, now + high)`` seconds, in an order unrelated to the id."""
    offsets = [low + (high - low) * (k + 0.5) / count for k in range(count)]
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


def script_env(github: FakeGitHub, key_file: Path, kubeconfig: Path, namespace: str) -> dict[str, str]:
    ours = ("GITHUB_", "POD_", "KUBECONFIG", "MINT_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(ours)}
    return env | {"GITHUB_APP_ID": APP_ID, "GITHUB_APP_PRIVATE_KEY_FILE": str(key_file),
                  "GITHUB_API_URL": github.api_url, "KUBECONFIG": str(kubeconfig), "POD_NAMESPACE": namespace,
                  "LOG_LEVEL": "warning"}


def run_script(github: FakeGitHub, key_file: Path, kubeconfig: Path, namespace: str, *args: str
               ) -> dict[str, Any]:
    """Run the console script once; its summary line, wall time, and peak RSS (MB) from wait4."""
    github.mint_times.clear()
    with tempfile.TemporaryFile("w+") as err:
        started = time.monotonic()
        proc = subprocess.Popen([str(SCRIPT), "--log-level", "info", *args],
                                env=script_env(github, key_file, kubeconfig, namespace),
                                stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.monotonic() - started
        err.seek(0)
        lines = json_lines(err)
    summaries = [x for x in lines if x.get("event") == "summary"]
    if proc.returncode not in (0, 1) or not summaries:
        tail = "\n".join(json.dumps(x) for x in lines[-5:])
        raise RuntimeError(f"refresher exited {proc.returncode}:\n{tail}")
    return {**summaries[0], "deferred": summaries[0]["counts"]["deferred"],
            "failed": summaries[0]["counts"]["failed"], "wall_s": wall, "rss_mb": usage.ru_maxrss / 1024,
            "fake_peak_per_min": github.max_mints_in_window(60.0), "exit": proc.returncode}


def row(name: str, n: int, r: dict[str, Any]) -> str:
    rss = f"{r['rss_mb']:.0f}" if r.get("rss_mb") else "-"
    fake_peak = r.get("fake_peak_per_min")
    peak = f"{r['peak_mint_requests_per_minute']}" + (f" ({fake_peak} seen)" if fake_peak is not None else "")
    return (f"{name:<8} {n:>6} {r['wall_s']:>8.1f} {r['tokens_minted']:>6} {r.get('deferred', 0):>6} "
            f"{r['github_requests'] / n:>8.3f} {r['kube_requests'] / n:>8.3f} {peak:>16} {rss:>7}")


def bench_cost(n: int, plane: Any, core: client.CoreV1Api, key: rsa.RSAPrivateKey, key_file: Path
               ) -> list[str]:
    lines = []
    with FakeGitHub(APP_ID, key.public_key(), latency=LATENCY, record=False) as github:
        github.add_installations(n)
        ns = new_namespace(core)
        took = seed(core, ns, spread_expiries(n, datetime.now(UTC)))
        print(f"[{n}] seeded {n} Secrets in {took:.1f}s", flush=True)
        lifted = ("--mint-budget-per-minute", "1000000")
        steady = run_script(github, key_file, plane.kubeconfig, ns, "--margin", "59m", *lifted)
        lines.append(row("steady", n, steady))
        # Lifted too: at 150 a minute the run would start spreading the clump steady left (every token
        # expiring within the same minute or two) over the next hour, which is the capacity part's business.
        rerun = run_script(github, key_file, plane.kubeconfig, ns, *lifted)
        lines.append(row("rerun", n, rerun))
        if n <= 1000:
            cold = run_script(github, key_file, plane.kubeconfig, new_namespace(core), *lifted)
            lines.append(row("cold", n, cold))
        for name, r in (("steady", steady), ("rerun", rerun)):
            if r["exit"] != 0 or r["failed"]:
                print(f"[{n}] {name}: {r['failed']} failed (exit {r['exit']})", flush=True)
    return lines


@dataclass
class Freshness:
    """Every token's validity over the simulation, from the mints the runs made."""

    expiry: dict[int, float]
    """Each installation's current token expiry (seconds since the epoch)."""
    lifetime: float
    replaced_with: list[float] = field(default_factory=list)
    """For each mint, the validity the replaced token still had (s)."""
    below: set[int] = field(default_factory=set)
    """Installations whose token fell below the margin at some instant."""
    expired: set[int] = field(default_factory=set)

    def minted(self, iid: int, new_expiry: float) -> None:
        left = self.expiry[iid] - (new_expiry - self.lifetime)
        self.replaced_with.append(left)
        if left < MARGIN.total_seconds():
            self.below.add(iid)
        if left < 0:
            self.expired.add(iid)
        self.expiry[iid] = new_expiry

    def end(self, at: float) -> None:
        for iid, expiry in self.expiry.items():
            if expiry - at < MARGIN.total_seconds():
                self.below.add(iid)
            if expiry < at:
                self.expired.add(iid)


def simulate(n: int, minutes: int, core: client.CoreV1Api, key: rsa.RSAPrivateKey) -> dict[str, Any]:
    """``minutes`` of the CronJob on ``n`` installations, on the warp clock (see the module docstring)."""
    clock = WarpClock()
    with CountingGitHub(APP_ID, key.public_key(), clock=clock, mint_budget_per_minute=150,
                        record=False) as github:
        github.add_installations(n)
        ns = new_namespace(core)
        # As the refresher leaves them: each token minted margin + slack before the previous one's end.
        expiries = spread_expiries(n, clock.now(), low=17 * 60, high=3600)
        took = seed(core, ns, expiries)
        print(f"[capacity {n}] seeded in {took:.0f}s; simulating {minutes} minutes", flush=True)
        app = GitHubApp(APP_ID, key, api_url=github.api_url, session=new_session(16), clock=clock)
        store = TokenStore(core, ns)
        budget = KubeMintBudget(ConfigMaps(core, ns), BUDGET_NAME, 150, report_waits_over=1e9)
        fresh = Freshness({i: e.timestamp() for i, e in expiries.items()}, github.token_ttl)
        start, real_start = clock(), time.monotonic()
        runs, deferred, below_at_plan, per_run = 0, 0, 0, []
        for runs in range(1, int(minutes * 60 // INTERVAL.total_seconds()) + 1):
            clock.sleep(start + (runs - 1) * INTERVAL.total_seconds() - clock())
            refresher = Refresher(app, store, margin=MARGIN, interval=INTERVAL, concurrency=1, budget=budget,
                                  now=clock.now, clock=clock, sleep=clock.sleep)
            summary = refresher.run()
            for outcome in summary.outcomes:
                if outcome.minted and outcome.expires_at is not None:
                    fresh.minted(outcome.step.installation_id, outcome.expires_at.timestamp())
            deferred += summary.counts["deferred"]
            below_at_plan = max(below_at_plan, summary.below_margin)
            per_run.append(summary.tokens_minted)
        fresh.end(clock())
        hours = (clock() - start) / 3600
        return {
            "installations": n, "minutes": round((clock() - start) / 60), "runs": runs,
            "real_s": time.monotonic() - real_start, "mints": len(fresh.replaced_with),
            "mints_per_hour": len(fresh.replaced_with) / hours, "per_run": per_run,
            "kept_fresh": n - len(fresh.below), "ever_below": len(fresh.below), "expired": len(fresh.expired),
            "min_left_min": min(fresh.replaced_with, default=3600.0) / 60,
            "peak_budget": peak_per_window(budget.granted), "peak_seen": github.max_mints_in_window(60.0),
            "refused_by_github": github.mints_refused, "deferred": deferred,
            "budget_conflicts": budget.conflicts, "most_below_at_a_plan": below_at_plan,
        }


def planner_only(n: int, minutes: int = 90) -> dict[str, Any]:
    """The same runs with the planner alone (``token_refresher.plan.schedule``) and the in-process budget,
    on an exact clock, no I/O: where the fleet the pace can keep fresh ends, in a second per size."""
    from peribolos_core.mint_budget import LocalMintBudget
    from tests.fakes.clock import FakeClock
    from token_refresher.plan import SLACK, schedule
    from token_refresher.reconcile import LATE_START, default_run_time

    clock, budget = FakeClock(0.0), LocalMintBudget(150)
    order = random.Random(n).sample(range(n), n)
    expiry = {iid: 17 * 60 + (43 * 60) * (k + 0.5) / n for k, iid in enumerate(order)}
    fresh = Freshness(dict(expiry), 3600.0)
    deadline_s = default_run_time(INTERVAL).total_seconds()
    for run in range(int(minutes * 60 // INTERVAL.total_seconds())):
        start = run * INTERVAL.total_seconds()
        clock.now = max(clock.now, start)
        tokens = [(i, e - start) for i, e in fresh.expiry.items()]
        slots = schedule([], tokens, margin=MARGIN.total_seconds(), slack=SLACK.total_seconds(),
                         window_end=INTERVAL.total_seconds(), deadline=deadline_s,
                         pace=budget.seconds_per_mint)
        for iid, offset in sorted(slots.at.items(), key=lambda item: item[1]):
            clock.now = max(clock.now, start + offset)
            try:
                clock.sleep(budget.acquire(clock(), start + deadline_s + LATE_START))
            except MintDeferred:
                continue
            fresh.minted(iid, clock() + 3600.0)
    end = minutes * 60
    below_at_the_end = sum(1 for e in fresh.expiry.values() if e - end < MARGIN.total_seconds())
    fresh.end(end)
    return {"installations": n, "kept_fresh": n - len(fresh.below), "ever_below": len(fresh.below),
            "below_at_the_end": below_at_the_end, "mints": len(fresh.replaced_with)}


def bench_capacity(sizes: list[int], minutes: int, core: client.CoreV1Api, key: rsa.RSAPrivateKey
                   ) -> list[str]:
    lines = []
    for n in sizes:
        r = simulate(n, minutes, core, key)
        print(f"[capacity {n}] {r}", flush=True)
        lines.append(
            f"{n:>6} {r['minutes']:>4} min {r['runs']:>3} runs {r['real_s']:>6.0f} s  {r['mints']:>6} mints "
            f"({r['mints_per_hour']:,.0f}/h)  fresh all along {r['kept_fresh']:>6}  below the margin "
            f"{r['ever_below']:>5}  expired {r['expired']:>5}  least left when replaced "
            f"{r['min_left_min']:>5.1f} min  peak/60 s {r['peak_budget']} granted, {r['peak_seen']} seen  "
            f"refused by GitHub {r['refused_by_github']}"
        )
    return lines


def bench_app_wide_budget(seconds: float, plane: Any, core: client.CoreV1Api, key: rsa.RSAPrivateKey,
                          key_file: Path, steps: int = 6) -> list[str]:
    """A refresher run and ``steps`` looping install steps, real processes on one budget ConfigMap."""
    with CountingGitHub(APP_ID, key.public_key(), latency=0.02, mint_budget_per_minute=150,
                        record=False) as github:
        fleet = 1000
        github.add_installations(fleet)
        ns = new_namespace(core)
        seed(core, ns, {i: datetime.now(UTC) + timedelta(minutes=5) for i in range(1, fleet + 1)})
        env = script_env(github, key_file, plane.kubeconfig, ns) | {
            "MINT_BUDGET": BUDGET_NAME, "MINT_BUDGET_NAMESPACE": ns, "MINT_BUDGET_PER_MINUTE": "150",
            "LOG_LEVEL": "info"}
        github.mint_times.clear()
        stop = time.monotonic() + seconds
        refresher = subprocess.Popen(
            [str(SCRIPT), "--interval", f"{int(seconds)}s", "--max-run-time", f"{int(seconds)}s"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        waits: list[float] = []
        step_mints = [0] * steps
        lock = threading.Lock()

        def loop(worker: int) -> None:
            iid = 1 + worker  # the steps re-install a few orgs again and again
            while time.monotonic() < stop:
                done = subprocess.run([str(STEP), "install", "--installation-id", str(iid)], env=env,
                                      capture_output=True, text=True, timeout=180, check=False)
                found = [json.loads(x) for x in done.stderr.splitlines() if x.startswith("{")]
                with lock:
                    waits.extend(x["wait_s"] for x in found if x.get("event") == "mint-budget-wait")
                    step_mints[worker] += int(done.returncode == 0)

        threads = [threading.Thread(target=loop, args=(w,)) for w in range(steps)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        refresher_err = refresher.communicate(timeout=600)[1]
        summary = next(json.loads(x) for x in refresher_err.splitlines() if '"summary"' in x)
        seen = sorted(github.mint_times)
        window = KubeMintBudget(ConfigMaps(core, ns), BUDGET_NAME, 150).window_now()
    return [
        f"{seconds:.0f} s, budget 150/min on ConfigMap {BUDGET_NAME}: refresher minted "
        f"{summary['tokens_minted']} (peak {summary['peak_mint_requests_per_minute']}/60 s of its own), "
        f"{steps} install loops minted {sum(step_mints)}; GitHub saw {len(seen)} mints, at most "
        f"{peak_per_window(seen, 60.0)} in any 60 s, "
        f"refused {github.mints_refused}; steps that waited: {len(waits)}, longest wait "
        f"{max(waits, default=0.0):.1f} s; slots in the window at the end: {len(window.slots)}",
    ]


def _sizes(name: str, default: str) -> list[int]:
    return [int(s) for s in os.environ.get(name, default).split(",") if s.strip()]


def main() -> int:
    parts = set(os.environ.get("BENCH_REFRESHER", "cost,capacity,budget").split(","))
    header = (f"{'scenario':<8} {'inst':>6} {'wall s':>8} {'mints':>6} {'left':>6} {'GH/inst':>8} "
              f"{'kube/inst':>8} {'peak mints/min':>16} {'RSS MB':>7}")
    cost: list[str] = []
    capacity: list[str] = []
    budget: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-refresher-") as tmp:
        plane = start_control_plane(Path(tmp) / "plane")
        try:
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            key_file = write_key(key, Path(tmp) / "app.pem")
            core = client.CoreV1Api(plane.api_client())
            if "cost" in parts:
                for n in _sizes("BENCH_REFRESHER_SIZES", "1000,10000"):
                    cost += bench_cost(n, plane, core, key, key_file)
            if "capacity" in parts:
                minutes = int(os.environ.get("BENCH_CAPACITY_MINUTES", "90"))
                capacity = bench_capacity(_sizes("BENCH_CAPACITY_SIZES", "6000,10000"), minutes, core, key)
            if "budget" in parts:
                seconds = float(os.environ.get("BENCH_BUDGET_SECONDS", "180"))
                budget = bench_app_wide_budget(seconds, plane, core, key, key_file)
        finally:
            plane.stop()
    if cost:
        print(f"\nfake GitHub {LATENCY * 1000:.0f} ms a request, concurrency 8, real kube-apiserver + etcd")
        print(header)
        print("\n".join(cost))
    if capacity:
        print("\ncapacity: every 10 minutes, margin 15 m, 150 mints/min on the budget ConfigMap, waits "
              "skipped")
        print("\n".join(capacity))
        print("\nthe planner alone, 90 minutes, exact clock (installations: fresh all along / ever below the "
              "margin / below it at the end)")
        for n in _sizes("BENCH_PLANNER_SIZES", "5000,6000,6100,6200,6300,6500,8000,10000"):
            r = planner_only(n)
            print(f"{n:>6}: {r['kept_fresh']:>6} / {r['ever_below']:>5} / {r['below_at_the_end']:>5}  "
                  f"({r['mints']} mints)", flush=True)
    if budget:
        print("\napp-wide budget, real time:")
        print("\n".join(budget))
    return 0


if __name__ == "__main__":
    sys.exit(main())
