"""The maintenance runs' summaries: exit code from the ``failed`` count, every field in the log line."""

from __future__ import annotations

import pytest

from tekton.maintenance.drift import DriftSummary
from tekton.maintenance.prune import PruneSummary


@pytest.mark.parametrize(
    ("counts", "code"),
    [({"created": 3}, 0), ({"created": 3, "failed": 0}, 0), ({"created": 2, "failed": 1}, 1)],
    ids=["no-failed-key", "none-failed", "one-failed"],
)
@pytest.mark.parametrize("kind", ["drift", "prune"])
def test_exit_code_says_whether_something_failed(kind: str, counts: dict[str, int], code: int) -> None:
    summary = (DriftSummary(counts, 4, 1.5, 5, 6) if kind == "drift" else PruneSummary(counts, 4, 1.5, 6))
    assert summary.exit_code == code


@pytest.mark.parametrize(
    ("summary", "fields"),
    [
        (DriftSummary({"created": 1}, 4, 1.5, 5, 6, dry_run=True),
         {"counts": {"created": 1}, "installations": 4, "duration_s": 1.5, "github_requests": 5,
          "kube_requests": 6, "dry_run": True}),
        (PruneSummary({"deleted": 2}, 7, 0.25, 3),
         {"counts": {"deleted": 2}, "taskruns": 7, "duration_s": 0.25, "kube_requests": 3, "dry_run": False}),
    ],
    ids=["drift", "prune"],
)
def test_log_fields_are_every_field(summary: DriftSummary | PruneSummary, fields: dict[str, object]) -> None:
    assert summary.log_fields() == fields
    assert list(summary.log_fields()) == list(fields), "the log line keeps the fields' order"
