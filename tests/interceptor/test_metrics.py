"""Prometheus text format: counters by event/decision/code, a cumulative histogram, bounded labels."""

from __future__ import annotations

import pytest

from tekton.interceptor.metrics import BUCKETS, Metrics


def sample(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not in\n{text}")


@pytest.mark.parametrize(
    ("seconds", "first_bucket"),
    [(0.0001, 0.0005), (0.0005, 0.0005), (0.0006, 0.001), (0.01, 0.01), (3.0, None)],
    ids=["below-first", "on-a-bound", "just-above", "ten-ms", "over-the-last"],
)
def test_histogram_buckets_are_cumulative_and_inclusive(seconds: float, first_bucket: float | None) -> None:
    metrics = Metrics({"push"})
    metrics.observe("push", "sync", 0, seconds)
    text = metrics.render().decode()
    for bound in BUCKETS:
        expected = 1 if first_bucket is not None and bound >= first_bucket else 0
        assert (
            sample(text, f'peribolos_interceptor_request_duration_seconds_bucket{{le="{bound!r}"}}')
            == expected
        )
    assert sample(text, 'peribolos_interceptor_request_duration_seconds_bucket{le="+Inf"}') == 1
    assert sample(text, "peribolos_interceptor_request_duration_seconds_sum") == pytest.approx(seconds)


def test_unknown_and_missing_events_are_bounded_labels() -> None:
    metrics = Metrics({"push"})
    for event in ["push", "push", "", 'weird"\n\\event', "another"]:
        metrics.observe(event, "stop", 9, None)
    text = metrics.render().decode()
    assert 'peribolos_interceptor_requests_total{event="push",decision="stop",code="9"} 2' in text
    assert 'peribolos_interceptor_requests_total{event="other",decision="stop",code="9"} 2' in text
    assert 'peribolos_interceptor_requests_total{event="none",decision="stop",code="9"} 1' in text
    assert "peribolos_interceptor_request_duration_seconds_count 0" in text


def test_label_values_are_escaped() -> None:
    metrics = Metrics({'a"b\\c\nd'})
    metrics.observe('a"b\\c\nd', "stop", 9, None)
    assert b'event="a\\"b\\\\c\\nd"' in metrics.render()


def test_every_family_has_help_and_type() -> None:
    text = Metrics(set()).render().decode()
    assert "# TYPE peribolos_interceptor_requests_total counter" in text
    assert "# TYPE peribolos_interceptor_request_duration_seconds histogram" in text
    assert text.endswith("\n")
