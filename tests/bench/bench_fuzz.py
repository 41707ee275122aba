"""Fuzz the real interceptor process: 100,000 requests on 127.0.0.1, then count 5xx, crashes and secrets.

A seeded generator mangles the real webhook fixtures and the InterceptorRequest around them (fields
dropped or replaced by random JSON, wrong types, bad or missing signatures, control characters and
secrets in header values, invalid UTF-8, truncations, oversized members) and sends them over keep-alive
connections; one request in ten is raw bytes that may not be HTTP at all, on a connection of its own.
The server runs as ``peribolos-interceptor`` with text logs (the format that must escape control
characters) into a file. Printed: requests by status, 5xx (target 0), whether the process is still
alive (0 crashes), its peak RSS (``VmHWM``), log lines, lines holding a secret in any printed form
(target 0) and lines that do not start with a timestamp (a forged line; target 0).

Bounded: ``BENCH_FUZZ_REQUESTS`` (100,000) requests or ``BENCH_FUZZ_SECONDS`` (600) seconds, whichever
comes first; 8 connections at a time; only 127.0.0.1 is contacted.

    python -m tests.bench fuzz
    BENCH_FUZZ_REQUESTS=5000 python -m tests.bench fuzz
"""

from __future__ import annotations

import asyncio
import collections
import copy
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from peribolos_core.logs import printed_forms
from tests.bench.bench_attacks import _healthy
from tests.bench.bench_interceptor import _peak_rss_mb
from tests.helpers import free_port, sign

FIXTURES = Path(__file__).parents[1] / "fixtures" / "github-webhooks"
SECRET = "fuzz-webhook-secret-\"quote\\slash-é"
"""Holds characters JSON escapes, so the escaped forms are checked too."""
OTHER_SECRET = "rotated-old-secret-0123456789"
CONNECTIONS = 8
_STAMP = re.compile(rb"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [A-Z]+ ")


class Fuzzer:
    """Requests from one seeded random generator (the same seed gives the same run)."""

    def __init__(self, seed: int) -> None:
        self.random = random.Random(seed)
        self.payloads = [
            (path.parent.name, json.loads(path.read_text(encoding="utf-8")))
            for path in sorted(FIXTURES.glob("*/*.payload.json"))
        ]

    def value(self, depth: int = 0) -> Any:
        r = self.random
        kind = r.randrange(9 if depth < 3 else 6)
        if kind == 0:
            return None
        if kind == 1:
            return r.choice([True, False])
        if kind == 2:
            return r.randint(-(2**63), 2**63)
        if kind == 3:
            return r.random() * 10 ** r.randint(-5, 300)
        if kind in (4, 5):
            return self.text()
        if kind in (6, 7):
            return {self.text(8): self.value(depth + 1) for _ in range(r.randrange(4))}
        return [self.value(depth + 1) for _ in range(r.randrange(4))]

    def text(self, size: int = 24) -> str:
        r = self.random
        alphabet = "abc{}[]\"\\\n\r\t\x00\x1b\u2028é😀 " + SECRET[:3]
        text = "".join(r.choice(alphabet) for _ in range(r.randrange(size)))
        if r.random() < 0.05:
            text += r.choice([SECRET, OTHER_SECRET])  # a secret where a value goes: must never be logged
        return text

    def mangle(self, payload: Any) -> Any:
        r = self.random
        payload = copy.deepcopy(payload)
        for _ in range(r.choice([0, 0, 1, 2, 3])):
            node, parents = payload, []
            while isinstance(node, dict | list) and node and r.random() < 0.7:
                key = r.choice(list(node)) if isinstance(node, dict) else r.randrange(len(node))
                parents.append((node, key))
                node = node[key]
            if not parents:
                break
            parent, key = parents[-1]
            if isinstance(parent, dict) and r.random() < 0.3:
                del parent[key]
            else:
                parent[key] = self.value()
        return payload

    def interceptor_request(self) -> bytes:
        r = self.random
        event, payload = r.choice(self.payloads)
        body = json.dumps(self.mangle(payload)) if r.random() < 0.9 else self.text(200)
        raw_body = body.encode("utf-8", "surrogatepass")
        header: dict[str, Any] = {
            r.choice(["X-Github-Event", "x-github-event"]): [event if r.random() < 0.9 else self.text()],
            "X-Github-Delivery": [r.choice(["72d3162e-cc78-11e3-81ab-4c9367dc0958", self.text()])],
        }
        signature = r.random()
        if signature < 0.6:
            header["X-Hub-Signature-256"] = [sign(raw_body, r.choice([SECRET, OTHER_SECRET]))]
        elif signature < 0.8:
            header["X-Hub-Signature-256"] = [r.choice([sign(raw_body, "wrong-secret"), self.text(80)])]
        for _ in range(r.randrange(3)):
            header[self.text(12)] = [self.text(40)]
        request: dict[str, Any] = {"body": body, "header": header}
        for member in ("extensions", "interceptor_params", "context", self.text(6)):
            if r.random() < 0.3:
                request[member] = self.value() if r.random() < 0.3 else {
                    r.choice(["config_repo", "config_path", "actions", "event_id"]): self.value()
                }
        if r.random() < 0.05:
            request["context"] = {"k": "v" * r.randint(60_000, 80_000)}  # near the member limit
        data = json.dumps(request, ensure_ascii=r.random() < 0.5).encode("utf-8", "surrogatepass")
        twist = r.random()
        if twist < 0.03:
            data = data[: r.randrange(len(data))]  # truncated
        elif twist < 0.05:
            at = r.randrange(len(data))
            data = data[:at] + bytes([r.randrange(256)]) + data[at + 1 :]  # one byte flipped
        return b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n%s" % (len(data), data)

    def raw_http(self) -> bytes:
        r = self.random
        method = r.choice([b"GET", b"POST", b"PUT", b"HEAD", b"G\x00T", b"\xff"])
        target = r.choice([b"/", b"/healthz", b"/metrics", b"*", b"/%zz", b"/" + b"a" * 300])
        headers = b"".join(
            r.choice([b"Host: t\r\n", b"Content-Length: 5\r\n", b"Content-Length: -1\r\n",
                      b"Transfer-Encoding: chunked\r\n", b"Expect: 100-continue\r\n", b"X: \xff\r\n",
                      b"Bad Header\r\n", b"X-Delivery: a\nforged\r\n"])
            for _ in range(r.randrange(5))
        )
        tail = bytes(r.randrange(256) for _ in range(r.randrange(60)))
        if r.random() < 0.2:
            return bytes(r.randrange(256) for _ in range(r.randrange(400)))
        return method + b" " + target + b" HTTP/1.1\r\n" + headers + b"\r\n" + tail


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    await reader.readexactly(length)
    return status


async def _worker(
    port: int, fuzzer: Fuzzer, budget: list[int], deadline: float, statuses: collections.Counter[Any]
) -> None:
    reader = writer = None
    while budget[0] > 0 and time.monotonic() < deadline:
        budget[0] -= 1
        if fuzzer.random.random() < 0.1:
            try:
                r, w = await asyncio.open_connection("127.0.0.1", port)
                w.write(fuzzer.raw_http())
                w.write_eof()
                answer = await asyncio.wait_for(r.read(), 15)
                w.close()
            except (OSError, TimeoutError) as exc:
                statuses[f"raw: {type(exc).__name__}"] += 1
                continue
            found = re.findall(rb"HTTP/1\.1 (\d{3}) ", answer)
            for code in found:
                statuses[int(code)] += 1
            if not found:
                statuses["raw: closed without an answer"] += 1
            continue
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(fuzzer.interceptor_request())
            statuses[await asyncio.wait_for(_read_response(reader), 15)] += 1  # type: ignore[arg-type]
        except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError) as exc:
            statuses[f"keep-alive: {type(exc).__name__}"] += 1
            if writer is not None:
                writer.close()
            reader = writer = None
    if writer is not None:
        writer.close()


async def _drive(port: int, count: int, seconds: float) -> tuple[collections.Counter[Any], float]:
    statuses: collections.Counter[Any] = collections.Counter()
    budget = [count]
    started = time.monotonic()
    deadline = started + seconds
    await asyncio.gather(
        *(_worker(port, Fuzzer(seed), budget, deadline, statuses) for seed in range(CONNECTIONS))
    )
    statuses["(requests sent)"] = count - max(0, budget[0])
    return statuses, time.monotonic() - started


def main() -> int:
    count = int(os.environ.get("BENCH_FUZZ_REQUESTS", "100000"))
    seconds = float(os.environ.get("BENCH_FUZZ_SECONDS", "600"))
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        secrets = Path(tmp) / "webhook-secret"
        secrets.write_text(f"{OTHER_SECRET}\n{SECRET}\n", encoding="utf-8")
        log_path = Path(tmp) / "interceptor.log"
        command = [sys.executable, "-c", "from tekton.interceptor.cli import main; main()",
                   "--host", "127.0.0.1", "--port", str(port), "--webhook-secret-file", str(secrets),
                   "--log-format", "text"]
        with log_path.open("wb") as log:
            proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log)
            try:
                deadline = time.monotonic() + 20
                while not _healthy(port):
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError("interceptor did not start")
                    time.sleep(0.1)
                statuses, took = asyncio.run(_drive(port, count, seconds))
                alive = proc.poll() is None and _healthy(port)
                peak = _peak_rss_mb(proc.pid)
            finally:
                proc.terminate()
                try:
                    code = proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    code = proc.wait()
        lines = log_path.read_bytes().splitlines()
    forms = [form.encode() for secret in (SECRET, OTHER_SECRET) for form in printed_forms(secret)]
    leaking = [line for line in lines if any(form in line for form in forms)]
    forged = [line for line in lines if not _STAMP.match(line)]
    sent = statuses.pop("(requests sent)")
    fives = sum(n for status, n in statuses.items() if isinstance(status, int) and status >= 500)
    print(f"{sent:,} requests in {took:.0f} s ({sent / took:,.0f}/s) over {CONNECTIONS} connections")
    print("answers by status: " + ", ".join(f"{k}: {v:,}" for k, v in sorted(statuses.items(), key=str)))
    print(f"5xx: {fives}   crashes: {0 if alive else 1} (alive after the run: {alive}, exit {code})   "
          f"peak RSS: {peak:.1f} MB")
    print(f"log lines: {len(lines):,}   with a secret: {len(leaking)}   not starting with a timestamp: "
          f"{len(forged)}")
    for line in (leaking + forged)[:5]:
        print("   ", line[:200])
    return 0


if __name__ == "__main__":
    sys.exit(main())
