"""Every row of the decision table, from the real octokit payloads and variants derived from them."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from tekton.interceptor.decision import (
    CONFIG_KEYS,
    EXTENSION_KEYS,
    FAILED_PRECONDITION,
    INSTALLATION_KEYS,
    INVALID_ARGUMENT,
    MAX_PUSH_COMMITS,
    Config,
    Decision,
)
from tekton.interceptor.decision import decide as _decide
from tests.interceptor.conftest import (
    AFTER_SHA,
    HEAD_SHA,
    ORG,
    config_check_run,
    config_pull_request,
    config_push,
    load,
    org_installation,
)

DEFAULT = Config(app_id=2)
"""As the interceptor runs: with the App id (the check-run fixtures' App is 2)."""
DELIVERY = "72d3162e-cc78-11e3-81ab-4c9367dc0958"


def decide(event: str, payload: Any, config: Config, delivery_id: str = DELIVERY) -> Decision:
    """The decision, for a delivery with a GUID as GitHub sends (its own tests below)."""
    return _decide(event, payload, config, delivery_id)


def _with(payload: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """``payload`` with the field at dotted ``path`` set to ``value`` (``...`` deletes it)."""
    node = payload
    *parents, last = path.split(".")
    for part in parents:
        node = node[part]
    if value is ...:
        node.pop(last, None)
    else:
        node[last] = value
    return payload


def _commits(count: int, touching_last: bool = False) -> list[dict[str, Any]]:
    commits = [
        {
            "id": f"{i:040x}",
            "message": f"commit {i}",
            "added": [f"docs/{i}.md"],
            "modified": [],
            "removed": [],
        }
        for i in range(count)
    ]
    if touching_last:
        commits[-1]["modified"] = ["peribolos.yaml"]
    return commits


# --- rows that proceed ------------------------------------------------------------------------------

INSTALL_ROWS = [
    ("installation", "installation/created", "install"),
    ("installation", "installation/unsuspend", "install"),
    ("installation", "installation/new_permissions_accepted", "install"),
    ("installation", "installation/deleted", "uninstall"),
    ("installation", "installation/suspend", "uninstall"),
    ("installation_repositories", "installation_repositories/added", "install"),
]


@pytest.mark.parametrize(("event", "fixture", "action"), INSTALL_ROWS, ids=[r[1] for r in INSTALL_ROWS])
def test_installation_events_of_an_organization(event: str, fixture: str, action: str) -> None:
    payload = org_installation(fixture)
    decision = decide(event, payload, DEFAULT, delivery_id="d-1")
    installation_id = str(payload["installation"]["id"])
    assert decision.proceed and decision.code == 0
    assert dict(decision.extensions) == {
        "action": action,
        "installation_id": installation_id,
        "org": ORG,
        "secret_name": f"peribolos-token-{installation_id}",
        "delivery_id": "d-1",
    }


def test_installation_repositories_removed_re_mints() -> None:
    payload = org_installation("installation_repositories/added")
    payload["action"] = "removed"
    assert decide("installation_repositories", payload, DEFAULT).action == "install"


PUSH_ROWS: list[tuple[str, Callable[[], dict[str, Any]], Config]] = [
    ("config-modified", lambda: config_push(), DEFAULT),
    (
        "config-added",
        lambda: config_push({"added": ["peribolos.yaml"], "modified": [], "removed": []}),
        DEFAULT,
    ),
    (
        "config-removed",
        lambda: config_push({"added": [], "modified": [], "removed": ["peribolos.yaml"]}),
        DEFAULT,
    ),
    ("forced-no-commits", lambda: config_push(forced=True, commits=[]), DEFAULT),
    (
        "forced-commits-elsewhere",
        lambda: config_push({"added": ["README.md"], "modified": [], "removed": []}, forced=True),
        DEFAULT,
    ),
    ("no-commits-listed", lambda: config_push(commits=[]), DEFAULT),
    ("commits-key-absent", lambda: _with(config_push(), "commits", ...), DEFAULT),
    ("file-lists-absent", lambda: config_push({}), DEFAULT),
    ("2048-commits-truncated", lambda: config_push(commits=_commits(MAX_PUSH_COMMITS)), DEFAULT),
    ("2047-commits-last-touches", lambda: config_push(commits=_commits(MAX_PUSH_COMMITS - 1, True)), DEFAULT),
    (
        "unicode-commit-message",
        lambda: config_push(
            commits=[
                {
                    "id": AFTER_SHA,
                    "message": "Ajoute l'équipe 🚀 — 新しいチーム\u2028",
                    "added": [],
                    "modified": ["peribolos.yaml"],
                    "removed": [],
                }
            ]
        ),
        DEFAULT,
    ),
    (
        "custom-path",
        lambda: config_push({"added": [], "modified": ["org/config.yaml"], "removed": []}),
        Config(config_path="org/config.yaml"),
    ),
    (
        "custom-repo",
        lambda: _with(
            _with(config_push(), "repository.name", "org-config"), "repository.full_name", f"{ORG}/org-config"
        ),
        Config(config_repo="org-config"),
    ),
    (
        "repo-name-case",
        lambda: _with(
            _with(config_push(), "repository.name", ".GitHub"), "repository.full_name", f"{ORG}/.GitHub"
        ),
        DEFAULT,
    ),
    ("allowed-org-any-case", lambda: config_push(), Config(allowed_orgs=frozenset({"octo-org"}))),
]


@pytest.mark.parametrize(("make", "config"), [r[1:] for r in PUSH_ROWS], ids=[r[0] for r in PUSH_ROWS])
def test_push_that_syncs(make: Callable[[], dict[str, Any]], config: Config) -> None:
    payload = make()
    decision = decide("push", payload, config, delivery_id="d-2")
    assert decision.proceed, decision.reason
    assert dict(decision.extensions) == {
        "action": "sync",
        "installation_id": "4242",
        "org": ORG,
        "secret_name": "peribolos-token-4242",
        "repo": payload["repository"]["full_name"],
        "revision": AFTER_SHA,
        "ref": "refs/heads/main",
        "config_path": config.config_path,
        "delivery_id": "d-2",
    }


@pytest.mark.parametrize("action", ["opened", "synchronize", "reopened"])
def test_pull_request_to_the_config_repo_dry_runs_at_the_head(action: str) -> None:
    payload = config_pull_request(action)
    decision = decide("pull_request", payload, DEFAULT, delivery_id="d-3")
    assert decision.proceed, decision.reason
    assert dict(decision.extensions) == {
        "action": "dry-run",
        "installation_id": "4242",
        "org": ORG,
        "secret_name": "peribolos-token-4242",
        "repo": f"{ORG}/.github",
        "revision": HEAD_SHA,
        "ref": f"refs/pull/{payload['number']}/head",
        "config_path": "peribolos.yaml",
        "delivery_id": "d-3",
    }


CHECK_RUN_ROWS = [
    ("sync", "peribolos/sync", DEFAULT, "sync", "refs/heads/main"),
    ("dry-run", "peribolos/dry-run", DEFAULT, "dry-run", "refs/pull/2/head"),
]


@pytest.mark.parametrize(
    ("name", "config", "action", "ref"), [r[1:] for r in CHECK_RUN_ROWS], ids=[r[0] for r in CHECK_RUN_ROWS]
)
def test_check_run_rerequested_runs_ours_again(name: str, config: Config, action: str, ref: str) -> None:
    payload = config_check_run(name)
    payload["check_run"]["pull_requests"] = [{"number": 2, "head": {"sha": HEAD_SHA}}]
    decision = decide("check_run", payload, config)
    assert decision.proceed, decision.reason
    assert decision.action == action
    assert decision.extensions["revision"] == HEAD_SHA
    assert decision.extensions["ref"] == ref
    assert decision.extensions["repo"] == f"{ORG}/.github"


# --- rows that stop: code 9, the event is fine but peribolos does nothing ----------------------------

SKIP_ROWS: list[tuple[str, str, Callable[[], Any], Config, str]] = [
    ("ping", "ping", lambda: load("ping/with-app_id"), DEFAULT, "ping"),
    ("other-event", "issues", lambda: {"action": "opened"}, DEFAULT, "not one peribolos acts on"),
    (
        "installation-user-account",
        "installation",
        lambda: load("installation/created"),
        DEFAULT,
        "organizations only",
    ),
    (
        "installation-user-deleted",
        "installation",
        lambda: load("installation/deleted"),
        DEFAULT,
        "organizations only",
    ),
    (
        "installation-repositories-user",
        "installation_repositories",
        lambda: load("installation_repositories/added"),
        DEFAULT,
        "organizations only",
    ),
    (
        "installation-other-action",
        "installation",
        lambda: _with(org_installation("installation/created"), "action", "new_permissions_requested"),
        DEFAULT,
        "needs nothing",
    ),
    (
        "installation-org-not-allowed",
        "installation",
        lambda: org_installation("installation/created"),
        Config(allowed_orgs=frozenset({"someone-else"})),
        "not in --allowed-orgs",
    ),
    (
        "push-fixture-tag-deleted-user-repo",
        "push",
        lambda: load("push/with-installation"),
        DEFAULT,
        "organizations only",
    ),
    (
        "push-fixture-org-other-owner",
        "push",
        lambda: _with(load("push/with-organization"), "installation", {"id": 1}),
        DEFAULT,
        "not owned by",
    ),
    (
        "push-other-repo",
        "push",
        lambda: _with(
            _with(config_push(), "repository.name", "website"), "repository.full_name", f"{ORG}/website"
        ),
        DEFAULT,
        "not the config repo",
    ),
    ("push-other-branch", "push", lambda: config_push(ref="refs/heads/feature"), DEFAULT, "default branch"),
    ("push-tag", "push", lambda: config_push(ref="refs/tags/v1.0.0"), DEFAULT, "tag"),
    (
        "push-deleted-branch",
        "push",
        lambda: config_push(ref="refs/heads/main", deleted=True, after="0" * 40, commits=[]),
        DEFAULT,
        "deleted",
    ),
    (
        "push-config-untouched",
        "push",
        lambda: config_push({"added": ["README.md"], "modified": ["teams.md"], "removed": ["old.yaml"]}),
        DEFAULT,
        "no commit",
    ),
    (
        "push-same-name-other-dir",
        "push",
        lambda: config_push({"added": [], "modified": ["docs/peribolos.yaml"], "removed": []}),
        DEFAULT,
        "no commit",
    ),
    (
        "push-2047-commits-untouched",
        "push",
        lambda: config_push(commits=_commits(MAX_PUSH_COMMITS - 1)),
        DEFAULT,
        "no commit",
    ),
    (
        "push-user-account",
        "push",
        lambda: _with(_with(config_push(), "organization", ...), "repository.owner.type", "User"),
        DEFAULT,
        "organizations only",
    ),
    (
        "push-org-not-allowed",
        "push",
        lambda: config_push(),
        Config(allowed_orgs=frozenset({"a", "b"})),
        "not in --allowed-orgs",
    ),
    (
        "pull-request-fixture",
        "pull_request",
        lambda: load("pull_request/synchronize"),
        DEFAULT,
        "organizations only",
    ),
    ("pull-request-closed", "pull_request", lambda: config_pull_request("closed"), DEFAULT, "no dry run"),
    (
        "pull-request-other-base-branch",
        "pull_request",
        lambda: _with(config_pull_request(), "pull_request.base.ref", "release"),
        DEFAULT,
        "default branch",
    ),
    (
        "pull-request-other-base-repo",
        "pull_request",
        lambda: _with(config_pull_request(), "pull_request.base.repo.full_name", f"{ORG}/website"),
        DEFAULT,
        "not the config repo",
    ),
    (
        "check-run-fixture-not-ours",
        "check_run",
        lambda: load("check_run/rerequested.with-organization"),
        DEFAULT,
        "not one of peribolos'",
    ),
    (
        "check-run-other-app",
        "check_run",
        lambda: config_check_run(app_id=99),
        Config(app_id=2),
        "belongs to app 99",
    ),
    (
        "check-run-created",
        "check_run",
        lambda: _with(config_check_run(), "action", "created"),
        DEFAULT,
        "needs nothing",
    ),
    (
        "check-run-other-repo",
        "check_run",
        lambda: _with(
            _with(config_check_run(), "repository.name", "website"), "repository.full_name", f"{ORG}/website"
        ),
        DEFAULT,
        "not the config repo",
    ),
    (
        "check-run-sync-other-branch",
        "check_run",
        lambda: _with(config_check_run(), "check_run.check_suite.head_branch", "feature"),
        DEFAULT,
        "not the default",
    ),
    (
        "check-run-sync-no-head-branch",
        "check_run",
        lambda: _with(config_check_run(), "check_run.check_suite.head_branch", None),
        DEFAULT,
        "has no check_suite.head_branch: only a re-run on the default branch main is applied",
    ),
    (
        "check-run-without-app-id-configured",
        "check_run",
        lambda: config_check_run(),
        Config(),
        "no --app-id is configured",
    ),
    (
        "action-not-wired",
        "push",
        lambda: config_push(),
        replace(DEFAULT, served=frozenset({"install", "uninstall"})),
        "push means sync, which this install does not wire",
    ),
]


@pytest.mark.parametrize(
    ("event", "make", "config", "why"), [r[1:] for r in SKIP_ROWS], ids=[r[0] for r in SKIP_ROWS]
)
def test_events_peribolos_does_not_act_on(
    event: str, make: Callable[[], Any], config: Config, why: str
) -> None:
    decision = decide(event, make(), config)
    assert not decision.proceed
    assert decision.code == FAILED_PRECONDITION
    assert why in decision.reason
    assert decision.extensions == {}
    assert decision.label == "stop"


# --- rows that stop: code 3, the payload is not what GitHub sends -----------------------------------

INVALID_ROWS: list[tuple[str, str, Callable[[], Any], str]] = [
    ("no-event-header", "", lambda: config_push(), "X-GitHub-Event header is missing"),
    ("body-is-a-list", "push", lambda: [config_push()], "JSON object"),
    ("body-is-a-string", "installation", lambda: "created", "JSON object"),
    (
        "installation-action-missing",
        "installation",
        lambda: _with(org_installation("installation/created"), "action", ...),
        "action is missing",
    ),
    (
        "installation-id-missing",
        "installation",
        lambda: _with(org_installation("installation/created"), "installation.id", ...),
        "installation.id is missing",
    ),
    (
        "installation-id-string",
        "installation",
        lambda: _with(org_installation("installation/created"), "installation.id", "957387"),
        "an integer",
    ),
    (
        "installation-id-bool",
        "installation",
        lambda: _with(org_installation("installation/created"), "installation.id", True),
        "an integer",
    ),
    (
        "installation-id-float",
        "installation",
        lambda: _with(org_installation("installation/created"), "installation.id", 1.5),
        "an integer",
    ),
    (
        "installation-id-negative",
        "installation",
        lambda: _with(org_installation("installation/created"), "installation.id", -3),
        "positive",
    ),
    (
        "installation-account-missing",
        "installation",
        lambda: _with(org_installation("installation/deleted"), "installation.account", ...),
        "account.login",
    ),
    (
        "installation-not-an-object",
        "installation",
        lambda: _with(org_installation("installation/deleted"), "installation", [1]),
        "installation must be",
    ),
    (
        "account-type-number",
        "installation",
        lambda: _with(org_installation("installation/created"), "installation.account.type", 1),
        "a string",
    ),
    (
        "login-not-a-login",
        "installation",
        lambda: _with(org_installation("installation/created"), "installation.account.login", "a b/../c"),
        "not a GitHub login",
    ),
    (
        "push-installation-missing",
        "push",
        lambda: _with(config_push(), "installation", ...),
        "installation.id is missing",
    ),
    ("push-ref-number", "push", lambda: config_push(ref=7), "ref must be a string"),
    ("push-repository-missing", "push", lambda: _with(config_push(), "repository", ...), "repository"),
    ("push-after-not-sha", "push", lambda: config_push(after="HEAD~1"), "not a commit SHA"),
    ("push-commits-string", "push", lambda: config_push(commits="peribolos.yaml"), "commits must be a list"),
    ("push-commit-not-object", "push", lambda: config_push(commits=["abc"]), "commits[0]"),
    (
        "push-modified-string",
        "push",
        lambda: config_push({"added": [], "modified": "peribolos.yaml", "removed": []}),
        "list of strings",
    ),
    ("push-deleted-string", "push", lambda: config_push(deleted="false"), "deleted must be a boolean"),
    (
        "pull-request-head-sha-missing",
        "pull_request",
        lambda: _with(config_pull_request(), "pull_request.head.sha", ...),
        "pull_request.head.sha is missing",
    ),
    (
        "pull-request-number-string",
        "pull_request",
        lambda: _with(_with(config_pull_request(), "number", ...), "pull_request.number", "2"),
        "an integer",
    ),
    (
        "check-run-name-missing",
        "check_run",
        lambda: _with(config_check_run(), "check_run.name", ...),
        "check_run.name is missing",
    ),
    (
        "check-run-dry-run-odd-branch",
        "check_run",
        lambda: _with(config_check_run("peribolos/dry-run"), "check_run.check_suite.head_branch", "x;$(id)"),
        "does not pass on",
    ),
    (
        "push-default-branch-odd",
        "push",
        lambda: _with(config_push(ref="refs/heads/a`b`"), "repository.default_branch", "a`b`"),
        "does not pass on",
    ),
    (
        "check-run-app-id-string",
        "check_run",
        lambda: _with(config_check_run(), "check_run.app.id", "2"),
        "an integer",
    ),
]


@pytest.mark.parametrize(
    ("event", "make", "why"), [r[1:] for r in INVALID_ROWS], ids=[r[0] for r in INVALID_ROWS]
)
def test_malformed_payloads_say_which_field(event: str, make: Callable[[], Any], why: str) -> None:
    decision = decide(event, make(), DEFAULT)
    assert not decision.proceed
    assert decision.code == INVALID_ARGUMENT, decision.reason
    assert why in decision.reason


def test_decide_does_not_change_the_payload() -> None:
    payload = config_push()
    before = copy.deepcopy(payload)
    decide("push", payload, DEFAULT)
    assert payload == before


def test_hostile_strings_are_cut_short_in_messages() -> None:
    decision = decide("x" * 10_000, {}, DEFAULT)
    assert decision.code == FAILED_PRECONDITION
    assert len(decision.reason) < 200


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, Config()),
        ({"config_repo": "org-config"}, Config(config_repo="org-config")),
        ({"config_path": "orgs/peribolos.yaml", "other": 1}, Config(config_path="orgs/peribolos.yaml")),
        ({"actions": ["sync"]}, Config(actions=frozenset({"sync"}))),
        ({"actions": ["install", "uninstall"]}, Config(actions=frozenset({"install", "uninstall"}))),
    ],
    ids=["none", "repo", "path", "one-action", "two-actions"],
)
def test_interceptor_params_override_repo_and_path(params: dict[str, Any], expected: Config) -> None:
    assert Config().with_params(params) == expected


@pytest.mark.parametrize(
    "params",
    [
        {"config_repo": 1},
        {"config_path": ""},
        {"config_repo": ["a"]},
        {"actions": "sync"},
        {"actions": []},
        {"actions": ["sync", "deploy"]},
        {"actions": [1]},
    ],
    ids=["number", "empty", "list", "actions-string", "actions-empty", "actions-unknown", "actions-number"],
)
def test_bad_interceptor_params_are_refused(params: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="interceptor_params"):
        Config().with_params(params)


@pytest.mark.parametrize(
    ("delivery", "kept"),
    [
        ("72d3162e-cc78-11e3-81ab-4c9367dc0958", "72d3162e-cc78-11e3-81ab-4c9367dc0958"),
        ("72D3162E-CC78-11E3-81AB-4C9367DC0958", "72d3162e-cc78-11e3-81ab-4c9367dc0958"),
        ("d-1", "d-1"),
        ("$(touch /x)", None),
        ("", None),
        ("-leading-hyphen", None),
        ("a" * 40, None),
    ],
    ids=["guid", "upper-case-guid", "short", "shell", "missing", "leading-hyphen", "too-long-for-a-name"],
)
def test_the_taskrun_is_named_after_the_delivery_id(delivery: str, kept: str | None) -> None:
    """A redelivered webhook names the same TaskRun (409): an id that cannot end a TaskRun name, or none,
    is refused (GitHub always sends a GUID)."""
    decision = decide("push", config_push(), DEFAULT, delivery_id=delivery)
    if kept is None:
        assert (decision.proceed, decision.code) == (False, INVALID_ARGUMENT)
        assert "X-GitHub-Delivery" in decision.reason and "the TaskRun is named after it" in decision.reason
    else:
        assert decision.extensions["delivery_id"] == kept
        assert len(f"peribolos-dry-run-{kept}-pod") <= 63


@pytest.mark.parametrize(
    ("added", "actions", "expected"),
    [
        ([".github"], {"sync"}, "sync"),
        (["Space", ".GitHub"], {"sync"}, "sync"),
        (["Space"], {"sync"}, None),
        ([".github"], {"install"}, "install"),
        ([".github"], {"dry-run"}, None),
    ],
    ids=["config-repo-added", "any-case-among-others", "other-repo", "install-trigger", "dry-run-trigger"],
)
def test_the_config_repository_added_syncs_its_head(
    added: list[str], actions: set[str], expected: str | None
) -> None:
    """One event, two TaskRuns: installation_repositories added re-mints (install) and, when the config
    repository is among those added, the sync Trigger syncs its default branch's head."""
    payload = org_installation("installation_repositories/added")
    payload["repositories_added"] = [
        {"id": i, "name": n, "full_name": f"{ORG}/{n}"} for i, n in enumerate(added)]
    decision = decide("installation_repositories", payload, replace(DEFAULT, actions=frozenset(actions)))
    assert (decision.action if decision.proceed else None) == expected, decision.reason
    if expected == "sync":
        assert {k: decision.extensions[k] for k in CONFIG_KEYS} == {
            "repo": f"{ORG}/.github", "revision": "", "ref": "", "config_path": "peribolos.yaml"}
        assert set(decision.extensions) == EXTENSION_KEYS


@pytest.mark.parametrize(
    ("actions", "proceeds"),
    [(None, True), (frozenset({"sync"}), True), (frozenset({"sync", "dry-run"}), True),
     (frozenset({"install"}), False), (frozenset({"dry-run"}), False)],
    ids=["any", "sync", "sync-or-dry-run", "install-only", "dry-run-only"],
)
def test_a_trigger_only_proceeds_with_the_actions_it_handles(
    actions: frozenset[str] | None, proceeds: bool
) -> None:
    decision = decide("push", config_push(), replace(DEFAULT, actions=actions))
    assert decision.proceed is proceeds
    if not proceeds:
        assert decision.code == FAILED_PRECONDITION
        assert "push means sync, which this trigger does not handle" in decision.reason


@pytest.mark.parametrize(
    ("event", "payload", "keys"),
    [
        ("installation", lambda: org_installation("installation/created"), {"action", *INSTALLATION_KEYS}),
        ("installation", lambda: org_installation("installation/deleted"), {"action", *INSTALLATION_KEYS}),
        ("push", config_push, EXTENSION_KEYS),
        ("pull_request", config_pull_request, EXTENSION_KEYS),
        ("check_run", config_check_run, EXTENSION_KEYS),
    ],
    ids=["install", "uninstall", "sync", "dry-run", "rerun"],
)
def test_decisions_set_exactly_the_extension_keys_the_bindings_read(
    event: str, payload: Callable[[], dict[str, Any]], keys: set[str]
) -> None:
    decision = decide(event, payload(), DEFAULT)
    assert decision.proceed
    assert set(decision.extensions) == keys
    assert all(isinstance(v, str) for v in decision.extensions.values())
    assert set(CONFIG_KEYS) <= EXTENSION_KEYS
