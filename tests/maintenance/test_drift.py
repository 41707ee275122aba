"""Drift repair: the plan (pure), the pace, and runs against the strict fake GitHub and the real
kube-apiserver as the rendered ServiceAccount (real RBAC)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from kubernetes import client

from peribolos_core.errors import ConfigError, KubeForbidden
from peribolos_core.github import Installation
from tekton.maintenance.drift import (
    MAX_PER_MINUTE,
    DriftOptions,
    DriftRepair,
    Pacer,
    SyncHistory,
    plan_drift,
    sync_history,
)
from tekton.maintenance.template import delivery_id
from tests.fakes.clock import FakeClock
from tests.maintenance.conftest import app_for, as_account, stamp

NOW = datetime(2026, 5, 1, 3, 0, tzinfo=UTC)


def _inst(iid: int, login: str | None = None, kind: str = "Organization", suspended: bool = False
          ) -> Installation:
    return Installation(iid, login or f"org{iid}", kind, suspended)


def _tr(installation: str | None, created: datetime | None, run: str | None = None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"labels": {}, "annotations": {}}
    if installation is not None:
        metadata["labels"]["peribolos.dev/installation-id"] = installation
    if created is not None:
        metadata["creationTimestamp"] = stamp(created)
    if run is not None:
        metadata["annotations"]["peribolos.dev/drift-run"] = run
    return {"metadata": metadata}


@pytest.mark.parametrize(
    ("taskruns", "last", "made"),
    [
        pytest.param([], {}, set(), id="none"),
        pytest.param([_tr("1", NOW - timedelta(days=2)), _tr("1", NOW), _tr("1", NOW - timedelta(days=1))],
                     {1: NOW}, set(), id="newest of each"),
        pytest.param([_tr("1", NOW, run="job-1"), _tr("2", NOW, run="job-0")], {1: NOW, 2: NOW}, {1},
                     id="made by this run"),
        pytest.param([_tr(None, NOW), _tr("x1", NOW), _tr("", NOW)], {}, set(), id="no usable id"),
        pytest.param([_tr("3", None)], {3: datetime.min.replace(tzinfo=UTC)}, set(), id="no creation time"),
    ],
)
def test_sync_history(taskruns: list[dict[str, Any]], last: dict[int, datetime], made: set[int]) -> None:
    history = sync_history(taskruns, "job-1")
    assert dict(history.last_sync) == last and set(history.made_by_run) == made


@pytest.mark.parametrize(
    ("installations", "last", "made", "allowed", "due", "skipped"),
    [
        pytest.param([_inst(1), _inst(2)], {}, set(), None, [1, 2], {}, id="all, by id"),
        pytest.param([_inst(1), _inst(2, "alice", "User")], {}, set(), None, [1], {"user-account": 1},
                     id="user account"),
        pytest.param([_inst(1, suspended=True), _inst(2)], {}, set(), None, [2], {"suspended": 1},
                     id="suspended"),
        pytest.param([_inst(1, "Octo-Org"), _inst(2, "acme")], {}, set(), frozenset({"octo-org"}), [1],
                     {"not-allowed": 1}, id="allowed orgs, any case"),
        pytest.param([_inst(1), _inst(2)], {}, {2}, None, [1], {"made-by-this-run": 1}, id="retried run"),
        pytest.param([_inst(1), _inst(2), _inst(3)],
                     {1: NOW - timedelta(hours=1), 2: NOW - timedelta(days=2)}, set(), None, [3, 2, 1], {},
                     id="never synced, then longest ago"),
    ],
)
def test_plan_drift(installations: list[Installation], last: dict[int, datetime], made: set[int],
                    allowed: frozenset[str] | None, due: list[int], skipped: dict[str, int]) -> None:
    plan = plan_drift(installations, SyncHistory(last, frozenset(made)), allowed)
    assert [i.id for i in plan.due] == due
    assert dict(plan.skipped) == skipped


@pytest.mark.parametrize(
    ("per_minute", "deadline", "starts", "slept"),
    [
        pytest.param(5, 1000.0, 4, [12.0, 12.0, 12.0], id="evenly spaced, the first at once"),
        pytest.param(1, 90.0, 2, [60.0], id="stops before the deadline, without waiting for it"),
        pytest.param(MAX_PER_MINUTE, 0.0, 1, [], id="a deadline now still starts one"),
    ],
)
def test_pacer(per_minute: int, deadline: float, starts: int, slept: list[float]) -> None:
    clock = FakeClock(0.0)
    pacer = Pacer(per_minute, clock, clock.sleep)
    taken = [pacer.take(deadline) for _ in range(4)]
    assert taken == [True] * starts + [False] * (4 - starts)
    assert clock.slept == slept


def test_a_slow_creation_counts_towards_the_spacing() -> None:
    clock = FakeClock(0.0)
    pacer = Pacer(6, clock, clock.sleep)
    assert pacer.take(100)
    clock.now += 4.0  # creating the TaskRun took 4 s
    assert pacer.take(100)
    assert clock.slept == [6.0]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"run_id": " "}, "--run-id", id="empty run id"),
        pytest.param({"per_minute": MAX_PER_MINUTE + 1}, "between 1 and 8", id="too fast"),
        pytest.param({"per_minute": 0}, "between 1 and 8", id="zero"),
        pytest.param({"max_run_time": timedelta(0)}, "--max-run-time", id="no time"),
        pytest.param({"config_path": "/etc/passwd"}, "--config-path", id="absolute path"),
        pytest.param({"config_path": "a/../../b"}, "--config-path", id="path escaping the repo"),
    ],
)
def test_bad_options_are_refused_by_name(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        DriftOptions(**{"run_id": "job-1", **kwargs})


# ---- on the fake GitHub and the real kube-apiserver


def _repair(github: Any, app_key: Any, tekton: Any, clock: FakeClock | None = None, **options: Any
            ) -> DriftRepair:
    clock = clock or FakeClock(0.0)
    return DriftRepair(app_for(github, app_key), tekton,
                       DriftOptions(**{"run_id": "job-1", "per_minute": 8, **options}),
                       clock=clock, sleep=clock.sleep)


def _drift_runs(admin_tekton: Any) -> list[dict[str, Any]]:
    return list(admin_tekton.taskruns("peribolos.dev/trigger=drift-repair"))


def test_a_run_makes_one_sync_taskrun_per_active_org_installation(
    github, app_key, installed, kube_apiserver, namespace, admin_tekton
) -> None:
    github.add_installation(1, "octo-org")
    github.add_installation(2, "Acme")
    github.add_installation(3, "alice", account_type="User")
    github.add_installation(4, "sleepy")
    github.set_suspended(4)
    clock = FakeClock(0.0)
    tekton = as_account(kube_apiserver, namespace, "peribolos-drift-repair")

    summary = _repair(github, app_key, tekton, clock).run()

    assert summary.counts == {"created": 2, "exists": 0, "failed": 0, "deferred": 0, "user-account": 1,
                              "suspended": 1}
    assert summary.exit_code == 0 and summary.installations == 4
    assert clock.slept == [7.5]  # 8 a minute
    runs = {t["metadata"]["labels"]["peribolos.dev/installation-id"]: t for t in _drift_runs(admin_tekton)}
    assert set(runs) == {"1", "2"}
    acme = runs["2"]
    assert acme["metadata"]["name"].startswith("peribolos-sync-")
    assert acme["metadata"]["annotations"]["peribolos.dev/delivery-id"] == delivery_id("job-1", 2)
    assert acme["metadata"]["annotations"]["peribolos.dev/drift-run"] == "job-1"
    assert acme["spec"]["taskRef"]["name"] == "peribolos-sync"
    params = {p["name"]: p["value"] for p in acme["spec"]["params"]}
    assert (params["org"], params["repo"], params["revision"], params["check_run_when"]) == (
        "Acme", "Acme/.github", "", "changed-or-failed")
    assert github.mint_count == 0  # the JWT lists; each TaskRun mints its own tokens


def test_a_retried_run_makes_no_taskrun_twice_and_the_next_run_syncs_again(
    github, app_key, installed, kube_apiserver, namespace, admin_tekton
) -> None:
    github.add_installation(1, "octo-org")
    github.add_installation(2, "Acme")
    tekton = as_account(kube_apiserver, namespace, "peribolos-drift-repair")
    assert _repair(github, app_key, tekton).run().counts["created"] == 2

    again = _repair(github, app_key, tekton).run()
    assert (again.counts["created"], again.counts["made-by-this-run"]) == (0, 2)
    next_day = _repair(github, app_key, tekton, run_id="job-2").run()
    assert next_day.counts["created"] == 2
    assert len(_drift_runs(admin_tekton)) == 4


def test_the_orgs_synced_longest_ago_go_first_and_the_rest_wait_for_the_next_run(
    github, app_key, installed, kube_apiserver, namespace, admin_tekton, make_taskrun
) -> None:
    for iid in (1, 2, 3):
        github.add_installation(iid, f"org{iid}")
    make_taskrun(installation="1")  # synced just now (a push)
    tekton = as_account(kube_apiserver, namespace, "peribolos-drift-repair")

    summary = _repair(github, app_key, tekton, per_minute=1, max_run_time=timedelta(seconds=90)).run()

    assert (summary.counts["created"], summary.counts["deferred"]) == (2, 1)
    made = {t["metadata"]["labels"]["peribolos.dev/installation-id"] for t in _drift_runs(admin_tekton)}
    assert made == {"2", "3"}


def test_only_the_allowed_orgs_are_synced(github, app_key, installed, kube_apiserver, namespace,
                                          admin_tekton) -> None:
    github.add_installation(1, "Octo-Org")
    github.add_installation(2, "acme")
    tekton = as_account(kube_apiserver, namespace, "peribolos-drift-repair")
    summary = _repair(github, app_key, tekton, allowed_orgs=frozenset({"octo-org"})).run()
    assert (summary.counts["created"], summary.counts["not-allowed"]) == (1, 1)
    (run,) = _drift_runs(admin_tekton)
    assert run["metadata"]["labels"]["peribolos.dev/installation-id"] == "1"


def test_a_dry_run_has_the_api_server_check_each_taskrun_and_stores_none(
    github, app_key, installed, kube_apiserver, namespace, admin_tekton
) -> None:
    github.add_installation(1, "octo-org")
    tekton = as_account(kube_apiserver, namespace, "peribolos-drift-repair")
    summary = _repair(github, app_key, tekton, dry_run=True).run()
    assert summary.counts["created"] == 1 and summary.dry_run
    assert _drift_runs(admin_tekton) == []


def test_without_the_sync_template_nothing_is_asked_of_github(github, app_key, namespace,
                                                              admin_tekton) -> None:
    github.add_installation(1, "octo-org")
    with pytest.raises(ConfigError, match=r"TriggerTemplate peribolos-sync not found .*events.sync: true"):
        _repair(github, app_key, admin_tekton).run()
    assert github.requests == []


def test_a_template_drift_repair_cannot_fill_stops_the_run_before_anything(
    github, app_key, installed, kube_apiserver, namespace, admin_tekton
) -> None:
    github.add_installation(1, "octo-org")
    template = admin_tekton.trigger_template("peribolos-sync")
    template["spec"]["resourcetemplates"][0]["metadata"]["labels"]["extra"] = "$(tt.params.unknown)"
    client.CustomObjectsApi(kube_apiserver.api_client()).replace_namespaced_custom_object(
        "triggers.tekton.dev", "v1beta1", namespace, "triggertemplates", "peribolos-sync", template)
    with pytest.raises(ConfigError, match="no value for unknown"):
        _repair(github, app_key, admin_tekton).run()
    assert github.requests == [] and _drift_runs(admin_tekton) == []


def test_one_taskrun_refused_is_a_failed_line_and_the_others_are_made(
    github, app_key, installed, kube_apiserver, namespace, admin_tekton
) -> None:
    """A ValidatingAdmissionPolicy of the real API server refuses the TaskRun of installation 2."""
    github.add_installation(1, "org1")
    github.add_installation(2, "org2")
    github.add_installation(3, "org3")
    admission = client.AdmissionregistrationV1Api(kube_apiserver.api_client())
    name = f"refuse-org2-{namespace}"
    admission.create_validating_admission_policy({
        "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": name},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {"resourceRules": [{"apiGroups": ["tekton.dev"], "apiVersions": ["v1"],
                                                    "operations": ["CREATE"], "resources": ["taskruns"]}]},
            "validations": [{"expression": "object.metadata.labels['peribolos.dev/installation-id'] != '2'",
                             "message": "org2 is frozen"}],
        },
    })
    admission.create_validating_admission_policy_binding({
        "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": name},
        "spec": {"policyName": name, "validationActions": ["Deny"],
                 "matchResources": {"namespaceSelector": {"matchLabels": {
                     "kubernetes.io/metadata.name": namespace}}}},
    })
    try:
        tekton = as_account(kube_apiserver, namespace, "peribolos-drift-repair")
        deadline = datetime.now(UTC) + timedelta(seconds=30)
        summary = _repair(github, app_key, tekton).run()
        while summary.counts["failed"] == 0 and datetime.now(UTC) < deadline:
            # The policy takes a moment to reach the API server's admission; a later run skips what it made.
            summary = _repair(github, app_key, tekton, run_id=f"job-{datetime.now(UTC).timestamp()}").run()
        assert summary.counts["failed"] == 1 and summary.exit_code == 1
        assert summary.counts["created"] == 2
    finally:
        admission.delete_validating_admission_policy_binding(name)
        admission.delete_validating_admission_policy(name)


def test_the_drift_account_reads_no_other_template_and_deletes_nothing(
    installed, kube_apiserver, namespace, make_taskrun
) -> None:
    tekton = as_account(kube_apiserver, namespace, "peribolos-drift-repair")
    with pytest.raises(KubeForbidden):
        tekton.trigger_template("peribolos-install")
    run = make_taskrun()
    with pytest.raises(KubeForbidden):
        tekton.delete_taskrun(run["metadata"]["name"], run["metadata"]["uid"])
    core = client.CoreV1Api(kube_apiserver.api_client(
        kube_apiserver.service_account_kubeconfig(namespace, "peribolos-drift-repair")))
    with pytest.raises(client.exceptions.ApiException) as refused:
        core.list_namespaced_secret(namespace)
    assert refused.value.status == 403


def test_an_installation_whose_login_cannot_reach_a_taskrun_fails_alone(
    github, app_key, installed, kube_apiserver, namespace, admin_tekton
) -> None:
    github.add_installation(1, "octo-org")
    github.add_installation(2, "not/a-login")
    tekton = as_account(kube_apiserver, namespace, "peribolos-drift-repair")
    summary = _repair(github, app_key, tekton).run()
    assert (summary.counts["created"], summary.counts["failed"], summary.exit_code) == (1, 1, 1)
    (run,) = _drift_runs(admin_tekton)
    assert run["metadata"]["labels"]["peribolos.dev/installation-id"] == "1"
