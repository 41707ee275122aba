"""What several route tables share: finding the org or repository a path names, and checking request
bodies field by field (422 naming the field, as GitHub's ``Validation Failed`` does)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from tests.fakes.github.models import FakeOrg, FakeTeam, Repo
from tests.fakes.github.replies import error, invalid, not_found, validation_failed
from tests.fakes.github.router import Call

MSG_ARCHIVED = "Repository was archived so is read-only."


def org_of(call: Call) -> FakeOrg:
    found = call.state.org(call.params["org"])
    if found is None:
        raise not_found()
    return found


def team_of(call: Call, org: FakeOrg) -> FakeTeam:
    found = org.teams.get(call.params["team_slug"].lower())
    if found is None:
        raise not_found()
    return found


def repo_of(call: Call) -> Repo:
    found = call.state.repo(call.params["owner"], call.params["repo"])
    if found is None:
        raise not_found()
    return found


def writable(repo: Repo) -> Repo:
    """403 for changes to an archived repository, as GitHub answers."""
    if repo.archived:
        raise error(403, MSG_ARCHIVED)
    return repo


Spec = Mapping[str, type | tuple[type, ...] | tuple[str, ...]]
"""Field -> allowed JSON type(s) (a type or a tuple of types), or the allowed string values (a tuple)."""


def check_body(body: Mapping[str, Any], spec: Spec, resource: str, required: Collection[str] = ()) -> None:
    """422 for a missing required field, a value of the wrong type or outside its enum. Fields the spec
    does not name are ignored, as GitHub ignores them."""
    for name in required:
        if body.get(name) in (None, ""):
            raise invalid(name, resource, "missing_field")
    for name, allowed in spec.items():
        if name not in body or body[name] is None:
            continue
        value = body[name]
        kinds = (allowed,) if isinstance(allowed, type) else tuple(allowed)
        if all(isinstance(k, type) for k in kinds):
            if isinstance(value, bool) and bool not in kinds:
                raise invalid(name, resource, value=value)
            if not isinstance(value, kinds):
                raise invalid(name, resource, value=value)
        elif value not in allowed:
            raise invalid(name, resource, value=value)


def list_of_strings(body: Mapping[str, Any], name: str) -> list[str]:
    value = body.get(name) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise validation_failed(f"Invalid request.\n\nFor '{name}', the value is not an array of strings.")
    return value


def set_fields(target: object, body: Mapping[str, Any], names: Collection[str]) -> bool:
    """Copy the named fields present in ``body`` onto ``target``; whether anything changed."""
    changed = False
    for name in names:
        if name in body and body[name] is not None and getattr(target, name) != body[name]:
            setattr(target, name, body[name])
            changed = True
    return changed
