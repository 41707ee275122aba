"""The steps' handoff: each of our steps records its outcome in a small JSON file of the Task's ``state``
emptyDir (``<step>.json``), and ``report`` reads them all to complete the check run.

A step that fails records why, in plain words for the org's admins, and exits 0, so the Task goes on to
``report`` (Tekton would skip the later steps of a failed one). A record still ``running`` (or none at
all) means the step was stopped or crashed: report says so. Records hold no token.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from .files import write_atomically

RUNNING, OK, FAILED, SUPERSEDED, SKIPPED = "running", "ok", "failed", "superseded", "skipped"
OUTCOMES = (RUNNING, OK, FAILED, SUPERSEDED, SKIPPED)
PREPARE, FETCH_CONFIG = "prepare", "fetch-config"
MAX_RECORD_BYTES = 4 * 1024 * 1024
"""A record is a few hundred bytes; annotations of a config with many problems a few hundred KB."""


@dataclass(frozen=True)
class Record:
    """What one step left for the next ones."""

    step: str
    outcome: str = RUNNING
    reason: str = ""
    """Why it failed or stopped, in plain words (a check run summary's sentence)."""
    cause: str = ""
    """Which part failed (``token``, ``github``, ``config``, ``lock``): ``config`` is the org's own
    mistake (the dry run succeeded in finding it), everything else the service's or GitHub's."""
    revision: str = ""
    """The commit the run applies or checks (prepare resolves the default branch's head when given none)."""
    branch: str = ""
    check_run_id: int | None = None
    newer: str = ""
    """The default branch's head, when it is not ``revision`` (superseded)."""
    lease: str = ""
    """The org Lease this run holds (report releases it)."""
    holder: str = ""
    problems: tuple[str, ...] = ()
    """``FILE:LINE:COL: message`` lines of the config check (errors and warnings)."""
    annotations: tuple[Mapping[str, Any], ...] = field(default_factory=tuple)
    """The same problems as check run annotations."""

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"outcome {self.outcome!r} is not one of {', '.join(OUTCOMES)}")

    @property
    def ok(self) -> bool:
        return self.outcome == OK

    def but(self, **changes: Any) -> Record:
        return replace(self, **changes)


def path_of(state_dir: Path, step: str) -> Path:
    return state_dir / f"{step}.json"


def write(state_dir: Path, record: Record) -> None:
    """Save ``record`` as ``<state_dir>/<step>.json`` (atomically: a reader sees the old or the new one)."""
    data = asdict(record)
    data["problems"] = list(record.problems)
    data["annotations"] = [dict(a) for a in record.annotations]
    write_atomically(path_of(state_dir, record.step), json.dumps(data, sort_keys=True).encode(), 0o600)


def read(state_dir: Path, step: str) -> Record | None:
    """The record ``step`` left; None when there is none. A file that is no record is a failed one."""
    path = path_of(state_dir, step)
    try:
        raw = path.read_bytes()[: MAX_RECORD_BYTES + 1]
    except FileNotFoundError:
        return None
    try:
        if len(raw) > MAX_RECORD_BYTES:
            raise ValueError("too large")
        data = json.loads(raw)
        if not isinstance(data, dict) or data.get("step") != step:
            raise ValueError("not a record of this step")
        known = {f for f in Record.__dataclass_fields__}
        clean = {k: v for k, v in data.items() if k in known}
        clean["problems"] = tuple(str(p) for p in clean.get("problems") or ())
        clean["annotations"] = tuple(a for a in clean.get("annotations") or () if isinstance(a, dict))
        return Record(**clean)
    except (TypeError, ValueError) as exc:
        return Record(step, FAILED, f"the {step} step left a record that cannot be read ({exc})", "state")
