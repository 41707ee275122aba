"""What a maintenance run did, as its exit code and its ``summary`` log line (pure)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any


class RunSummary:
    """Mixin of the runs' frozen summary dataclasses (drift repair's, prune's): each has ``counts`` with a
    ``failed`` entry; every field goes into the summary log line."""

    counts: dict[str, int]

    @property
    def exit_code(self) -> int:
        """1 when some TaskRun failed (to be created or deleted; the others were), else 0."""
        return 1 if self.counts.get("failed") else 0

    def log_fields(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload]  # the subclasses are dataclasses
