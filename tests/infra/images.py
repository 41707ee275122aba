"""The test cluster's images, all made on this machine (no registry is reachable):

- one image per Go command the cluster runs (Tekton Pipelines and Triggers, CoreDNS, peribolos, the Pod
  sandbox's pause), each holding its binary at ``/ko-app/<name>`` on a minimal base, as ``ko`` builds
  Tekton's release images; ``KO_IMAGES`` maps the release config's ``ko://`` references to them;
- Tekton's shell image: Debian's static busybox;
- this project's image, built by podman **from the project's own Dockerfile** on a Debian bookworm base
  made here with debootstrap (python3 from Debian's packages; our dependencies from PyPI).

``python -m tests.infra.images [--cache DIR]`` makes whatever is missing or stale and prints what it did.
Each archive is stamped with a key of its inputs, so an unchanged image costs nothing.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.infra import oci

REGISTRY = "peribolos.local"
"""Registry host of every locally made image: nothing can ever be pulled from it (no such host)."""
REPO_ROOT = Path(__file__).resolve().parents[2]
PRODUCT_INPUTS = ("Dockerfile", "setup.py", "pyproject.toml", "README.md", "MANIFEST.in")
PRODUCT_PACKAGES = ("peribolos_core", "generator", "tekton", "token_refresher")
BASE_PACKAGES = ("python3", "python3-venv", "ca-certificates")
BASE_SUITE = "bookworm"


class ImageError(RuntimeError):
    """An image could not be made; the message says what to do."""


def cache_dir() -> Path:
    return Path(os.environ.get("E2E_CACHE") or Path.home() / ".cache" / "peribolos-e2e")


@dataclass(frozen=True)
class GoImage:
    """A Go command of the built tools as an image."""

    name: str
    """Image name under :data:`REGISTRY` (also the archive's file name)."""
    binary: str
    """File under the tools cache's ``bin/``."""
    path: str
    """Where the binary lives in the image."""
    tag: str
    ko: str = ""
    """The ``ko://`` import path release configs refer to it by ("" when none does)."""
    user: str = f"{oci.NONROOT}:{oci.NONROOT}"

    @property
    def ref(self) -> str:
        return f"{REGISTRY}/{self.name}:{self.tag}"


PIPELINE_VERSION = "v1.15.0"
TRIGGERS_VERSION = "v0.37.0"


def _tekton(name: str, repo: str, version: str, binary: str) -> GoImage:
    return GoImage(
        f"tekton/{repo}/{name}",
        binary,
        f"/ko-app/{name}",
        version,
        f"ko://github.com/tektoncd/{repo}/cmd/{name}",
    )


GO_IMAGES: tuple[GoImage, ...] = (
    *(
        _tekton(cmd, "pipeline", PIPELINE_VERSION, f"tekton-{cmd}")
        for cmd in ("controller", "webhook", "entrypoint", "nop", "workingdirinit", "sidecarlogresults")
    ),
    _tekton("controller", "triggers", TRIGGERS_VERSION, "triggers-controller"),
    _tekton("webhook", "triggers", TRIGGERS_VERSION, "triggers-webhook"),
    _tekton("eventlistenersink", "triggers", TRIGGERS_VERSION, "eventlistenersink"),
    _tekton("interceptors", "triggers", TRIGGERS_VERSION, "interceptors"),
    GoImage("coredns", "coredns", "/coredns", "v1.12.1"),
    GoImage("pause", "pause", "/pause", "1"),
    GoImage("peribolos", "peribolos", "/ko-app/peribolos", "e2e"),
)
KO_IMAGES = {image.ko: image.ref for image in GO_IMAGES if image.ko}
BUSYBOX_REF = f"{REGISTRY}/busybox:1.35.0"
PAUSE_REF = next(i.ref for i in GO_IMAGES if i.name == "pause")
COREDNS_REF = next(i.ref for i in GO_IMAGES if i.name == "coredns")
PERIBOLOS_REF = next(i.ref for i in GO_IMAGES if i.name == "peribolos")
BASE_REF = f"{REGISTRY}/debian-python:{BASE_SUITE}"
PRODUCT_NAME = f"{REGISTRY}/peribolos-as-a-service"


def _archive(cache: Path, name: str) -> Path:
    return cache / "images" / (name.replace("/", "_") + ".tar")


def _stamp_ok(archive: Path, key: str) -> bool:
    stamp = archive.with_suffix(".key")
    return archive.is_file() and stamp.is_file() and stamp.read_text().strip() == key


def _write_stamp(archive: Path, key: str) -> None:
    archive.with_suffix(".key").write_text(key + "\n")


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def go_image_archives(cache: Path, log=print) -> dict[str, Path]:
    """Make (when stale) the archive of every Go image; ref -> archive path."""
    out: dict[str, Path] = {}
    for image in GO_IMAGES:
        binary = cache / "bin" / image.binary
        if not binary.is_file():
            raise ImageError(f"{binary} is missing: run `make e2e-tools` first")
        archive = _archive(cache, image.name)
        key = hashlib.sha256(f"{image}|{_sha256_file(binary)}|v1".encode()).hexdigest()
        if not _stamp_ok(archive, key):
            started = time.monotonic()
            entries = [*oci.minimal_base(), oci.copy(image.path.lstrip("/"), binary)]
            oci.write_archive(
                archive, image.ref, entries, oci.ImageConfig(entrypoint=[image.path], user=image.user)
            )
            _write_stamp(archive, key)
            log(
                f"images: wrote {image.ref} ({archive.stat().st_size >> 20} MiB) in "
                f"{time.monotonic() - started:.1f}s"
            )
        out[image.ref] = archive
    out[BUSYBOX_REF] = busybox_archive(cache, log)
    return out


def busybox_archive(cache: Path, log=print) -> Path:
    """Tekton's ``-shell-image``: Debian's static busybox with a link for each applet."""
    busybox = Path("/bin/busybox")
    if not busybox.is_file():
        raise ImageError("/bin/busybox is missing: install Debian's busybox-static (make cluster-tools)")
    archive = _archive(cache, "busybox")
    key = hashlib.sha256(f"{BUSYBOX_REF}|{_sha256_file(busybox)}|v1".encode()).hexdigest()
    if _stamp_ok(archive, key):
        return archive
    applets = subprocess.run([str(busybox), "--list"], capture_output=True, text=True, check=True).stdout
    entries = [*oci.minimal_base(), oci.copy("bin/busybox", busybox)]
    entries += [oci.symlink(f"bin/{a}", "busybox") for a in sorted(set(applets.split())) if a != "busybox"]
    oci.write_archive(archive, BUSYBOX_REF, entries, oci.ImageConfig(entrypoint=["/bin/sh"], user="0:0"))
    _write_stamp(archive, key)
    log(f"images: wrote {BUSYBOX_REF}")
    return archive


# --------------------------------------------------------------------------------------------- podman


def _run(args: Sequence[str], what: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(list(args), check=True, text=True, **kwargs)  # type: ignore[call-overload]
    except FileNotFoundError as exc:
        raise ImageError(f"{what}: {args[0]} is not installed (make cluster-tools installs it)") from exc
    except subprocess.CalledProcessError as exc:
        tail = (exc.stderr or exc.stdout or "")[-2000:] if isinstance(exc.stderr or exc.stdout, str) else ""
        raise ImageError(f"{what} failed (exit {exc.returncode}): {' '.join(args[:6])} ...\n{tail}") from exc


class Podman:
    """podman with its storage and run state in the cache (layers survive between runs; podman's database
    remembers the run folder, so it must stay the same), the cgroupfs manager and file events (no systemd
    here), always inside a private mount namespace so that no overlay mount outlives it on the host."""

    def __init__(self, cache: Path) -> None:
        self.root = cache / "podman" / "storage"
        self.runroot = cache / "podman" / "run"
        self.root.mkdir(parents=True, exist_ok=True)

    def args(self, *command: str) -> list[str]:
        return [
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "--",
            "podman",
            "--root",
            str(self.root),
            "--runroot",
            str(self.runroot),
            "--storage-driver",
            "overlay",
            "--cgroup-manager",
            "cgroupfs",
            "--events-backend",
            "file",
            "--tmpdir",
            str(self.runroot / "tmp"),
            *command,
        ]

    def run(self, *command: str, what: str, capture: bool = True) -> str:
        (self.runroot / "tmp").mkdir(parents=True, exist_ok=True)
        result = _run(self.args(*command), what, capture_output=capture)
        return result.stdout if capture else ""

    def has(self, ref: str) -> bool:
        result = subprocess.run(self.args("image", "exists", ref), capture_output=True)
        return result.returncode == 0


def _debootstrap(target: Path, log=print) -> None:
    """Debian bookworm minbase with python3 into ``target``, inside a private mount namespace (the
    mounts debootstrap makes in the target go away with it)."""
    mirror = "http://deb.debian.org/debian"
    started = time.monotonic()
    _run(
        [
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "--",
            "debootstrap",
            "--variant=minbase",
            f"--include={','.join(BASE_PACKAGES)}",
            BASE_SUITE,
            str(target),
            mirror,
        ],
        "debootstrap of the base image",
        capture_output=True,
    )
    for cache in ("var/cache/apt/archives", "var/lib/apt/lists"):
        for item in (target / cache).glob("*"):
            if item.is_file():
                item.unlink()
    log(
        f"images: debootstrap {BASE_SUITE} with {', '.join(BASE_PACKAGES)} "
        f"in {time.monotonic() - started:.0f}s"
    )


def base_image(podman: Podman, work: Path, log=print) -> str:
    """The Debian base in podman's storage (made once; delete the podman storage to remake it)."""
    if podman.has(BASE_REF):
        return BASE_REF
    rootfs = work / "rootfs"
    _debootstrap(rootfs, log)
    tarball = work / "rootfs.tar"
    _run(["tar", "-C", str(rootfs), "--numeric-owner", "-cf", str(tarball), "."], "packing the base rootfs")
    podman.run("import", "--change", 'CMD ["/bin/bash"]', str(tarball), BASE_REF, what="podman import")
    shutil.rmtree(rootfs, ignore_errors=True)
    tarball.unlink()
    return BASE_REF


def product_key(root: Path = REPO_ROOT) -> str:
    """A key of everything that goes into the project's image: the Dockerfile, packaging, the packages."""
    digest = hashlib.sha256()
    files: list[Path] = [root / name for name in PRODUCT_INPUTS if (root / name).is_file()]
    for package in PRODUCT_PACKAGES:
        files += sorted(
            p for p in (root / package).rglob("*") if p.is_file() and "__pycache__" not in p.parts
        )
    for path in files:
        digest.update(str(path.relative_to(root)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def product_ref(root: Path = REPO_ROOT) -> str:
    return f"{PRODUCT_NAME}:{product_key(root)}"


def product_archive(cache: Path, root: Path = REPO_ROOT, log=print) -> tuple[str, Path]:
    """Build the project's image from its Dockerfile (when its inputs changed) and save it as an archive."""
    ref = product_ref(root)
    archive = _product_archive(cache, ref)
    if _stamp_ok(archive, ref):
        return ref, archive
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="peribolos-images-") as tmp:
        work = Path(tmp)
        podman = Podman(cache)
        base = base_image(podman, work, log)
        context = _build_context(root, work / "context")
        args = [
            "build",
            "--pull=never",
            "--network=host",
            "--layers",
            "--cgroup-manager",
            "cgroupfs",
            "--build-arg",
            f"PYTHON_IMAGE={base}",
            "--tag",
            ref,
            "--file",
            str(context / "Dockerfile"),
        ]
        # pip inside the build trusts what this machine trusts (e.g. a TLS-inspecting egress proxy's CA),
        # without that CA going into the image: mounted for the RUN steps only.
        host_ca = Path("/etc/ssl/certs/ca-certificates.crt")
        if host_ca.is_file():
            args += [
                "--volume",
                f"{host_ca}:/run/build-ca.crt:ro",
                "--build-arg",
                "PIP_CERT=/run/build-ca.crt",
            ]
        for name in ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL"):
            if os.environ.get(name):
                args += ["--build-arg", f"{name}={os.environ[name]}"]
        podman.run(*args, str(context), what="podman build of the project's Dockerfile")
        archive.parent.mkdir(parents=True, exist_ok=True)
        tmp_archive = archive.with_name(f".{archive.name}.tmp")
        tmp_archive.unlink(missing_ok=True)
        podman.run(
            "save", "--format", "docker-archive", "--output", str(tmp_archive), ref, what="podman save"
        )
        tmp_archive.replace(archive)
        _write_stamp(archive, ref)
        _drop_old_product_archives(cache)
        # Keep podman's storage small: drop older builds of our image (their layers stay cached).
        for line in podman.run(
            "images", "--format", "{{.Repository}}:{{.Tag}}", what="podman images"
        ).split():
            if line.startswith(PRODUCT_NAME + ":") and line != ref:
                subprocess.run(podman.args("rmi", "--force", line), capture_output=True)
    log(
        f"images: built {ref} from the Dockerfile in {time.monotonic() - started:.0f}s "
        f"({archive.stat().st_size >> 20} MiB)"
    )
    return ref, archive


def _product_archive(cache: Path, ref: str) -> Path:
    """One archive per source key: checkouts with different code (worktrees) build and use their own."""
    return _archive(cache, f"peribolos-as-a-service-{ref.rsplit(':', 1)[1]}")


def _drop_old_product_archives(cache: Path, keep: int = 4) -> None:
    archives = sorted(
        (cache / "images").glob("peribolos-as-a-service-*.tar"), key=lambda p: p.stat().st_mtime
    )
    for old in archives[:-keep]:
        old.unlink(missing_ok=True)
        old.with_suffix(".key").unlink(missing_ok=True)


def _build_context(root: Path, context: Path) -> Path:
    """Only what the Dockerfile copies (no .venv, .git or caches in the context)."""
    context.mkdir(parents=True)
    for name in PRODUCT_INPUTS:
        if (root / name).is_file():
            shutil.copy2(root / name, context / name)
    for package in PRODUCT_PACKAGES:
        shutil.copytree(
            root / package, context / package, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
        )
    return context


def all_archives(cache: Path, root: Path = REPO_ROOT, log=print) -> dict[str, Path]:
    """Every image the cluster needs: ref -> archive (made when missing or stale)."""
    archives = go_image_archives(cache, log)
    ref, archive = product_archive(cache, root, log)
    archives[ref] = archive
    return archives


def check_archives(cache: Path, root: Path = REPO_ROOT) -> dict[str, Path]:
    """Like :func:`all_archives` but never builds: ImageError naming what to run when one is stale."""
    missing = [i.ref for i in GO_IMAGES if not _archive(cache, i.name).is_file()]
    ref = product_ref(root)
    if not _stamp_ok(_product_archive(cache, ref), ref):
        missing.append(ref)
    if missing:
        raise ImageError(f"images missing or stale: {', '.join(missing)}; run `make cluster-images`")
    archives = {i.ref: _archive(cache, i.name) for i in GO_IMAGES}
    archives[BUSYBOX_REF] = _archive(cache, "busybox")
    archives[ref] = _product_archive(cache, ref)
    return archives


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.infra.images", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--cache", type=Path, default=None, help="tools cache (default $E2E_CACHE)")
    args = parser.parse_args(list(argv) if argv is not None else None)
    cache = args.cache or cache_dir()
    started = time.monotonic()
    try:
        archives = all_archives(cache)
    except ImageError as exc:
        print(f"images: {exc}", file=sys.stderr)
        return 1
    print(
        f"images: {len(archives)} images ready in {cache / 'images'} after {time.monotonic() - started:.0f}s"
    )
    manifest = {ref: str(path) for ref, path in archives.items()}
    (cache / "images" / "index.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
