"""What the fake answers with: the :class:`Reply` a route raises or returns, GitHub's error bodies and
messages, and ``Link`` pagination. No I/O here."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

DOCS = "https://docs.github.com/rest"
MSG_JWT_UNDECODABLE = "A JSON web token could not be decoded"
MSG_EXP_TOO_FAR = "'Expiration time' claim ('exp') is too far in the future"
MSG_EXPIRED = (
    "'Expiration time' claim ('exp') must be a numeric value representing the future time at which "
    "the assertion expires"
)
MSG_IAT = "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued"
MSG_BAD_CREDENTIALS = "Bad credentials"
MSG_REQUIRES_AUTH = "Requires authentication"
MSG_INTEGRATION_NOT_FOUND = "Integration not found"
MSG_SUSPENDED = "This installation has been suspended"
MSG_NOT_ACCESSIBLE = "Resource not accessible by integration"
MSG_PERMISSIONS_NOT_GRANTED = "The permissions requested are not granted to this installation."
MSG_REPOS_NOT_ACCESSIBLE = (
    "There is at least one repository that does not exist or is not accessible to the parent installation."
)
MSG_SECONDARY = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. "
    "If you reach out to GitHub Support for help, please include the request ID ABCD:1234."
)
MSG_PRIMARY = "API rate limit exceeded for installation. Check out the documentation for more information."
MSG_NOT_FOUND = "Not Found"
MSG_BAD_JSON = "Problems parsing JSON"


class Reply(Exception):
    """An answer: raised inside a route (auth failures, 404s, 422s) or returned by it.

    ``payload`` is JSON-able, or ``bytes`` sent as they are; ``None`` with status 204 sends no body."""

    def __init__(self, status: int, payload: Any = None, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.payload = payload
        self.headers = dict(headers or {})
        self.route: str | None = None
        """The route template that answered (set by the fake; None for 404s and faults)."""
        self.token_id: int | None = None
        """The number of the installation token the request carried, if any."""

    def __repr__(self) -> str:
        return f"Reply({self.status})"


def error(status: int, message: str, headers: Mapping[str, str] | None = None) -> Reply:
    """GitHub's ``basic-error`` body."""
    return Reply(status, {"message": message, "documentation_url": DOCS, "status": str(status)}, headers)


def not_found() -> Reply:
    return error(404, MSG_NOT_FOUND)


def validation_failed(message: str = "Validation Failed", errors: Sequence[Mapping[str, Any]] = ()) -> Reply:
    """422 with GitHub's ``validation-error`` body (``errors`` of ``{resource, field, code}`` or messages)."""
    body: dict[str, Any] = {"message": message, "documentation_url": DOCS, "status": "422"}
    if errors:
        body["errors"] = [dict(e) for e in errors]
    return Reply(422, body)


def invalid(field: str, resource: str, code: str = "invalid", **extra: Any) -> Reply:
    """422 ``Validation Failed`` naming one field, as GitHub does for a bad value in a request body."""
    return validation_failed(errors=[{"resource": resource, "field": field, "code": code, **extra}])


def no_content() -> Reply:
    return Reply(204)


def iso(ts: float) -> str:
    """GitHub's timestamps: UTC, seconds, ``Z``."""
    return datetime.fromtimestamp(int(ts), tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(value: Any) -> float | None:
    """Epoch seconds of an ISO 8601 timestamp, or None when ``value`` is not one."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()


def page_params(query: Mapping[str, list[str]]) -> tuple[int, int]:
    """``(per_page, page)``: per_page 1-100 (default 30), page from 1; 422 for non-numbers."""
    try:
        per_page = min(100, max(1, int(query.get("per_page", ["30"])[0])))
        page = max(1, int(query.get("page", ["1"])[0]))
    except ValueError as exc:
        raise validation_failed("Invalid pagination parameters") from exc
    return per_page, page


def link_header(url: str, query: Mapping[str, list[str]], page: int, last: int, per_page: int) -> str:
    """GitHub's ``Link`` header for page ``page`` of ``last``; the links keep the request's other query
    parameters (sorted, so they are stable) and end with ``per_page`` and ``page``."""
    others = [(k, v[0]) for k, v in sorted(query.items()) if k not in ("per_page", "page")]

    def link(number: int, rel: str) -> str:
        return f'<{url}?{urlencode([*others, ("per_page", per_page), ("page", number)])}>; rel="{rel}"'

    links = []
    if page < last:
        links += [link(page + 1, "next"), link(last, "last")]
    if page > 1:
        links += [link(1, "first"), link(page - 1, "prev")]
    return ", ".join(links)


def paged(
    url: str, query: Mapping[str, list[str]], items: Sequence[Any], shape: Callable[[Any], Any] | None = None
) -> tuple[list[Any], dict[str, str]]:
    """One page of ``items`` (each passed through ``shape``, only those on the page) and its headers
    (``Link`` when there is more than one page)."""
    per_page, page = page_params(query)
    last = max(1, -(-len(items) // per_page))
    link = link_header(url, query, page, last, per_page)
    chosen = items[(page - 1) * per_page : page * per_page]
    return [shape(i) for i in chosen] if shape else list(chosen), ({"link": link} if link else {})


def page(
    url: str, query: Mapping[str, list[str]], items: Sequence[Any], shape: Callable[[Any], Any] | None = None
) -> Reply:
    """A 200 answer holding one page of ``items``."""
    body, headers = paged(url, query, items, shape)
    return Reply(200, body, headers)
