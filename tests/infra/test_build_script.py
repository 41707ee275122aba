"""tests/infra/tools/build.sh: clear failures without a usable Go, and no rebuild when nothing changed.

Run with a stand-in ``go`` on PATH (a shell script answering ``go env GOVERSION`` and failing on anything
that would build or download), so these cases take milliseconds and need no network.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.infra import controlplane
from tests.infra.controlplane import TOOLS_DIR

BUILD_SH = TOOLS_DIR / "build.sh"
OUTPUTS = {
    module: [f"bin/{name}" for name in names] for module, names in controlplane.MODULE_BINARIES.items()
}
"""What build.sh checks before it calls a module up to date (its binaries, and the release configs)."""
OUTPUTS["pipeline"] += ["release/pipeline/controller.yaml", "crds/pipeline/300-taskrun.yaml"]
OUTPUTS["triggers"] += [
    "release/triggers/controller.yaml",
    "crds/triggers/300-eventlistener.yaml",
    "triggers-config/core-interceptors.yaml",
    "triggers-config/201-clusterrolebinding.yaml",
]


def _fake_go(bin_dir: Path, version: str) -> None:
    bin_dir.mkdir(parents=True, exist_ok=True)
    script = bin_dir / "go"
    script.write_text(
        "#!/bin/sh\n"
        f'if [ "$1 $2" = "env GOVERSION" ]; then echo {version}; exit 0; fi\n'
        'if [ "$1" = "env" ]; then exit 0; fi\n'
        'echo "fake go: refusing to $*" >&2; exit 97\n'
    )
    script.chmod(0o755)


def _built_cache(cache: Path) -> None:
    for module, outputs in OUTPUTS.items():
        for rel in outputs:
            path = cache / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("built\n")
        (cache / f"{module}.key").write_text(controlplane.module_key(module) + "\n")


@pytest.mark.parametrize(
    ("go_version", "cache_state", "exit_code", "message"),
    [
        pytest.param(
            None, "empty", 1, "Go >= 1.26.4 needed to build the e2e tools, and no 'go' is on PATH", id="no-go"
        ),
        pytest.param(
            "go1.25.3",
            "empty",
            1,
            "Go >= 1.26.4 needed to build the e2e tools, found go1.25.3",
            id="go-too-old",
        ),
        pytest.param("go1.26.8", "built", 0, "Kubernetes and etcd are up to date", id="cache-hit-no-build"),
        pytest.param("go1.27.0", "empty", 1, "building kube-apiserver from", id="build-failure-is-reported"),
    ],
)
def test_build_script(
    tmp_path: Path, go_version: str | None, cache_state: str, exit_code: int, message: str
) -> None:
    bin_dir = tmp_path / "bin"
    if go_version:
        _fake_go(bin_dir, go_version)
    cache = tmp_path / "cache"
    if cache_state == "built":
        _built_cache(cache)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(tmp_path)}
    assert go_version or not any(Path(d, "go").exists() for d in ("/usr/bin", "/bin")), "a real go is on PATH"
    done = subprocess.run(
        ["bash", str(BUILD_SH), str(cache)], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == exit_code, done.stdout + done.stderr
    assert message in done.stdout + done.stderr
    if cache_state == "built":
        assert "up to date in" in done.stdout and "fake go: refusing" not in done.stderr
        assert os.path.getsize(cache / "bin" / "etcd") == len("built\n")
