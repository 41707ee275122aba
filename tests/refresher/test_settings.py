"""Settings refuse bad values with a message naming the flag."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from peribolos_core.errors import ConfigError
from peribolos_core.settings import AppSettings, KubeSettings
from token_refresher.settings import Settings


def settings(**overrides) -> Settings:
    values = {"app": AppSettings("12345", Path("/key.pem")), "kube": KubeSettings("peribolos")} | overrides
    return Settings(**values)


def test_defaults_follow_the_issue() -> None:
    s = settings()
    assert (s.min_valid, s.concurrency, s.mint_budget_per_minute, s.max_run_time, s.dry_run) == (
        timedelta(minutes=45), 8, 150, timedelta(minutes=20), False)
    assert (s.allowed_orgs, s.disallowed_grace) == (None, timedelta(hours=24))
    assert not s.over_github_limit


@pytest.mark.parametrize(("overrides", "flag"), [
    pytest.param({"concurrency": 0}, "--concurrency", id="no-concurrency"),
    pytest.param({"concurrency": 101}, "--concurrency", id="over-github-concurrency-limit"),
    pytest.param({"mint_budget_per_minute": 0}, "--mint-budget-per-minute", id="no-budget"),
    pytest.param({"min_valid": timedelta(0)}, "--min-valid must be between 1m and 59m", id="zero-min-valid"),
    pytest.param({"min_valid": timedelta(seconds=30)}, "--min-valid", id="min-valid-under-a-minute"),
    pytest.param({"min_valid": timedelta(hours=1)}, "--min-valid", id="min-valid-a-token-lifetime"),
    pytest.param({"max_run_time": timedelta(0)}, "--max-run-time", id="zero-run-time"),
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
], )
def test_app_and_namespace_follow_the_steps_rules(build, flag) -> None:
    """Issue 14: the refresher only checked these were not empty."""
    with pytest.raises(ConfigError, match=flag):
        build()


@pytest.mark.parametrize(("budget", "over"), [(180, False), (181, True)], ids=["at-limit", "above-limit"])
def test_budget_above_github_limit_is_flagged(budget, over) -> None:
    assert settings(mint_budget_per_minute=budget).over_github_limit is over
