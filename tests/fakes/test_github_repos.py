"""Repositories: settings and renames (``--fix-repos``), branches, refs and commits, contents at any ref,
file commits through ``PUT contents`` with GitHub's 404/409/422, collaborators and their invitations
(``--fix-collaborators``)."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fakes.client import call, mint
from tests.fakes.github import ZERO_SHA, FakeGitHub
from tests.fakes.github.models import git_blob_sha

CONFIG = b"orgs:\n  octo-org:\n    admins: [alice, bob]\n"


@pytest.fixture
def gh(fake_github: FakeGitHub) -> FakeGitHub:
    """octo-org's installation may also write contents (as for bootstrap pull requests)."""
    fake_github.installations[1].permissions["contents"] = "write"
    fake_github.add_org("octo-org", admins=["alice"], members=["carol"])
    fake_github.push_commit(
        "octo-org/.github", {"peribolos.yaml": CONFIG, "docs/a.md": "a", "docs/b/c.md": "c"}
    )
    return fake_github


@pytest.fixture
def token(gh: FakeGitHub, app_key: rsa.RSAPrivateKey) -> str:
    return mint(
        gh, app_key, 1, permissions={"contents": "write", "administration": "write", "metadata": "read"}
    )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_get_repo_and_its_default_branch(gh: FakeGitHub, token: str) -> None:
    repo = call(gh, "GET", "/repos/octo-org/.github", token).json()
    assert (repo["full_name"], repo["default_branch"], repo["owner"]["login"]) == (
        "octo-org/.github",
        "main",
        "octo-org",
    )
    assert call(gh, "GET", "/repos/OCTO-ORG/.GitHub", token).json()["name"] == ".github", "names ignore case"


@pytest.mark.parametrize(
    ("body", "status", "check"),
    [
        pytest.param(
            {
                "description": "config",
                "homepage": "https://example.com",
                "has_wiki": False,
                "allow_rebase_merge": False,
            },
            200,
            {"description": "config", "has_wiki": False},
            id="settings",
        ),
        pytest.param(
            {"name": "config"}, 200, {"name": "config", "full_name": "octo-org/config"}, id="rename"
        ),
        pytest.param({"default_branch": "nope"}, 422, None, id="unknown-default-branch"),
        pytest.param({"private": "no"}, 422, None, id="bad-type"),
        pytest.param({"archived": True}, 200, {"archived": True}, id="archive"),
    ],
)
def test_edit_repo(gh: FakeGitHub, token: str, body: dict, status: int, check: dict | None) -> None:
    answer = call(gh, "PATCH", "/repos/octo-org/.github", token, json=body)
    assert answer.status_code == status, answer.text
    if check:
        assert {k: answer.json()[k] for k in check} == check
    if body.get("name"):
        assert call(gh, "GET", "/repos/octo-org/config", token).status_code == 200
        assert call(gh, "GET", "/repos/octo-org/.github", token).status_code == 404


def test_archived_repositories_are_read_only(gh: FakeGitHub, token: str) -> None:
    gh.ui.edit_repo("octo-org/.github", archived=True)
    assert call(gh, "PATCH", "/repos/octo-org/.github", token, json={"description": "x"}).status_code == 403
    put = call(
        gh, "PUT", "/repos/octo-org/.github/contents/x", token, json={"message": "m", "content": _b64(b"x")}
    )
    assert put.status_code == 403
    assert call(gh, "GET", "/repos/octo-org/.github/contents/peribolos.yaml", token).status_code == 200


def test_branch_ref_and_commit(gh: FakeGitHub, token: str) -> None:
    head = gh.head_sha("octo-org/.github")
    branch = call(gh, "GET", "/repos/octo-org/.github/branches/main", token).json()
    assert branch["commit"]["sha"] == head
    ref = call(gh, "GET", "/repos/octo-org/.github/git/ref/heads/main", token).json()
    assert (ref["ref"], ref["object"]["sha"]) == ("refs/heads/main", head)
    commit = call(gh, "GET", f"/repos/octo-org/.github/commits/{head[:7]}", token).json()
    assert commit["sha"] == head
    assert {f["filename"]: f["status"] for f in commit["files"]} == {
        "peribolos.yaml": "added",
        "docs/a.md": "added",
        "docs/b/c.md": "added",
    }
    assert call(gh, "GET", "/repos/octo-org/.github/commits/main", token).json()["sha"] == head
    assert call(gh, "GET", "/repos/octo-org/.github/commits/" + "f" * 40, token).status_code == 422
    assert call(gh, "GET", "/repos/octo-org/.github/branches/nope", token).status_code == 404
    assert call(gh, "GET", "/repos/octo-org/.github/git/ref/tags/v1", token).status_code == 404


def test_create_and_move_a_branch(gh: FakeGitHub, token: str) -> None:
    head = gh.head_sha("octo-org/.github")
    refs = "/repos/octo-org/.github/git/refs"
    created = call(gh, "POST", refs, token, json={"ref": "refs/heads/bootstrap", "sha": head})
    assert created.status_code == 201, created.text
    assert gh.refs("octo-org/.github") == {"main": head, "bootstrap": head}
    again = call(gh, "POST", refs, token, json={"ref": "refs/heads/bootstrap", "sha": head})
    assert (again.status_code, again.json()["message"]) == (422, "Reference already exists")
    assert call(gh, "POST", refs, token, json={"ref": "heads/x", "sha": head}).status_code == 422
    assert call(gh, "POST", refs, token, json={"ref": "refs/heads/y", "sha": "0" * 40}).status_code == 422
    newer = gh.push_commit("octo-org/.github", {"x": "1"}).after
    moved = call(gh, "PATCH", f"{refs}/heads/bootstrap", token, json={"sha": newer})
    assert moved.status_code == 200 and gh.refs("octo-org/.github")["bootstrap"] == newer
    back = call(gh, "PATCH", f"{refs}/heads/bootstrap", token, json={"sha": head})
    assert back.json()["message"] == "Update is not a fast forward"
    forced = call(gh, "PATCH", f"{refs}/heads/bootstrap", token, json={"sha": head, "force": True})
    assert forced.status_code == 200


@pytest.mark.parametrize(
    ("path", "query", "status", "kind"),
    [
        pytest.param("peribolos.yaml", "", 200, "file", id="file-on-default-branch"),
        pytest.param("peribolos.yaml", "?ref=main", 200, "file", id="file-on-branch"),
        pytest.param("peribolos.yaml", "?ref=refs/heads/main", 200, "file", id="file-on-full-ref"),
        pytest.param("peribolos.yaml", "?ref=HEAD_SHA", 200, "file", id="file-at-sha"),
        pytest.param("docs", "", 200, "dir", id="directory"),
        pytest.param("", "", 200, "dir", id="root"),
        pytest.param("missing.yaml", "", 404, None, id="missing-file"),
        pytest.param("peribolos.yaml", "?ref=nope", 404, None, id="unknown-ref"),
    ],
)
def test_get_contents(
    gh: FakeGitHub, token: str, path: str, query: str, status: int, kind: str | None
) -> None:
    head = gh.head_sha("octo-org/.github")
    answer = call(
        gh, "GET", f"/repos/octo-org/.github/contents/{path}{query.replace('HEAD_SHA', head)}", token
    )
    assert answer.status_code == status, answer.text
    if kind == "file":
        body = answer.json()
        assert base64.b64decode(body["content"]) == CONFIG
        assert body["sha"] == git_blob_sha(CONFIG)
        assert body["download_url"].startswith(gh.url), "links stay on the fake's host"
    elif kind == "dir":
        entries = {e["name"]: e["type"] for e in answer.json()}
        assert entries == (
            {"a.md": "file", "b": "dir"} if path else {"docs": "dir", "peribolos.yaml": "file"}
        )


def test_raw_contents_and_old_revisions(gh: FakeGitHub, token: str) -> None:
    before = gh.head_sha("octo-org/.github")
    gh.push_commit("octo-org/.github", {"peribolos.yaml": "orgs: {}\n"})
    raw = {"Accept": "application/vnd.github.raw+json"}
    now = call(gh, "GET", "/repos/octo-org/.github/contents/peribolos.yaml", token, headers=raw)
    then = call(
        gh, "GET", f"/repos/octo-org/.github/contents/peribolos.yaml?ref={before}", token, headers=raw
    )
    assert (now.content, then.content) == (b"orgs: {}\n", CONFIG)


def test_empty_repository(gh: FakeGitHub, token: str) -> None:
    gh.add_repo("octo-org/empty")
    answer = call(gh, "GET", "/repos/octo-org/empty/contents/x", token)
    assert (answer.status_code, answer.json()["message"]) == (404, "This repository is empty.")
    first = call(
        gh,
        "PUT",
        "/repos/octo-org/empty/contents/README.md",
        token,
        json={"message": "first", "content": _b64(b"hi")},
    )
    assert first.status_code == 201, "the first file of an empty repository starts its default branch"
    assert gh.file_at("octo-org/empty", "main", "README.md") == b"hi"


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        pytest.param({"message": "add", "content": "bmV3Cg=="}, 201, None, id="create-new-file"),
        pytest.param({"message": "change", "content": "bmV3Cg==", "sha": "BLOB"}, 200, None, id="update"),
        pytest.param(
            {"message": "change", "content": "bmV3Cg=="},
            422,
            'Invalid request.\n\n"sha" wasn\'t supplied.',
            id="update-without-sha",
        ),
        pytest.param(
            {"message": "change", "content": "bmV3Cg==", "sha": "deadbeef"},
            409,
            "peribolos.yaml does not match deadbeef",
            id="stale-sha",
        ),
        pytest.param(
            {"message": "x", "content": "bmV3Cg==", "branch": "nope", "sha": "deadbeef"},
            404,
            "Branch nope not found",
            id="unknown-branch-checked-first",
        ),
        pytest.param({"content": "bmV3Cg=="}, 422, None, id="no-message"),
        pytest.param({"message": "x", "content": "not base64!"}, 422, None, id="bad-base64"),
    ],
)
def test_put_contents(gh: FakeGitHub, token: str, body: dict, status: int, message: str | None) -> None:
    path = "new.yaml" if body.get("message") == "add" else "peribolos.yaml"
    if body.get("sha") == "BLOB":
        body = {**body, "sha": git_blob_sha(CONFIG)}
    before = gh.head_sha("octo-org/.github")
    answer = call(gh, "PUT", f"/repos/octo-org/.github/contents/{path}", token, json=body)
    assert answer.status_code == status, answer.text
    if message:
        assert answer.json()["message"] == message
    if status in (200, 201):
        after = gh.head_sha("octo-org/.github")
        assert answer.json()["commit"]["sha"] == after != before
        assert answer.json()["commit"]["parents"][0]["sha"] == before
        assert gh.file_at("octo-org/.github", after, path) == b"new\n"
        assert gh.file_at("octo-org/.github", before, path) == (CONFIG if path == "peribolos.yaml" else None)
    else:
        assert gh.head_sha("octo-org/.github") == before


def test_put_contents_on_a_branch(gh: FakeGitHub, token: str) -> None:
    head = gh.head_sha("octo-org/.github")
    call(gh, "POST", "/repos/octo-org/.github/git/refs", token, json={"ref": "refs/heads/b", "sha": head})
    answer = call(
        gh,
        "PUT",
        "/repos/octo-org/.github/contents/peribolos.yaml",
        token,
        json={"message": "m", "content": _b64(b"x"), "sha": git_blob_sha(CONFIG), "branch": "b"},
    )
    assert answer.status_code == 200
    assert gh.head_sha("octo-org/.github") == head, "main did not move"
    assert gh.file_at("octo-org/.github", "b", "peribolos.yaml") == b"x"


def test_collaborators_and_invitations(gh: FakeGitHub, token: str) -> None:
    base = "/repos/octo-org/.github"
    assert (
        call(gh, "PUT", f"{base}/collaborators/carol", token, json={"permission": "write"}).status_code == 204
    )
    invited = call(gh, "PUT", f"{base}/collaborators/outsider", token, json={"permission": "read"})
    assert invited.status_code == 201 and invited.json()["permissions"] == "read"
    assert call(gh, "PUT", f"{base}/collaborators/x", token, json={"permission": "owner"}).status_code == 422
    direct = call(gh, "GET", f"{base}/collaborators?affiliation=direct", token).json()
    assert [(c["login"], c["role_name"]) for c in direct] == [("carol", "write")]
    everyone = {c["login"]: c["role_name"] for c in call(gh, "GET", f"{base}/collaborators", token).json()}
    assert everyone == {"alice": "admin", "carol": "write"}
    (invitation,) = call(gh, "GET", f"{base}/invitations", token).json()
    assert (invitation["invitee"]["login"], invitation["permissions"]) == ("outsider", "read")
    patched = call(
        gh, "PATCH", f"{base}/invitations/{invitation['id']}", token, json={"permissions": "maintain"}
    )
    assert patched.json()["permissions"] == "maintain"
    gh.ui.accept_repo_invitation("octo-org/.github", "outsider")
    assert gh.state.repo("octo-org", ".github").collaborators == {"carol": "push", "outsider": "maintain"}
    assert call(gh, "DELETE", f"{base}/collaborators/carol", token).status_code == 204
    call(gh, "PUT", f"{base}/collaborators/late", token, json={"permission": "pull"})
    (late,) = call(gh, "GET", f"{base}/invitations", token).json()
    assert call(gh, "DELETE", f"{base}/invitations/{late['id']}", token).status_code == 204
    assert call(gh, "DELETE", f"{base}/invitations/{late['id']}", token).status_code == 404


def test_push_commit_says_what_a_webhook_carries(gh: FakeGitHub) -> None:
    first = gh.push_commit("octo-org/new-repo", {"a": "1"}, branch="dev")
    assert (first.ref, first.before, first.added) == ("refs/heads/dev", ZERO_SHA, ("a",))
    second = gh.push_commit("octo-org/new-repo", {"a": "2", "b": "3"}, branch="dev")
    assert (second.before, second.modified, second.added) == (first.after, ("a",), ("b",))
    third = gh.push_commit("octo-org/new-repo", {"a": None}, branch="dev", message="drop a")
    assert third.removed == ("a",) and gh.file_at("octo-org/new-repo", third.after, "a") is None
    webhook = third.webhook_fields()
    assert (webhook["ref"], webhook["before"], webhook["after"], webhook["created"]) == (
        "refs/heads/dev",
        second.after,
        third.after,
        False,
    )
    assert webhook["head_commit"] == webhook["commits"][0]
    assert (webhook["head_commit"]["message"], webhook["head_commit"]["removed"]) == ("drop a", ["a"])
    assert first.webhook_fields()["created"] is True
