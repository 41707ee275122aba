"""Settings refuse bad values with a message naming the flag."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from peribolos_core.errors import ConfigError
from peribolos_core.settings import AppSettings, KubeSettings, MintBudgetSettings
from token_refresher.settings import Settings


def settings(**overrides) -> Settings:
    values = {"app": AppSettings("12345", Path("/key.pem")), "kube": KubeSettings("peribolos")} | overrides
    return Settings(**values)


def test_defaults_follow_the_issue() -> None:
    s = settings()
    assert (s.margin, s.interval, s.run_time, s.concurrency, s.dry_run) == (
        timedelta(minutes=15), timedelta(minutes=30), timedelta(minutes=29), 8, False)
    assert s.app.mint_budget == MintBudgetSettings(150, "", None)
    assert (s.allowed_orgs, s.disallowed_grace, s.status_config_map) == (None, timedelta(hours=24), "")
    assert not s.over_github_limit


@pytest.mark.parametrize(("interval", "run_time"), [
    (timedelta(minutes=10), timedelta(minutes=9)),
    (timedelta(minutes=1), timedelta(seconds=30)),
], ids=["a-minute-before-the-next-run", "half-a-short-interval"])
def test_the_run_stops_minting_before_the_next_one(interval, run_time) -> None:
    assert settings(interval=interval).run_time == run_time


@pytest.mark.parametrize(("overrides", "flag"), [
    pytest.param({"concurrency": 0}, "--concurrency", id="no-concurrency"),
    pytest.param({"concurrency": 101}, "--concurrency", id="over-github-concurrency-limit"),
    pytest.param({"margin": timedelta(0)}, "--margin must be between 1m and 59m", id="zero-margin"),
    pytest.param({"margin": timedelta(seconds=30)}, "--margin", id="margin-under-a-minute"),
    pytest.param({"margin": timedelta(hours=1)}, "--margin", id="margin-a-token-lifetime"),
    pytest.param({"interval": timedelta(minutes=31)}, "--interval must be between 1m and 30m",
                 id="interval-over-the-seeds-30-minutes"),
    pytest.param({"interval": timedelta(seconds=30)}, "--interval", id="interval-under-a-minute"),
    pytest.param({"max_run_time": timedelta(0)}, "--max-run-time", id="zero-run-time"),
    pytest.param({"interval": timedelta(minutes=10), "max_run_time": timedelta(minutes=11)},
                 "--max-run-time must be positive and at most --interval", id="run-time-past-the-next-run"),
    pytest.param({"disallowed_grace": timedelta(seconds=-1)}, "--disallowed-org-grace", id="negative-grace"),
])
def test_bad_values_name_the_flag(overrides, flag) -> None:
    with pytest.raises(ConfigError, match=flag):
        settings(**overrides)


@pytest.mark.parametrize(("build", "flag"), [
    pytest.param(lambda: AppSettings(" ", Path("/key.pem")), "--app-id", id="empty-app-id"),
    pytest.param(lambda: AppSettings("12 34", Path("/key.pem")), "--app-id", id="app-id-with-a-space"),
    pytest.param(lambda: KubeSettings(""), "--namespace", id="empty-namespace"),
    pytest.param(lambda: KubeSettings("Not_A_Namespace"), "--namespace", id="bad-namespace"),
    pytest.param(lambda: MintBudgetSettings(0), "--mint-budget-per-minute", id="no-budget"),
    pytest.param(lambda: MintBudgetSettings(150, "Bad_Name"), "--mint-budget / MINT_BUDGET", id="bad-name"),
    pytest.param(lambda: MintBudgetSettings(150, "b", "Bad_NS"), "--mint-budget-namespace",
                 id="bad-budget-namespace"),
], )
def test_app_and_namespace_follow_the_steps_rules(build, flag) -> None:
    """Issue 14: the refresher only checked these were not empty."""
    with pytest.raises(ConfigError, match=flag):
        build()


@pytest.mark.parametrize(("budget", "over"), [(180, False), (181, True)], ids=["at-limit", "above-limit"])
def test_budget_above_github_limit_is_flagged(budget, over) -> None:
    app = AppSettings("12345", Path("/key.pem"), mint_budget=MintBudgetSettings(budget))
    assert settings(app=app).over_github_limit is over
