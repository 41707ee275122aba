"""Settings refuse bad values with a message naming the flag."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from peribolos_core.errors import ConfigError
from token_refresher.settings import Settings


def settings(**overrides) -> Settings:
    values = {"app_id": "12345", "private_key_file": Path("/key.pem")} | overrides
    return Settings(**values)


def test_defaults_follow_the_issue() -> None:
    s = settings()
    assert (s.min_valid, s.concurrency, s.mint_budget_per_minute, s.max_run_time, s.dry_run) == (
        timedelta(minutes=45), 8, 150, timedelta(minutes=20), False)
    assert not s.over_github_limit


@pytest.mark.parametrize(("overrides", "flag"), [
    pytest.param({"app_id": " "}, "--app-id", id="empty-app-id"),
    pytest.param({"concurrency": 0}, "--concurrency", id="no-concurrency"),
    pytest.param({"concurrency": 101}, "--concurrency", id="over-github-concurrency-limit"),
    pytest.param({"mint_budget_per_minute": 0}, "--mint-budget-per-minute", id="no-budget"),
    pytest.param({"min_valid": timedelta(0)}, "--min-valid", id="zero-min-valid"),
    pytest.param({"min_valid": timedelta(hours=1)}, "--min-valid", id="min-valid-a-token-lifetime"),
    pytest.param({"max_run_time": timedelta(0)}, "--max-run-time", id="zero-run-time"),
    pytest.param({"namespace": ""}, "--namespace", id="empty-namespace"),
])
def test_bad_values_name_the_flag(overrides, flag) -> None:
    with pytest.raises(ConfigError, match=flag):
        settings(**overrides)


@pytest.mark.parametrize(("budget", "over"), [(180, False), (181, True)], ids=["at-limit", "above-limit"])
def test_budget_above_github_limit_is_flagged(budget, over) -> None:
    assert settings(mint_budget_per_minute=budget).over_github_limit is over

