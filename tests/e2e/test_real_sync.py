"""Syncs on the real cluster, as org admins see them on GitHub (the fake) and as the org ends up: a check run
in progress then completed with the change listed; a bad config failed with annotations on its lines; an
old check run re-run applies nothing; a webhook delivered three times makes one TaskRun; two quick pushes
leave the org at the newer config, their peribolos steps one after the other (the org's Lease)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import pytest

from tests.e2e import payloads
from tests.e2e.conftest import INSTALLATION_ID, ORG
from tests.e2e.pods import Finished, by_delivery, step_log, wait_finished, wait_taskruns
from tests.e2e.test_real_pods import _deliver, _installed
from tests.fakes.fixtures import APP_ID
from tests.fakes.github import FakeGitHub
from tests.fakes.github.fake import RecordedRequest
from tests.infra.product import Product

pytestmark = pytest.mark.e2e

REPO = f"{ORG}/.github"
WRITES = ("PUT", "PATCH", "DELETE", "POST")


def _config(admins: list[str], members: list[str]) -> str:
    return f"orgs:\n  {ORG}:\n    admins: [{', '.join(admins)}]\n    members: [{', '.join(members)}]\n"


def _push(product: Product, github: FakeGitHub, content: str, delivery: str | None = None) -> tuple[str, str]:
    """Push ``content`` as peribolos.yaml to the default branch and deliver its webhook: (after, delivery)."""
    pushed = github.push_commit(REPO, {"peribolos.yaml": content})
    payload = payloads.push(INSTALLATION_ID, ORG, after=pushed.after)
    payload.update(pushed.webhook_fields())
    delivered, response = product.send_webhook("push", payload, delivery_id=delivery)
    assert response.status_code == 202, response.text
    return pushed.after, delivered


def _finished(product: Product, delivery: str, timeout: float = 240) -> Finished:
    (taskrun,) = wait_taskruns(product.cluster, product.namespace, by_delivery(delivery), timeout=60)
    return wait_finished(product.cluster, product.namespace, taskrun["metadata"]["name"], timeout=timeout)


def _checks(github: FakeGitHub, sha: str) -> list[dict[str, Any]]:
    return [r for r in github.check_runs if r["head_sha"] == sha]


def _org_writes(github: FakeGitHub) -> list[RecordedRequest]:
    return [r for r in github.requests if r.method in WRITES and r.path.startswith(f"/orgs/{ORG}/")]


def test_a_push_shows_in_progress_then_the_summary_of_the_change(
    product: Product, cluster_github: FakeGitHub
) -> None:
    _installed(product)
    cluster_github.add_org(ORG, admins=["alice", "bob"], members=[])
    after, delivery = _push(product, cluster_github, _config(["alice", "bob"], ["carol"]))
    finished = _finished(product, delivery)
    assert finished.succeeded, (finished.reason, finished.exit_codes)
    assert finished.name == f"peribolos-sync-{delivery}"
    created = [
        r
        for r in cluster_github.requests
        if r.method == "POST" and r.path == f"/repos/{REPO}/check-runs" and r.body.get("head_sha") == after
    ]
    assert [r.body["status"] for r in created] == ["in_progress"], "created in progress when the run starts"
    namespace, name = product.namespace, finished.name
    assert (
        created[0].body["details_url"]
        == f"https://tekton.example.com/#/namespaces/{namespace}/taskruns/{name}"
    )
    (check,) = _checks(cluster_github, after)
    assert (check["name"], check["status"], check["conclusion"]) == ("peribolos/sync", "completed", "success")
    output = check["output"]
    assert output["title"] == "peribolos: 1 change made"
    assert "#### Members (1)" in output["summary"] and "**carol**: invited as a member" in output["summary"]
    assert output["summary"].endswith(f"_peribolos · sync of `{after[:7]}`_\n")
    assert "carol" in set(cluster_github.orgs[ORG.lower()].invitations)
    assert "ghs_" not in step_log(product.cluster, product.namespace, finished, "report")


@pytest.mark.parametrize(
    ("content", "line", "words"),
    [
        pytest.param(
            f"orgs:\n  {ORG}:\n    admins: [alice, bob\n    members: []\n",
            4,
            "Not valid YAML",
            id="yaml-error",
        ),
        pytest.param(
            f"orgs:\n  {ORG}:\n    admins: [alice, bob]\n    membrs: [carol]\n",
            4,
            "Unknown key",
            id="schema-problem",
        ),
    ],
)
def test_a_bad_config_completes_the_check_as_failed_with_annotations_on_its_lines(
    product: Product, cluster_github: FakeGitHub, content: str, line: int, words: str
) -> None:
    _installed(product)
    cluster_github.add_org(ORG, admins=["alice", "bob"], members=[])
    writes = len(_org_writes(cluster_github))
    after, delivery = _push(product, cluster_github, content)
    finished = _finished(product, delivery)
    assert not finished.succeeded, "a failed sync fails its TaskRun"
    assert finished.exit_codes["peribolos"] != 0, "peribolos got no config to act on"
    (check,) = _checks(cluster_github, after)
    assert (check["status"], check["conclusion"]) == ("completed", "failure")
    assert "is not a config peribolos can apply as written" in check["output"]["title"]
    assert "#### The config has" in check["output"]["summary"]
    notes = cluster_github.annotations(check["id"])
    assert [n["title"].split(":")[0] for n in notes] == [words]
    assert notes[0]["start_line"] == line and notes[0]["path"] == "peribolos.yaml"
    assert len(_org_writes(cluster_github)) == writes


def test_an_old_rerequested_check_run_applies_nothing(product: Product, cluster_github: FakeGitHub) -> None:
    _installed(product)
    cluster_github.add_org(ORG, admins=["alice", "bob"], members=[])
    old, delivery = _push(product, cluster_github, _config(["alice", "bob", "carol"], []))
    assert _finished(product, delivery).succeeded
    new, delivery = _push(product, cluster_github, _config(["alice", "bob"], ["dave"]))
    assert _finished(product, delivery).succeeded
    org = cluster_github.orgs[ORG.lower()]
    before = (set(org.admins), set(org.members), dict(org.invitations))
    writes = len(_org_writes(cluster_github))
    # Someone blocked from merging re-runs the old check run, which would re-add carol as an admin.
    rerun = payloads.check_run_rerequested(
        INSTALLATION_ID, ORG, name="peribolos/sync", app_id=int(APP_ID), head_sha=old
    )
    finished = _finished(product, _deliver(product, "check_run", rerun))
    assert finished.succeeded, "superseded is no failure"
    assert finished.exit_codes["peribolos"] != 0, "peribolos had no token and no config to act with"
    assert len(_org_writes(cluster_github)) == writes
    assert (set(org.admins), set(org.members), dict(org.invitations)) == before
    rerun_check = _checks(cluster_github, old)[-1]
    assert (rerun_check["status"], rerun_check["conclusion"]) == ("completed", "neutral")
    assert rerun_check["output"]["title"] == f"peribolos: superseded by {new[:7]}"
    assert f"{new[:7]} is newer" in rerun_check["output"]["summary"]


def test_three_deliveries_of_one_push_make_one_taskrun(product: Product, cluster_github: FakeGitHub) -> None:
    _installed(product)
    cluster_github.add_org(ORG, admins=["alice", "bob"], members=["carol"])
    pushed = cluster_github.push_commit(
        REPO, {"peribolos.yaml": _config(["alice", "bob"], ["carol", "erin"])}
    )
    payload = payloads.push(INSTALLATION_ID, ORG, after=pushed.after)
    payload.update(pushed.webhook_fields())
    delivery = str(uuid.uuid4())
    for _ in range(3):  # the delivery, then GitHub's "Redeliver" twice: the same id, the same body
        _, response = product.send_webhook("push", payload, delivery_id=delivery)
        assert response.status_code == 202
    runs = wait_taskruns(product.cluster, product.namespace, by_delivery(delivery), timeout=30, settle=5)
    assert [r["metadata"]["name"] for r in runs] == [f"peribolos-sync-{delivery}"]
    assert wait_finished(
        product.cluster, product.namespace, runs[0]["metadata"]["name"], timeout=240
    ).succeeded
    assert len(_checks(cluster_github, pushed.after)) == 1


def _peribolos_window(finished: Finished) -> tuple[datetime, datetime]:
    (step,) = [s for s in finished.taskrun["status"]["steps"] if s["name"] == "peribolos"]
    terminated = step["terminated"]
    return (
        datetime.fromisoformat(terminated["startedAt"].replace("Z", "+00:00")),
        datetime.fromisoformat(terminated["finishedAt"].replace("Z", "+00:00")),
    )


def test_two_quick_pushes_leave_the_org_at_the_newer_config(
    product: Product, cluster_github: FakeGitHub
) -> None:
    _installed(product)
    cluster_github.add_org(ORG, admins=["alice", "bob"], members=["carol"])
    # The older makes carol an admin, the newer keeps her a member and adds dave: were the older applied
    # last, carol would end up an admin.
    older, first = _push(product, cluster_github, _config(["alice", "bob", "carol"], []))
    newer, second = _push(product, cluster_github, _config(["alice", "bob"], ["carol", "dave"]))
    done = [_finished(product, first), _finished(product, second)]
    assert [f.succeeded for f in done] == [True, True], [(f.reason, f.exit_codes) for f in done]
    org = cluster_github.orgs[ORG.lower()]
    assert "carol" in org.members and "carol" not in org.admins
    assert "dave" in set(org.invitations) | org.members
    assert _checks(cluster_github, newer)[-1]["conclusion"] == "success"
    assert _checks(cluster_github, older)[-1]["conclusion"] in ("success", "neutral")
    ran = [
        f
        for f, check in zip(done, (older, newer), strict=True)
        if _checks(cluster_github, check)[-1]["conclusion"] == "success"
    ]
    if len(ran) == 2:  # both applied: one after the other, never at once
        (a_start, a_end), (b_start, b_end) = (_peribolos_window(f) for f in ran)
        assert a_end <= b_start or b_end <= a_start, "two syncs of one org ran peribolos at the same time"
