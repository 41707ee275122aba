"""The action table: its checks, the lookups, and a new row reaching every consumer (decide, report, the
rendered Triggers/templates/Tasks with their event types, the App manifest)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from generator import app_manifest
from generator.render import render_objects
from generator.values import Values, load_schema, load_values
from peribolos_core.actions import (
    ACTIONS,
    ALWAYS_DELIVERED,
    CONFIG_KEYS,
    Action,
    ActionTable,
    Event,
    stronger,
)
from tekton.interceptor.decision import FAILED_PRECONDITION, KNOWN_EVENTS, Config, decide
from tekton.steps.cli import cli as step_cli
from tekton.steps.report import Facts, conclude, config_actions
from tekton.steps.state import OK, Record
from tests.interceptor.conftest import HEAD_SHA, config_check_run, config_pull_request

AUDIT = Action(
    "audit",
    values_key="audit",
    events=(Event("pull_request", ("closed",)), Event("check_run", ("rerequested",))),
    summary="Run peribolos without --confirm when a pull request closes and report it.",
    check_run="peribolos/audit",
    title="audit",
    reads_config=True,
    mints=True,
    permissions={"contents": "read", "checks": "write", "issues": "write"},
)
WITH_AUDIT = ActionTable([*ACTIONS, AUDIT])


def test_the_table_holds_the_design_cards_decision_table() -> None:
    rows = {
        (event.name, action): row.name
        for row in ACTIONS for event in row.events if not event.also for action in event.actions or ("",)
    }
    assert rows == {
        ("installation", "created"): "install",
        ("installation", "unsuspend"): "install",
        ("installation", "new_permissions_accepted"): "install",
        ("installation_repositories", "added"): "install",
        ("installation_repositories", "removed"): "install",
        ("installation", "deleted"): "uninstall",
        ("installation", "suspend"): "uninstall",
        ("push", ""): "sync",
        ("check_run", "rerequested"): "dry-run",  # and sync: told apart by the check run's name
        ("pull_request", "opened"): "dry-run",
        ("pull_request", "synchronize"): "dry-run",
        ("pull_request", "reopened"): "dry-run",
    }
    assert ACTIONS.check_run_names == ("peribolos/sync", "peribolos/dry-run")
    assert [row.resource for row in ACTIONS] == ["peribolos-install", "peribolos-uninstall", "peribolos-sync",
                                             "peribolos-dry-run"]
    # One event, two TaskRuns: the config repository added to the App's repositories also syncs it.
    assert [row.name for row in ACTIONS.also_for("installation_repositories", "added")] == ["sync"]
    assert ACTIONS.also_for("installation_repositories", "removed") == []


def test_identities_and_taskrun_names() -> None:
    assert [row.service_account for row in ACTIONS] == [
        "peribolos-install", "peribolos-uninstall", "peribolos-sync", "peribolos-sync"]
    assert [row.name for row in ACTIONS if row.locks] == ["sync"]
    assert [row.token_secrets for row in ACTIONS] == [
        ("get", "create", "update", "patch"), ("delete",), (), ()]
    guid = "72d3162e-cc78-11e3-81ab-4c9367dc0958"
    names = [row.taskrun_name(guid) for row in ACTIONS]
    assert names[2] == f"peribolos-sync-{guid}"
    # Tekton names the Pod <TaskRun>-pod and labels it with the TaskRun's name: 63 characters at most.
    assert max(len(n) for n in names) + len("-pod") <= 63
    assert ACTIONS.delivery_id_limit >= len(guid)


@pytest.mark.parametrize(
    ("event", "action", "expected"),
    [
        ("installation", "created", "install"),
        ("installation", "suspend", "uninstall"),
        ("installation", "new_permissions_accepted", "install"),
        ("installation_repositories", "removed", "install"),
        ("installation", "renamed", None),
        ("push", None, "sync"),
        ("pull_request", "synchronize", "dry-run"),
        ("pull_request", "closed", None),
        ("check_run", "rerequested", None),
        ("ping", None, None),
    ],
    ids=["created", "suspend", "permissions", "repositories", "renamed", "push", "pr", "pr-closed",
         "check-run-by-name-only", "ping"],
)
def test_for_event(event: str, action: str | None, expected: str | None) -> None:
    row = ACTIONS.for_event(event, action)
    assert (row.name if row else None) == expected


@pytest.mark.parametrize(
    ("name", "action", "expected"),
    [("peribolos/sync", "rerequested", "sync"), ("peribolos/dry-run", "rerequested", "dry-run"),
     ("peribolos/sync", "created", None), ("ci/build", "rerequested", None)],
    ids=["sync", "dry-run", "not-rerequested", "not-ours"],
)
def test_for_check_run(name: str, action: str, expected: str | None) -> None:
    row = ACTIONS.for_check_run(name, action)
    assert (row.name if row else None) == expected


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([*ACTIONS, ACTIONS.rows[0]], "action names repeated: install"),
        ([*ACTIONS, Action("again", "dryRun", (Event("push"),), "x")], "values keys repeated: dryRun"),
        ([*ACTIONS, Action("x", "x", (Event("push"),), "x")], "events leading to two actions: push"),
        ([*ACTIONS, Action("x", "x", (Event("pull_request", ("opened",)),), "x")],
         "events leading to two actions: pull_request opened"),
        ([Action("x", "x", (Event("check_run", ("rerequested",)),), "x")], "needs a check-run name"),
        ([Action("x", "x", (Event("push"),), "x", check_run="peribolos/x")], "needs a check-run name"),
        ([*ACTIONS, Action("x", "x", (Event("check_run", ("rerequested",)),), "x",
                           check_run="peribolos/sync")], "check-run names repeated: peribolos/sync"),
        ([Action("x", "x", (Event("push"),), "x", permissions={"checks": "admin"})], "permission level"),
        ([*ACTIONS, Action("x", "x", (Event("installation_repositories", ("added",)),), "x")],
         "events leading to two actions: installation_repositories added"),
    ],
    ids=["name", "values-key", "event", "event-action", "check-run-without-name", "name-without-check-run",
         "check-run-name", "permission-level", "owned-twice"],
)
def test_an_ambiguous_table_is_refused(rows: list[Action], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ActionTable(rows)


@pytest.mark.parametrize(
    ("a", "b", "strongest"),
    [("read", "write", "write"), ("write", "read", "write"), (None, "read", "read"), ("read", None, "read"),
     (None, None, None)],
    ids=["read-write", "write-read", "none-read", "read-none", "none"],
)
def test_stronger(a: str | None, b: str | None, strongest: str | None) -> None:
    assert stronger(a, b) == strongest


# --- the table agrees with what consumes it --------------------------------------------------------------


def test_every_event_of_the_table_has_a_decision() -> None:
    assert ACTIONS.event_names <= KNOWN_EVENTS


def test_the_values_schema_wires_exactly_the_tables_rows() -> None:
    wired = load_schema()["properties"]["events"]["properties"]
    assert set(wired) == {row.values_key for row in ACTIONS}


def test_the_config_steps_take_exactly_the_tables_config_actions() -> None:
    for command in ("prepare", "report"):
        [action] = [p for p in step_cli.commands[command].params if p.name == "action"]
        assert tuple(action.type.choices) == config_actions() == ("sync", "dry-run")


# --- a new row reaches every consumer --------------------------------------------------------------------


def test_a_new_row_reaches_decide() -> None:
    config = Config(table=WITH_AUDIT, app_id=2)
    closed = decide("pull_request", config_pull_request("closed"), config, "d-1")
    assert (closed.proceed, closed.action) == (True, "audit")
    assert set(CONFIG_KEYS) <= set(closed.extensions)
    rerun = decide("check_run", config_check_run("peribolos/audit"), config, "d-2")
    assert (rerun.proceed, rerun.action, rerun.extensions["revision"]) == (True, "audit", HEAD_SHA)
    assert config.with_params({"actions": ["audit"]}).actions == {"audit"}
    # Without the row: nothing to do, as before.
    assert decide("pull_request", config_pull_request("closed"), Config(), "d-3").code == FAILED_PRECONDITION
    with pytest.raises(ValueError, match="actions must be"):
        Config().with_params({"actions": ["audit"]})


def test_a_new_row_reaches_report() -> None:
    assert config_actions(WITH_AUDIT)[-1] == "audit"
    done = Record("prepare", OK, revision=HEAD_SHA)
    facts = Facts(AUDIT, "peribolos", HEAD_SHA, done, Record("fetch-config", OK), 0, "")
    outcome = conclude(facts)
    assert outcome.conclusion == "success" and "audit of `" in outcome.summary
    assert not outcome.taskrun_fails(AUDIT)


def _values_with_audit() -> Values:
    values = load_values()
    data = copy.deepcopy(values.data)
    data["events"]["audit"] = True
    return Values(data=data)


def _objects(table: ActionTable) -> dict[tuple[str, str], dict[str, Any]]:
    rendered = render_objects(_values_with_audit(), table)
    return {(obj["kind"], obj["metadata"]["name"]): obj for objects in rendered.values() for obj in objects}


def test_a_new_row_reaches_the_rendered_trigger_template_and_task() -> None:
    objects = _objects(WITH_AUDIT)
    listener = objects[("EventListener", "peribolos")]
    [trigger] = [t for t in listener["spec"]["triggers"] if t["name"] == "peribolos-audit"]
    interceptors = {i["name"]: {p["name"]: p["value"] for p in i["params"]} for i in trigger["interceptors"]}
    assert interceptors["github"]["eventTypes"] == ["pull_request", "check_run"]
    assert interceptors["peribolos"]["actions"] == ["audit"]
    assert [b["ref"] for b in trigger["bindings"]] == ["peribolos-installation", "peribolos-config"]
    assert trigger["template"]["ref"] == "peribolos-audit"

    template = objects[("TriggerTemplate", "peribolos-audit")]
    [taskrun] = template["spec"]["resourcetemplates"]
    assert taskrun["spec"]["taskRef"] == {"kind": "Task", "name": "peribolos-audit"}
    assert taskrun["metadata"]["labels"]["peribolos.dev/action"] == "audit"
    assert taskrun["metadata"]["name"] == "peribolos-audit-$(tt.params.delivery_id)"
    assert taskrun["spec"]["serviceAccountName"] == "peribolos-audit"

    task = objects[("Task", "peribolos-audit")]
    assert task["spec"]["description"] == AUDIT.summary
    steps = {step["name"]: step for step in task["spec"]["steps"]}
    assert list(steps) == ["prepare", "fetch-config", "peribolos", "report"]
    report = steps["report"]["command"]
    assert report[report.index("--action") + 1] == "audit"
    assert "--confirm" not in steps["peribolos"]["args"] and "--holder" not in steps["prepare"]["command"]
    # Its own identity, with what a config-reading Task needs and no Lease (it applies nothing).
    assert objects[("ServiceAccount", "peribolos-audit")]["automountServiceAccountToken"] is False
    assert objects[("Role", "peribolos-audit")]["rules"] == [
        {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]}]
    # The default table renders none of it.
    assert not {key for key in _objects(ACTIONS) if key[1] == "peribolos-audit"}


def test_a_new_row_reaches_the_app_manifest() -> None:
    v = _values_with_audit().data
    v["githubApp"]["webhookUrl"] = "https://hooks.example/peribolos"
    manifest = app_manifest.build(v, WITH_AUDIT)
    assert manifest["default_permissions"]["issues"] == "write"
    assert set(manifest["default_events"]) == {"check_run", "pull_request", "push"}
    only_audit = copy.deepcopy(v)
    only_audit["events"] = {"install": True, "uninstall": True, "sync": False, "dryRun": False, "audit": True}
    audit_manifest = app_manifest.build(only_audit, WITH_AUDIT)
    assert audit_manifest["default_events"] == ["check_run", "pull_request"]
    assert audit_manifest["default_permissions"]["members"] == "read", "a row without --confirm reads only"
    assert not set(audit_manifest["default_events"]) & ALWAYS_DELIVERED
