"""``make bench``: run every ``tests/bench/bench_*.py`` module's ``main()`` in turn and print its figures.

Benchmarks print numbers; they never assert on timing. ``python -m tests.bench NAME`` runs one of them.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    here = Path(__file__).parent
    names = sorted(m.name for m in pkgutil.iter_modules([str(here)]) if m.name.startswith("bench_"))
    wanted = [n for n in names if not argv or any(a in n for a in argv)]
    if not wanted:
        print(f"no benchmark matches {argv}; have: {', '.join(names)}", file=sys.stderr)
        return 2
    status = 0
    for name in wanted:
        print(f"\n=== {name} ===", flush=True)
        module = importlib.import_module(f"tests.bench.{name}")
        status |= int(module.main() or 0)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
