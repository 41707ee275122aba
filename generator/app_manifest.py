"""The GitHub App manifest (GitHub's "register an App from a manifest" flow), derived from the values.

Permissions follow what is wired: peribolos with only the ``--fix-*`` flags set needs only the matching
permissions, and a service without sync or dry-run never reads a repository.
"""

from __future__ import annotations

from typing import Any

from generator.errors import RenderError

# permission → why (docs/operations.md shows the same list).
WHY = {
    "metadata": "mandatory for every App; peribolos lists the org's repositories",
    "contents": "fetch-config reads peribolos.yaml at the pushed commit; push events need it",
    "checks": "the report step creates the peribolos/sync and peribolos/dry-run check runs",
    "pull_requests": "pull_request events (dry-run) need it",
    "members": "peribolos reads and (with --fix-org-members / --fix-teams*) changes org members and teams",
    "administration": "--fix-repos, --fix-team-repos and --fix-collaborators change repository settings",
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


def permissions(v: dict[str, Any]) -> dict[str, str]:
    """The least set of permissions the wired events and the peribolos flags need."""
    events = v["events"]
    peribolos = v["peribolos"]
    runs_peribolos = events["sync"] or events["dryRun"]
    # A dry-run-only service never writes: read is enough for what peribolos would change.
    change = "write" if events["sync"] else "read"
    out = {"metadata": "read"}
    if runs_peribolos:
        out["contents"] = "read"
        out["checks"] = "write"
        out["members"] = "read"
        if any(peribolos[key] for key in ("fixOrgMembers", "fixTeams", "fixTeamMembers", "fixTeamRepos")):
            out["members"] = change
        if any(peribolos[key] for key in ("fixRepos", "fixTeamRepos", "fixCollaborators")):
            out["administration"] = change
        if peribolos["fixOrg"]:
            out["organization_administration"] = change
    if events["dryRun"]:
        out["pull_requests"] = "read"
    return dict(sorted(out.items()))


def events(v: dict[str, Any]) -> list[str]:
    """Webhook events to subscribe to (installation events are always delivered to an App)."""
    wired = v["events"]
    out = []
    if wired["sync"] or wired["dryRun"]:
        out.append("check_run")
    if wired["dryRun"]:
        out.append("pull_request")
    if wired["sync"]:
        out.append("push")
    return out


def build(v: dict[str, Any]) -> dict[str, Any]:
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
        "default_permissions": permissions(v),
        "default_events": events(v),
    }
