"""Pull requests: opened from a branch of the same repository, listed with GitHub's filters, following
their branch's new commits; GitHub's 422s for a missing branch, no commits between, or a duplicate."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fakes.client import call, mint
from tests.fakes.github import FakeGitHub

PULLS = "/repos/octo-org/.github/pulls"


@pytest.fixture
def token(fake_github: FakeGitHub, app_key: rsa.RSAPrivateKey) -> str:
    fake_github.installations[1].permissions.update(contents="write", pull_requests="write")
    fake_github.push_commit("octo-org/.github", {"README.md": "hi"})
    fake_github.push_commit(
        "octo-org/.github", {"peribolos.yaml": "orgs: {}\n"}, branch="peribolos/bootstrap"
    )
    return mint(fake_github, app_key, 1)


@pytest.mark.parametrize(
    ("body", "status"),
    [
        pytest.param(
            {
                "title": "Add peribolos.yaml",
                "head": "peribolos/bootstrap",
                "base": "main",
                "body": "exported",
            },
            201,
            id="open",
        ),
        pytest.param(
            {"title": "t", "head": "octo-org:peribolos/bootstrap", "base": "main"},
            201,
            id="owner-qualified-head",
        ),
        pytest.param({"title": "t", "head": "nope", "base": "main"}, 422, id="no-head-branch"),
        pytest.param({"title": "t", "head": "peribolos/bootstrap", "base": "nope"}, 422, id="no-base-branch"),
        pytest.param({"title": "t", "head": "main", "base": "main"}, 422, id="no-commits-between"),
        pytest.param({"head": "peribolos/bootstrap", "base": "main"}, 422, id="no-title"),
        pytest.param(
            {"title": "t", "head": "someone:peribolos/bootstrap", "base": "main"}, 422, id="fork-head"
        ),
    ],
)
def test_open_pull_request(fake_github: FakeGitHub, token: str, body: dict, status: int) -> None:
    answer = call(fake_github, "POST", PULLS, token, json=body)
    assert answer.status_code == status, answer.text
    if status == 201:
        pull = answer.json()
        assert (pull["number"], pull["state"], pull["head"]["ref"], pull["base"]["ref"]) == (
            1,
            "open",
            "peribolos/bootstrap",
            "main",
        )
        assert pull["head"]["sha"] == fake_github.head_sha("octo-org/.github", "peribolos/bootstrap")
        assert pull["user"]["login"] == "peribolos-test[bot]"
        assert fake_github.pulls("octo-org/.github")[0]["number"] == 1


def test_list_filters_and_duplicates(fake_github: FakeGitHub, token: str) -> None:
    body = {"title": "t", "head": "peribolos/bootstrap", "base": "main"}
    assert call(fake_github, "POST", PULLS, token, json=body).status_code == 201
    duplicate = call(fake_github, "POST", PULLS, token, json=body)
    assert duplicate.json()["message"] == "A pull request already exists for octo-org:peribolos/bootstrap."
    listed = call(fake_github, "GET", f"{PULLS}?state=open&head=octo-org:peribolos/bootstrap", token).json()
    assert [p["number"] for p in listed] == [1]
    assert call(fake_github, "GET", f"{PULLS}?head=octo-org:other", token).json() == []
    assert call(fake_github, "GET", f"{PULLS}?state=closed", token).json() == []
    assert call(fake_github, "GET", f"{PULLS}?state=merged", token).status_code == 422
    assert call(fake_github, "GET", f"{PULLS}/1", token).json()["title"] == "t"
    assert call(fake_github, "GET", f"{PULLS}/2", token).status_code == 404


def test_pull_request_head_follows_its_branch(fake_github: FakeGitHub, token: str) -> None:
    call(
        fake_github, "POST", PULLS, token, json={"title": "t", "head": "peribolos/bootstrap", "base": "main"}
    )
    push = fake_github.push_commit(
        "octo-org/.github", {"peribolos.yaml": "orgs: {a: {}}\n"}, branch="peribolos/bootstrap"
    )
    assert call(fake_github, "GET", f"{PULLS}/1", token).json()["head"]["sha"] == push.after
