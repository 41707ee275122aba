"""The maintenance template (``maintenance.yaml.j2``): the drift-repair and prune CronJobs, their
ServiceAccounts, Roles and NetworkPolicy follow the values, and what they run is what peribolos-maintain
accepts."""

from __future__ import annotations

from typing import Any

import pytest

from generator.errors import ValuesError
from generator.render import render_objects
from generator.values import load_schema, load_values
from tekton.maintenance import cli as maintain_cli
from tekton.maintenance.drift import DEFAULT_PER_MINUTE, MAX_PER_MINUTE, SYNC_TEMPLATE
from tekton.maintenance.prune import Policy

from .conftest import VALUES_DIR, flat_objects

DRIFT_ON = "driftRepair.schedule=0 3 * * *"


def _objects(*sets: str, case: str | None = None) -> list[dict[str, Any]]:
    files = [VALUES_DIR / f"{case}.yaml"] if case else []
    rendered = render_objects(load_values(files, list(sets)))
    return rendered.get("maintenance", [])


def _named(objects: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(o["kind"], o["metadata"]["name"]): o for o in objects}


def _pod(cronjob: dict[str, Any]) -> dict[str, Any]:
    return cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]


def _parses(command: list[str]) -> dict[str, Any]:
    """The options peribolos-maintain makes of ``command`` (parsed by its click group, not run)."""
    assert command[0] == "peribolos-maintain"
    sub = maintain_cli.cli.commands[command[1]]
    with sub.make_context(command[1], list(command[2:])) as ctx:
        return dict(ctx.params)


@pytest.mark.parametrize(
    ("sets", "case", "expected"),
    [
        pytest.param((), None, {"peribolos-prune"}, id="defaults: prune only"),
        pytest.param((DRIFT_ON,), None, {"peribolos-prune", "peribolos-drift-repair"}, id="drift on"),
        pytest.param((DRIFT_ON, "prune.enabled=false"), None, {"peribolos-drift-repair"}, id="prune off"),
        pytest.param(("prune.enabled=false",), None, set(), id="both off"),
    ],
)
def test_each_cronjob_comes_with_its_account_role_and_binding(
    sets: tuple[str, ...], case: str | None, expected: set[str]
) -> None:
    named = _named(_objects(*sets, case=case))
    for kind in ("CronJob", "ServiceAccount", "Role", "RoleBinding"):
        assert {name for k, name in named if k == kind} == expected, kind
    assert (("NetworkPolicy", "peribolos-maintenance") in named) is bool(expected)
    for name in expected:
        assert named[("ServiceAccount", name)]["automountServiceAccountToken"] is False
        pod = _pod(named[("CronJob", name)])
        assert pod["serviceAccountName"] == name
        assert pod["automountServiceAccountToken"] is True  # only the pod that calls the API gets a token
        assert named[("RoleBinding", name)]["roleRef"]["name"] == name


def test_no_maintenance_network_policy_when_policies_are_off() -> None:
    named = _named(_objects(DRIFT_ON, "networkPolicy.enabled=false"))
    assert ("CronJob", "peribolos-drift-repair") in named
    assert not [k for k in named if k[0] == "NetworkPolicy"]


def test_drift_repair_runs_with_the_config_location_pace_allowed_orgs_and_run_id() -> None:
    named = _named(_objects(DRIFT_ON, "driftRepair.taskRunsPerMinute=3", case="ghes-ingress"))
    cronjob = named[("CronJob", "peribolos-drift-repair")]
    assert cronjob["spec"]["schedule"] == "0 3 * * *"
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
    deadline = cronjob["spec"]["jobTemplate"]["spec"]["activeDeadlineSeconds"]
    (container,) = _pod(cronjob)["containers"]
    params = _parses(container["command"])
    assert params["config_repo"] == "org-config" and params["config_path"] == "orgs/peribolos.yaml"
    assert params["taskruns_per_minute"] == 3
    assert params["allowed_orgs"] == "platform,infra"
    assert params["max_run_time"].total_seconds() == deadline - 300
    env = {e["name"]: e for e in container["env"]}
    assert env["RUN_ID"]["valueFrom"]["fieldRef"]["fieldPath"] == (
        "metadata.labels['batch.kubernetes.io/job-name']"
    )
    assert env["GITHUB_API_URL"]["value"] == "https://github.example.com/api/v3"
    assert "secretKeyRef" in env["GITHUB_APP_ID"]["valueFrom"]
    (key,) = [v for v in _pod(cronjob)["volumes"] if "secret" in v]
    app = load_values([VALUES_DIR / "ghes-ingress.yaml"]).data["githubApp"]
    assert key["secret"]["secretName"] == app["secretName"]
    assert key["secret"]["items"] == [{"key": app["privateKeyKey"], "path": "private-key.pem"}]


def test_drift_repair_may_read_only_the_sync_template_it_instantiates() -> None:
    objects = render_objects(load_values([], [DRIFT_ON]))
    templates = [o["metadata"]["name"] for o in objects["triggers"] if o["kind"] == "TriggerTemplate"]
    assert SYNC_TEMPLATE in templates
    role = _named(objects["maintenance"])[("Role", "peribolos-drift-repair")]
    (read,) = [r for r in role["rules"] if r["resources"] == ["triggertemplates"]]
    assert read["resourceNames"] == [SYNC_TEMPLATE] and read["verbs"] == ["get"]


def test_prune_runs_with_the_policy_of_the_values() -> None:
    named = _named(flat_objects("pinned-scheduled"))
    cronjob = named[("CronJob", "peribolos-prune")]
    assert cronjob["spec"]["schedule"] == "@hourly"
    (container,) = _pod(cronjob)["containers"]
    params = _parses(container["command"])
    policy = Policy(params["keep_successful"], params["keep_failed"], params["max_success_age"],
                    params["max_failure_age"])
    assert (policy.keep_successful, policy.keep_failed) == (3, 10)
    assert policy.max_success_age.total_seconds() == 36 * 3600
    assert policy.max_failure_age.days == 14
    assert params["dry_run"] is True
    assert "volumes" not in _pod(cronjob) or not [v for v in _pod(cronjob)["volumes"] if "secret" in v]
    assert not [e for e in container["env"] if "secretKeyRef" in e.get("valueFrom", {})]


def test_defaults_agree_with_the_program() -> None:
    """The values' defaults and bounds are the program's: one pace limit, one prune policy."""
    values = load_values([]).data
    schema = load_schema()["properties"]
    assert values["driftRepair"]["taskRunsPerMinute"] == DEFAULT_PER_MINUTE
    assert schema["driftRepair"]["properties"]["taskRunsPerMinute"]["maximum"] == MAX_PER_MINUTE
    named = _named(_objects())
    (container,) = _pod(named[("CronJob", "peribolos-prune")])["containers"]
    params = _parses(container["command"])
    assert Policy(params["keep_successful"], params["keep_failed"], params["max_success_age"],
                  params["max_failure_age"]) == Policy()
    assert values["driftRepair"]["schedule"] == ""  # off by default


@pytest.mark.parametrize(
    ("sets", "message"),
    [
        pytest.param((DRIFT_ON, "events.sync=false"), "driftRepair.schedule: requires events.sync: true",
                     id="needs sync"),
        pytest.param(("driftRepair.schedule=0 3 * *",), "must be a cron schedule", id="four fields"),
        pytest.param(("driftRepair.taskRunsPerMinute=9",), "driftRepair.taskRunsPerMinute", id="too fast"),
        pytest.param(("prune.maxSuccessAge=7 days",), "must be a duration such as 7d", id="bad age"),
        pytest.param(("prune.keepFailed=-1",), "prune.keepFailed", id="negative count"),
    ],
)
def test_bad_maintenance_values_are_refused_with_the_key(sets: tuple[str, ...], message: str) -> None:
    with pytest.raises(ValuesError) as caught:
        load_values([], list(sets))
    assert message in str(caught.value)
