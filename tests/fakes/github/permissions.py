"""One table: what an installation token needs for each route the fake serves, as GitHub documents it
("Permissions required for GitHub Apps", REST API 2022-11-28).

Reading needs ``read``, anything else ``write`` (a ``write`` grant satisfies ``read``). A need's scope says
what it is checked against: ``repo`` needs also require the route's repository to be one the token may
reach; ``account`` needs are org-wide. An empty tuple: any token of the route's account will do
(``GET /orgs/{org}`` is public information). Two documented facts the table relies on:

- ``metadata: read`` comes with every repository permission, so a token holding any of
  :data:`REPOSITORY_PERMISSIONS` reads repository metadata;
- the ``/orgs/{org}/teams/{team_slug}...`` routes are not listed on GitHub's page; GitHub's reference
  for each names the organization ``members`` permission, and changing a team's access to a repository
  also needs that repository's ``administration: write``.
"""

from __future__ import annotations

from dataclasses import dataclass

REPOSITORY_PERMISSIONS = frozenset(
    {
        "actions",
        "administration",
        "attestations",
        "checks",
        "codespaces",
        "contents",
        "dependabot_secrets",
        "deployments",
        "discussions",
        "environments",
        "issues",
        "merge_queues",
        "metadata",
        "packages",
        "pages",
        "pull_requests",
        "repository_custom_properties",
        "repository_hooks",
        "repository_projects",
        "secret_scanning_alerts",
        "secrets",
        "security_events",
        "single_file",
        "statuses",
        "vulnerability_alerts",
        "workflows",
    }
)
ACCESS_LEVELS = ("read", "write", "admin")


@dataclass(frozen=True)
class Need:
    permission: str
    access: str = "read"
    scope: str = "repo"
    """``repo``: checked with the route's repository; ``account``: org-wide."""


def _r(permission: str, access: str = "read") -> Need:
    return Need(permission, access, "repo")


def _a(permission: str, access: str = "read") -> Need:
    return Need(permission, access, "account")


ORG = "/orgs/{org}"
TEAM = ORG + "/teams/{team_slug}"
REPO = "/repos/{owner}/{repo}"

ROUTE_PERMISSIONS: dict[tuple[str, str], tuple[Need, ...]] = {
    # installation
    ("GET", "/installation/repositories"): (),
    ("GET", "/user"): (),  # answered 403: an installation is no user
    # orgs, members, invitations
    ("GET", ORG): (),
    ("PATCH", ORG): (_a("organization_administration", "write"),),
    ("GET", ORG + "/members"): (_a("members"),),
    ("GET", ORG + "/members/{username}"): (_a("members"),),
    ("DELETE", ORG + "/members/{username}"): (_a("members", "write"),),
    ("GET", ORG + "/memberships/{username}"): (_a("members"),),
    ("PUT", ORG + "/memberships/{username}"): (_a("members", "write"),),
    ("DELETE", ORG + "/memberships/{username}"): (_a("members", "write"),),
    ("GET", ORG + "/invitations"): (_a("members"),),
    # teams
    ("GET", ORG + "/teams"): (_a("members"),),
    ("POST", ORG + "/teams"): (_a("members", "write"),),
    ("GET", TEAM): (_a("members"),),
    ("PATCH", TEAM): (_a("members", "write"),),
    ("DELETE", TEAM): (_a("members", "write"),),
    ("GET", TEAM + "/members"): (_a("members"),),
    ("GET", TEAM + "/invitations"): (_a("members"),),
    ("GET", TEAM + "/memberships/{username}"): (_a("members"),),
    ("PUT", TEAM + "/memberships/{username}"): (_a("members", "write"),),
    ("DELETE", TEAM + "/memberships/{username}"): (_a("members", "write"),),
    ("GET", TEAM + "/repos"): (_a("members"),),
    ("GET", TEAM + "/repos/{owner}/{repo}"): (_a("members"), _r("metadata")),
    ("PUT", TEAM + "/repos/{owner}/{repo}"): (_a("members"), _r("administration", "write")),
    ("DELETE", TEAM + "/repos/{owner}/{repo}"): (_a("members"), _r("administration", "write")),
    # repositories of an org
    ("GET", ORG + "/repos"): (_a("metadata"),),
    ("POST", ORG + "/repos"): (_a("administration", "write"),),
    # a repository, its branches, refs, commits and contents
    ("GET", REPO): (_r("metadata"),),
    ("PATCH", REPO): (_r("administration", "write"),),
    ("GET", REPO + "/branches/{branch}"): (_r("contents"),),
    ("GET", REPO + "/git/ref/{ref+}"): (_r("contents"),),
    ("POST", REPO + "/git/refs"): (_r("contents", "write"),),
    ("PATCH", REPO + "/git/refs/{ref+}"): (_r("contents", "write"),),
    ("GET", REPO + "/commits/{ref}"): (_r("contents"),),
    ("GET", REPO + "/contents/{path*}"): (_r("contents"),),
    ("PUT", REPO + "/contents/{path+}"): (_r("contents", "write"),),
    # collaborators and their invitations
    ("GET", REPO + "/collaborators"): (_r("metadata"),),
    ("PUT", REPO + "/collaborators/{username}"): (_r("administration", "write"),),
    ("DELETE", REPO + "/collaborators/{username}"): (_r("administration", "write"),),
    ("GET", REPO + "/invitations"): (_r("administration"),),
    ("PATCH", REPO + "/invitations/{invitation_id}"): (_r("administration", "write"),),
    ("DELETE", REPO + "/invitations/{invitation_id}"): (_r("administration", "write"),),
    # checks
    ("POST", REPO + "/check-runs"): (_r("checks", "write"),),
    ("GET", REPO + "/check-runs/{check_run_id}"): (_r("checks"),),
    ("PATCH", REPO + "/check-runs/{check_run_id}"): (_r("checks", "write"),),
    ("GET", REPO + "/check-runs/{check_run_id}/annotations"): (_r("checks"),),
    ("GET", REPO + "/commits/{ref}/check-runs"): (_r("checks"),),
    # pull requests
    ("GET", REPO + "/pulls"): (_r("pull_requests"),),
    ("POST", REPO + "/pulls"): (_r("pull_requests", "write"),),
    ("GET", REPO + "/pulls/{pull_number}"): (_r("pull_requests"),),
    # GraphQL: each field checks what it reads (see graphql.py)
    ("POST", "/graphql"): (),
}


def grants(permissions: dict[str, str], need: Need) -> bool:
    """Whether a token's ``permissions`` satisfy ``need`` (write covers read; any repository permission
    brings ``metadata: read``)."""
    have = permissions.get(need.permission)
    if have is None and need.permission == "metadata" and need.access == "read":
        return any(p in REPOSITORY_PERMISSIONS for p in permissions)
    if have not in ACCESS_LEVELS or need.access not in ACCESS_LEVELS:
        return False
    return ACCESS_LEVELS.index(have) >= ACCESS_LEVELS.index(need.access)
