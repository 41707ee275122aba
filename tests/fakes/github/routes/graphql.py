"""GraphQL: the one query peribolos sends (``--fix-collaborators``, and ``--dump``): a repository's direct
collaborators with their permissions, paged with ``first``/``after``::

    repository(owner: $owner, name: $name) {
      collaborators(affiliation: DIRECT, first: $first, after: $after) {
        edges { permission node { login } }  pageInfo { hasNextPage endCursor } } }

Any other query is answered with a GraphQL error and recorded in ``handler_errors`` (a gap of the fake,
so the test that met it fails and says which query it was). Served at ``/graphql`` under the API prefix
(``https://api.github.com/graphql``) and, for a GitHub Enterprise prefix ``/api/v3``, at ``/api/graphql``.
"""

from __future__ import annotations

import base64
import re
from typing import Any

from tests.fakes.github.replies import MSG_NOT_ACCESSIBLE, Reply
from tests.fakes.github.router import Call, RouteTable

ROUTES = RouteTable("graphql")
GRAPHQL_PERMISSIONS = {
    "pull": "READ",
    "triage": "TRIAGE",
    "push": "WRITE",
    "maintain": "MAINTAIN",
    "admin": "ADMIN",
}
_COLLABORATORS = re.compile(r"repository\(owner:\$owner,name:\$name\)\{collaborators\(affiliation:DIRECT,")


class UnsupportedQuery(Exception):
    def __init__(self, query: str) -> None:
        super().__init__(f"the fake GitHub does not serve this GraphQL query: {query[:300]}")


def _cursor(index: int) -> str:
    return base64.b64encode(f"cursor:{index}".encode()).decode()


def _after(cursor: Any) -> int:
    if not cursor:
        return 0
    try:
        return int(base64.b64decode(str(cursor)).decode().split(":", 1)[1])
    except (ValueError, IndexError):
        return 0


@ROUTES.route("POST", "/graphql")
def graphql(call: Call) -> Reply:
    body = call.json_object()
    query = body.get("query")
    variables = body.get("variables") or {}
    if not isinstance(query, str) or not isinstance(variables, dict):
        return Reply(
            200, {"errors": [{"message": "A query attribute must be specified and must be a string."}]}
        )
    compact = re.sub(r"\s+", "", query)
    if not _COLLABORATORS.search(compact):
        raise UnsupportedQuery(query)
    owner, name = str(variables.get("owner", "")), str(variables.get("name", ""))
    repo = call.state.repo(owner, name)
    assert call.caller.installation is not None
    if repo is None or owner.lower() != call.caller.installation.account_login.lower():
        error = {
            "type": "NOT_FOUND",
            "path": ["repository"],
            "message": f"Could not resolve to a Repository with the name '{owner}/{name}'.",
        }
        return Reply(200, {"data": {"repository": None}, "errors": [error]})
    if not call.caller.reaches(repo):
        error = {"type": "FORBIDDEN", "path": ["repository"], "message": MSG_NOT_ACCESSIBLE}
        return Reply(200, {"data": {"repository": None}, "errors": [error]})
    first = min(100, max(1, int(variables.get("first") or 100)))
    start = _after(variables.get("after"))
    direct = sorted(repo.collaborators.items(), key=lambda kv: kv[0].lower())
    chunk = direct[start : start + first]
    edges = [{"permission": GRAPHQL_PERMISSIONS.get(p, "READ"), "node": {"login": u}} for u, p in chunk]
    end = start + len(chunk)
    collaborators = {
        "edges": edges,
        "pageInfo": {"hasNextPage": end < len(direct), "endCursor": _cursor(end) if chunk else None},
    }
    return Reply(200, {"data": {"repository": {"collaborators": collaborators}}})
