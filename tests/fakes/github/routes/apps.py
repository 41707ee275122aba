"""The App itself: ``/app``, its installations and their tokens (App JWT), the installation's repositories
(installation token) and the App-manifest conversion (no authentication)."""

from __future__ import annotations

import secrets

from tests.fakes.github import shapes
from tests.fakes.github.auth import check_mint_request
from tests.fakes.github.models import App, FakeInstallation, Token, slugify
from tests.fakes.github.replies import (
    MSG_NOT_ACCESSIBLE,
    MSG_SECONDARY,
    MSG_SUSPENDED,
    Reply,
    error,
    iso,
    not_found,
    page,
    paged,
)
from tests.fakes.github.router import Call, RouteTable

ROUTES = RouteTable("apps")
MANIFEST_CODE_TTL = 3600.0
"""A manifest flow's code converts once, within an hour of GitHub's redirect."""


@ROUTES.route("GET", "/app", auth="app")
def get_app(call: Call) -> Reply:
    assert call.caller.app is not None
    return Reply(200, shapes.integration(call.caller.app, call.urls))


def _installations(call: Call) -> list[FakeInstallation]:
    assert call.caller.app is not None
    app_id = call.caller.app.id
    every = call.state.installations
    return [every[k] for k in sorted(every) if every[k].app_id == app_id]


def _installation_json(call: Call, inst: FakeInstallation) -> dict:
    account = call.state.account(inst.account_login)
    assert account is not None and call.caller.app is not None
    return shapes.installation(inst, call.caller.app, account, call.urls)


@ROUTES.route("GET", "/app/installations", auth="app")
def list_installations(call: Call) -> Reply:
    installations = _installations(call)
    return page(
        f"{call.urls.api}/app/installations", call.query, installations, lambda i: _installation_json(call, i)
    )


def _installation(call: Call) -> FakeInstallation:
    """The App's installation the path names (404 for another App's or an unknown one)."""
    assert call.caller.app is not None
    wanted = call.params["installation_id"]
    found = call.state.installations.get(int(wanted)) if wanted.isdigit() else None
    if found is None or found.app_id != call.caller.app.id:
        raise not_found()
    return found


@ROUTES.route("GET", "/app/installations/{installation_id}", auth="app")
def get_installation(call: Call) -> Reply:
    return Reply(200, _installation_json(call, _installation(call)))


@ROUTES.route("POST", "/app/installations/{installation_id}/access_tokens", auth="app")
def create_access_token(call: Call) -> Reply:
    """201 with a ~520-character token; 403 suspended or over the mint budget; 422 for a scope the
    installation lacks."""
    inst = _installation(call)
    if inst.suspended:
        raise error(403, MSG_SUSPENDED)
    account = call.state.account(inst.account_login)
    assert account is not None
    permissions, repositories = check_mint_request(call.body, inst, account)
    if not call.ctx.admit_mint(call.now):
        raise error(403, MSG_SECONDARY, {"retry-after": "60"})
    token = "ghs_" + secrets.token_urlsafe(387)
    expires = call.now + call.ctx.token_ttl
    call.state.tokens[token] = Token(
        inst.id, expires, permissions, repositories, number=len(call.state.tokens) + 1
    )
    answer: dict = {
        "token": token,
        "expires_at": iso(expires),
        "permissions": permissions,
        "repository_selection": "selected" if repositories is not None else inst.repository_selection,
    }
    if repositories is not None:
        answer["repositories"] = [
            shapes.repository(account.repos[name], account, call.urls) for name in sorted(repositories)
        ]
    return Reply(201, answer)


@ROUTES.route("GET", "/installation/repositories")
def list_installation_repositories(call: Call) -> Reply:
    """The repositories the token reaches, as ``{total_count, repository_selection, repositories}``."""
    inst = call.caller.installation
    assert inst is not None and call.caller.token is not None
    account = call.state.account(inst.account_login)
    assert account is not None
    reached = [r for _, r in sorted(account.repos.items()) if call.caller.reaches(r)]
    items, headers = paged(f"{call.urls.api}/installation/repositories", call.query, reached)
    selection = "selected" if call.caller.token.repositories is not None else inst.repository_selection
    body = {
        "total_count": len(reached),
        "repository_selection": selection,
        "repositories": [shapes.repository(r, account, call.urls) for r in items],
    }
    return Reply(200, body, headers)


@ROUTES.route("GET", "/user")
def get_authenticated_user(call: Call) -> Reply:
    """An installation token acts for no user: GitHub answers 403 (peribolos' ``--dump`` asks it)."""
    raise error(403, MSG_NOT_ACCESSIBLE)


@ROUTES.route("POST", "/app-manifests/{code}/conversions", auth="none")
def convert_manifest(call: Call) -> Reply:
    """The manifest flow's last step: the new App with its ``pem``, ``webhook_secret`` and client
    credentials. The App exists from then on: JWTs signed with that key authenticate as it."""
    code = call.state.manifest_codes.get(call.params["code"])
    if code is None or code.used or call.now - code.created_at > MANIFEST_CODE_TTL:
        raise not_found()
    code.used = True
    manifest = code.manifest
    public_key, pem = call.ctx.new_app_key()
    app_id = 900_000 + call.state.next_id("app")
    name = str(manifest.get("name") or f"app-{app_id}")
    hook = manifest.get("hook_attributes") or {}
    app = App(
        id=app_id,
        slug=slugify(name),
        name=name,
        client_id="Iv23li" + secrets.token_hex(7),
        public_keys=[public_key],
        owner_login=code.owner_login,
        description=manifest.get("description"),
        external_url=str(manifest.get("url")),
        permissions=dict(manifest.get("default_permissions") or {}),
        events=list(manifest.get("default_events") or []),
        created_at=call.now,
    )
    call.state.apps[app.id] = app
    body = {
        **shapes.integration(app, call.urls),
        "client_secret": secrets.token_hex(20),
        "webhook_secret": secrets.token_hex(20) if hook.get("url") else None,
        "pem": pem,
    }
    return Reply(201, body)
