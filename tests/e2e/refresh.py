"""Helpers of the refresher scenarios: make a stored token due now, read what the run left behind."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from peribolos_core.config_maps import ConfigMaps
from peribolos_core.mint_budget import Window, decode
from peribolos_core.run_status import RunStatus, RunStatusStore
from peribolos_core.token_secret import ANNOTATION_EXPIRES_AT, format_time, secret_name

BUDGET = "peribolos-mint-budget"
STATUS = "peribolos-refresher-status"


def make_due(core_v1: Any, namespace: str, installation_id: int, left: timedelta = timedelta(minutes=16)
             ) -> None:
    """Record the stored token as expiring in ``left``: just above the 15-minute margin, so the refresher's
    next run mints it at once (a fresh token of the fake would only be due in half an hour)."""
    expiry = format_time(datetime.now(UTC) + left)
    core_v1.patch_namespaced_secret(secret_name(installation_id), namespace,
                                    {"metadata": {"annotations": {ANNOTATION_EXPIRES_AT: expiry}}})


def last_run(core_v1: Any, namespace: str) -> RunStatus | None:
    return RunStatusStore(ConfigMaps(core_v1, namespace), STATUS).read()


def budget_window(core_v1: Any, namespace: str) -> Window:
    obj = ConfigMaps(core_v1, namespace).get(BUDGET)
    return decode((obj or {}).get("data") or {})
