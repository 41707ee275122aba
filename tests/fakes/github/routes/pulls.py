"""Pull requests within one repository: open one from a branch, list them (``state``, ``head``, ``base``
filters), get one. A pull request's head follows pushes to its branch."""

from __future__ import annotations

from tests.fakes.github import shapes
from tests.fakes.github.models import Pull, Repo
from tests.fakes.github.replies import Reply, invalid, not_found, page, validation_failed
from tests.fakes.github.router import Call, RouteTable
from tests.fakes.github.routes.common import check_body, repo_of, writable

ROUTES = RouteTable("pulls")
REPO = "/repos/{owner}/{repo}"


def _branch(repo: Repo, head: str) -> str:
    """``owner:branch`` or ``branch`` -> ``branch`` (forks are not modelled: the owner must be the repo's)."""
    owner, sep, name = head.partition(":")
    if sep and owner.lower() != repo.owner.lower():
        raise invalid("head", "PullRequest")
    return name if sep else head


@ROUTES.route("POST", REPO + "/pulls")
def create_pull(call: Call) -> Reply:
    repo = writable(repo_of(call))
    body = call.json_object()
    check_body(
        body,
        {"title": str, "head": str, "base": str, "body": str, "draft": bool, "maintainer_can_modify": bool},
        "PullRequest",
        required=("title", "head", "base"),
    )
    head, base = _branch(repo, body["head"]), body["base"]
    if head not in repo.branches:
        raise invalid("head", "PullRequest")
    if base not in repo.branches:
        raise invalid("base", "PullRequest")
    if repo.branches[head] == repo.branches[base]:
        raise validation_failed(f"No commits between {base} and {head}")
    pulls = call.state.pulls.setdefault(repo.full_name.lower(), [])
    if any(p.state == "open" and p.head == head and p.base == base for p in pulls):
        raise validation_failed(f"A pull request already exists for {repo.owner}:{head}.")
    assert call.caller.installation is not None
    app = call.state.apps[call.caller.installation.app_id]
    pull = Pull(
        number=call.state.next_id(f"issue:{repo.full_name.lower()}"),
        id=800_000 + call.state.next_id("pull"),
        repo=repo.full_name,
        title=body["title"],
        body=body.get("body"),
        head=head,
        head_sha=repo.branches[head],
        base=base,
        base_sha=repo.branches[base],
        user=f"{app.slug}[bot]",
        draft=bool(body.get("draft")),
        created_at=call.now,
        updated_at=call.now,
    )
    pulls.append(pull)
    return Reply(201, _json(call, repo, pull))


def _json(call: Call, repo: Repo, pull: Pull) -> dict:
    owner = call.state.account(repo.owner)
    assert owner is not None
    return shapes.pull_request(pull, repo, owner, call.urls)


@ROUTES.route("GET", REPO + "/pulls")
def list_pulls(call: Call) -> Reply:
    repo = repo_of(call)
    state = call.arg("state", "open")
    if state not in ("open", "closed", "all"):
        raise invalid("state", "PullRequest")
    head, base = call.arg("head"), call.arg("base")
    head_branch = _branch(repo, head) if head else None
    pulls = [
        p
        for p in reversed(call.state.pulls.get(repo.full_name.lower(), []))
        if (state == "all" or p.state == state)
        and (head_branch is None or p.head == head_branch)
        and (base is None or p.base == base)
    ]
    items = [_json(call, repo, p) for p in pulls]
    return page(f"{call.urls.api}/repos/{repo.full_name}/pulls", call.query, items)


@ROUTES.route("GET", REPO + "/pulls/{pull_number}")
def get_pull(call: Call) -> Reply:
    repo = repo_of(call)
    number = call.params["pull_number"]
    found = next(
        (p for p in call.state.pulls.get(repo.full_name.lower(), []) if str(p.number) == number), None
    )
    if found is None:
        raise not_found()
    return Reply(200, _json(call, repo, found))
