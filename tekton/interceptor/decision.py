"""What a GitHub event means for peribolos: the decision table, as one pure function.

``decide(event, payload, config)`` never raises and does no I/O. Its answer is a :class:`Decision`:
either ``proceed`` with an action and the extension values a TriggerBinding reads, or a stop with a gRPC
code and a message saying why:

- code 3 INVALID_ARGUMENT: the payload lacks a field the decision needs, or has it with the wrong type;
- code 9 FAILED_PRECONDITION: a well-formed event that peribolos does not act on (ping, other repository,
  other branch, tag, user account, ...).

Signature checks (code 16) happen before, in the service layer. Which event and ``action`` means which of
our actions, and the check-run names a rerequest is recognised by, come from the action table
(:data:`peribolos_core.actions.ACTIONS`, or the one in ``Config.table``); this module adds the checks
each event needs (config repo, default branch, SHAs).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from peribolos_core.actions import (
    ACTIONS,
    CONFIG_KEYS,
    DRY_RUN,
    EXTENSION_KEYS,
    INSTALL,
    INSTALLATION_KEYS,
    SYNC,
    UNINSTALL,
    ActionTable,
)
from peribolos_core.settings import COMMIT_SHA, REPO_NAME, org_allowed
from peribolos_core.token_secret import secret_name

__all__ = [
    "CONFIG_KEYS",
    "DRY_RUN",
    "EXTENSION_KEYS",
    "FAILED_PRECONDITION",
    "INSTALL",
    "INSTALLATION_KEYS",
    "INVALID_ARGUMENT",
    "KNOWN_EVENTS",
    "OK",
    "SYNC",
    "UNAUTHENTICATED",
    "UNINSTALL",
    "Config",
    "Decision",
    "decide",
    "stop",
]

OK = 0
INVALID_ARGUMENT = 3
FAILED_PRECONDITION = 9
UNAUTHENTICATED = 16

MAX_PUSH_COMMITS = 2048
"""GitHub lists at most 2,048 commits in a push payload; a full list may be truncated, so it cannot tell."""

_LOGIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9_-]{0,99})")
_REF = re.compile(r"refs/(?:heads|pull)/[A-Za-z0-9._/+-]{1,250}")
_DELIVERY_ID = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?")
"""A delivery id that can end a TaskRun's name (GitHub's are GUIDs: 36 characters, hex and hyphens)."""
# Every extension value becomes a TaskRun param. They are all checked against these patterns (or are
# digits, or come from the flags), so that none can carry shell or Tekton syntax into a step, whatever
# the Tasks do with them.


@dataclass(frozen=True)
class Config:
    """What the decision depends on besides the event (flags, possibly overridden per Trigger)."""

    config_repo: str = ".github"
    """Name of the repository, in each org, that holds the config file."""
    config_path: str = "peribolos.yaml"
    """Path of the config file inside that repository."""
    allowed_orgs: frozenset[str] | None = None
    """Lower-case org logins served; ``None`` serves every org that installs the App."""
    app_id: int | None = None
    """The GitHub App's id: a rerequested check run counts only when this App made it (without it, no
    rerequest is acted on; the CLI requires it whenever a served action has a check run)."""
    served: frozenset[str] | None = None
    """The actions this install wires (``--actions``); None: every action of the table."""
    actions: frozenset[str] | None = None
    """The actions the calling Trigger handles (its ``actions`` param); ``None`` lets every action through.
    The EventListener has one Trigger per action, so each must stop the events of the others."""
    table: ActionTable = field(default=ACTIONS, repr=False, compare=False)
    """Which event means which action (tests hand in a table with another row)."""

    def with_params(self, params: Mapping[str, Any]) -> Config:
        """Apply a Trigger's ``interceptor_params``: ``config_repo``, ``config_path`` (non-empty strings)
        and ``actions`` (a non-empty list of action names)."""
        changes: dict[str, Any] = {}
        for key in ("config_repo", "config_path"):
            value = params.get(key)
            if value is None:
                continue
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"interceptor_params.{key} must be a non-empty string")
            changes[key] = value.strip()
        actions = params.get("actions")
        if actions is not None:
            names = self.table.names
            if (
                not isinstance(actions, list)
                or not actions
                or not all(isinstance(a, str) and a in names for a in actions)
            ):
                raise ValueError(
                    f"interceptor_params.actions must be a non-empty list of {', '.join(sorted(names))}"
                )
            changes["actions"] = frozenset(actions)
        return replace(self, **changes) if changes else self


@dataclass(frozen=True)
class Decision:
    """The interceptor's answer. ``extensions`` holds the ``extensions.peribolos`` values (strings)."""

    proceed: bool
    code: int
    reason: str
    action: str = ""
    extensions: Mapping[str, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """``install``/``uninstall``/``sync``/``dry-run`` when proceeding, else ``stop``."""
        return self.action if self.proceed else "stop"


class _Invalid(Exception):
    """A required field is missing or has the wrong type (becomes code 3)."""


class _Skip(Exception):
    """A well-formed event that peribolos does not act on (becomes code 9)."""


def stop(code: int, reason: str) -> Decision:
    return Decision(proceed=False, code=code, reason=reason)


def decide(event: str, payload: Any, config: Config, delivery_id: str = "") -> Decision:
    """Apply the decision table to one event (``payload`` is the parsed JSON body, ``delivery_id`` the
    ``X-GitHub-Delivery`` header, which names the TaskRun)."""
    handler = _HANDLERS.get(event)
    if not event:
        return stop(INVALID_ARGUMENT, "X-GitHub-Event header is missing")
    if handler is None:
        if event == "ping":
            return stop(FAILED_PRECONDITION, "ping event: the webhook works, nothing to do")
        return stop(FAILED_PRECONDITION, f"event {_show(event)} is not one peribolos acts on")
    if not isinstance(payload, dict):
        return stop(INVALID_ARGUMENT, f"body must be a JSON object, got {_type(payload)}")
    try:
        action, values = handler(payload, config)
        if config.actions is not None and action not in config.actions:
            action, values = _also(event, payload, config, action)
    except _Invalid as exc:
        return stop(INVALID_ARGUMENT, str(exc))
    except _Skip as exc:
        return stop(FAILED_PRECONDITION, str(exc))
    if config.served is not None and action not in config.served:
        return stop(FAILED_PRECONDITION, f"{event} means {action}, which this install does not wire")
    delivery = delivery_id.strip().lower()
    if not _DELIVERY_ID.fullmatch(delivery) or len(delivery) > config.table.delivery_id_limit:
        # The TaskRun is named after it, so that a redelivery makes no second one: without a usable id
        # there is no such guarantee, and GitHub always sends one.
        return stop(INVALID_ARGUMENT, f"X-GitHub-Delivery {_show(delivery_id, 40)} is missing or not a GUID "
                                      "(the TaskRun is named after it)")
    values["action"] = action
    values["delivery_id"] = delivery
    return Decision(
        proceed=True,
        code=OK,
        reason=f"{event} means {action} for {values['org']}",
        action=action,
        extensions=values,
    )


def _also(event: str, payload: dict[str, Any], config: Config, action: str) -> tuple[str, dict[str, str]]:
    """The event for a Trigger that does not handle its own row's ``action``: a row it also leads to
    (:attr:`peribolos_core.actions.Event.also`) when the payload says so, else a skip."""
    assert config.actions is not None
    for row in config.table.also_for(event, payload.get("action")):
        if row.name in config.actions:
            handler = _ALSO.get((row.name, event))
            if handler is not None:
                return row.name, handler(payload, config)
    handled = ", ".join(sorted(config.actions))
    raise _Skip(f"{event} means {action}, which this trigger does not handle ({handled})")


# --- one function per event ------------------------------------------------------------------------


def _installation(payload: dict[str, Any], config: Config) -> tuple[str, dict[str, str]]:
    return _action_of("installation", payload, config), _installation_account(payload, config)


def _installation_repositories(payload: dict[str, Any], config: Config) -> tuple[str, dict[str, str]]:
    return _action_of("installation_repositories", payload, config), _installation_account(payload, config)


def _action_of(event: str, payload: dict[str, Any], config: Config, what: str = "needs nothing from peribolos"
               ) -> str:
    """The action the table gives ``event`` with the payload's ``action``; a skip when it gives none."""
    action_name = _get(payload, "action", str)
    row = config.table.for_event(event, action_name)
    if row is None:
        raise _Skip(f"{event} {_show(action_name)} {what}")
    return row.name


def _installation_account(payload: dict[str, Any], config: Config) -> dict[str, str]:
    installation_id = _installation_id(payload)
    login = _get(payload, "installation.account.login", str)
    account_type = _get(payload, "installation.account.type", str)
    org = _org(login, account_type, config)
    return {"installation_id": str(installation_id), "org": org, "secret_name": secret_name(installation_id)}


def _push(payload: dict[str, Any], config: Config) -> tuple[str, dict[str, str]]:
    row = config.table.for_event("push")
    if row is None:
        raise _Skip("push needs nothing from peribolos")
    ref = _get(payload, "ref", str)
    after = _get(payload, "after", str)
    deleted = _get(payload, "deleted", bool, required=False) or False
    forced = _get(payload, "forced", bool, required=False) or False
    commits = _get(payload, "commits", list, required=False)
    repo, org, installation_id, default_branch = _config_repo(payload, config)
    branch = f"refs/heads/{default_branch}"
    if ref.startswith("refs/tags/"):
        raise _Skip(f"push to tag {_show(ref)}: only the default branch {branch} is applied")
    if ref != branch:
        raise _Skip(f"push to {_show(ref)}: only the default branch {branch} is applied")
    if deleted:
        raise _Skip(f"push deleted {_show(ref)}: nothing to apply")
    revision = _sha(after, "after")
    touched = _touches(commits, config.config_path)
    if not forced and touched is False:
        raise _Skip(f"no commit of this push adds, modifies or removes {_show(config.config_path)}")
    return row.name, _repo_values(repo, org, installation_id, revision, ref, config)


def _touches(commits: list[Any] | None, path: str) -> bool | None:
    """True/False when the file lists tell whether ``path`` changed, None when they cannot tell."""
    if not commits or len(commits) >= MAX_PUSH_COMMITS:
        return None
    can_tell = True
    for index, commit in enumerate(commits):
        if not isinstance(commit, dict):
            raise _Invalid(f"commits[{index}] must be an object, got {_type(commit)}")
        for kind in ("added", "modified", "removed"):
            files = commit.get(kind)
            if files is None:
                can_tell = False
                continue
            if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
                raise _Invalid(f"commits[{index}].{kind} must be a list of strings")
            if path in files:
                return True
    return False if can_tell else None


def _pull_request(payload: dict[str, Any], config: Config) -> tuple[str, dict[str, str]]:
    action = _action_of("pull_request", payload, config, "needs no dry run")
    base_repo = _get(payload, "pull_request.base.repo.full_name", str)
    base_ref = _get(payload, "pull_request.base.ref", str)
    head_sha = _get(payload, "pull_request.head.sha", str)
    number = _get(payload, "number", int, required=False)
    if number is None:
        number = _get(payload, "pull_request.number", int)
    repo, org, installation_id, default_branch = _config_repo(payload, config)
    if base_repo.lower() != repo.lower():
        raise _Skip(f"pull request targets {_show(base_repo)}, not the config repo {repo}")
    if base_ref != default_branch:
        raise _Skip(f"pull request targets branch {_show(base_ref)}, not the default branch {default_branch}")
    revision = _sha(head_sha, "pull_request.head.sha")
    return action, _repo_values(repo, org, installation_id, revision, f"refs/pull/{number}/head", config)


def _check_run(payload: dict[str, Any], config: Config) -> tuple[str, dict[str, str]]:
    action_name = _get(payload, "action", str)
    if not any(row.handles("check_run", action_name) for row in config.table):
        raise _Skip(f"check_run {_show(action_name)} needs nothing from peribolos")
    name = _get(payload, "check_run.name", str)
    row = config.table.for_check_run(name, action_name)
    if row is None:
        names = ", ".join(config.table.check_run_names)
        raise _Skip(f"check run {_show(name)} is not one of peribolos' ({names})")
    action = row.name
    if config.app_id is None:
        raise _Skip(f"check run {name} rerequested, but no --app-id is configured to tell this App's own "
                    "check runs from another App's of the same name")
    app_id = _get(payload, "check_run.app.id", int)
    if app_id != config.app_id:
        raise _Skip(f"check run {name} belongs to app {app_id}, not to this app ({config.app_id})")
    head_sha = _get(payload, "check_run.head_sha", str)
    repo, org, installation_id, default_branch = _config_repo(payload, config)
    revision = _sha(head_sha, "check_run.head_sha")
    ref = ""
    pulls = _get(payload, "check_run.pull_requests", list, required=False) or []
    head_branch = _get(payload, "check_run.check_suite.head_branch", str, required=False)
    if action == DRY_RUN and pulls and isinstance(pulls[0], dict) and _is_int(pulls[0].get("number")):
        ref = f"refs/pull/{pulls[0]['number']}/head"
    elif head_branch:
        ref = f"refs/heads/{head_branch}"
    if action == SYNC and head_branch is None:
        raise _Skip(f"check run {name} has no check_suite.head_branch: only a re-run on the default branch "
                    f"{default_branch} is applied")
    if action == SYNC and head_branch != default_branch:
        raise _Skip(f"check run {name} is on branch {_show(head_branch)}, not the default {default_branch}")
    return action, _repo_values(repo, org, installation_id, revision, ref, config)


def _repositories_added_sync(payload: dict[str, Any], config: Config) -> dict[str, str]:
    """``installation_repositories`` ``added`` with the config repository among the repositories added:
    a sync of its default branch's head (the revision left empty: the Task resolves it)."""
    values = _installation_account(payload, config)
    added = _get(payload, "repositories_added", list, required=False) or []
    names = [r.get("name") for r in added if isinstance(r, dict)]
    if not any(isinstance(n, str) and n.lower() == config.config_repo.lower() for n in names):
        raise _Skip(f"installation_repositories added does not add the config repo {config.config_repo}")
    repo = f"{values['org']}/{config.config_repo}"
    if not REPO_NAME.fullmatch(config.config_repo):
        raise _Invalid(f"config repo {_show(config.config_repo)} is not a repository name")
    return {**values, "repo": repo, "revision": "", "ref": "", "config_path": config.config_path}


_ALSO = {(SYNC, "installation_repositories"): _repositories_added_sync}
"""Handlers of the events a row also leads to (keyed by the row and the event)."""

_HANDLERS = {
    "installation": _installation,
    "installation_repositories": _installation_repositories,
    "push": _push,
    "pull_request": _pull_request,
    "check_run": _check_run,
}
KNOWN_EVENTS = frozenset(_HANDLERS) | {"ping"}


# --- shared checks ---------------------------------------------------------------------------------


def _config_repo(payload: dict[str, Any], config: Config) -> tuple[str, str, int, str]:
    """(full name, org, installation id, default branch) of ``repository``, which must be the config repo."""
    full_name = _get(payload, "repository.full_name", str)
    name = _get(payload, "repository.name", str)
    owner = _get(payload, "repository.owner.login", str)
    default_branch = _get(payload, "repository.default_branch", str)
    organization = payload.get("organization")
    if organization is not None:
        login = _get(payload, "organization.login", str)
        account_type = "Organization"
    else:
        login = owner
        account_type = _get(payload, "repository.owner.type", str)
    installation_id = _installation_id(payload)
    org = _org(login, account_type, config)
    if owner.lower() != org.lower():
        raise _Skip(f"repository {_show(full_name)} is not owned by organization {org}")
    if name.lower() != config.config_repo.lower():
        raise _Skip(f"repository {_show(full_name)} is not the config repo {org}/{config.config_repo}")
    if not REPO_NAME.fullmatch(name) or full_name.lower() != f"{owner}/{name}".lower():
        raise _Invalid(f"repository.full_name {_show(full_name)} is not '<owner>/<name>'")
    return full_name, org, installation_id, default_branch


def _org(login: str, account_type: str, config: Config) -> str:
    if account_type != "Organization":
        raise _Skip(
            f"account {_show(login)} is a {_show(account_type)}: peribolos manages organizations only"
        )
    if not _LOGIN.fullmatch(login):
        raise _Invalid(f"account login {_show(login)} is not a GitHub login")
    if not org_allowed(login, config.allowed_orgs):
        raise _Skip(f"organization {login} is not in --allowed-orgs")
    return login


def _installation_id(payload: dict[str, Any]) -> int:
    installation_id = _get(payload, "installation.id", int)
    if installation_id <= 0:
        raise _Invalid(f"installation.id must be a positive integer, got {installation_id}")
    return installation_id


def _repo_values(
    repo: str, org: str, installation_id: int, revision: str, ref: str, config: Config
) -> dict[str, str]:
    if ref and not _REF.fullmatch(ref):
        raise _Invalid(f"ref {_show(ref)} has characters this service does not pass on to a TaskRun")
    return {
        "installation_id": str(installation_id),
        "org": org,
        "secret_name": secret_name(installation_id),
        "repo": repo,
        "revision": revision,
        "ref": ref,
        "config_path": config.config_path,
    }


def _sha(value: str, where: str) -> str:
    if not COMMIT_SHA.fullmatch(value) or value.strip("0") == "":
        raise _Invalid(f"{where} {_show(value)} is not a commit SHA")
    return value


def _get(payload: dict[str, Any], path: str, kind: type, required: bool = True) -> Any:
    """``payload[a][b]...`` for ``path`` ``"a.b..."``, checked to be a ``kind`` (None: optional, absent)."""
    node: Any = payload
    walked: list[str] = []
    for part in path.split("."):
        if not isinstance(node, dict):
            raise _Invalid(f"{'.'.join(walked)} must be an object, got {_type(node)}")
        walked.append(part)
        node = node.get(part)
        if node is None:
            if required:
                raise _Invalid(f"{path} is missing")
            return None
    if not (_is_int(node) if kind is int else isinstance(node, kind)):
        raise _Invalid(f"{path} must be {_TYPE_NAMES[kind]}, got {_type(node)}")
    return node


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


_TYPE_NAMES = {str: "a string", int: "an integer", bool: "a boolean", list: "a list", dict: "an object"}


def _type(value: Any) -> str:
    names = {
        dict: "an object",
        list: "a list",
        str: "a string",
        bool: "a boolean",
        int: "a number",
        float: "a number",
        type(None): "null",
    }
    return names.get(type(value), type(value).__name__)


def _show(value: str, limit: int = 80) -> str:
    """Quote a payload string for a message, cut short so that a hostile payload cannot flood the logs."""
    text = repr(value[:limit])
    return text + "…" if len(value) > limit else text
