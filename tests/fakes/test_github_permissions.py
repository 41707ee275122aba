"""The permission table: one entry for every installation route, none for a route that does not exist,
and GitHub's rules for what a grant covers."""

from __future__ import annotations

import pytest

from tests.fakes.github.permissions import ROUTE_PERMISSIONS, Need, grants
from tests.fakes.github.routes import ALL


def test_every_installation_route_has_an_entry_and_no_entry_is_stale() -> None:
    served = {(r.method, r.template) for r in ALL if r.auth == "installation"}
    assert served - set(ROUTE_PERMISSIONS) == set(), "routes without a permission entry"
    assert set(ROUTE_PERMISSIONS) - served == set(), "entries for routes the fake does not serve"


def test_routes_are_unique_and_app_routes_take_no_token() -> None:
    keys = [(r.method, r.template) for r in ALL]
    assert len(keys) == len(set(keys))
    assert {r.template for r in ALL if r.auth == "app"} == {
        "/app",
        "/app/installations",
        "/app/installations/{installation_id}",
        "/app/installations/{installation_id}/access_tokens",
    }
    assert [r.template for r in ALL if r.auth == "none"] == ["/app-manifests/{code}/conversions"]


def test_reads_need_read_and_changes_need_write() -> None:
    for (method, template), needs in ROUTE_PERMISSIONS.items():
        if method == "GET":
            assert all(n.access == "read" for n in needs), template
        elif template != "/graphql":  # GraphQL checks each field it resolves
            assert any(n.access == "write" for n in needs), (method, template)


@pytest.mark.parametrize(
    ("permissions", "need", "granted"),
    [
        pytest.param({"contents": "read"}, Need("contents", "read"), True, id="read-covers-read"),
        pytest.param({"contents": "write"}, Need("contents", "read"), True, id="write-covers-read"),
        pytest.param({"contents": "read"}, Need("contents", "write"), False, id="read-is-not-write"),
        pytest.param({}, Need("contents", "read"), False, id="nothing"),
        pytest.param(
            {"checks": "write"}, Need("metadata", "read"), True, id="repo-permission-brings-metadata"
        ),
        pytest.param({"members": "write"}, Need("metadata", "read"), False, id="org-permission-does-not"),
        pytest.param(
            {"metadata": "read"}, Need("metadata", "write"), False, id="metadata-write-never-implied"
        ),
        pytest.param({"contents": "bogus"}, Need("contents", "read"), False, id="unknown-level"),
    ],
)
def test_grants(permissions: dict[str, str], need: Need, granted: bool) -> None:
    assert grants(permissions, need) is granted
