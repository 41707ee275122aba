"""Helpers of the refresher scenarios: make a stored token due now, read what the run left behind."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from peribolos_core.config_maps import ConfigMaps
from peribolos_core.mint_budget import Window, decode
from peribolos_core.run_status import RunStatus, RunStatusStore
from peribolos_core.token_secret import ANNOTATION_EXPIRES_AT, LABEL_SELECTOR, format_time

BUDGET = "peribolos-mint-budget"
STATUS = "peribolos-refresher-status"


def make_due(core_v1: Any, namespace: str, left: timedelta = timedelta(minutes=16)) -> list[int]:
    """Record every stored token of ``namespace`` as expiring in ``left``: just above the 15-minute margin,
    so the refresher's next run mints each at once. Without it a run would wait for the instants of the
    tokens earlier tests minted (the fake's live 30 minutes: a few minutes old, they are due within the
    next run's 10 minutes) and sleep until then. Returns the installation ids."""
    expiry = format_time(datetime.now(UTC) + left)
    patched = []
    for secret in core_v1.list_namespaced_secret(namespace, label_selector=LABEL_SELECTOR).items:
        core_v1.patch_namespaced_secret(secret.metadata.name, namespace,
                                        {"metadata": {"annotations": {ANNOTATION_EXPIRES_AT: expiry}}})
        patched.append(int(secret.metadata.labels["peribolos.dev/installation-id"]))
    return patched


def last_run(core_v1: Any, namespace: str) -> RunStatus | None:
    return RunStatusStore(ConfigMaps(core_v1, namespace), STATUS).read()


def budget_window(core_v1: Any, namespace: str) -> Window:
    obj = ConfigMaps(core_v1, namespace).get(BUDGET)
    return decode((obj or {}).get("data") or {})
