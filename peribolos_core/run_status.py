"""The refresher's last-run figures, kept on a ConfigMap of the main namespace for the metrics exporter.

The refresher is a short Job: nothing could scrape it. At the end of each run it writes what it did
(counts by result, tokens minted, the earliest expiry it left behind, its margin) as one JSON document
under the key ``last-run.json``; the exporter (``tekton/exporter``) reads that one object and turns it into
gauges, so it needs no access to the token Secrets. Only org-independent figures: no login, no token.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from .config_maps import ConfigMaps, config_map, data_of, with_data
from .errors import KubeConflict, KubeNotFound

log = logging.getLogger("peribolos.run_status")

RESULTS = ("refreshed", "created", "deleted", "suspended", "disallowed", "skipped", "fresh", "deferred",
           "failed")
"""What a run did with each installation (the keys of ``counts``)."""
KEY = "last-run.json"
COMPONENT = "refresher-status"
"""The ConfigMap's ``app.kubernetes.io/component`` label."""
VERSION = 1


@dataclass(frozen=True)
class RunStatus:
    """One refresher run, as the exporter shows it. Times are seconds since the epoch."""

    finished_at: float
    duration_s: float
    exit_code: int
    """0 every installation succeeded, 1 some failed."""
    counts: Mapping[str, int]
    """Installations by result (refreshed, created, deleted, ..., deferred, failed)."""
    tokens_minted: int
    mint_requests: int
    installations: int
    below_margin: int
    """Tokens the run found with less than the margin left (expired ones included)."""
    margin_s: float
    interval_s: float
    earliest_expiry: float | None = None
    """The soonest expiry among the tokens the refresher keeps, when the run ended (None: none stored)."""
    missing: int = 0
    """Served installations left without a token Secret (their create failed or was deferred)."""
    dry_run: bool = False
    version: int = field(default=VERSION)


def encode(status: RunStatus) -> dict[str, str]:
    return {KEY: json.dumps(asdict(status) | {"counts": dict(status.counts)}, sort_keys=True)}


def decode(data: Mapping[str, str]) -> RunStatus:
    """The status in a ConfigMap's data; ValueError when it is missing or not ours."""
    raw = data.get(KEY)
    if not raw:
        raise ValueError(f"no {KEY} key")
    try:
        fields: dict[str, Any] = json.loads(raw)
        counts = {str(k): int(v) for k, v in dict(fields.pop("counts")).items()}
        expiry = fields.pop("earliest_expiry", None)
        return RunStatus(
            finished_at=float(fields["finished_at"]), duration_s=float(fields["duration_s"]),
            exit_code=int(fields["exit_code"]), counts=counts, tokens_minted=int(fields["tokens_minted"]),
            mint_requests=int(fields["mint_requests"]), installations=int(fields["installations"]),
            below_margin=int(fields["below_margin"]), margin_s=float(fields["margin_s"]),
            interval_s=float(fields["interval_s"]),
            earliest_expiry=None if expiry is None else float(expiry), missing=int(fields.get("missing", 0)),
            dry_run=bool(fields.get("dry_run", False)), version=int(fields.get("version", VERSION)),
        )
    except (TypeError, KeyError, AttributeError, ValueError) as exc:
        raise ValueError(f"{KEY} is not a refresher status ({type(exc).__name__}: {exc})") from exc


class RunStatusStore:
    """Reads and writes the status ConfigMap ``name`` (create it, or replace the version read)."""

    def __init__(self, config_maps: ConfigMaps, name: str, *, max_attempts: int = 5) -> None:
        self.maps = config_maps
        self.name = name
        self.max_attempts = max_attempts

    def read(self) -> RunStatus | None:
        """The last run's status; None when no run wrote one yet (no object, or the rendered empty one).
        ValueError when it is not ours."""
        obj = self.maps.get(self.name)
        data = data_of(obj) if obj is not None else {}
        return decode(data) if data.get(KEY) else None

    def write(self, status: RunStatus) -> None:
        """Store ``status`` (the last writer wins: a manual run's figures replace the CronJob's)."""
        for _ in range(self.max_attempts):
            obj = self.maps.get(self.name)
            try:
                if obj is None:
                    self.maps.create(config_map(self.name, encode(status), COMPONENT))
                else:
                    self.maps.replace(with_data(obj, encode(status)))
                return
            except (KubeConflict, KubeNotFound):
                continue
        raise KubeConflict(409, f"write ConfigMap {self.maps.namespace}/{self.name}: still conflicting after "
                                f"{self.max_attempts} attempts")

    def __repr__(self) -> str:
        return f"RunStatusStore({self.maps.namespace}/{self.name})"
