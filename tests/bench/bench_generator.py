"""Generator figures: load+validate values, render, write a directory, validate it (with and without CRDs).

Printed, never asserted. ``python -m tests.bench generator``.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from generator.render import render_objects, render_stream, write_dir
from generator.validate import validate_path
from generator.values import load_values

ROUNDS = 20


def _ms(function: Callable[[], object], rounds: int = ROUNDS) -> tuple[float, float]:
    """(median, max) wall time in milliseconds over ``rounds`` calls after one warm-up."""
    function()
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        function()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples), max(samples)


def main() -> int:
    values = load_values()
    objects = sum(len(group) for group in render_objects(values).values())
    cache = os.environ.get("E2E_CACHE") or str(Path.home() / ".cache" / "peribolos-e2e")
    crd_dir = Path(cache) / "crds"
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        write_dir(values, out)
        rows = [
            ("load + schema-check default values", _ms(load_values)),
            (f"render {objects} objects to a stream", _ms(lambda: render_stream(values))),
            ("render + write --output-dir", _ms(lambda: write_dir(values, out))),
            ("validate (Kubernetes schemas + wiring)", _ms(lambda: validate_path(out, crd_dir=None), 5)),
        ]
        if crd_dir.is_dir():
            rows.append(
                ("validate with the Tekton CRDs", _ms(lambda: validate_path(out, crd_dir=crd_dir), 5))
            )
        else:
            print(f"(no {crd_dir}: run `make e2e-tools` for the CRD figure)")
    for label, (median, worst) in rows:
        print(f"{label:<45} median {median:8.1f} ms   max {worst:8.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
