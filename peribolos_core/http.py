"""The one HTTP transport to GitHub: a ``requests.Session`` with timeouts, retries and rate-limit waits.

Pure part (no I/O, unit-tested on literal values): :func:`error_for_response` turns a status, headers and
body into one of our :mod:`errors`; :func:`rate_limit_wait` reads how long GitHub asks us to wait;
:func:`backoff_delay` is the retry schedule. :class:`Transport` is the loop around them:

- every request has a timeout (connect and read) and an overall deadline (:data:`DEADLINE`): a server
  trickling a byte a second is cut off by a watchdog that shuts the connection's socket;
- an answer is read up to :data:`MAX_RESPONSE_BYTES` and refused beyond; pagination
  (:meth:`Transport.paginate`) stops at :data:`MAX_PAGES` and at a ``Link: next`` that points back to a
  page already read; each error says which bound was hit;
- 5xx, timeouts and connection errors are retried ``max_retries`` times with exponential backoff;
- 429 and 403-rate-limit answers wait ``retry-after`` or until ``x-ratelimit-reset`` and retry, unless the
  wait is longer than ``max_rate_limit_wait``: then :class:`RateLimited` goes up so the caller can decide;
- nothing here logs or raises a header value; Authorization is passed per request, never stored.
"""

from __future__ import annotations

import json
import logging
import math
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3.connection
import urllib3.connectionpool
from requests.adapters import HTTPAdapter

from . import logs
from .errors import (
    BadCredentials,
    ConfigError,
    GitHubError,
    GitHubRequestError,
    GitHubUnavailable,
    InstallationSuspended,
    RateLimited,
)

log = logging.getLogger(__name__)

USER_AGENT = f"peribolos-as-a-service/0.1.0 python-requests/{requests.__version__}"
API_VERSION = "2022-11-28"
SECONDARY_LIMIT_WAIT = 60.0
"""GitHub's advice when a secondary limit comes without retry-after: wait at least a minute."""
MAX_RATE_LIMIT_WAIT = 3600.0
"""Longest wait a rate-limit answer is taken at its word for: GitHub's primary limit resets within the hour,
so a longer ``retry-after`` (``1e308``) or reset is clamped to this, and the message says so."""
_MAX_MESSAGE = 300
DEADLINE = 60.0
"""Seconds one HTTP exchange (connect, send, every byte of the answer) may take, whatever the pace."""
MAX_RESPONSE_BYTES = 16 * 1024 * 1024
"""Largest answer read: a config file fits the steps' 16 Mi volume; a page of installations is ~500 KB."""
MAX_ERROR_BODY_BYTES = 64 * 1024
"""Of an error answer, only this much is read (for GitHub's message)."""
MAX_PAGES = 1000
"""Pages of a listing followed at most: 100,000 installations at 100 a page."""


def github_message(body: bytes, hide: Sequence[str] = ()) -> str:
    """GitHub's ``{"message": ...}`` from an error body, shortened; the raw start of the body otherwise.

    Secrets (``hide``: the credential this request sent; and every registered one) are taken out before
    the text is cut, so a server echoing the Authorization header cannot leave a token's first characters.
    """
    decoded = body.decode("utf-8", "replace")
    try:
        data = json.loads(decoded or "null")
    except ValueError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("message"), str):
        text = data["message"]
    else:
        text = decoded[: _MAX_MESSAGE * 4]  # room for the secrets to be whole before they are hidden
    for secret in hide:
        if secret:
            text = text.replace(secret, logs.REDACTED)
    text = " ".join(logs.redact(text).split())
    return text[:_MAX_MESSAGE] or "(empty body)"


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def rate_limit_wait(status: int, headers: Mapping[str, str], message: str, now: float) -> float | None:
    """Seconds GitHub asks us to wait before retrying, or None when this answer is no rate limit.

    In GitHub's order: a ``retry-after`` header; ``x-ratelimit-remaining: 0`` with ``x-ratelimit-reset``
    (epoch seconds); a 429 or a 403 saying "secondary rate limit" without either: one minute.
    """
    if status not in (403, 429):
        return None
    retry_after = _header(headers, "retry-after")
    if retry_after is not None:
        try:
            seconds = float(retry_after)
        except ValueError:
            return SECONDARY_LIMIT_WAIT
        return SECONDARY_LIMIT_WAIT if math.isnan(seconds) else max(0.0, seconds)
    if _header(headers, "x-ratelimit-remaining") == "0":
        try:
            reset = float(_header(headers, "x-ratelimit-reset") or "")
        except ValueError:
            return SECONDARY_LIMIT_WAIT
        return SECONDARY_LIMIT_WAIT if math.isnan(reset) else max(0.0, reset - now) + 1.0
    if status == 429 or "rate limit" in message.lower():
        return SECONDARY_LIMIT_WAIT
    return None


def error_for_response(
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    now: float,
    what: str,
    on_404: type[GitHubError] = GitHubRequestError,
    hint_401: str = "",
    hide: Sequence[str] = (),
) -> GitHubError:
    """The error an unsuccessful answer means. ``what`` ("POST /app/installations/1/access_tokens") leads the
    message; ``on_404`` is InstallationGone on installation endpoints; ``hint_401`` says what to check;
    ``hide`` the secrets the request carried, never to be quoted back."""
    message = github_message(body, hide)
    text = f"{what}: HTTP {status}: {message}"
    wait = rate_limit_wait(status, headers, message, now)
    if wait is not None:
        if wait > MAX_RATE_LIMIT_WAIT:
            limit = MAX_RATE_LIMIT_WAIT
            note = f"GitHub asked for {wait:.3g}s, clamped to {limit:.0f}s"
            return RateLimited(status, f"{text} (retry in {limit:.0f}s: {note})", retry_after=limit)
        return RateLimited(status, f"{text} (retry in {wait:.0f}s)", retry_after=wait)
    if status == 401:
        return BadCredentials(status, f"{text}; {hint_401}" if hint_401 else text)
    if status == 403 and "suspended" in message.lower():
        return InstallationSuspended(status, f"{text}; the org must unsuspend the App to get tokens again")
    if status == 404:
        return on_404(status, text)
    if status >= 500:
        return GitHubUnavailable(status, text)
    return GitHubRequestError(status, text)


def backoff_delay(attempt: int, base: float = 0.5, cap: float = 8.0) -> float:
    """Seconds to wait before retry number ``attempt`` (0-based) of a 5xx or connection error."""
    return min(cap, base * (2**attempt))


def normalise_api_url(api_url: str) -> str:
    """``https://api.github.com`` or a GHES ``https://ghe.example.com/api/v3``, without a trailing slash."""
    url = api_url.strip().rstrip("/")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  # raises ValueError for a port that is not a number in 0-65535
    except ValueError as exc:  # "http://[::1": an unclosed IPv6 bracket, a bad port
        raise ConfigError(
            f"GitHub API URL {api_url!r} is not a valid URL ({exc}): use https://api.github.com "
            "or https://HOST/api/v3 for GitHub Enterprise Server"
        ) from exc
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ConfigError(
            f"GitHub API URL {api_url!r} is not an http(s) base URL: use https://api.github.com "
            "or https://HOST/api/v3 for GitHub Enterprise Server"
        )
    return url


class _Watch:
    """The overall deadline of one exchange: a timer that, once it fires, shuts down the socket of every
    connection the exchange used, so a blocked read returns at once. Connections find the exchange of
    their thread through :data:`_exchange`."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.fired = False
        self._connections: list[urllib3.connection.HTTPConnection] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True

    def __enter__(self) -> _Watch:
        _exchange.watch = self
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()
        _exchange.watch = None

    def add(self, connection: urllib3.connection.HTTPConnection) -> None:
        with self._lock:
            self._connections.append(connection)
            late = self.fired
        if late:
            self._shut(connection)

    def _fire(self) -> None:
        with self._lock:
            self.fired = True
            connections = list(self._connections)
        for connection in connections:
            self._shut(connection)

    @staticmethod
    def _shut(connection: urllib3.connection.HTTPConnection) -> None:
        sock = getattr(connection, "sock", None)
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed


_exchange = threading.local()


class _DeadlinePassed(OSError):
    """The watchdog shut the exchange's connection."""


class _Registering:
    """Mixed into urllib3's connections: each request registers its connection with the exchange."""

    def request(self, *args: Any, **kwargs: Any) -> None:
        watch = getattr(_exchange, "watch", None)
        if watch is not None:
            watch.add(self)  # type: ignore[arg-type]
        super().request(*args, **kwargs)  # type: ignore[misc]


class _WatchedHTTPConnection(_Registering, urllib3.connection.HTTPConnection):
    pass


class _WatchedHTTPSConnection(_Registering, urllib3.connection.HTTPSConnection):
    pass


class _WatchedHTTPPool(urllib3.connectionpool.HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(urllib3.connectionpool.HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection  # type: ignore[assignment]


class _Adapter(HTTPAdapter):
    """requests' adapter whose connections register with the exchange's :class:`_Watch`."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}


def new_session(pool_size: int = 32) -> requests.Session:
    """A session with a connection pool big enough for the refresher's worker threads; no urllib3 retries
    (the transport retries itself, with GitHub's rules); its connections obey the overall deadline."""
    session = requests.Session()
    adapter = _Adapter(pool_connections=4, pool_maxsize=pool_size, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def _read(response: requests.Response, limit: int) -> tuple[bytes, bool]:
    """At most ``limit`` bytes of the answer's (decoded) body, and whether that was all of it."""
    body = bytearray()
    for chunk in response.iter_content(64 * 1024):
        body += chunk
        if len(body) > limit:
            response.close()  # the rest is never read
            return bytes(body[:limit]), False
    return bytes(body), True


class Transport:
    """Sends requests to one GitHub API base URL. Thread-safe when the session is (requests' is, in practice,
    for concurrent requests on a shared pool)."""

    def __init__(
        self,
        api_url: str = "https://api.github.com",
        session: requests.Session | None = None,
        *,
        timeout: float = 10.0,
        max_retries: int = 4,
        max_rate_limit_wait: float = 60.0,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        user_agent: str = USER_AGENT,
        hint_401: str = "",
        deadline: float = DEADLINE,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
        max_pages: int = MAX_PAGES,
    ) -> None:
        if timeout <= 0 or deadline <= 0:
            raise ConfigError(f"HTTP timeout and deadline must be positive, got {timeout} and {deadline}")
        if max_response_bytes < 1 or max_pages < 1:
            raise ConfigError("max_response_bytes and max_pages must be at least 1")
        if max_retries < 0:
            raise ConfigError(f"max_retries must be 0 or more, got {max_retries}")
        self.api_url = normalise_api_url(api_url)
        self._origin = "{0.scheme}://{0.netloc}".format(urlsplit(self.api_url))
        self.session = session if session is not None else new_session()
        self.timeout = timeout
        self.max_retries = max_retries
        self.max_rate_limit_wait = max_rate_limit_wait
        self.clock = clock
        self.sleep = sleep
        self.user_agent = user_agent
        self.hint_401 = hint_401
        """Appended to a 401's message: what to check for these credentials."""
        self.deadline = deadline
        self.max_response_bytes = max_response_bytes
        self.max_pages = max_pages
        self._count_lock = threading.Lock()
        self.request_count = 0
        """HTTP requests sent, retries included."""

    def url_for(self, path_or_url: str) -> str:
        """An API path (``/app``) joined to the base URL; an absolute URL (a ``Link`` next page) only when it
        points at the same origin, so credentials never leave for another host."""
        if path_or_url.startswith("/"):
            return self.api_url + path_or_url
        if path_or_url == self._origin or path_or_url.startswith(self._origin + "/"):
            return path_or_url
        raise GitHubRequestError(None, f"refusing to follow a URL outside {self._origin}")

    def _count(self) -> None:
        with self._count_lock:
            self.request_count += 1

    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        authorization: str | None,
        json_body: Any = None,
        params: Mapping[str, Any] | None = None,
        accept: str = "application/vnd.github+json",
        on_404: type[GitHubError] = GitHubRequestError,
    ) -> requests.Response:
        """Send one request (with retries); return the 2xx response or raise a :class:`GitHubError`.

        ``authorization`` is the full header value ("Bearer <jwt>", "token <token>"), or None for the few
        calls that carry their credential elsewhere (the App-manifest conversion's code); it is used for
        this request only and never appears in an error.
        """
        url = self.url_for(path_or_url)
        what = f"{method} {urlsplit(url).path}"
        headers = {
            "Accept": accept,
            "User-Agent": self.user_agent,
            "X-GitHub-Api-Version": API_VERSION,
        }
        hide: tuple[str, ...] = ()
        if authorization is not None:
            headers["Authorization"] = authorization
            hide = (authorization, authorization.partition(" ")[2])
        attempt = 0
        while True:
            self._count()
            watch = _Watch(self.deadline)
            response = None
            try:
                with watch:
                    response = self.session.request(
                        method,
                        url,
                        headers=headers,
                        json=json_body,
                        params=params,
                        timeout=self.timeout,
                        allow_redirects=False,
                        stream=True,
                    )
                    ok = response.status_code < 300
                    content, whole = _read(response, self.max_response_bytes if ok else MAX_ERROR_BODY_BYTES)
                if watch.fired:  # a shut socket can also look like an answer that ended early
                    raise _DeadlinePassed
            except (requests.RequestException, OSError) as exc:
                if response is not None:
                    response.close()  # a half-read answer: its connection is not reused
                if watch.fired:
                    kind = f"no whole answer within {self.deadline:g}s (the deadline of one request)"
                elif isinstance(exc, requests.Timeout):
                    kind = "timed out"
                elif isinstance(exc, requests.ConnectionError | requests.exceptions.ChunkedEncodingError):
                    kind = "connection failed"
                else:
                    raise GitHubRequestError(None, f"{what}: request failed ({type(exc).__name__})") from exc
                error = GitHubUnavailable(
                    None, f"{what}: {kind} ({type(exc).__name__}) after {attempt + 1} attempt(s)"
                )
                if attempt < self.max_retries:
                    self._wait_before_retry(backoff_delay(attempt), what, kind)
                    attempt += 1
                    continue
                raise error from exc
            response._content = content  # what .content, .json() and .text read from now on
            response._content_consumed = True
            if ok and not whole:
                raise GitHubRequestError(
                    response.status_code,
                    f"{what}: the answer is over {self.max_response_bytes} bytes (the response size cap); "
                    "nothing of it was used",
                )
            if ok:
                return response
            # 3xx (a renamed repository) is not followed: an error that says so beats a silent redirect.
            error = error_for_response(
                response.status_code,
                response.headers,
                content,
                self.clock(),
                what,
                on_404,
                self.hint_401,
                hide=hide,
            )
            response.close()
            if attempt < self.max_retries:
                if isinstance(error, RateLimited) and error.retry_after <= self.max_rate_limit_wait:
                    self._wait_before_retry(error.retry_after, what, "rate limited")
                    attempt += 1
                    continue
                if isinstance(error, GitHubUnavailable):
                    self._wait_before_retry(backoff_delay(attempt), what, f"HTTP {response.status_code}")
                    attempt += 1
                    continue
            raise error

    def paginate(self, path: str, *, authorization: Callable[[], str]) -> Iterator[requests.Response]:
        """GET ``path`` and every page its ``Link: rel="next"`` leads to, at most :attr:`max_pages`;
        a next link to a page already read is an error, not a loop. ``authorization`` is asked for each
        page (a JWT may be re-signed between pages)."""
        seen: set[str] = set()
        url: str | None = path
        while url is not None:
            absolute = self.url_for(url)
            what = f"GET {urlsplit(absolute).path}"
            if absolute in seen:
                raise GitHubRequestError(
                    None, f"{what}: page {len(seen)}'s Link: next points back to a page already read; stopped"
                )
            if len(seen) >= self.max_pages:
                raise GitHubRequestError(
                    None, f"{what}: more than {self.max_pages} pages (the pagination cap); stopped"
                )
            seen.add(absolute)
            response = self.request("GET", absolute, authorization=authorization())
            yield response
            url = response.links.get("next", {}).get("url")

    def _wait_before_retry(self, seconds: float, what: str, reason: str) -> None:
        log.warning(
            "GitHub request failed, retrying",
            extra={"request": what, "reason": reason, "retry_in_seconds": round(seconds, 3)},
        )
        self.sleep(seconds)
