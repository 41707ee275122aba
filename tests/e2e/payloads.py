"""Variants of the real GitHub payloads in tests/fixtures/github-webhooks, derived in code.

The fixture files stay byte-identical to upstream (octokit/webhooks); each function copies one and sets
only the fields that make it an event of our test organisation.
"""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "github-webhooks"


def load_payload(event: str, name: str) -> dict[str, Any]:
    """A real GitHub payload: ``load_payload("installation", "created")`` reads
    tests/fixtures/github-webhooks/installation/created.payload.json."""
    return json.loads((FIXTURES / event / f"{name}.payload.json").read_text())


def sha(seed: str) -> str:
    return hashlib.sha1(seed.encode()).hexdigest()  # noqa: S324 - a made-up commit id, not security


def installation(action: str, installation_id: int, org: str) -> dict[str, Any]:
    """installation.created / deleted / suspend ... for organisation ``org``."""
    payload = copy.deepcopy(load_payload("installation", action))
    payload["installation"]["id"] = installation_id
    payload["installation"]["account"].update({"login": org, "type": "Organization"})
    payload["sender"]["login"] = f"{org}-admin"
    return payload


def _with_org_repo(payload: dict[str, Any], installation_id: int, org: str, repo: str, branch: str) -> None:
    payload["installation"] = {"id": installation_id, "node_id": "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uMQ=="}
    payload["organization"] = {**payload.get("organization", {}), "login": org}
    repository = payload["repository"]
    repository.update({"name": repo, "full_name": f"{org}/{repo}", "default_branch": branch})
    repository["owner"].update({"login": org, "type": "Organization"})


def push(
    installation_id: int,
    org: str,
    *,
    repo: str = ".github",
    ref: str = "refs/heads/main",
    default_branch: str = "main",
    modified: tuple[str, ...] = ("peribolos.yaml",),
    after: str | None = None,
) -> dict[str, Any]:
    """A push of one commit that modifies ``modified`` (push/with-installation, re-targeted)."""
    payload = copy.deepcopy(load_payload("push", "with-installation"))
    _with_org_repo(payload, installation_id, org, repo, default_branch)
    after = after or sha(f"{org}/{repo}@{ref}:{','.join(modified)}")
    payload.update(
        {
            "ref": ref,
            "after": after,
            "before": sha("before"),
            "created": False,
            "deleted": False,
            "forced": False,
            "base_ref": None,
        }
    )
    commit = {
        "id": after,
        "tree_id": sha("tree"),
        "distinct": True,
        "message": "Update peribolos.yaml",
        "timestamp": "2026-11-27T10:00:00Z",
        "url": f"https://github.com/{org}/{repo}/commit/{after}",
        "author": {"name": "Octo Cat", "email": "octocat@example.com", "username": "octocat"},
        "committer": {"name": "Octo Cat", "email": "octocat@example.com", "username": "octocat"},
        "added": [],
        "removed": [],
        "modified": list(modified),
    }
    payload["commits"] = [commit]
    payload["head_commit"] = commit
    return payload


def pull_request(
    installation_id: int, org: str, *, repo: str = ".github", base: str = "main", head_sha: str | None = None
) -> dict[str, Any]:
    """pull_request.opened against ``base`` of ``org/repo`` (the default branch is ``main``)."""
    payload = copy.deepcopy(load_payload("pull_request", "opened.with-organization"))
    _with_org_repo(payload, installation_id, org, repo, "main")
    pull = payload["pull_request"]
    pull["base"]["ref"] = base
    pull["base"]["repo"].update({"name": repo, "full_name": f"{org}/{repo}", "default_branch": "main"})
    pull["head"]["sha"] = head_sha or sha(f"{org}/{repo} pr head")
    return payload


def ping() -> dict[str, Any]:
    return copy.deepcopy(load_payload("ping", "with-app_id"))


def installation_repositories(action: str, installation_id: int, org: str) -> dict[str, Any]:
    """installation_repositories.added (or removed) for organisation ``org``."""
    payload = copy.deepcopy(load_payload("installation_repositories", "added"))
    payload["action"] = action
    payload["installation"]["id"] = installation_id
    payload["installation"]["account"].update({"login": org, "type": "Organization"})
    return payload


def check_run_rerequested(
    installation_id: int,
    org: str,
    *,
    name: str,
    app_id: int,
    head_sha: str | None = None,
    pull: int | None = None,
) -> dict[str, Any]:
    """check_run.rerequested of check run ``name`` on ``org/.github`` (main), made by App ``app_id``."""
    payload = copy.deepcopy(load_payload("check_run", "rerequested.with-organization"))
    _with_org_repo(payload, installation_id, org, ".github", "main")
    check_run = payload["check_run"]
    check_run.update({"name": name, "head_sha": head_sha or sha(f"{org} check run {name}")})
    check_run["app"]["id"] = app_id
    check_run["check_suite"]["head_branch"] = "main" if pull is None else "feature"
    check_run["pull_requests"] = [] if pull is None else [{"number": pull, "id": pull, "url": ""}]
    return payload
