"""Pruning: reading TaskRuns and planning deletions (pure, table-driven), then runs on the real
kube-apiserver as the rendered ServiceAccount (real RBAC)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from peribolos_core.errors import ConfigError, KubeForbidden
from tekton.maintenance.prune import Outcome, Policy, Pruner, Run, plan_prune, run_of
from tests.maintenance.conftest import as_account, stamp, taskrun_names

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
H = timedelta(hours=1)
D = timedelta(days=1)


def _obj(*, status: str | None = "True", completion: datetime | None = NOW,
         transition: datetime | None = None, created: datetime | None = None,
         labels: dict[str, str] | None = None, annotations: dict[str, str] | None = None,
         name: str = "tr", uid: str = "u") -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "uid": uid,
                            "labels": {"peribolos.dev/action": "sync", "peribolos.dev/installation-id": "7"}
                            if labels is None else labels, "annotations": annotations or {}}
    if created:
        meta["creationTimestamp"] = stamp(created)
    out: dict[str, Any] = {"metadata": meta, "status": {}}
    if status is not None:
        condition: dict[str, Any] = {"type": "Succeeded", "status": status}
        if transition:
            condition["lastTransitionTime"] = stamp(transition)
        out["status"]["conditions"] = [condition]
    if completion:
        out["status"]["completionTime"] = stamp(completion)
    return out


@pytest.mark.parametrize(
    ("taskrun", "expected"),
    [
        pytest.param(_obj(), Run("tr", "u", "7", "sync", Outcome.SUCCEEDED, NOW), id="succeeded"),
        pytest.param(_obj(status="False"), Run("tr", "u", "7", "sync", Outcome.FAILED, NOW), id="failed"),
        pytest.param(_obj(status="Unknown", completion=None),
                     Run("tr", "u", "7", "sync", Outcome.RUNNING, None), id="running"),
        pytest.param(_obj(status=None, completion=None), Run("tr", "u", "7", "sync", Outcome.RUNNING, None),
                     id="no status yet"),
        pytest.param(_obj(completion=None, transition=NOW - H),
                     Run("tr", "u", "7", "sync", Outcome.SUCCEEDED, NOW - H),
                     id="finished at the transition"),
        pytest.param(_obj(completion=None, created=NOW - D),
                     Run("tr", "u", "7", "sync", Outcome.SUCCEEDED, NOW - D), id="else at creation"),
        pytest.param(_obj(completion=None), Run("tr", "u", "7", "sync", Outcome.SUCCEEDED, None),
                     id="no time at all"),
        pytest.param(_obj(labels={"peribolos.dev/action": "install"},
                          annotations={"peribolos.dev/org": "Octo"}),
                     Run("tr", "u", "octo", "install", Outcome.SUCCEEDED, NOW), id="org from the annotation"),
        pytest.param(_obj(labels={}), None, id="no action: not ours"),
        pytest.param(_obj(uid=""), None, id="no uid"),
    ],
)
def test_run_of(taskrun: dict[str, Any], expected: Run | None) -> None:
    assert run_of(taskrun) == expected


def _run(name: str, age: timedelta | None, outcome: Outcome = Outcome.SUCCEEDED, org: str = "1",
         action: str = "sync") -> Run:
    return Run(name, f"uid-{name}", org, action, outcome, None if age is None else NOW - age)


def _series(prefix: str, count: int, outcome: Outcome = Outcome.SUCCEEDED, step: timedelta = H, **kw: Any
            ) -> list[Run]:
    """``count`` runs one ``step`` apart, ``prefix0`` the newest."""
    return [_run(f"{prefix}{i}", step * (i + 1), outcome, **kw) for i in range(count)]


SMALL = Policy(keep_successful=2, keep_failed=3, max_success_age=7 * D, max_failure_age=30 * D)


@pytest.mark.parametrize(
    ("runs", "policy", "deleted"),
    [
        pytest.param(_series("s", 2), SMALL, [], id="within the count"),
        pytest.param(_series("s", 4), SMALL, [("s3", "count"), ("s2", "count")],
                     id="beyond the count, oldest first"),
        pytest.param([_run("old", 8 * D), _run("new", H)], SMALL, [("old", "age")],
                     id="too old, however few"),
        pytest.param(_series("f", 4, Outcome.FAILED), SMALL, [("f3", "count")],
                     id="failures: their own count"),
        pytest.param([_run("f", 20 * D, Outcome.FAILED), _run("s", 8 * D)], SMALL, [("s", "age")],
                     id="failures kept longer"),
        pytest.param([_run("f", 31 * D, Outcome.FAILED)], SMALL, [("f", "age")], id="failures too old"),
        pytest.param(_series("s", 2) + _series("f", 3, Outcome.FAILED), SMALL, [],
                     id="successes and failures counted apart"),
        pytest.param(_series("a", 2, org="1") + _series("b", 2, org="2") + _series("c", 2, action="dry-run"),
                     SMALL, [], id="each org and action counted apart"),
        pytest.param([_run("r", 90 * D, Outcome.RUNNING), *_series("s", 2)], SMALL, [],
                     id="running: never touched"),
        pytest.param([_run("unknown", None), _run("s1", H), _run("s2", 2 * H)], SMALL, [("s2", "count")],
                     id="unknown finish counts as now"),
        pytest.param(_series("s", 2), Policy(keep_successful=0), [("s1", "count"), ("s0", "count")],
                     id="keep none"),
        pytest.param(_series("s", 3, step=3 * D), Policy(), [("s2", "age")], id="defaults: 7 days"),
        pytest.param(_series("s", 7, step=timedelta(minutes=1)), Policy(), [("s6", "count"), ("s5", "count")],
                     id="defaults: the newest 5"),
    ],
)
def test_plan_prune(runs: list[Run], policy: Policy, deleted: list[tuple[str, str]]) -> None:
    assert [(d.run.name, d.reason) for d in plan_prune(runs, NOW, policy)] == deleted


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"keep_successful": -1}, "--keep-successful", id="negative count"),
        pytest.param({"max_failure_age": -D}, "--max-failure-age", id="negative age"),
    ],
)
def test_bad_policy_is_refused_by_name(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Policy(**kwargs)


# ---- on the real kube-apiserver


def test_a_run_keeps_the_configured_runs_per_org_and_action_as_its_account(
    installed, kube_apiserver, namespace, admin_tekton, make_taskrun
) -> None:
    now = datetime.now(UTC)
    keep = {make_taskrun(finished=now - i * H)["metadata"]["name"] for i in range(2)}
    drop = {make_taskrun(finished=now - (i + 2) * H)["metadata"]["name"] for i in range(2)}
    drop.add(make_taskrun(installation="2", finished=now - 8 * D)["metadata"]["name"])  # too old
    keep |= {make_taskrun(outcome="False", finished=now - i * D)["metadata"]["name"] for i in range(3)}
    keep.add(make_taskrun(action="dry-run", finished=now - 5 * H)["metadata"]["name"])
    keep.add(make_taskrun(outcome=None)["metadata"]["name"])  # running
    others = make_taskrun(part_of=False, finished=now - 90 * D)["metadata"]["name"]  # not this service's

    tekton = as_account(kube_apiserver, namespace, "peribolos-prune")
    policy = Policy(keep_successful=2, keep_failed=3)
    summary = Pruner(tekton, policy).run()

    assert summary.counts == {"deleted": 3, "gone": 0, "failed": 0, "deferred": 0, "running": 1, "kept": 6}
    assert taskrun_names(admin_tekton) == keep | {others}
    assert Pruner(tekton, policy).run().counts["deleted"] == 0  # converged


def test_a_dry_run_deletes_nothing_and_max_deletions_defers_the_youngest(
    installed, kube_apiserver, namespace, admin_tekton, make_taskrun
) -> None:
    now = datetime.now(UTC)
    names = [make_taskrun(finished=now - i * H)["metadata"]["name"] for i in range(4)]
    tekton = as_account(kube_apiserver, namespace, "peribolos-prune")
    policy = Policy(keep_successful=1)

    dry = Pruner(tekton, policy, dry_run=True).run()
    assert dry.counts["deleted"] == 3 and taskrun_names(admin_tekton) == set(names)

    capped = Pruner(tekton, policy, max_deletions=2).run()
    assert (capped.counts["deleted"], capped.counts["deferred"]) == (2, 1)
    assert taskrun_names(admin_tekton) == {names[0], names[1]}  # the oldest went first


def test_the_prune_account_may_only_list_and_delete_taskruns(installed, kube_apiserver, namespace) -> None:
    tekton = as_account(kube_apiserver, namespace, "peribolos-prune")
    with pytest.raises(KubeForbidden):
        tekton.trigger_template("peribolos-sync")
    with pytest.raises(KubeForbidden):
        tekton.create_taskrun({"apiVersion": "tekton.dev/v1", "kind": "TaskRun",
                               "metadata": {"generateName": "x-"}, "spec": {"taskRef": {"name": "t"}}})
