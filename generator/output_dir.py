"""``render --output-dir``: write the rendered files into a folder without losing anything of the user's.

The folder may be part of a GitOps repository, next to files people wrote. So the generator records what
it wrote in ``.peribolos-generate.sha256`` (``sha256sum`` format: ``sha256sum -c`` checks it) and, on the
next render:

- a file it wrote and nobody changed is overwritten, or removed when it is no longer rendered;
- any other file (written by someone else, or changed since it was rendered) stops the render (exit 2,
  naming the files) unless ``--force``; with ``--force`` the render writes its files and keeps theirs;
- a ``kustomization.yaml`` that is not the generator's is never overwritten, not even with ``--force``:
  it holds the user's patches, and the render belongs in a folder of its own that theirs lists;
- a file whose content is exactly what the render writes is no user's work, marker or not;
- a folder without a marker (rendered by 0.1.0, which kept none) counts as the generator's the files it
  recognises as its own: a ``kustomization.yaml`` of only ``resources`` (and ``configurations``), and YAML
  whose every object carries ``app.kubernetes.io/managed-by: peribolos-generate``.

:func:`plan` decides (pure); :func:`write_files` does the I/O.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from generator.errors import OutputError

MARKER = ".peribolos-generate.sha256"
KUSTOMIZATION = "kustomization.yaml"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "peribolos-generate"


def digest(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def marker_text(files: Mapping[str, str]) -> str:
    """``<sha256>  <name>`` per written file, sorted: the format ``sha256sum -c`` reads."""
    return "".join(f"{digest(text.encode())}  {name}\n" for name, text in sorted(files.items()))


def parse_marker(text: str) -> dict[str, str]:
    """name → sha256 of what the generator wrote; lines that are not ``<64 hex>  <name>`` are ignored."""
    out = {}
    for line in text.splitlines():
        checksum, sep, name = line.partition("  ")
        if sep and len(checksum) == 64 and name and "/" not in name:
            out[name] = checksum
    return out


@dataclass(frozen=True)
class Plan:
    write: dict[str, str]
    remove: list[str]
    kept: list[str]
    """Files of the user's left as they are (only with force)."""


def plan(
    existing: Mapping[str, str | None],
    recorded: Mapping[str, str],
    files: Mapping[str, str],
    directory: str,
    force: bool,
) -> Plan:
    """What to write and remove. ``existing``: name → sha256 of each entry in the folder (None for a
    folder or anything else that is not a regular file); ``recorded``: the marker; ``files``: the render.
    Raises OutputError when the folder holds work of the user's that this render would touch."""
    theirs = []
    for name, checksum in sorted(existing.items()):
        if name == MARKER:
            continue
        if checksum is not None and name in files and checksum == digest(files[name].encode()):
            continue  # already what the render writes
        if checksum is not None and recorded.get(name) == checksum:
            continue  # the generator wrote it and nobody changed it
        theirs.append(name)
    if KUSTOMIZATION in theirs:
        raise OutputError([
            f"{directory}: {KUSTOMIZATION} is not the one peribolos-generate wrote, and it is never "
            "overwritten: render into a folder of its own (e.g. base/) and list that folder under "
            f"resources: in your {KUSTOMIZATION}"
        ])
    if theirs and not force:
        described = ", ".join(
            f"{name} (changed since it was rendered)" if name in recorded else name for name in theirs
        )
        raise OutputError([
            f"{directory}: holds files peribolos-generate did not write: {described}; move them "
            "elsewhere, or pass --force to keep them and write the render beside them"
        ])
    remove = [name for name in sorted(recorded) if name in existing and name not in {*files, *theirs}]
    return Plan(write=dict(files), remove=remove, kept=[name for name in theirs if name not in files])


def looks_generated(name: str, text: str) -> bool:
    """Whether a file is recognisably one the generator writes (for a folder rendered without a marker)."""
    try:
        docs = [doc for doc in yaml.safe_load_all(text) if doc is not None]
    except yaml.YAMLError:
        return False
    if not docs or not all(isinstance(doc, dict) for doc in docs):
        return False
    if name == KUSTOMIZATION:
        allowed = {"apiVersion", "kind", "resources", "configurations"}
        return len(docs) == 1 and docs[0].get("kind") == "Kustomization" and set(docs[0]) <= allowed
    return all(
        ((doc.get("metadata") or {}).get("labels") or {}).get(MANAGED_BY_LABEL) == MANAGED_BY for doc in docs
    )


def _existing(directory: Path) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for entry in directory.iterdir():
        out[entry.name] = digest(entry.read_bytes()) if entry.is_file() and not entry.is_symlink() else None
    return out


def write_files(directory: Path, files: Mapping[str, str], force: bool = False) -> list[Path]:
    """Write ``files`` (name → text) into ``directory`` and the marker; OutputError says why it cannot."""
    try:
        if directory.exists() and not directory.is_dir():
            raise OutputError([f"{directory}: not a directory"])
        directory.mkdir(parents=True, exist_ok=True)
        marker = directory / MARKER
        existing = _existing(directory)
        if marker.is_file():
            recorded = parse_marker(marker.read_text(encoding="utf-8"))
        else:
            recorded = {
                name: checksum
                for name, checksum in existing.items()
                if checksum is not None and name.endswith((".yaml", ".yml"))
                and looks_generated(name, (directory / name).read_text(encoding="utf-8", errors="replace"))
            }
        decided = plan(existing, recorded, files, str(directory), force)
        written = []
        for name, text in decided.write.items():
            path = directory / name
            path.write_text(text, encoding="utf-8")
            written.append(path)
        for name in decided.remove:
            (directory / name).unlink()
        # Last: a render cut short leaves the old marker, so the next one sees what changed.
        marker.write_text(marker_text(decided.write), encoding="utf-8")
    except OSError as exc:
        raise OutputError([f"{directory}: cannot write the manifests: {exc.strerror or exc}"]) from exc
    return written
