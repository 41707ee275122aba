"""The GitHub App manifest asks for exactly the permissions the wired events and peribolos flags need."""

from __future__ import annotations

import pytest

from generator.app_manifest import WHY, build
from generator.errors import RenderError
from generator.values import load_values

URL = "githubApp.webhookUrl=https://hooks.example.com/peribolos"
NO_FIX = [f"peribolos.{k}=false" for k in ("fixOrgMembers", "fixTeams", "fixTeamMembers", "fixTeamRepos")]


@pytest.mark.parametrize(
    ("sets", "permissions", "events"),
    [
        pytest.param(
            [],
            {
                "administration": "write",
                "checks": "write",
                "contents": "write",
                "members": "write",
                "metadata": "read",
                "pull_requests": "write",
            },
            ["check_run", "pull_request", "push"],
            id="defaults",
        ),
        pytest.param(
            ["bootstrap.enabled=false"],
            {
                "administration": "write",
                "checks": "write",
                "contents": "read",
                "members": "write",
                "metadata": "read",
                "pull_requests": "read",
            },
            ["check_run", "pull_request", "push"],
            id="no-bootstrap-reads-the-config-repo-only",
        ),
        pytest.param(
            ["peribolos.fixOrg=true", "peribolos.fixRepos=true"],
            {
                "administration": "write",
                "checks": "write",
                "contents": "write",
                "members": "write",
                "metadata": "read",
                "organization_administration": "write",
                "pull_requests": "write",
            },
            ["check_run", "pull_request", "push"],
            id="fix-org-and-repos",
        ),
        pytest.param(
            NO_FIX,
            {
                "checks": "write",
                "contents": "write",
                "members": "read",
                "metadata": "read",
                "pull_requests": "write",
            },
            ["check_run", "pull_request", "push"],
            id="no-fix-flags-reads-org-only",
        ),
        pytest.param(
            [*NO_FIX, "bootstrap.createRepo=true"],
            {
                "administration": "write",
                "checks": "write",
                "contents": "write",
                "members": "read",
                "metadata": "read",
                "pull_requests": "write",
            },
            ["check_run", "pull_request", "push"],
            id="bootstrap-creates-the-config-repo",
        ),
        pytest.param(
            ["events.sync=false", "events.install=false", "events.uninstall=false"],
            {
                "administration": "read",
                "checks": "write",
                "contents": "read",
                "members": "read",
                "metadata": "read",
                "pull_requests": "read",
            },
            ["check_run", "pull_request"],
            id="dry-run-only-never-writes-org",
        ),
        pytest.param(
            ["events.dryRun=false"],
            {
                "administration": "write",
                "checks": "write",
                "contents": "write",
                "members": "write",
                "metadata": "read",
                "pull_requests": "write",
            },
            ["check_run", "push"],
            id="sync-only-bootstrap-still-opens-its-pull-request",
        ),
        pytest.param(
            ["events.sync=false", "events.dryRun=false", "bootstrap.enabled=false"],
            {"metadata": "read"},
            [],
            id="install-only-metadata",
        ),
        pytest.param(
            ["events.sync=false", "events.dryRun=false"],
            {"contents": "write", "members": "read", "metadata": "read", "pull_requests": "write"},
            [],
            id="install-with-bootstrap",
        ),
    ],
)
def test_permissions_and_events_follow_the_values(
    sets: list[str], permissions: dict[str, str], events: list[str]
) -> None:
    manifest = build(load_values(sets=[URL, *sets]).data)
    assert manifest["default_permissions"] == permissions
    assert manifest["default_events"] == events
    assert set(permissions) <= set(WHY)


def test_manifest_fields() -> None:
    manifest = build(load_values(sets=[URL, "githubApp.name=acme-peribolos", "githubApp.public=true"]).data)
    assert manifest["name"] == "acme-peribolos"
    assert manifest["public"] is True
    assert manifest["hook_attributes"] == {"url": "https://hooks.example.com/peribolos", "active": True}
    assert manifest["url"].startswith("https://")


def test_webhook_url_defaults_to_the_exposed_host() -> None:
    values = load_values(
        sets=["exposure.type=ingress", "exposure.host=hooks.example.com", "exposure.path=/gh"]
    )
    assert build(values.data)["hook_attributes"]["url"] == "https://hooks.example.com/gh"


def test_no_webhook_url_is_a_clear_error() -> None:
    with pytest.raises(RenderError) as caught:
        build(load_values().data)
    assert caught.value.problems[0].startswith("githubApp.webhookUrl: required when exposure.type is none")
