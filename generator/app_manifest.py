"""The GitHub App manifest (GitHub's "register an App from a manifest" flow), derived from the values.

Events and permissions follow what is wired, row by row of the action table
(:data:`peribolos_core.actions.ACTIONS`): each wired action's events and permissions, and for peribolos
only what its ``--fix-*`` flags change (write where an action applies the config, read for dry runs). A
service without sync or dry-run never reads a repository.
"""

from __future__ import annotations

from typing import Any

from generator import render
from generator.errors import RenderError
from peribolos_core import scopes
from peribolos_core.actions import ACTIONS, ALWAYS_DELIVERED, ActionTable, stronger

# permission → why (docs/operations.md shows the same list).
WHY = {
    "metadata": "mandatory for every App; peribolos lists the org's repositories",
    "contents": "fetch-config reads peribolos.yaml at the pushed commit; push events need it; bootstrap "
                "(write) pushes the branch of its pull request",
    "checks": "the report step creates the peribolos/sync and peribolos/dry-run check runs",
    "pull_requests": "pull_request events (dry-run) need it; bootstrap (write) opens its pull request",
    "members": "peribolos reads and (with --fix-org-members / --fix-teams*) changes org members and teams; "
               "bootstrap exports them",
    "administration": "--fix-repos, --fix-team-repos and --fix-collaborators change repository settings; "
                      "bootstrap reads them, and creates the config repository with bootstrap.createRepo",
    "organization_administration": "--fix-org changes the org's metadata",
}


def webhook_url(v: dict[str, Any]) -> str:
    """``githubApp.webhookUrl``, else the public URL of the EventListener from ``exposure``."""
    if v["githubApp"]["webhookUrl"]:
        return v["githubApp"]["webhookUrl"]
    exposure = v["exposure"]
    if exposure["type"] == "none":
        raise RenderError([
            "githubApp.webhookUrl: required when exposure.type is none (GitHub needs the URL it posts "
            "webhooks to); set it, or set exposure.type and exposure.host"
        ])
    return f"https://{exposure['host']}{exposure['path']}"


def _grant(out: dict[str, str], permission: str, level: str | None) -> None:
    strongest = stronger(out.get(permission), level)
    if strongest:
        out[permission] = strongest


def permissions(v: dict[str, Any], table: ActionTable = ACTIONS) -> dict[str, str]:
    """The least set of permissions the wired actions and the peribolos flags need (the flags' share is
    :func:`peribolos_core.scopes.peribolos_permissions`, the rule the Tasks mint peribolos' token by)."""
    wired = table.wired(v["events"])
    out = {"metadata": "read"}
    flags = render.peribolos_flags(v)
    for action in wired:
        if action.name == "install" and not v["bootstrap"]["enabled"]:
            continue  # the install row's permissions are its bootstrap step's
        for permission, level in action.permissions.items():
            _grant(out, permission, level)
        if action.reads_config:
            # A dry-run-only service never writes: read is enough for what peribolos would change.
            for permission, level in scopes.peribolos_permissions(flags, action.confirm).items():
                _grant(out, permission, level)
    if v["bootstrap"]["enabled"] and v["bootstrap"]["createRepo"] and any(a.name == "install" for a in wired):
        _grant(out, "administration", "write")  # bootstrap --create-repo creates the config repository
    return dict(sorted(out.items()))


def events(v: dict[str, Any], table: ActionTable = ACTIONS) -> list[str]:
    """Webhook events to subscribe to: the wired actions' (installation events reach every App anyway)."""
    wired = {event for action in table.wired(v["events"]) for event in action.event_types}
    return sorted(wired - ALWAYS_DELIVERED)


def build(v: dict[str, Any], table: ActionTable = ACTIONS) -> dict[str, Any]:
    """The manifest JSON object."""
    app = v["githubApp"]
    return {
        "name": app["name"],
        "url": app["homepageUrl"],
        "description": "Manages the organisation's members, teams and repositories from peribolos.yaml "
                       f"in its {v['config']['repo']} repository.",
        "public": app["public"],
        "hook_attributes": {"url": webhook_url(v), "active": True},
        "redirect_url": app["redirectUrl"],
        "default_permissions": permissions(v, table),
        "default_events": events(v, table),
    }
