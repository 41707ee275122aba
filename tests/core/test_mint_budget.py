"""The mint budget: never more than N slots in any window, deadlines, GitHub's holds, and the peak figure.

The budget only answers how long to wait; ``take`` waits it out on the clock, as ``tokens.Minter`` does.
The window's rules are tested on the in-process budget and, where they differ from one process, on the
App-wide one on a real kube-apiserver (``KubeMintBudget``): several processes' objects on one ConfigMap,
409s, a missing or hand-edited object, RBAC, and the wait each caller logs.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from kubernetes import client

from peribolos_core.config_maps import ConfigMaps
from peribolos_core.errors import KubeForbidden, MintDeferred
from peribolos_core.mint_budget import (
    KubeMintBudget,
    LocalMintBudget,
    Window,
    decode,
    describe_wait,
    encode,
    peak_per_window,
)
from tests.fakes.clock import FakeClock


def budget(per_minute: int, margin: float = 0.0) -> LocalMintBudget:
    """Without the safety margin by default, so the arithmetic below is GitHub's plain minute."""
    return LocalMintBudget(per_minute, margin=margin)


def take(limiter: LocalMintBudget | KubeMintBudget, clock: Callable[[], float],
         sleep: Callable[[float], None], deadline: float | None = None) -> bool:
    """Acquire a slot and wait for it; False when the budget defers (nothing taken)."""
    try:
        wait = limiter.acquire(clock(), deadline)
    except MintDeferred:
        return False
    if wait > 0:
        sleep(wait)
    return True


@pytest.mark.parametrize(("acquisitions", "expected_sleeps"), [
    pytest.param(5, [], id="burst-within-limit"),
    pytest.param(6, [60.0], id="one-over-waits-a-minute"),
    pytest.param(15, [60.0, 60.0], id="three-windows"),
])
def test_slots_wait_for_the_window(acquisitions, expected_sleeps) -> None:
    clock = FakeClock()
    limiter = budget(5)
    for _ in range(acquisitions):
        assert take(limiter, clock, clock.sleep)
    assert clock.slept == expected_sleeps
    assert limiter.used == acquisitions
    assert peak_per_window(limiter.granted) == min(5, acquisitions)


def test_slow_callers_never_wait() -> None:
    clock = FakeClock()
    limiter = budget(2)
    for _ in range(10):
        assert take(limiter, clock, clock.sleep)
        clock.now += 30.0
    assert clock.slept == []


def test_sliding_not_fixed_window() -> None:
    clock = FakeClock()
    limiter = budget(2)
    take(limiter, clock, clock.sleep)          # t=1000
    clock.now += 50
    take(limiter, clock, clock.sleep)          # t=1050
    clock.now += 20            # t=1070: the 1000 slot has left the window, the 1050 one has not
    take(limiter, clock, clock.sleep)
    assert clock.slept == []
    take(limiter, clock, clock.sleep)          # must wait until 1050 + 60
    assert clock.now == pytest.approx(1110.0)


def test_default_margin_spaces_bursts_61_seconds_apart_and_sets_the_pace() -> None:
    clock = FakeClock()
    limiter = LocalMintBudget(2)
    for _ in range(5):
        take(limiter, clock, clock.sleep)
    assert clock.slept == [61.0, 61.0]
    assert limiter.seconds_per_mint == pytest.approx(30.5)


def test_refused_slot_is_not_taken() -> None:
    clock = FakeClock()
    limiter = budget(1)
    assert take(limiter, clock, clock.sleep, clock.now)
    with pytest.raises(MintDeferred, match="no slot before this run's deadline"):
        limiter.acquire(clock(), deadline=clock.now + 1)
    assert limiter.used == 1


def test_hold_delays_every_following_slot() -> None:
    clock = FakeClock()
    limiter = budget(100)
    take(limiter, clock, clock.sleep)
    limiter.hold(clock(), 7.5)
    take(limiter, clock, clock.sleep)
    assert clock.slept == [7.5]
    assert not take(limiter, clock, clock.sleep, clock.now - 1)


def test_threads_never_exceed_the_limit_in_any_window() -> None:
    limiter = LocalMintBudget(4, window=0.05, margin=0.002)  # slots are kept to the millisecond

    def worker() -> None:
        for _ in range(6):
            take(limiter, time.monotonic, time.sleep)

    threads = [threading.Thread(target=worker) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert limiter.used == 30
    assert peak_per_window(limiter.granted, 0.05) == 4


@pytest.mark.parametrize("per_minute", [0, -3], ids=["zero", "negative"])
def test_budget_must_be_positive(per_minute) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        LocalMintBudget(per_minute)


@pytest.mark.parametrize(("instants", "window", "peak"), [
    ([], 60.0, 0),
    ([0.0], 60.0, 1),
    ([0.0, 59.9, 60.0], 60.0, 2),
    ([0.0, 1.0, 2.0, 100.0, 101.0], 60.0, 3),
    ([5.0, 1.0, 2.5], 2.0, 2),
], ids=["empty", "one", "half-open-window", "burst-then-pair", "unsorted"])
def test_peak_per_window(instants, window, peak) -> None:
    assert peak_per_window(instants, window) == peak


# -- the window, pure ------------------------------------------------------------------------------------

NEXT_SLOT_CASES = [
    # (id, slots, hold_until, now, expected slot, why) with 2 a window of spacing 10
    ("empty-now", (), None, 100.0, 100.0, ""),
    ("room-left", (95.0,), None, 100.0, 100.0, ""),
    ("full-waits-for-the-oldest", (95.0, 99.0), None, 100.0, 105.0, "window"),
    ("full-but-old", (85.0, 89.0), None, 100.0, 100.0, ""),
    ("behind-a-reservation", (95.0, 120.0), None, 100.0, 120.0, "queue"),
    ("held", (), 130.0, 100.0, 130.0, "hold"),
    ("hold-over-window", (95.0, 99.0), 130.0, 100.0, 130.0, "hold"),
    ("a-caller-whose-clock-is-behind", (101.0,), None, 100.0, 101.0, "queue"),
]


@pytest.mark.parametrize(("slots", "hold", "now", "slot", "why"), [c[1:] for c in NEXT_SLOT_CASES],
                         ids=[c[0] for c in NEXT_SLOT_CASES])
def test_next_slot(slots, hold, now, slot, why) -> None:
    window = Window(slots, hold if hold is not None else float("-inf"))
    assert window.next_slot(now, 2, 10.0) == (slot, why)


def test_taken_forgets_what_can_delay_nobody_and_counts_the_last_minute() -> None:
    window = Window((10.0, 50.0, 95.0), 7.0).taken(100.0, now=100.0, spacing=61.0)
    assert window == Window((50.0, 95.0, 100.0), 7.0)
    assert window.used(100.0) == 3 and window.used(100.0, seconds=10) == 2 and window.used(99.0) == 2
    assert window.held(5.0).hold_until == 7.0 and window.held(9.0).hold_until == 9.0


@pytest.mark.parametrize("window", [Window(), Window((1.5, 2.25), 9.125), Window((1000.001,))],
                         ids=["empty", "slots-and-hold", "one"])
def test_encode_decode_round_trip(window: Window) -> None:
    data = encode(window, 150)
    assert data["per-minute"] == "150" and decode(data) == window


@pytest.mark.parametrize("data", [{"slots": "1 two 3"}, {"slots": "nan"}, {"slots": "1", "hold-until": "x"},
                                  {"slots": "inf"}], ids=["word", "nan", "bad-hold", "inf"])
def test_decode_refuses_what_is_not_ours(data) -> None:
    with pytest.raises(ValueError):
        decode(data)


@pytest.mark.parametrize(("why", "words"), [
    ("window", "the App's 150 mints of the last 61 s are taken"),
    ("hold", "GitHub rate-limited a mint and asked to wait: no mint before 2026-11-27T12:00:00+00:00"),
    ("queue", "behind mints the others already reserved"),
], ids=["window", "hold", "queue"])
def test_describe_wait(why, words) -> None:
    slot = datetime(2026, 11, 27, 12, tzinfo=UTC).timestamp()
    assert words in describe_wait(why, 150, 61.0, slot)


# -- the App-wide budget on a ConfigMap (real kube-apiserver) ---------------------------------------------

NAME = "peribolos-mint-budget"


def kube_budget(core_v1: Any, namespace: str, per_minute: int, **kwargs: Any) -> KubeMintBudget:
    """One process's budget: its own object cache, as each Pod has."""
    kwargs.setdefault("margin", 0.0)
    return KubeMintBudget(ConfigMaps(core_v1, namespace), NAME, per_minute, **kwargs)


def test_the_first_minter_creates_the_object_and_the_window_is_shared(core_v1, namespace) -> None:
    clock = FakeClock()
    refresher, step = kube_budget(core_v1, namespace, 3), kube_budget(core_v1, namespace, 3)
    assert take(refresher, clock, clock.sleep) and take(step, clock, clock.sleep)
    assert take(refresher, clock, clock.sleep)
    assert clock.slept == []
    assert take(step, clock, clock.sleep)  # the fourth in a minute, whoever takes it: waits the window
    assert clock.slept == [60.0]
    stored = core_v1.read_namespaced_config_map(NAME, namespace)
    assert stored.metadata.labels == {"app.kubernetes.io/managed-by": "peribolos-as-a-service",
                                      "app.kubernetes.io/component": "mint-budget"}
    assert decode(stored.data).slots == (1000.0, 1000.0, 1000.0, 1060.0)


def test_a_conflict_is_re_read_and_retried_and_costs_one_read(core_v1, namespace) -> None:
    clock = FakeClock()
    first, second = kube_budget(core_v1, namespace, 100), kube_budget(core_v1, namespace, 100)
    take(first, clock, clock.sleep)               # creates: read (404), create, replace
    calls = first.maps.request_count
    take(first, clock, clock.sleep)               # its cached object is current: one replace
    assert first.maps.request_count - calls == 1
    take(second, clock, clock.sleep)              # first's cache is stale now
    calls = first.maps.request_count
    take(first, clock, clock.sleep)               # 409, read, replace
    assert first.maps.request_count - calls == 3 and first.conflicts == 1
    assert len(first.window_now().slots) == 4


def test_deferral_writes_nothing(core_v1, namespace) -> None:
    clock = FakeClock()
    limiter = kube_budget(core_v1, namespace, 1)
    take(limiter, clock, clock.sleep)
    version = core_v1.read_namespaced_config_map(NAME, namespace).metadata.resource_version
    with pytest.raises(MintDeferred):
        limiter.acquire(clock(), deadline=clock.now + 1)
    assert core_v1.read_namespaced_config_map(NAME, namespace).metadata.resource_version == version


def test_a_hold_reaches_every_process(core_v1, namespace) -> None:
    clock = FakeClock()
    one, other = kube_budget(core_v1, namespace, 100), kube_budget(core_v1, namespace, 100)
    one.hold(clock(), 30.0)
    take(other, clock, clock.sleep)
    assert clock.slept == [30.0]


def test_an_object_edited_by_hand_counts_as_full_and_is_rewritten(core_v1, namespace, caplog) -> None:
    core_v1.create_namespaced_config_map(namespace, {"metadata": {"name": NAME}, "data": {"slots": "oops"}})
    clock = FakeClock()
    limiter = kube_budget(core_v1, namespace, 5, margin=1.0)
    take(limiter, clock, clock.sleep)
    assert clock.slept == [61.0]
    assert "not in our format" in caplog.text
    assert decode(core_v1.read_namespaced_config_map(NAME, namespace).data).slots == (1061.0,)


def test_a_wait_is_logged_with_how_long_and_why(core_v1, namespace, caplog) -> None:
    caplog.set_level(logging.INFO, logger="peribolos.mint_budget")
    clock = FakeClock()
    limiter = kube_budget(core_v1, namespace, 1, margin=1.0)
    take(limiter, clock, clock.sleep)
    assert not caplog.records
    take(limiter, clock, clock.sleep)
    (record,) = caplog.records
    message = record.getMessage()
    assert message.startswith("waiting 61.0 s for a mint slot: the App's 1 mints of the last 61 s"), message
    assert (record.wait_s, record.reason, record.mint_budget) == (61.0, "window", NAME)


def test_quiet_waits_are_not_logged(core_v1, namespace, caplog) -> None:
    caplog.set_level(logging.INFO, logger="peribolos.mint_budget")
    clock = FakeClock()
    limiter = kube_budget(core_v1, namespace, 1, report_waits_over=100.0)
    take(limiter, clock, clock.sleep)
    take(limiter, clock, clock.sleep)
    assert clock.slept == [60.0] and not caplog.records


def test_processes_racing_on_one_object_never_exceed_the_limit(core_v1, namespace) -> None:
    """Six 'processes' (objects with their own cache) take 8 slots each at once on the real apiserver."""
    limiters = [kube_budget(core_v1, namespace, 5, window=0.5, margin=0.002) for _ in range(6)]

    def worker(limiter: KubeMintBudget) -> None:
        for _ in range(8):
            take(limiter, time.time, time.sleep)

    threads = [threading.Thread(target=worker, args=(b,)) for b in limiters]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    granted = sorted(s for b in limiters for s in b.granted)
    assert len(granted) == 48 and len(set(granted)) <= 48
    assert peak_per_window(granted, 0.5) <= 5
    assert sum(b.conflicts for b in limiters) > 0  # they did race


def test_rbac_refusal_names_the_object(kube_apiserver, core_v1, namespace) -> None:
    core_v1.create_namespaced_service_account(namespace, {"metadata": {"name": "nobody"}})
    kubeconfig = kube_apiserver.service_account_kubeconfig(namespace, "nobody")
    api = client.CoreV1Api(kube_apiserver.api_client(kubeconfig=kubeconfig))
    limiter = KubeMintBudget(ConfigMaps(api, namespace), NAME, 5)
    with pytest.raises(KubeForbidden, match=f"ConfigMap {namespace}/{NAME}"):
        limiter.acquire(time.time())
