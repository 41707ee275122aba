"""Packaging: what a newcomer's ``pip install .`` builds and installs runs the generator on its own.

The sdist and the wheel are built from a copy of this checkout with the build backend pyproject.toml names
(setuptools, as pip's isolated build would, but offline: the test venv holds it), and must build without a
single warning. The wheel is then pip-installed, non-editable and without the test extras, into a fresh
venv in a temp dir; that venv sees only the runtime dependency closure of the wheel's own metadata (linked
from the test venv, so nothing is downloaded), and its ``peribolos-generate`` renders exactly ``deploy/``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
from email.parser import Parser
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[2]
IGNORED = shutil.ignore_patterns(
    ".git", ".venv*", "__pycache__", "*.pyc", "build", "dist", "*.egg-info", ".pytest_cache", ".ruff_cache",
    ".hypothesis", ".e2e-logs", "deploy-tmp",
)
# Build output that is not a warning (pip's isolated build prints these too).
_CLEAN_ENV = {key: value for key, value in os.environ.items() if not key.startswith(("PIP_", "PYTHON"))}


def _run(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        args, cwd=cwd, env=env or {**_CLEAN_ENV, "PYTHONWARNINGS": "always"}, capture_output=True, text=True,
        timeout=300, check=False,
    )
    assert result.returncode == 0, f"{' '.join(args)} failed:\n{result.stdout}{result.stderr}"
    return result


def _build(hook: str, source: Path, out: Path) -> tuple[Path, str]:
    """Run the PEP 517 hook ``build_sdist`` / ``build_wheel`` of the backend pyproject.toml names."""
    out.mkdir(parents=True, exist_ok=True)
    backend = re.search(r'^build-backend = "([^"]+)"', (source / "pyproject.toml").read_text(), re.M)
    assert backend, "pyproject.toml names no build-backend"
    code = f"import sys, {backend.group(1)} as b; print(b.{hook}(sys.argv[1]))"
    result = _run([sys.executable, "-c", code, str(out)], cwd=source)
    return out / result.stdout.strip().splitlines()[-1], result.stdout + result.stderr


def _warnings(output: str) -> list[str]:
    return [line for line in output.splitlines() if re.search(r"warn|deprecat|absent", line, re.I)]


def _runtime_closure(requirements: list[str]) -> set[metadata.Distribution]:
    """The installed distributions the requirements need (no extras), transitively."""
    found: dict[str, metadata.Distribution] = {}
    todo = [Requirement(text) for text in requirements]
    while todo:
        requirement = todo.pop()
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue
        name = requirement.name.lower().replace("_", "-")
        if name in found:
            continue
        dist = metadata.distribution(requirement.name)
        assert dist.version in requirement.specifier or not requirement.specifier, (requirement, dist.version)
        found[name] = dist
        todo.extend(Requirement(text) for text in dist.requires or [])
    return set(found.values())


def _link_closure(dists: set[metadata.Distribution], target: Path) -> None:
    """Symlink each distribution's top-level files and its metadata directory into ``target``."""
    target.mkdir()
    for dist in dists:
        site = Path(str(dist.locate_file("")))
        tops = {Path(str(f)).parts[0] for f in dist.files or [] if not str(f).startswith("..")}
        for top in tops - {"__pycache__"}:
            if (site / top).exists() and not (target / top).exists():
                (target / top).symlink_to(site / top)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """sdist built from a copy of the checkout, the wheel built from that sdist, and their build logs."""
    root = tmp_path_factory.mktemp("packaging")
    source = root / "checkout"
    shutil.copytree(REPO, source, ignore=IGNORED, symlinks=True)
    sdist, sdist_log = _build("build_sdist", source, root / "dist")
    with tarfile.open(sdist) as archive:
        archive.extractall(root / "unpacked", filter="data")
    (unpacked,) = (root / "unpacked").iterdir()
    wheel, wheel_log = _build("build_wheel", unpacked, root / "dist")
    return {"root": root, "sdist": sdist, "wheel": wheel, "logs": sdist_log + wheel_log}


def test_sdist_and_wheel_build_without_a_warning(built: dict[str, object]) -> None:
    assert _warnings(str(built["logs"])) == []


def test_the_wheel_holds_the_templates_and_data(built: dict[str, object]) -> None:
    import zipfile

    names = set(zipfile.ZipFile(str(built["wheel"])).namelist())
    templates = {f"generator/templates/{p.name}" for p in (REPO / "generator" / "templates").glob("*.j2")}
    assert templates and templates <= names
    assert {"generator/defaults.yaml", "generator/values.schema.yaml"} <= names
    assert not [name for name in names if "__pycache__" in name or name.startswith("tests/")]


def test_pip_installed_generator_runs_from_a_fresh_venv(built: dict[str, object]) -> None:
    """pip install of the wheel (not editable, no extras) into a fresh venv; render, validate, --version."""
    root = Path(str(built["root"]))
    venv = root / "fresh"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=root)
    python = venv / "bin" / "python"
    pip = [sys.executable, "-m", "pip", "--python", str(python), "--isolated", "--disable-pip-version-check"]
    _run([*pip, "install", "--no-index", "--no-deps", str(built["wheel"])], cwd=root)
    record = next((venv / "lib").glob("python*/site-packages/peribolos_as_a_service-*.dist-info"))
    wheel_metadata = Parser().parsestr((record / "METADATA").read_text())
    closure = _runtime_closure(wheel_metadata.get_all("Requires-Dist") or [])
    assert {d.metadata["Name"].lower() for d in closure} >= {"click", "jinja2", "kubernetes", "pyyaml"}
    assert not {d.metadata["Name"].lower() for d in closure} & {"pytest", "hypothesis", "ruff"}
    _link_closure(closure, root / "deps")
    (record.parent / "runtime-deps.pth").write_text(f"{root / 'deps'}\n")
    _run([*pip, "check"], cwd=root)

    env = {**_CLEAN_ENV, "HOME": str(root)}
    where = _run([str(python), "-c", "import generator; print(generator.__file__)"], cwd=root, env=env).stdout
    assert Path(where.strip()).is_relative_to(venv), where
    script = venv / "bin" / "peribolos-generate"
    assert _run([str(script), "--version"], cwd=root, env=env).stdout.strip() == (
        f"peribolos-generate, version {metadata.version('peribolos-as-a-service')}"
    )
    _run([str(script), "render", "--output-dir", "out"], cwd=root, env=env)
    for golden in (REPO / "deploy").iterdir():
        assert (root / "out" / golden.name).read_bytes() == golden.read_bytes(), golden.name
    assert "objects valid" in _run([str(script), "validate", "out"], cwd=root, env=env).stderr


def test_make_manifests_installs_only_what_rendering_needs(tmp_path: Path) -> None:
    """Without a test venv, `make manifests` installs the package without its test extras."""
    make = shutil.which("make")
    assert make, "make is needed (README: what make test needs)"
    done = subprocess.run(
        [make, "-n", "manifests", f"VENV={tmp_path / 'venv'}"], cwd=REPO, capture_output=True, text=True,
        timeout=60, check=True,
    )
    assert "pip install --quiet ." in done.stdout
    assert "[test]" not in done.stdout and "-e " not in done.stdout
    assert "-m generator.cli render --output-dir deploy/" in done.stdout
