"""The exporter's families: the refresher's last run, its Jobs and the mint budget from their objects
(pure), the TaskRun counters, and a scrape that survives a failed read."""

from __future__ import annotations

from typing import Any

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from peribolos_core.errors import KubeForbidden
from peribolos_core.mint_budget import Window
from peribolos_core.run_status import RunStatus
from tekton.exporter.metrics import (
    ExporterMetrics,
    Sources,
    budget_families,
    job_families,
    refresher_families,
)
from tekton.exporter.taskruns import TaskRunBook, TaskRunState

NOW = 1_800_000_000.0
ACTIONS = ("install", "uninstall", "sync", "dry-run")


def samples(families: Any) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for f in families for s in f.samples}


def scrape(metrics: ExporterMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return samples(text_string_to_metric_families(generate_latest(metrics.registry).decode()))


STATUS = RunStatus(finished_at=NOW - 60, duration_s=540.0, exit_code=1, counts={"refreshed": 40, "failed": 2},
                   tokens_minted=40, mint_requests=43, installations=6000, below_margin=3, margin_s=900.0,
                   interval_s=600.0, earliest_expiry=NOW + 1500.0, missing=1)


def test_the_refreshers_last_run() -> None:
    found = samples(refresher_families(STATUS, NOW))
    assert found[("peribolos_refresher_last_run_timestamp_seconds", ())] == NOW - 60
    assert found[("peribolos_refresher_last_run_exit_code", ())] == 1
    assert found[("peribolos_refresher_last_run_installations", (("result", "failed"),))] == 2
    assert found[("peribolos_refresher_last_run_installations", (("result", "deferred"),))] == 0
    assert found[("peribolos_refresher_last_run_tokens_minted", ())] == 40
    assert found[("peribolos_refresher_last_run_below_margin", ())] == 3
    assert found[("peribolos_refresher_last_run_missing_tokens", ())] == 1
    assert found[("peribolos_refresher_margin_seconds", ())] == 900
    assert found[("peribolos_refresher_earliest_token_expiry_timestamp_seconds", ())] == NOW + 1500
    # issued an hour before it expires: 35 minutes ago
    assert found[("peribolos_refresher_oldest_token_age_seconds", ())] == 2100


def test_no_stored_token_no_age() -> None:
    empty = RunStatus(NOW, 1.0, 0, {}, 0, 0, 0, 0, 900.0, 600.0)
    names = {name for name, _ in samples(refresher_families(empty, NOW))}
    assert "peribolos_refresher_oldest_token_age_seconds" not in names


def job(state: str | None, when: str) -> dict[str, Any]:
    conditions = [{"type": state, "status": "True", "lastTransitionTime": when}] if state else []
    return {"metadata": {"name": when}, "status": {"conditions": conditions}}


def test_the_most_recently_finished_job_decides() -> None:
    jobs = [job("Failed", "2026-11-27T12:00:00Z"), job("Complete", "2026-11-27T12:10:00Z"),
            job(None, "2026-11-27T12:20:00Z")]
    found = samples(job_families(jobs))
    assert found[("peribolos_refresher_last_job_succeeded", ())] == 1
    assert found[("peribolos_refresher_jobs", (("state", "failed"),))] == 1
    assert found[("peribolos_refresher_jobs", (("state", "active"),))] == 1
    failed_last = samples(job_families([*jobs, job("Failed", "2026-11-27T12:30:00Z")]))
    assert failed_last[("peribolos_refresher_last_job_succeeded", ())] == 0
    assert ("peribolos_refresher_last_job_succeeded", ()) not in samples(job_families([job(None, "x")]))


def test_the_budgets_use() -> None:
    window = Window((NOW - 70, NOW - 30, NOW - 1, NOW + 2, NOW + 3))
    found = samples(budget_families(window, 150, NOW))
    assert found[("peribolos_mint_budget_used", ())] == 2
    assert found[("peribolos_mint_budget_reserved", ())] == 2
    assert found[("peribolos_mint_budget_per_minute", ())] == 150


class Refused:
    def read(self) -> Any:
        raise KubeForbidden(403, "read ConfigMap peribolos/peribolos-refresher-status: HTTP 403: forbidden")

    def list(self) -> Any:
        raise KubeForbidden(403, "list jobs: forbidden")


def test_taskrun_counters_start_at_zero_and_a_failed_read_leaves_only_its_series_out() -> None:
    metrics = ExporterMetrics(ACTIONS, Sources(refresher_status=Refused(), refresher_jobs=Refused()),  # type: ignore[arg-type]
                              clock=lambda: NOW)
    metrics.book = TaskRunBook(ACTIONS, 0.0, metrics.completed)
    before = scrape(metrics)
    assert before[("peribolos_taskruns_completed_total", (("action", "sync"), ("outcome", "failed")))] == 0
    metrics.completed(TaskRunState("u", "sync", "failed", NOW, 12.0))
    after = scrape(metrics)
    assert after[("peribolos_taskruns_completed_total", (("action", "sync"), ("outcome", "failed")))] == 1
    duration = ("peribolos_taskrun_duration_seconds_count", (("action", "sync"), ("outcome", "failed")))
    assert after[duration] == 1
    assert after[("peribolos_exporter_read_errors_total", (("object", "refresher-status"),))] == 2
    assert after[("peribolos_exporter_read_errors_total", (("object", "refresher-jobs"),))] == 2
    assert not any(name.startswith("peribolos_refresher") for name, _ in after)
    assert after[("peribolos_taskruns", (("action", "other"), ("state", "running")))] == 0
