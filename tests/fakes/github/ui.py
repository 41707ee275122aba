"""Changes made "by hand in GitHub's UI": what an org owner clicks, applied to the state directly (no
request, no token), so drift-repair tests can make the org differ from its config."""

from __future__ import annotations

from typing import Any

from tests.fakes.github.models import TEAM_PERMISSIONS, FakeOrg, FakeTeam, Repo, slugify
from tests.fakes.github.state import GitHubState


class GitHubUI:
    """``fake.ui.add_member("octo-org", "eve")``... Every change takes the state's lock."""

    def __init__(self, state: GitHubState) -> None:
        self._state = state

    def _org(self, login: str) -> FakeOrg:
        found = self._state.org(login)
        if found is None:
            raise KeyError(f"no organisation {login!r} in the fake GitHub")
        return found

    def _team(self, org: str, slug: str) -> FakeTeam:
        found = self._org(org).teams.get(slug.lower())
        if found is None:
            raise KeyError(f"no team {slug!r} in {org!r}")
        return found

    def _repo(self, full_name: str) -> Repo:
        found = self._state.repo(*full_name.split("/", 1))
        if found is None:
            raise KeyError(f"no repository {full_name!r} in the fake GitHub")
        return found

    # -- members -----------------------------------------------------------------------------------
    def add_member(self, org: str, login: str, role: str = "member") -> None:
        """A member at once (as if they had accepted an invitation)."""
        with self._state.lock:
            found = self._org(org)
            found.invitations.pop(login, None)
            found.admins.discard(login)
            found.members.discard(login)
            (found.admins if role == "admin" else found.members).add(login)

    def remove_member(self, org: str, login: str) -> None:
        self._state.remove_membership(self._org(org), login)

    def set_role(self, org: str, login: str, role: str) -> None:
        with self._state.lock:
            if self._org(org).role_of(login) is None:
                raise KeyError(f"{login!r} is not a member of {org!r}")
            self.add_member(org, login, role)

    def accept_invitation(self, org: str, login: str) -> None:
        """The invitee accepts: a member with the invited role, and of the teams that invited them."""
        with self._state.lock:
            found = self._org(org)
            role = found.invitations.pop(login)
            (found.admins if role == "admin" else found.members).add(login)
            for team in found.teams.values():
                if login in team.invitations:
                    team.invitations.discard(login)
                    team.members.add(login)

    def edit_org(self, org: str, **fields: Any) -> None:
        with self._state.lock:
            found = self._org(org)
            for key, value in fields.items():
                if not hasattr(found, key):
                    raise AttributeError(f"organisations have no setting {key!r}")
                setattr(found, key, value)

    # -- teams -------------------------------------------------------------------------------------
    def create_team(
        self, org: str, name: str, privacy: str = "closed", parent: str | None = None, description: str = ""
    ) -> FakeTeam:
        with self._state.lock:
            found = self._org(org)
            team = FakeTeam(
                self._state.new_team_id(), name, slugify(name), description, privacy, parent=parent
            )
            found.teams[team.slug] = team
            return team

    def edit_team(self, org: str, slug: str, **fields: Any) -> None:
        """Change a team's ``name`` (its slug follows), ``description``, ``privacy`` or ``parent``."""
        with self._state.lock:
            team = self._team(org, slug)
            for key, value in fields.items():
                if key not in ("name", "description", "privacy", "parent"):
                    raise AttributeError(f"teams have no setting {key!r}")
                if key != "name":
                    setattr(team, key, value)
            if "name" in fields:
                self._state.rename_team(self._org(org), team, fields["name"])

    def delete_team(self, org: str, slug: str) -> None:
        self._state.delete_team(self._org(org), self._team(org, slug).slug)

    def add_team_member(self, org: str, slug: str, login: str, role: str = "member") -> None:
        with self._state.lock:
            team = self._team(org, slug)
            team.members.discard(login)
            team.maintainers.discard(login)
            (team.maintainers if role == "maintainer" else team.members).add(login)

    def remove_team_member(self, org: str, slug: str, login: str) -> None:
        with self._state.lock:
            team = self._team(org, slug)
            team.members.discard(login)
            team.maintainers.discard(login)

    def set_team_repo(self, org: str, slug: str, repo: str, permission: str | None) -> None:
        """Give the team ``permission`` on ``repo`` (a name in the org), or take it away (None)."""
        with self._state.lock:
            team = self._team(org, slug)
            self._repo(f"{org}/{repo}")
            team.repos.pop(repo, None)
            if permission is not None:
                if permission not in TEAM_PERMISSIONS:
                    raise ValueError(f"permission must be one of {TEAM_PERMISSIONS}")
                team.repos[repo] = permission

    # -- repositories ------------------------------------------------------------------------------
    def edit_repo(self, full_name: str, **settings: Any) -> None:
        with self._state.lock:
            found = self._repo(full_name)
            for key, value in settings.items():
                if not hasattr(found, key) or key in ("owner", "name", "id", "commits", "branches"):
                    raise AttributeError(f"repositories have no setting {key!r} to change here")
                setattr(found, key, value)

    def add_collaborator(self, full_name: str, login: str, permission: str = "push") -> None:
        with self._state.lock:
            self._repo(full_name).collaborators[login] = permission

    def remove_collaborator(self, full_name: str, login: str) -> None:
        with self._state.lock:
            self._repo(full_name).collaborators.pop(login, None)

    def accept_repo_invitation(self, full_name: str, login: str) -> None:
        with self._state.lock:
            found = self._repo(full_name)
            invite = next(i for i in found.invitations.values() if i.login.lower() == login.lower())
            found.invitations.pop(invite.id)
            found.collaborators[invite.login] = invite.permission
