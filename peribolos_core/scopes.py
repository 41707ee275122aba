"""What each token a TaskRun mints may do: the rule "peribolos flag → GitHub permissions", and our own steps'.

One token per consumer, each narrowed with ``permissions`` (and ``repositories``) at mint time:

- **peribolos'** carries only what its enabled ``--fix-*`` flags need (:data:`FIX_FLAGS`): write where the
  sync applies the config, the read equivalent for a dry run. It reaches the org's repositories only when
  a flag manages them (``--fix-repos``, ``--fix-collaborators``, ``--fix-team-repos``); otherwise it is
  narrowed to the config repository and carries no repository permission, so it reads no repository.
- **fetch-config's**: ``contents: read`` on the config repository only (:data:`FETCH_CONFIG`).
- **report's**: ``checks: write`` and ``contents: read`` (the default branch's head, for the "never an
  older revision" check) on the config repository only (:data:`REPORT`).

The generator renders the peribolos scope into the ``prepare`` step's arguments and the App manifest's
permissions from :func:`peribolos_scope`; ``tests/core/test_scopes.py`` runs the real peribolos with each
flag and the token this rule gives it against the fake GitHub's permission table. Pure data: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from .actions import stronger

READ, WRITE = "read", "write"


@dataclass(frozen=True)
class FixFlag:
    """One peribolos ``--fix-*`` flag and what the org it manages needs of a token."""

    flag: str
    values_key: str
    """``peribolos.<key>`` in the generator's values."""
    permissions: Mapping[str, str]
    """What applying it (``--confirm``) needs; a dry run needs each at most ``read``."""
    manages_repos: bool = False
    """It reads or changes repositories: the token then reaches the org's repositories."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "permissions", MappingProxyType(dict(self.permissions)))


FIX_FLAGS: tuple[FixFlag, ...] = (
    # peribolos reads the members to check the org's admins even when it only changes the org's metadata.
    FixFlag("--fix-org", "fixOrg", {"organization_administration": WRITE, "members": READ}),
    FixFlag("--fix-org-members", "fixOrgMembers", {"members": WRITE}),
    FixFlag("--fix-teams", "fixTeams", {"members": WRITE}),
    FixFlag("--fix-team-members", "fixTeamMembers", {"members": WRITE}),
    # A team's access to a repository is changed on the repository: administration too.
    FixFlag("--fix-team-repos", "fixTeamRepos", {"members": WRITE, "administration": WRITE}, True),
    FixFlag("--fix-repos", "fixRepos", {"administration": WRITE}, True),
    FixFlag("--fix-collaborators", "fixCollaborators", {"administration": WRITE}, True),
)
BASE: Mapping[str, str] = MappingProxyType({"members": READ})
"""What peribolos reads whatever flags are on: the org's members and admins."""
FETCH_CONFIG: Mapping[str, str] = MappingProxyType({"contents": READ})
"""fetch-config's token, on the config repository only."""
REPORT: Mapping[str, str] = MappingProxyType({"checks": WRITE, "contents": READ})
"""report's token (and prepare's, which creates the check run and reads the branch head), on the config
repository only."""


@dataclass(frozen=True)
class Scope:
    """What one token is minted with: ``permissions``, and ``repositories`` (None: every repository of the
    installation; a tuple of names: only those)."""

    permissions: Mapping[str, str] = field(default_factory=dict)
    repositories: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "permissions", MappingProxyType(dict(sorted(self.permissions.items()))))


def _flag_name(argument: str) -> str:
    """``--fix-org=true`` → ``--fix-org``; a flag set false (``--fix-org=false``) is no flag."""
    name, _, value = argument.partition("=")
    return "" if value.lower() in ("false", "0") else name


def enabled(flags: Iterable[str]) -> list[FixFlag]:
    """The :data:`FIX_FLAGS` a peribolos command line turns on (in table order)."""
    names = {_flag_name(argument) for argument in flags}
    return [fix for fix in FIX_FLAGS if fix.flag in names]


def peribolos_permissions(flags: Iterable[str], confirm: bool) -> dict[str, str]:
    """The least permissions peribolos needs for ``flags`` (its command line): write levels with
    ``--confirm``, read ones for a dry run."""
    out = dict(BASE)
    for fix in enabled(flags):
        for permission, level in fix.permissions.items():
            wanted = level if confirm else READ
            out[permission] = stronger(out.get(permission), wanted) or wanted
    return dict(sorted(out.items()))


def manages_repos(flags: Iterable[str]) -> bool:
    return any(fix.manages_repos for fix in enabled(flags))


def peribolos_scope(flags: Iterable[str], confirm: bool, config_repo: str) -> Scope:
    """peribolos' token: :func:`peribolos_permissions`, on every repository when a flag manages them,
    else on ``config_repo`` alone (GitHub has no "no repository": a token without repository permissions
    narrowed to one repository is the least there is)."""
    flags = list(flags)
    repositories = None if manages_repos(flags) else (config_repo,)
    return Scope(peribolos_permissions(flags, confirm), repositories)


def config_repo_scope(permissions: Mapping[str, str], config_repo: str) -> Scope:
    """One of our own steps' tokens: ``permissions`` on the config repository only."""
    return Scope(permissions, (config_repo,))


def parse_permission(text: str) -> tuple[str, str]:
    """``members=write`` → ``("members", "write")``; ValueError naming what is wrong."""
    name, sep, level = text.partition("=")
    name, level = name.strip(), level.strip()
    if not sep or not name or not name.replace("_", "").isalnum() or level not in (READ, WRITE):
        raise ValueError(f"{text!r} is not PERMISSION=read or PERMISSION=write")
    return name, level
