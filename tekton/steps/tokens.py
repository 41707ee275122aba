"""The token steps' own part: the token file handed to peribolos, and the log fields of an outcome.

What install, uninstall and ensure-token do is :mod:`peribolos_core.tokens` (shared with the refresher).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from peribolos_core.token_secret import secret_name
from peribolos_core.tokens import TokenOutcome

from .files import write_atomically


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
