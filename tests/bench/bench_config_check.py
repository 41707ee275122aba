"""The peribolos config schema check: time and peak memory on real, large and hostile files.

Each row runs ``peribolos-step check-config FILE`` as a subprocess (what fetch-config and the pre-commit
hook do) and prints its wall time and peak RSS (``ru_maxrss`` from wait4), plus the in-process median of the
pure check. Printed, never asserted. ``python -m tests.bench config_check``.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tekton.steps.peribolos_config import MAX_CONFIG_BYTES, check

FIXTURES = Path(__file__).parent.parent / "fixtures" / "peribolos-configs"


def _large_config(size: int) -> bytes:
    """A plausible single-org config just under ``size`` bytes: many members, teams of 20 members each."""
    logins = [f"user-{i:06d}" for i in range(size // 200)]
    lines = ["orgs:", "  big-org:", "    admins: [" + ", ".join(logins[:5]) + "]", "    members:"]
    lines += [f"    - {login}" for login in logins[5:]]
    lines.append("    teams:")
    body = "\n".join(lines)
    team = 0
    while True:
        members = logins[(team * 20) % len(logins) : (team * 20) % len(logins) + 20] or logins[:20]
        entry = (
            f"\n      team-{team:05d}:\n        description: Team number {team}\n        privacy: closed\n"
            f"        members: [{', '.join(members)}]\n        repos: {{repo-{team}: write}}"
        )
        if len(body) + len(entry) + 1 > size:
            return (body + "\n").encode()
        body += entry
        team += 1


def _alias_bomb() -> bytes:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 10)]
    return ("\n".join(lines) + "\norgs: {o: {admins: *a9}}\n").encode()


def _run(path: Path) -> tuple[float, float, int, int]:
    """(wall seconds, peak RSS MB, exit code, output lines) of check-config on ``path``."""
    script = Path(sys.executable).parent / "peribolos-step"
    with tempfile.TemporaryFile("w+") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(
            [str(script), "check-config", str(path)], stdout=out, stderr=subprocess.STDOUT
        )
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - started
        out.seek(0)
        lines = len(out.read().splitlines())
    return wall, usage.ru_maxrss / 1024, proc.returncode, lines


def _median_ms(content: bytes, rounds: int = 5) -> float:
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        check(content)
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def main() -> int:
    largest = max(FIXTURES.glob("*.yaml"), key=lambda p: p.stat().st_size)
    with tempfile.TemporaryDirectory() as tmp:
        cases = {
            f"real: {largest.name}": largest.read_bytes(),
            f"synthetic at the limit ({MAX_CONFIG_BYTES // 1024} KiB)": _large_config(MAX_CONFIG_BYTES),
            "'[' x 100,000": b"[" * 100_000,
            "alias bomb (10**10 values)": _alias_bomb(),
            "one byte over the limit": b"#" * (MAX_CONFIG_BYTES + 1),
            "empty file": b"",
        }
        print("(the RSS floor is the interpreter with peribolos-step's imports: the 'empty file' row)")
        runs = {}
        for label, content in cases.items():  # subprocesses first: a fork of a big parent inflates RSS
            path = Path(tmp) / "peribolos.yaml"
            path.write_bytes(content)
            runs[label] = _run(path)
        for label, content in cases.items():
            wall, rss, code, lines = runs[label]
            inproc = _median_ms(content, 3 if len(content) > 500_000 else 10)
            print(
                f"{label:<40} {len(content) / 1024:8.0f} KiB  check {inproc:8.1f} ms   "
                f"check-config {wall * 1000:7.0f} ms  peak RSS {rss:6.1f} MB  exit {code}  {lines} line(s)"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
