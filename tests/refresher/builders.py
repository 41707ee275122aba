"""Builders for the planner's inputs (stored tokens and listed installations)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class _Stored:
    installation_id: int
    org: str
    account_type: str
    expires_at: datetime
    suspended: bool
    disallowed_since: datetime | None = None


@dataclass(frozen=True)
class _Installation:
    id: int
    account_login: str
    account_type: str
    suspended: bool


def stored(installation_id: int, expires_at: datetime, *, org: str | None = None,
           account_type: str = "Organization", suspended: bool = False,
           disallowed_since: datetime | None = None) -> _Stored:
    return _Stored(installation_id, org or f"org-{installation_id}", account_type, expires_at, suspended,
                   disallowed_since)


def installation(installation_id: int, *, login: str | None = None, account_type: str = "Organization",
                 suspended: bool = False) -> _Installation:
    return _Installation(installation_id, login or f"org-{installation_id}", account_type, suspended)
