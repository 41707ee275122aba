"""A TriggerTemplate's TaskRun made as Triggers makes it, and the drift run's marks: pure, table-driven,
and against the TriggerTemplate the generator renders."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest

from peribolos_core.errors import ConfigError
from peribolos_core.github import Installation
from tekton.maintenance.template import (
    TemplateError,
    delivery_id,
    drift_taskrun,
    drift_values,
    instantiate,
    mark_drift_run,
)
from tests.maintenance.conftest import rendered

ORG = Installation(1001, "Octo-Org", "Organization", False)


def _template(resource: dict[str, Any], params: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"metadata": {"name": "tt"}, "spec": {"params": params or [], "resourcetemplates": [resource]}}


@pytest.mark.parametrize(
    ("params", "resource", "values", "expected"),
    [
        pytest.param([{"name": "a"}], {"v": "x-$(tt.params.a)-y"}, {"a": "1"}, {"v": "x-1-y"},
                     id="substitutes"),
        pytest.param([{"name": "a", "default": "d"}], {"v": "$(tt.params.a)"}, {}, {"v": "d"}, id="default"),
        pytest.param([{"name": "a", "default": "d"}], {"v": "$(tt.params.a)"}, {"a": ""}, {"v": ""},
                     id="empty value beats the default"),
        pytest.param([], {"v": "$(tt.params.b)"}, {"b": "2"}, {"v": "2"}, id="undeclared but given"),
        pytest.param([{"name": "a"}], {"v": "$(tt.params.a)"}, {"a": "$(params.x)"}, {"v": "$$(params.x)"},
                     id="a value never becomes a Tekton variable"),
        pytest.param([{"name": "a"}], {"v": "$(tt.params.a)"}, {"a": 'say "hi"\n'}, {"v": 'say "hi"\n'},
                     id="quotes and newlines stay text"),
        pytest.param([], {"name": "run-$(uid)", "v": "$(uid)"}, {}, {"name": "run-U", "v": "U"}, id="uid"),
        pytest.param([{"name": "a"}], {"l": ["$(tt.params.a)", {"k": "$(tt.params.a)"}]}, {"a": "z"},
                     {"l": ["z", {"k": "z"}]}, id="everywhere in the object"),
    ],
)
def test_instantiate_as_triggers_does(params: list[dict[str, Any]], resource: dict[str, Any],
                                      values: dict[str, str], expected: dict[str, Any]) -> None:
    assert instantiate(_template(resource, params), values, uid="U") == [expected]


@pytest.mark.parametrize(
    ("template", "message"),
    [
        pytest.param(_template({"v": "$(tt.params.a)"}, [{"name": "a"}]), "no value for a", id="no default"),
        pytest.param(_template({"v": "$(tt.params.zz) $(tt.params.a)"}), "no value for a, zz",
                     id="undeclared, each named once"),
        pytest.param({"metadata": {"name": "tt"}, "spec": {}}, "has no resourcetemplates", id="empty"),
    ],
)
def test_a_template_it_cannot_fill_is_an_error_naming_what_is_missing(template: dict[str, Any],
                                                                     message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        instantiate(template, {}, uid="U")


def test_delivery_ids_are_guids_the_same_for_the_same_run_and_installation() -> None:
    first = delivery_id("peribolos-drift-repair-29000000", 1001)
    assert uuid.UUID(first).version == 5
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", first)
    assert first == delivery_id("peribolos-drift-repair-29000000", 1001)
    assert len({first, delivery_id("peribolos-drift-repair-29000000", 1002),
                delivery_id("peribolos-drift-repair-29001440", 1001)}) == 3


def test_drift_values_are_a_push_decision_at_no_revision() -> None:
    values = drift_values(ORG, run_id="r", config_repo=".github", config_path="peribolos.yaml")
    assert values == {
        "installation_id": "1001", "org": "Octo-Org", "secret_name": "peribolos-token-1001",
        "delivery_id": delivery_id("r", 1001), "repo": "Octo-Org/.github", "revision": "", "ref": "",
        "config_path": "peribolos.yaml", "check_run_when": "changed-or-failed", "trigger": "drift-repair",
    }


@pytest.mark.parametrize("login", ["bad/login", "-x", "a b", ""], ids=["slash", "dash", "space", "empty"])
def test_a_login_github_would_not_allow_never_reaches_a_taskrun(login: str) -> None:
    with pytest.raises(ConfigError):
        drift_values(Installation(7, login, "Organization", False), run_id="r", config_repo=".github",
                     config_path="p.yaml")


@pytest.mark.parametrize(
    "params",
    [
        pytest.param([{"name": "revision", "value": ""}], id="adds check_run_when"),
        pytest.param([{"name": "check_run_when", "value": "always"}, {"name": "revision", "value": ""}],
                     id="replaces check_run_when"),
        pytest.param([], id="no params at all"),
    ],
)
def test_marks_label_annotation_and_check_run_when(params: list[dict[str, str]]) -> None:
    taskrun = {"metadata": {"labels": {"peribolos.dev/action": "sync"}}, "spec": {"params": params}}
    marked = mark_drift_run(taskrun, "job-1")
    assert marked["metadata"]["labels"] == {"peribolos.dev/action": "sync",
                                            "peribolos.dev/trigger": "drift-repair"}
    assert marked["metadata"]["annotations"] == {"peribolos.dev/drift-run": "job-1"}
    reports = [p for p in marked["spec"]["params"] if p["name"] == "check_run_when"]
    assert reports == [{"name": "check_run_when", "value": "changed-or-failed"}]
    assert [p for p in marked["spec"]["params"] if p["name"] != "check_run_when"] == [
        p for p in params if p["name"] != "check_run_when"
    ]
    assert taskrun["spec"]["params"] == params  # the input is left as it was


def _sync_template(*sets: str) -> dict[str, Any]:
    (template,) = [o for o in rendered("peribolos", *sets)
                   if o["kind"] == "TriggerTemplate" and o["metadata"]["name"] == "peribolos-sync"]
    return template


def test_every_param_of_a_drift_taskrun_is_one_the_rendered_sync_task_declares() -> None:
    """Tekton would pass an undeclared param silently unused: the Task must declare each one drift sets,
    and the value of ``check_run_when`` must be one prepare and report accept."""
    from peribolos_core.actions import CHECK_RUN_WHEN

    taskrun = drift_taskrun(_sync_template(), ORG, run_id="job-1", config_repo=".github",
                            config_path="peribolos.yaml")
    (task,) = [o for o in rendered("peribolos")
               if o["kind"] == "Task" and o["metadata"]["name"] == "peribolos-sync"]
    declared = {p["name"] for p in task["spec"]["params"]}
    given = {p["name"]: p["value"] for p in taskrun["spec"]["params"]}
    assert set(given) <= declared, set(given) - declared
    assert given["check_run_when"] in CHECK_RUN_WHEN


def test_from_the_rendered_template_a_drift_taskrun_is_the_eventlisteners_sync_taskrun() -> None:
    template = _sync_template()
    taskrun = drift_taskrun(template, ORG, run_id="job-1", config_repo=".github",
                            config_path="peribolos.yaml")
    # What the EventListener makes of the same template for a push, from the interceptor's extensions.
    webhook = dict(drift_values(ORG, run_id="job-1", config_repo=".github", config_path="peribolos.yaml"))
    webhook.update(revision="a" * 40, ref="refs/heads/main")
    (eventlistener_run,) = instantiate(template, webhook, uid="x")
    assert taskrun["spec"]["taskRef"] == eventlistener_run["spec"]["taskRef"] == {"kind": "Task",
                                                                                 "name": "peribolos-sync"}
    for key in ("serviceAccountName", "timeout", "podTemplate"):
        assert taskrun["spec"][key] == eventlistener_run["spec"][key], key
    labels = taskrun["metadata"]["labels"]
    assert labels["peribolos.dev/action"] == "sync" and labels["peribolos.dev/installation-id"] == "1001"
    assert labels["peribolos.dev/trigger"] == "drift-repair"
    assert "peribolos.dev/trigger" not in eventlistener_run["metadata"]["labels"]
    assert taskrun["metadata"]["annotations"]["peribolos.dev/delivery-id"] == delivery_id("job-1", 1001)
    params = {p["name"]: p["value"] for p in taskrun["spec"]["params"]}
    assert params == {"installation_id": "1001", "org": "Octo-Org", "repo": "Octo-Org/.github",
                      "revision": "", "ref": "", "config_path": "peribolos.yaml",
                      "check_run_when": "changed-or-failed"}


def test_the_config_location_of_the_values_reaches_the_taskrun() -> None:
    template = _sync_template("config.repo=org-config", "config.path=orgs/p.yaml")
    taskrun = drift_taskrun(template, ORG, run_id="j", config_repo="org-config", config_path="orgs/p.yaml")
    params = {p["name"]: p["value"] for p in taskrun["spec"]["params"]}
    assert (params["repo"], params["config_path"]) == ("Octo-Org/org-config", "orgs/p.yaml")


@pytest.mark.parametrize(
    "resources",
    [
        pytest.param([{"kind": "PipelineRun"}], id="not a TaskRun"),
        pytest.param([{"kind": "TaskRun"}, {"kind": "TaskRun"}], id="two TaskRuns"),
    ],
)
def test_a_template_that_is_not_one_taskrun_is_refused(resources: list[dict[str, Any]]) -> None:
    template = {"metadata": {"name": "peribolos-sync"}, "spec": {"resourcetemplates": resources}}
    with pytest.raises(TemplateError, match="drift repair expects one TaskRun"):
        drift_taskrun(template, ORG, run_id="j", config_repo=".github", config_path="p.yaml")
