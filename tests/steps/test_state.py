"""The steps' handoff records: written atomically, read back as written, unreadable ones a failure."""

from __future__ import annotations

from pathlib import Path

import pytest

from tekton.steps import state
from tekton.steps.state import Record


def test_a_record_reads_back_as_written(tmp_path: Path) -> None:
    record = Record(
        "prepare",
        state.SUPERSEDED,
        "moved on",
        revision="a" * 40,
        newer="b" * 40,
        check_run_id=7,
        lease="peribolos-sync-1",
        holder="tr",
        problems=("f:1:1: x",),
        annotations=({"path": "f", "start_line": 1},),
    )
    state.write(tmp_path, record)
    assert state.read(tmp_path, "prepare") == record
    assert (tmp_path / "prepare.json").stat().st_mode & 0o777 == 0o600
    assert state.read(tmp_path, "fetch-config") is None


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"{not json", "cannot be read"),
        (b'{"step": "fetch-config", "outcome": "ok"}', "not a record of this step"),
        (b'{"step": "prepare", "outcome": "maybe"}', "cannot be read"),
        (b"[]", "not a record of this step"),
    ],
    ids=["not-json", "other-step", "unknown-outcome", "not-an-object"],
)
def test_a_record_that_cannot_be_read_is_a_failure(tmp_path: Path, content: bytes, why: str) -> None:
    (tmp_path / "prepare.json").write_bytes(content)
    record = state.read(tmp_path, "prepare")
    assert record is not None and (record.outcome, record.cause) == (state.FAILED, "state")
    assert why in record.reason


def test_unknown_outcomes_are_refused() -> None:
    with pytest.raises(ValueError, match="outcome 'maybe'"):
        Record("prepare", "maybe")
