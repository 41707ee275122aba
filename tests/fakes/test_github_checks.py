"""Check runs as GitHub keeps them: any status, details and external ids, annotations appended across
updates, listing per ref, and GitHub's 422s (limits, missing conclusions, Actions-only values)."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fakes.client import call, mint
from tests.fakes.github import FakeGitHub

RUNS = "/repos/octo-org/.github/check-runs"


@pytest.fixture
def head(fake_github: FakeGitHub) -> str:
    return fake_github.push_commit("octo-org/.github", {"peribolos.yaml": "orgs: {}\n"}).after


@pytest.fixture
def token(fake_github: FakeGitHub, app_key: rsa.RSAPrivateKey) -> str:
    return mint(fake_github, app_key, 1, permissions={"checks": "write"}, repositories=[".github"])


def note(line: int = 1, **kw: Any) -> dict[str, Any]:
    return {
        "path": "peribolos.yaml",
        "start_line": line,
        "end_line": line,
        "annotation_level": "failure",
        "message": "unknown key",
        **kw,
    }


def output(**kw: Any) -> dict[str, Any]:
    return {"title": "t", "summary": "s", **kw}


@pytest.mark.parametrize(
    ("body", "status", "run_status", "conclusion"),
    [
        pytest.param({"status": "queued"}, 201, "queued", None, id="queued"),
        pytest.param({}, 201, "queued", None, id="queued-by-default"),
        pytest.param(
            {"status": "in_progress", "details_url": "https://dash/x", "external_id": "tr-1"},
            201,
            "in_progress",
            None,
            id="in-progress-with-links",
        ),
        pytest.param({"conclusion": "neutral"}, 201, "completed", "neutral", id="conclusion-completes"),
        pytest.param(
            {"status": "in_progress", "conclusion": "success"},
            201,
            "completed",
            "success",
            id="conclusion-wins-over-status",
        ),
        pytest.param({"status": "completed"}, 422, None, None, id="completed-without-conclusion"),
        pytest.param(
            {"completed_at": "2024-01-01T00:00:00Z"}, 422, None, None, id="completed-at-without-conclusion"
        ),
        pytest.param({"conclusion": "stale"}, 422, None, None, id="stale-is-githubs"),
        pytest.param({"status": "waiting"}, 422, None, None, id="waiting-is-actions-only"),
        pytest.param({"status": "done"}, 422, None, None, id="unknown-status"),
        pytest.param({"conclusion": "passed"}, 422, None, None, id="unknown-conclusion"),
        pytest.param({"started_at": "yesterday"}, 422, None, None, id="bad-timestamp"),
        pytest.param({"output": {"title": "t"}}, 422, None, None, id="output-needs-summary"),
        pytest.param({"output": output(summary="x" * 65536)}, 422, None, None, id="summary-too-long"),
        pytest.param({"output": output(text="x" * 65536)}, 422, None, None, id="text-too-long"),
        pytest.param({"output": output(text="x" * 65535)}, 201, "queued", None, id="text-at-the-limit"),
        pytest.param(
            {"output": output(annotations=[note(i + 1) for i in range(51)])},
            422,
            None,
            None,
            id="51-annotations",
        ),
        pytest.param(
            {"output": output(annotations=[note(start_column=1, end_line=2)])},
            422,
            None,
            None,
            id="columns-over-lines",
        ),
        pytest.param(
            {"output": output(annotations=[note(annotation_level="error")])},
            422,
            None,
            None,
            id="bad-annotation-level",
        ),
        pytest.param(
            {"output": output(annotations=[note(message="x" * 65537)])},
            422,
            None,
            None,
            id="annotation-message-over-64k",
        ),
        pytest.param(
            {"actions": [{"label": "l", "description": "d", "identifier": "i"}] * 4},
            422,
            None,
            None,
            id="four-actions",
        ),
        pytest.param({"name": ""}, 422, None, None, id="empty-name"),
        pytest.param({"head_sha": "f" * 40}, 422, None, None, id="unknown-commit"),
    ],
)
def test_create_check_run(
    fake_github: FakeGitHub,
    head: str,
    token: str,
    body: dict,
    status: int,
    run_status: str | None,
    conclusion: str | None,
) -> None:
    answer = call(
        fake_github, "POST", RUNS, token, json={"name": "peribolos/dry-run", "head_sha": head, **body}
    )
    assert answer.status_code == status, answer.text
    if status == 201:
        run = answer.json()
        assert (run["status"], run["conclusion"]) == (run_status, conclusion)
        assert run["details_url"] == body.get("details_url", "https://peribolos.example.com")
        assert run["external_id"] == body.get("external_id", "")
        assert (run["completed_at"] is not None) is (conclusion is not None)
        assert run["app"]["id"] == int(fake_github.app_id)
        assert fake_github.check_runs[0]["id"] == run["id"]
    else:
        assert fake_github.check_runs == []


def test_annotations_are_appended_across_updates(fake_github: FakeGitHub, head: str, token: str) -> None:
    created = call(
        fake_github,
        "POST",
        RUNS,
        token,
        json={
            "name": "peribolos/dry-run",
            "head_sha": head,
            "status": "in_progress",
            "output": output(annotations=[note(i + 1) for i in range(50)]),
        },
    ).json()
    run = f"{RUNS}/{created['id']}"
    updated = call(
        fake_github,
        "PATCH",
        run,
        token,
        json={
            "conclusion": "failure",
            "output": output(title="3 errors", summary="done", annotations=[note(51)]),
        },
    )
    assert updated.status_code == 200, updated.text
    body = updated.json()
    assert (body["status"], body["conclusion"], body["output"]["title"]) == (
        "completed",
        "failure",
        "3 errors",
    )
    assert body["output"]["annotations_count"] == 51
    listed = call(fake_github, "GET", f"{run}/annotations?per_page=100", token).json()
    assert [a["start_line"] for a in listed] == list(range(1, 52))
    assert fake_github.annotations(created["id"]) == listed
    again = call(fake_github, "PATCH", run, token, json={"details_url": "https://dash/run"}).json()
    assert (again["details_url"], again["output"]["annotations_count"]) == ("https://dash/run", 51)
    assert (
        call(fake_github, "PATCH", run, token, json={"status": "completed", "conclusion": None}).status_code
        == 200
    )
    assert call(fake_github, "GET", f"{RUNS}/999", token).status_code == 404


def test_list_check_runs_for_a_ref(fake_github: FakeGitHub, head: str, token: str) -> None:
    for name, conclusion in [
        ("peribolos/sync", "failure"),
        ("peribolos/sync", "success"),
        ("other", "neutral"),
    ]:
        call(
            fake_github, "POST", RUNS, token, json={"name": name, "head_sha": head, "conclusion": conclusion}
        )
    base = "/repos/octo-org/.github/commits"
    latest = call(fake_github, "GET", f"{base}/main/check-runs", token).json()
    assert latest["total_count"] == 2
    assert {(r["name"], r["conclusion"]) for r in latest["check_runs"]} == {
        ("peribolos/sync", "success"),
        ("other", "neutral"),
    }
    everything = call(
        fake_github, "GET", f"{base}/{head}/check-runs?filter=all&check_name=peribolos/sync", token
    ).json()
    assert [r["conclusion"] for r in everything["check_runs"]] == ["success", "failure"]
    paged = call(fake_github, "GET", f"{base}/{head}/check-runs?filter=all&per_page=1", token)
    assert len(paged.json()["check_runs"]) == 1 and paged.json()["total_count"] == 3 and "next" in paged.links
    assert call(fake_github, "GET", f"{base}/{'e' * 40}/check-runs", token).status_code == 422


def test_check_runs_name_the_open_pull_requests_of_their_head(
    fake_github: FakeGitHub, app_key: rsa.RSAPrivateKey
) -> None:
    fake_github.installations[1].permissions.update(contents="write", pull_requests="write")
    fake_github.push_commit("octo-org/.github", {"peribolos.yaml": "orgs: {}\n"})
    change = fake_github.push_commit(
        "octo-org/.github", {"peribolos.yaml": "orgs: {x: {}}\n"}, branch="change"
    )
    token = mint(fake_github, app_key, 1)
    pull = call(
        fake_github,
        "POST",
        "/repos/octo-org/.github/pulls",
        token,
        json={"title": "t", "head": "change", "base": "main"},
    ).json()
    run = call(fake_github, "POST", RUNS, token, json={"name": "n", "head_sha": change.after}).json()
    assert [p["number"] for p in run["pull_requests"]] == [pull["number"]]
