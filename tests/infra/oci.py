"""Write OCI image archives without a container engine or a registry (stdlib only).

An image here is one uncompressed layer, built reproducibly (sorted entries, uid/gid 0 unless given,
mtime 0), in the OCI image-layout tar form that ``ctr images import`` reads; the index carries
``io.containerd.image.name`` so containerd stores it under that reference. This is what ``ko`` makes of a
Go command (``/ko-app/<name>`` on a minimal base), which is how Tekton's release images are built.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

LAYER_MEDIA_TYPE = "application/vnd.oci.image.layer.v1.tar"
CONFIG_MEDIA_TYPE = "application/vnd.oci.image.config.v1+json"
MANIFEST_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json"
NONROOT = 65532
"""The user distroless' ``nonroot`` images (ko's default base) run as."""

PASSWD = "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"
GROUP = "root:x:0:\nnonroot:x:65532:\n"


@dataclass(frozen=True)
class Entry:
    """One file system entry of a layer: a file (``data`` or ``source``), a directory or a symlink."""

    path: str
    data: bytes | None = None
    source: Path | None = None
    mode: int = 0o644
    kind: str = "file"
    """``file``, ``dir`` or ``symlink`` (``target`` then)."""
    target: str = ""
    uid: int = 0
    gid: int = 0


def file(path: str, data: bytes | str, mode: int = 0o644) -> Entry:
    return Entry(path, data=data.encode() if isinstance(data, str) else data, mode=mode)


def copy(path: str, source: Path, mode: int = 0o755) -> Entry:
    return Entry(path, source=source, mode=mode)


def directory(path: str, mode: int = 0o755, uid: int = 0, gid: int = 0) -> Entry:
    return Entry(path, kind="dir", mode=mode, uid=uid, gid=gid)


def symlink(path: str, target: str) -> Entry:
    return Entry(path, kind="symlink", target=target, mode=0o777)


def minimal_base() -> list[Entry]:
    """What a distroless static base gives a Go binary: passwd/group with ``nonroot``, /tmp, a home."""
    return [
        directory("etc"),
        file("etc/passwd", PASSWD),
        file("etc/group", GROUP),
        directory("tmp", 0o1777),
        directory("home"),
        directory("home/nonroot", 0o700, NONROOT, NONROOT),
        directory("root", 0o700),
    ]


def _parents(entries: Iterable[Entry]) -> list[Entry]:
    """Directory entries for every parent that is not listed itself, so the layer is complete."""
    listed = {e.path for e in entries}
    missing: set[str] = set()
    for entry in entries:
        parts = entry.path.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            parent = "/".join(parts[:i])
            if parent not in listed:
                missing.add(parent)
    return [directory(p) for p in sorted(missing)]


def layer_tar(entries: Sequence[Entry]) -> bytes:
    """The layer as an uncompressed, reproducible tar."""
    everything = sorted([*entries, *_parents(entries)], key=lambda e: e.path)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for entry in everything:
            info = tarfile.TarInfo(entry.path)
            info.mode, info.uid, info.gid, info.mtime = entry.mode, entry.uid, entry.gid, 0
            if entry.kind == "dir":
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            elif entry.kind == "symlink":
                info.type, info.linkname = tarfile.SYMTYPE, entry.target
                tar.addfile(info)
            else:
                data = entry.data if entry.data is not None else Path(entry.source or "").read_bytes()
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@dataclass(frozen=True)
class ImageConfig:
    entrypoint: Sequence[str] = ()
    cmd: Sequence[str] = ()
    env: Mapping[str, str] = field(default_factory=lambda: {"PATH": "/usr/local/bin:/usr/bin:/bin"})
    user: str = f"{NONROOT}:{NONROOT}"
    workdir: str = "/"


def _blob(tar: tarfile.TarFile, data: bytes) -> str:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    info = tarfile.TarInfo(f"blobs/sha256/{digest.removeprefix('sha256:')}")
    info.size, info.mode, info.mtime = len(data), 0o644, 0
    tar.addfile(info, io.BytesIO(data))
    return digest


def write_archive(path: Path, ref: str, entries: Sequence[Entry], config: ImageConfig) -> str:
    """Write an OCI image-layout tar for ``ref`` (e.g. ``peribolos.local/x:v1``); returns the manifest
    digest. Written to a temporary name and renamed, so a reader never sees half an archive."""
    layer = layer_tar(entries)
    layer_digest = "sha256:" + hashlib.sha256(layer).hexdigest()
    image_config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {
            "Entrypoint": list(config.entrypoint) or None,
            "Cmd": list(config.cmd) or None,
            "Env": [f"{k}={v}" for k, v in config.env.items()],
            "User": config.user,
            "WorkingDir": config.workdir,
        },
        "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
        "history": [{"created_by": "tests/infra/oci.py", "created": "1970-01-01T00:00:00Z"}],
        "created": "1970-01-01T00:00:00Z",
    }
    config_bytes = json.dumps(image_config, sort_keys=True).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tar:
        layer_blob = _blob(tar, layer)
        config_blob = _blob(tar, config_bytes)
        manifest = {
            "schemaVersion": 2,
            "mediaType": MANIFEST_MEDIA_TYPE,
            "config": {"mediaType": CONFIG_MEDIA_TYPE, "digest": config_blob, "size": len(config_bytes)},
            "layers": [{"mediaType": LAYER_MEDIA_TYPE, "digest": layer_blob, "size": len(layer)}],
        }
        manifest_bytes = json.dumps(manifest, sort_keys=True).encode()
        manifest_digest = _blob(tar, manifest_bytes)
        index = {
            "schemaVersion": 2,
            "manifests": [
                {
                    "mediaType": MANIFEST_MEDIA_TYPE,
                    "digest": manifest_digest,
                    "size": len(manifest_bytes),
                    "annotations": {
                        "io.containerd.image.name": ref,
                        "org.opencontainers.image.ref.name": ref.rsplit(":", 1)[-1],
                    },
                    "platform": {"architecture": "amd64", "os": "linux"},
                }
            ],
        }
        for name, content in (
            ("oci-layout", json.dumps({"imageLayoutVersion": "1.0.0"}).encode()),
            ("index.json", json.dumps(index, sort_keys=True).encode()),
        ):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(content), 0o644, 0
            tar.addfile(info, io.BytesIO(content))
    tmp.replace(path)
    return manifest_digest
