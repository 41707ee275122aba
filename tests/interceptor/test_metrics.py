"""The metrics on prometheus_client: counters by event/decision/code and event/action/code, a cumulative
histogram, bounded labels, and an exposition Prometheus parses."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tekton.interceptor.metrics import BUCKETS, CONTENT_TYPE, Metrics
from tests.interceptor.conftest import metric

DURATION = "peribolos_interceptor_request_duration_seconds"
REQUESTS = "peribolos_interceptor_requests_total"
DECISIONS = "peribolos_interceptor_decisions_total"


@pytest.mark.parametrize(
    ("seconds", "first_bucket"),
    [(0.0001, 0.0005), (0.0005, 0.0005), (0.0006, 0.001), (0.01, 0.01), (3.0, None)],
    ids=["below-first", "on-a-bound", "just-above", "ten-ms", "over-the-last"],
)
def test_histogram_buckets_are_cumulative_and_inclusive(seconds: float, first_bucket: float | None) -> None:
    metrics = Metrics({"push"})
    metrics.observe("push", "sync", 0, seconds)
    text = metrics.render()
    for bound in BUCKETS:
        expected = 1 if first_bucket is not None and bound >= first_bucket else 0
        assert metric(text, f"{DURATION}_bucket", le=repr(bound)) == expected
    assert metric(text, f"{DURATION}_bucket", le="+Inf") == 1
    assert metric(text, f"{DURATION}_sum") == pytest.approx(seconds)


def test_unknown_and_missing_events_are_bounded_labels() -> None:
    metrics = Metrics({"push"})
    for event in ["push", "push", "", 'weird"\n\\event', "another"]:
        metrics.observe(event, "stop", 9, None)
    text = metrics.render()
    assert metric(text, REQUESTS, event="push", decision="stop", code="9") == 2
    assert metric(text, REQUESTS, event="other", decision="stop", code="9") == 2
    assert metric(text, REQUESTS, event="none", decision="stop", code="9") == 1
    assert metric(text, f"{DURATION}_count") == 0


@pytest.mark.parametrize(
    ("event", "action", "code", "labels"),
    [
        ("push", "sync", 0, {"event": "push", "action": "sync", "code": "0"}),
        ("push", "", 16, {"event": "push", "action": "none", "code": "16"}),
        ("made_up", "", 9, {"event": "other", "action": "none", "code": "9"}),
    ],
    ids=["proceeds", "stopped", "unknown-event"],
)
def test_decisions_by_event_action_and_code(event: str, action: str, code: int, labels: dict) -> None:
    metrics = Metrics({"push"})
    metrics.decided(event, action, code)
    assert metric(metrics.render(), DECISIONS, **labels) == 1


def test_label_values_are_escaped() -> None:
    metrics = Metrics({'a"b\\c\nd'})
    metrics.observe('a"b\\c\nd', "stop", 9, None)
    assert b'event="a\\"b\\\\c\\nd"' in metrics.render()
    assert metric(metrics.render(), REQUESTS, event='a"b\\c\nd', decision="stop", code="9") == 1


def test_every_family_has_help_and_type_and_parses() -> None:
    text = Metrics(set()).render().decode()
    assert "# TYPE peribolos_interceptor_requests_total counter" in text
    assert "# TYPE peribolos_interceptor_decisions_total counter" in text
    assert f"# TYPE {DURATION} histogram" in text
    names = {family.name for family in text_string_to_metric_families(text)}
    assert {"peribolos_interceptor_requests", "peribolos_interceptor_decisions", DURATION} <= names
    assert CONTENT_TYPE.startswith("text/plain; version=0.0.4")


def test_two_interceptors_keep_their_own_counts() -> None:
    first, second = Metrics({"push"}), Metrics({"push"})
    first.observe("push", "sync", 0, None)
    assert metric(second.render(), REQUESTS, event="push", decision="sync", code="0") == 0
