"""A run SIGKILLed in the middle leaves every Secret old-and-valid or new; the next run converges.

The console script runs as a subprocess (as in the CronJob's Pod) against the fake GitHub, slowed to 30 ms a
request, and the real kube-apiserver; it is killed once the fake has minted a good part of the tokens.
"""

from __future__ import annotations

import signal
import subprocess
import time
from datetime import UTC, datetime, timedelta

from tests.refresher.conftest import SCRIPT, run_cli, script_env

COUNT = 120
FAST = ("--mint-budget-per-minute", "100000")
"""The budget's pace out of the way: the test is about the kill, not the pace (150 a minute: 49 s)."""


def test_sigkill_mid_run_leaves_old_or_new_and_rerun_converges(cli_env, github, store, seed,
                                                               tmp_path) -> None:
    for i in range(1, COUNT + 1):
        github.add_installation(i, f"org-{i}")
    old = {i: seed(i, timedelta(minutes=10)).token for i in range(1, COUNT + 1)}
    github.latency = 0.03
    minted_before = github.mint_count

    log = (tmp_path / "killed-run.log").open("w")
    proc = subprocess.Popen([str(SCRIPT), "--concurrency", "4", *FAST], env=script_env(cli_env), stderr=log,
                            stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while github.mint_count - minted_before < COUNT // 3 and time.monotonic() < deadline:
        assert proc.poll() is None, "the run ended before it could be killed"
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    log.close()
    assert proc.returncode == -signal.SIGKILL

    stored = {s.installation_id: s for s in store.list()}
    assert set(stored) == set(old), "a Secret disappeared or appeared"
    new = {i for i, s in stored.items() if s.token != old[i]}
    for i, secret in stored.items():
        assert github.token_is_valid(secret.token), f"Secret {i} holds an invalid token"
        if i in new:
            assert secret.expires_at > datetime.now(UTC) + timedelta(minutes=55)
        else:
            assert secret.expires_at < datetime.now(UTC) + timedelta(minutes=11)
    assert 0 < len(new) < COUNT, f"{len(new)} Secrets new: the kill was not mid-run"

    github.latency = 0.0
    rerun = run_cli("--concurrency", "4", *FAST, env=cli_env)
    assert rerun.returncode == 0, rerun.stderr
    assert all(s.expires_at > datetime.now(UTC) + timedelta(minutes=55) for s in store.list())
    assert all(github.token_is_valid(s.token) for s in store.list())
    minted = github.mint_count
    settled = run_cli(env=cli_env)
    assert settled.returncode == 0 and github.mint_count == minted
