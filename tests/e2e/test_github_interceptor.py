"""With ``eventListener.githubInterceptor=true``: Triggers' own GitHub interceptor runs before ours.

The core interceptor (Triggers' ``cmd/interceptors``, over HTTPS with the caBundle it published) checks
X-Hub-Signature-256 against the webhook secret it reads from the Secret the generator names, and the
event type against each Trigger's ``eventTypes``. What it stops never reaches ``peribolos-interceptor``,
whose log names every delivery it decides.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from tests.e2e import payloads
from tests.e2e.conftest import INSTALLATION_ID, ORG
from tests.e2e.harness import list_taskruns, post_webhook, wait_for_taskruns
from tests.e2e.stack import Stack

pytestmark = pytest.mark.e2e


def _by_delivery(delivery: str) -> Any:
    return lambda tr: tr["metadata"].get("annotations", {}).get("peribolos.dev/delivery-id") == delivery


def _post(stack: Stack, event: str, payload: dict[str, Any], signature: str | None = None) -> str:
    delivery = str(uuid.uuid4())
    status, answer = post_webhook(
        stack.sink.url, event, payload, stack.webhook_secret, delivery, signature=signature
    )
    assert status == 202, (status, answer)
    return delivery


def _reached_our_interceptor(stack: Stack, delivery: str) -> bool:
    return delivery in stack.interceptor.process.log.read_text(errors="replace")


def test_signed_push_passes_both_interceptors(stack_with_github_interceptor: Stack) -> None:
    stack = stack_with_github_interceptor
    payload = payloads.push(INSTALLATION_ID, ORG, after=payloads.sha(str(uuid.uuid4())))
    delivery = _post(stack, "push", payload)
    (taskrun,) = wait_for_taskruns(
        stack.plane, stack.namespace, _by_delivery(delivery), processes=stack.processes
    )
    assert taskrun["spec"]["taskRef"]["name"] == "peribolos-sync"
    assert {p["name"]: p["value"] for p in taskrun["spec"]["params"]}["revision"] == payload["after"]
    assert _reached_our_interceptor(stack, delivery)


@pytest.mark.parametrize(
    ("event", "make", "signature"),
    [
        pytest.param(
            "push", lambda: payloads.push(INSTALLATION_ID, ORG), "sha256=" + "0" * 64, id="bad-signature"
        ),
        pytest.param("push", lambda: payloads.push(INSTALLATION_ID, ORG), "", id="no-signature"),
        pytest.param("ping", payloads.ping, None, id="ping-is-in-no-eventTypes"),
        pytest.param(
            "issues", lambda: payloads.push(INSTALLATION_ID, ORG), None, id="issues-is-in-no-eventTypes"
        ),
    ],
)
def test_core_github_interceptor_stops_before_ours(
    stack_with_github_interceptor: Stack, event: str, make: Any, signature: str | None
) -> None:
    stack = stack_with_github_interceptor
    stopped = _post(stack, event, make(), signature)
    marker = _post(stack, "push", payloads.push(INSTALLATION_ID, ORG, after=payloads.sha(str(uuid.uuid4()))))
    wait_for_taskruns(stack.plane, stack.namespace, _by_delivery(marker), processes=stack.processes)
    time.sleep(0.5)  # events are handled concurrently: give the stopped one the same time again
    assert [r for r in list_taskruns(stack.plane, stack.namespace) if _by_delivery(stopped)(r)] == []
    assert _reached_our_interceptor(stack, marker)
    assert not _reached_our_interceptor(stack, stopped)
