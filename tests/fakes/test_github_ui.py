"""Changes "by hand in GitHub's UI" land in the state the API answers from (drift tests rely on it)."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fakes.client import call, mint
from tests.fakes.github import FakeGitHub, FakeTeam


@pytest.fixture
def token(fake_github: FakeGitHub, app_key: rsa.RSAPrivateKey) -> str:
    fake_github.add_org(
        "octo-org",
        admins=["alice"],
        members=["carol"],
        teams=[FakeTeam(7, "Reviewers", "reviewers", members={"carol"}, repos={"site": "push"})],
    )
    return mint(fake_github, app_key, 1)


def logins(gh: FakeGitHub, token: str, path: str) -> list[str]:
    return [u["login"] for u in call(gh, "GET", path, token).json()]


def test_members_by_hand(fake_github: FakeGitHub, token: str) -> None:
    ui = fake_github.ui
    ui.add_member("octo-org", "eve")
    ui.set_role("octo-org", "carol", "admin")
    ui.remove_member("octo-org", "alice")
    assert logins(fake_github, token, "/orgs/octo-org/members?role=admin") == ["carol"]
    assert logins(fake_github, token, "/orgs/octo-org/members?role=member") == ["eve"]
    call(fake_github, "PUT", "/orgs/octo-org/memberships/zoe", token, json={"role": "member"})
    ui.accept_invitation("octo-org", "zoe")
    assert call(fake_github, "GET", "/orgs/octo-org/memberships/zoe", token).json()["state"] == "active"
    with pytest.raises(KeyError):
        ui.set_role("octo-org", "nobody", "admin")


def test_teams_by_hand(fake_github: FakeGitHub, token: str) -> None:
    ui = fake_github.ui
    ui.create_team("octo-org", "Hand Made", parent="reviewers")
    ui.add_team_member("octo-org", "hand-made", "carol", "maintainer")
    ui.edit_team("octo-org", "reviewers", name="Code Reviewers", description="renamed")
    ui.set_team_repo("octo-org", "code-reviewers", "site", "admin")
    teams = {t["slug"]: t for t in call(fake_github, "GET", "/orgs/octo-org/teams", token).json()}
    assert set(teams) == {"code-reviewers", "hand-made"}
    assert teams["code-reviewers"]["description"] == "renamed"
    assert logins(fake_github, token, "/orgs/octo-org/teams/hand-made/members?role=maintainer") == ["carol"]
    repos = call(fake_github, "GET", "/orgs/octo-org/teams/code-reviewers/repos", token).json()
    assert [(r["name"], r["role_name"]) for r in repos] == [("site", "admin")]
    assert teams["hand-made"]["parent"]["slug"] == "code-reviewers", "children follow a renamed parent"
    ui.remove_team_member("octo-org", "hand-made", "carol")
    ui.set_team_repo("octo-org", "code-reviewers", "site", None)
    assert call(fake_github, "GET", "/orgs/octo-org/teams/code-reviewers/repos", token).json() == []
    with pytest.raises(KeyError):
        ui.delete_team("octo-org", "reviewers")
    ui.delete_team("octo-org", "code-reviewers")
    assert call(fake_github, "GET", "/orgs/octo-org/teams", token).json() == [], "with its child team"


def test_settings_by_hand(fake_github: FakeGitHub, token: str) -> None:
    fake_github.ui.edit_org("octo-org", description="by hand")
    fake_github.ui.edit_repo("octo-org/site", has_wiki=False)
    assert call(fake_github, "GET", "/orgs/octo-org", token).json()["description"] == "by hand"
    assert call(fake_github, "GET", "/repos/octo-org/site", token).json()["has_wiki"] is False
    with pytest.raises(AttributeError):
        fake_github.ui.edit_org("octo-org", colour="blue")
