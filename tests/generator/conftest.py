"""Fixtures of the generator tests: the values files under values/ and their rendered objects."""

from __future__ import annotations

import copy
import functools
import os
from pathlib import Path
from typing import Any

import pytest

from generator.render import render_objects
from generator.values import Values, load_values

HERE = Path(__file__).parent
VALUES_DIR = HERE / "values"
# "defaults" renders with no values file; the others are the non-default cases under values/.
CASES = ["defaults", *sorted(p.stem for p in VALUES_DIR.glob("*.yaml"))]


def case_values(case: str) -> Values:
    files = [] if case == "defaults" else [VALUES_DIR / f"{case}.yaml"]
    return load_values(files)


@functools.cache
def _rendered(case: str) -> list[dict[str, Any]]:
    rendered = render_objects(case_values(case))
    return [obj for objects in rendered.values() for obj in objects]


def flat_objects(case: str) -> list[dict[str, Any]]:
    """The case's rendered objects (a fresh copy: tests may change them)."""
    return copy.deepcopy(_rendered(case))


@pytest.fixture(params=CASES)
def case(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def objects(case: str) -> list[dict[str, Any]]:
    return flat_objects(case)


def tekton_crd_dir() -> Path | None:
    """The Tekton CRDs `make e2e-tools` extracts from the Go modules (None before it ran)."""
    cache = os.environ.get("E2E_CACHE") or str(Path.home() / ".cache" / "peribolos-e2e")
    path = Path(cache) / "crds"
    if path.is_dir() and any(path.rglob("*.yaml")):
        return path
    return None
