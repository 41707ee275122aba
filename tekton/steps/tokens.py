"""install, uninstall, ensure-token: mint installation tokens and keep them in their Secrets.

Functions take the GitHub App, the token store and ``now``; they return what they did and raise
PeribolosError subclasses. They never log or return a token except through ``token`` fields with hidden
reprs, and the token file is written with mode 0600.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from peribolos_core import logs
from peribolos_core.errors import InstallationSuspended
from peribolos_core.github import GitHubApp, InstallationToken
from peribolos_core.token_secret import secret_name
from peribolos_core.token_store import TokenStore

from .files import write_atomically

log = logging.getLogger("peribolos.step")


@dataclass(frozen=True)
class TokenOutcome:
    """What install / ensure-token did: ``action`` is reused, created or updated."""

    installation_id: int
    org: str
    action: str
    expires_at: datetime
    token: str = field(repr=False)


def install(app: GitHubApp, store: TokenStore, installation_id: int) -> TokenOutcome:
    """Mint a token and write the Secret with the account's login and type (create or update)."""
    installation = app.get_installation(installation_id)
    if installation.suspended:
        store.mark_suspended(installation_id)
        raise InstallationSuspended(
            403,
            f"installation {installation_id} ({installation.account_login}) is suspended: "
            "no token until the org unsuspends the App",
        )
    token = _mint(app, store, installation_id)
    result = store.put(installation_id, token, installation.account_login, installation.account_type)
    return TokenOutcome(installation_id, installation.account_login, result, token.expires_at, token.token)


def uninstall(store: TokenStore, installation_id: int) -> bool:
    """Delete the Secret; False when it was already gone (also success)."""
    return store.delete(installation_id)


def ensure_token(
    app: GitHubApp, store: TokenStore, installation_id: int, min_valid: timedelta, now: datetime
) -> TokenOutcome:
    """The stored token when it stays valid ``min_valid`` longer; otherwise mint one and store it.

    A missing Secret is created (the install event may have been lost). A Secret marked suspended is
    minted for again: if the org unsuspended the App and we missed the event, this heals it.
    """
    stored = store.get(installation_id)
    if stored is not None and not stored.suspended and not stored.needs_refresh(min_valid, now):
        return TokenOutcome(installation_id, stored.org, "reused", stored.expires_at, stored.token)
    if stored is not None:
        org, account_type = stored.org, stored.account_type
    else:
        installation = app.get_installation(installation_id)
        org, account_type = installation.account_login, installation.account_type
    token = _mint(app, store, installation_id)
    result = store.put(installation_id, token, org, account_type)
    return TokenOutcome(installation_id, org, result, token.expires_at, token.token)


def _mint(app: GitHubApp, store: TokenStore, installation_id: int) -> InstallationToken:
    try:
        token = app.mint_token(installation_id)
    except InstallationSuspended:
        store.mark_suspended(installation_id)
        raise
    logs.register_secret(token.token)
    return token


def write_token_file(path: Path, token: str) -> None:
    """Write ``token`` to ``path`` with mode 0600, atomically (a reader never sees half a token)."""
    write_atomically(path, token.encode("utf-8"), 0o600)


def describe(outcome: TokenOutcome, now: datetime) -> dict[str, object]:
    """Log fields for an outcome (no token)."""
    return {
        "installation_id": outcome.installation_id,
        "org": outcome.org,
        "secret": secret_name(outcome.installation_id),
        "action": outcome.action,
        "expires_at": outcome.expires_at.isoformat(),
        "valid_for_seconds": int((outcome.expires_at - now).total_seconds()),
    }
