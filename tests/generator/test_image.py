"""The Dockerfile: multi-stage, pinned base, non-root, every package of the console scripts copied."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = (REPO / "Dockerfile").read_text()


def test_multi_stage_from_a_pinned_base() -> None:
    froms = re.findall(r"^FROM\s+(\S+)", DOCKERFILE, re.M)
    assert len(froms) >= 2
    (default,) = re.findall(r"^ARG PYTHON_IMAGE=(\S+)$", DOCKERFILE, re.M)
    name, _, tag = default.partition(":")
    assert name == "python" and re.fullmatch(r"\d+\.\d+\.\d+-slim-\w+", tag), default
    assert all(image == "${PYTHON_IMAGE}" or image.startswith("${PYTHON_IMAGE}") for image in froms)


def test_runs_as_a_numeric_non_root_user() -> None:
    users = re.findall(r"^USER\s+(\d+):(\d+)$", DOCKERFILE, re.M)
    assert users and users[-1] != ("0", "0") and int(users[-1][0]) > 0
    assert DOCKERFILE.rindex("USER") > DOCKERFILE.rindex("FROM")


def test_copies_every_package_of_the_console_scripts() -> None:
    setup = (REPO / "setup.py").read_text()
    (include,) = re.findall(r"include=\[([^\]]*)\]", setup)
    packages = [p.strip().strip('"').rstrip("*") for p in include.split(",") if p.strip()]
    for package in packages:
        assert re.search(rf"^COPY {package}/ {package}/$", DOCKERFILE, re.M), package
    ignored = (REPO / ".dockerignore").read_text().split()
    assert "tests" in ignored and ".venv" in ignored and ".git" in ignored
