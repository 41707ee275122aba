"""An organisation's current state on GitHub, written as a peribolos config (the bootstrap pull request's
file).

peribolos' own ``--dump`` cannot do this with an installation token: it asks ``GET /user`` for the token's
user first, which GitHub refuses an App (``tests/fakes/test_github_peribolos.py`` runs it to show so).

Two parts: :func:`read_org` reads what peribolos compares, through the installation client (the I/O);
:func:`to_config` and :func:`to_yaml` (pure) turn that :class:`OrgState` into the file. The file is built
so that peribolos, run on it against the same org with the same flags, changes nothing:

- team keys are team *names* (peribolos finds and renames teams by name), logins and repository names are
  spelt as GitHub spells them, nested teams sit under their parent's ``teams:``;
- pending invitations are listed where they lead (an org invitation under ``admins`` or ``members``, a team
  invitation under the team's ``members``): peribolos cancels invitations the file does not list, and
  waits for those it does;
- secret teams are left out with ``--ignore-secret-teams`` (peribolos would create them again otherwise);
- repositories are listed only when the service manages them (``--fix-repos``: their settings, those equal
  to GitHub's defaults left out as peribolos' own dump does; ``--fix-collaborators``: their direct
  collaborators and pending invitations). peribolos leaves unlisted repositories alone.

Org settings (``--fix-org``) are not exported: peribolos changes only the settings a file names.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from peribolos_core.github import GitHubInstallationClient, Repository, Team

from .yaml_nodes import resolve_plain

BRANCH_DEFAULT = "main"
"""GitHub's default branch name for new repositories: a ``default_branch`` equal to it is left out."""
REPO_DEFAULTS: dict[str, Any] = {
    "description": "",
    "homepage": "",
    "has_issues": True,
    "has_wiki": True,
    "allow_squash_merge": True,
    "allow_merge_commit": True,
    "allow_rebase_merge": True,
    "squash_merge_commit_title": "COMMIT_OR_PR_TITLE",
    "squash_merge_commit_message": "COMMIT_MESSAGES",
    "default_branch": BRANCH_DEFAULT,
}
"""Settings left out when they hold GitHub's default (``has_projects`` is always written: its default
follows an org setting)."""
REPO_KEYS = (
    "description",
    "homepage",
    "has_issues",
    "has_projects",
    "has_wiki",
    "allow_squash_merge",
    "allow_merge_commit",
    "allow_rebase_merge",
    "squash_merge_commit_title",
    "squash_merge_commit_message",
    "default_branch",
)
"""The settings ``--fix-repos`` compares, in peribolos' order (visibility and archived are handled apart)."""


@dataclass(frozen=True)
class ExportOptions:
    """What the service manages, from the peribolos flags it runs with."""

    repos: bool = False
    """``--fix-repos``: list the org's repositories with their settings."""
    collaborators: bool = False
    """``--fix-collaborators``: list the org's repositories with their direct collaborators."""
    ignore_secret_teams: bool = False
    """``--ignore-secret-teams``: leave secret teams out, as peribolos does."""

    @property
    def lists_repos(self) -> bool:
        return self.repos or self.collaborators


@dataclass(frozen=True)
class TeamState:
    team: Team
    maintainers: tuple[str, ...] = ()
    members: tuple[str, ...] = ()
    invitees: tuple[str, ...] = ()
    """Invited to the org through this team, not yet accepted."""
    repos: Mapping[str, str] = field(default_factory=dict)
    """Repository name -> level (read, triage, write, maintain, admin)."""


@dataclass(frozen=True)
class RepoState:
    repo: Repository
    collaborators: Mapping[str, str] | None = None
    """Direct collaborators and pending invitations -> level; None when collaborators are not managed."""


@dataclass(frozen=True)
class OrgState:
    """What GitHub holds of an org, as the peribolos flags see it."""

    login: str
    admins: tuple[str, ...]
    members: tuple[str, ...]
    invitations: Mapping[str, str] = field(default_factory=dict)
    """Pending org invitations: login -> role (``admin``, ``direct_member``...)."""
    teams: tuple[TeamState, ...] = ()
    repos: tuple[RepoState, ...] = ()


# -- reading (I/O through the client) ---------------------------------------------------------------------


def read_org(client: GitHubInstallationClient, org: str, options: ExportOptions) -> OrgState:
    """Everything :func:`to_config` needs, read with GitHub's REST API (every listing paginated)."""
    teams = []
    for team in client.list_teams(org):
        if options.ignore_secret_teams and team.privacy == "secret":
            continue  # not read: to_config leaves it out
        teams.append(
            TeamState(
                team,
                maintainers=tuple(client.list_team_members(org, team.slug, "maintainer")),
                members=tuple(client.list_team_members(org, team.slug, "member")),
                invitees=tuple(client.list_team_invitations(org, team.slug)),
                repos=client.list_team_repos(org, team.slug),
            )
        )
    repos = []
    if options.lists_repos:
        for name in client.list_org_repos(org):
            repo = client.get_repo(f"{org}/{name}")
            if repo is None:  # deleted between the list and the read
                continue
            collaborators = None
            if options.collaborators:
                invited = client.list_repo_invitations(repo.full_name)
                collaborators = {**invited, **client.list_direct_collaborators(repo.full_name)}
            repos.append(RepoState(repo, collaborators))
    return OrgState(
        login=org,
        admins=tuple(client.list_org_members(org, "admin")),
        members=tuple(client.list_org_members(org, "member")),
        invitations=client.list_org_invitations(org),
        teams=tuple(teams),
        repos=tuple(repos),
    )


# -- the config (pure) ------------------------------------------------------------------------------------


def _by_name(names: Iterable[str]) -> list[str]:
    """Sorted as a reader looks for them (case-insensitively), ties broken exactly: deterministic."""
    return sorted(names, key=lambda name: (name.lower(), name))


class _Logins:
    """Logins compared as GitHub and peribolos compare them (case-insensitively), spelt the way the org's
    member lists spell them."""

    def __init__(self) -> None:
        self.spelling: dict[str, str] = {}

    def add(self, login: str) -> str:
        return self.spelling.setdefault(login.lower(), login)

    def known(self, login: str) -> bool:
        return login.lower() in self.spelling

    def spell(self, login: str) -> str:
        return self.spelling.get(login.lower(), login)


def _distinct(logins: Iterable[str], taken: set[str]) -> list[str]:
    """``logins`` once each (any case), leaving out those already in ``taken`` (lower case), which grows."""
    out = []
    for login in logins:
        if login.lower() not in taken:
            taken.add(login.lower())
            out.append(login)
    return _by_name(out)


def to_config(state: OrgState, options: ExportOptions) -> dict[str, Any]:
    """The peribolos config of ``state`` (``{"orgs": {login: {...}}}``), keys in peribolos' order."""
    logins = _Logins()
    for login in (*state.admins, *state.members):
        logins.add(login)
    invited_admins = [login for login, role in state.invitations.items() if role == "admin"]
    invited_members = [login for login, role in state.invitations.items() if role != "admin"]
    for login in (*invited_admins, *invited_members):
        logins.add(login)
    taken: set[str] = set()
    org: dict[str, Any] = {
        "admins": _distinct((*state.admins, *invited_admins), taken),
        "members": _distinct((*state.members, *invited_members), taken),
    }
    shown = tuple(
        entry for entry in state.teams if not (options.ignore_secret_teams and entry.team.privacy == "secret")
    )
    teams = _team_tree(shown, logins)
    if teams:
        org["teams"] = teams
    if options.lists_repos:
        repos = {
            entry.repo.name: _repo(entry, options, logins)
            for entry in sorted(state.repos, key=lambda r: (r.repo.name.lower(), r.repo.name))
        }
        if repos:
            org["repos"] = repos
    return {"orgs": {state.login: org}}


def _team_tree(teams: tuple[TeamState, ...], logins: _Logins) -> dict[str, Any]:
    """Teams nested under their parents (a parent GitHub did not list makes its child a top-level team)."""
    by_id = {entry.team.id: entry for entry in teams}
    children: dict[int | None, list[TeamState]] = {}
    for entry in teams:
        parent = entry.team.parent_id if entry.team.parent_id in by_id else None
        children.setdefault(parent, []).append(entry)

    def level(parent: int | None, seen: frozenset[int]) -> dict[str, Any]:
        out = {}
        for entry in sorted(children.get(parent, []), key=lambda e: (e.team.name.lower(), e.team.name)):
            if entry.team.id in seen:  # a cycle GitHub cannot have: never loop on bad data
                continue
            below = level(entry.team.id, seen | {entry.team.id})
            out[entry.team.name] = _team(entry, below, logins)
        return out

    return level(None, frozenset())


def _team(entry: TeamState, children: dict[str, Any], logins: _Logins) -> dict[str, Any]:
    team: dict[str, Any] = {}
    if entry.team.description:
        team["description"] = entry.team.description
    team["privacy"] = entry.team.privacy
    taken: set[str] = set()
    maintainers = _distinct((logins.spell(x) for x in entry.maintainers), taken)
    # A team invitation is an org invitation too; one GitHub lists without it cannot be in the file.
    invitees = (logins.spell(x) for x in entry.invitees if logins.known(x))
    members = _distinct((*(logins.spell(x) for x in entry.members), *invitees), taken)
    if maintainers:
        team["maintainers"] = maintainers
    if members:
        team["members"] = members
    if entry.repos:
        team["repos"] = {name: entry.repos[name] for name in _by_name(entry.repos)}
    if children:
        team["teams"] = children
    return team


def _repo(entry: RepoState, options: ExportOptions, logins: _Logins) -> dict[str, Any]:
    repo = entry.repo
    out: dict[str, Any] = {}
    if options.repos:
        for key in REPO_KEYS:
            value = getattr(repo, key)
            if value is not None and REPO_DEFAULTS.get(key, object()) != value:
                out[key] = value
        if repo.visibility != "public":
            out["visibility"] = repo.visibility
        if repo.archived:
            out["archived"] = True
    if entry.collaborators is not None and entry.collaborators:
        levels = {logins.spell(login): level for login, level in entry.collaborators.items()}
        out["collaborators"] = {login: levels[login] for login in _by_name(levels)}
    return out


# -- the file (pure) --------------------------------------------------------------------------------------


class _Dumper(yaml.SafeDumper):
    """Block style, lists indented under their key, and every text that go-yaml v2 would read as something
    else (``no``, ``y``, ``1e3``, ``0123``, ``~``, ``<<``) in double quotes."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        return super().increase_indent(flow, False)


def _represent_text(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    quoted = not text or resolve_plain(text)[0] != "str"
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style='"' if quoted else None)


_Dumper.add_representer(str, _represent_text)


def to_yaml(config: Mapping[str, Any], header: Iterable[str] = ()) -> str:
    """``config`` as YAML (one line per value, keys in the given order), after ``header`` comment lines."""
    body = yaml.dump(
        config,
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=1 << 30,
    )
    return "".join(f"# {line}".rstrip() + "\n" for line in header) + body


def export(state: OrgState, options: ExportOptions, header: Iterable[str] = ()) -> str:
    """The peribolos config file of ``state``."""
    return to_yaml(to_config(state, options), header)


def secret_teams(state: OrgState) -> list[str]:
    """Names of the secret teams the export lists (the file shows them to whoever reads it)."""
    return _by_name(entry.team.name for entry in state.teams if entry.team.privacy == "secret")


def pending(state: OrgState) -> Iterator[str]:
    """Logins the export lists only because they are invited (sorted)."""
    yield from _by_name(state.invitations)
