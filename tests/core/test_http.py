"""The transport: the pure error/rate-limit decisions on literal answers, then the retry loop against the
fake GitHub (a real HTTP server), with ``sleep`` recorded instead of slept."""

import importlib
import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric import rsa

from peribolos_core.errors import (
    BadCredentials,
    ConfigError,
    GitHubError,
    GitHubRequestError,
    GitHubUnavailable,
    InstallationGone,
    InstallationSuspended,
    RateLimited,
)
from peribolos_core.http import (
    API_VERSION,
    USER_AGENT,
    Transport,
    backoff_delay,
    error_for_response,
    new_session,
    normalise_api_url,
    rate_limit_wait,
)
from tests.fakes.github import MSG_SECONDARY, MSG_SUSPENDED, FakeGitHub, Fault

NOW = 1_700_000_000.0
PRIMARY_RESET_IN_120 = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(NOW) + 120)}
PRIMARY_RESET_PAST = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(NOW) - 5)}


def body(message: str) -> bytes:
    return json.dumps({"message": message, "documentation_url": "https://docs.github.com"}).encode()


@pytest.mark.parametrize(
    ("status", "headers", "content", "on_404", "kind", "temporary", "retry_after"),
    [
        (401, {}, body("Bad credentials"), None, BadCredentials, False, None),
        (403, {}, body(MSG_SUSPENDED), None, InstallationSuspended, False, None),
        (403, {}, body("Resource not accessible by integration"), None, GitHubRequestError, False, None),
        (403, {}, body(MSG_SECONDARY), None, RateLimited, True, 60.0),
        (403, {"Retry-After": "30"}, body(MSG_SECONDARY), None, RateLimited, True, 30.0),
        (403, PRIMARY_RESET_IN_120, body("API rate limit"), None, RateLimited, True, 121.0),
        (403, PRIMARY_RESET_PAST, body("API rate limit"), None, RateLimited, True, 1.0),
        (429, {"retry-after": "7"}, body("Too Many Requests"), None, RateLimited, True, 7.0),
        (429, {}, b"", None, RateLimited, True, 60.0),
        (404, {}, body("Not Found"), None, GitHubRequestError, False, None),
        (404, {}, body("Not Found"), InstallationGone, InstallationGone, False, None),
        (422, {}, body("Validation Failed"), None, GitHubRequestError, False, None),
        (
            301,
            {"location": "https://api.github.com/repositories/1"},
            body("Moved Permanently"),
            None,
            GitHubRequestError,
            False,
            None,
        ),
        (500, {}, b"<html>oops</html>", None, GitHubUnavailable, True, None),
        (502, {}, body("Server Error"), None, GitHubUnavailable, True, None),
        (503, {"x-ratelimit-remaining": "0"}, body("Unavailable"), None, GitHubUnavailable, True, None),
    ],
    ids=[
        "401-bad-credentials",
        "403-suspended",
        "403-forbidden",
        "403-secondary-no-header",
        "403-secondary-retry-after",
        "403-primary-reset",
        "403-primary-reset-past",
        "429-retry-after",
        "429-bare",
        "404-plain",
        "404-installation",
        "422",
        "301-renamed-repo",
        "500-html",
        "502",
        "503-not-a-rate-limit",
    ],
)
def test_error_for_response(
    status: int,
    headers: dict,
    content: bytes,
    on_404: type | None,
    kind: type,
    temporary: bool,
    retry_after: float | None,
) -> None:
    extra = {"on_404": on_404} if on_404 else {}
    what = "POST /app/installations/1/access_tokens"
    error = error_for_response(status, headers, content, NOW, what, **extra)
    assert type(error) is kind
    assert isinstance(error, GitHubError)
    assert error.status_code == status
    assert error.temporary is temporary
    assert str(error).startswith(f"POST /app/installations/1/access_tokens: HTTP {status}: ")
    if retry_after is not None:
        assert error.retry_after == pytest.approx(retry_after)


def test_error_message_is_githubs_and_bounded() -> None:
    error = error_for_response(422, {}, body("Validation   Failed\n" + "x" * 1000), NOW, "POST /x")
    assert "Validation Failed" in str(error)
    assert len(str(error)) < 400


@pytest.mark.parametrize(
    ("status", "headers", "message", "wait"),
    [
        (200, {"retry-after": "5"}, "", None),
        (403, {}, "Must have admin rights", None),
        (403, {"RETRY-AFTER": "abc"}, "", 60.0),
        (403, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "junk"}, "", 60.0),
        (403, {"x-ratelimit-remaining": "12"}, "", None),
    ],
    ids=["not-an-error", "plain-403", "unparsable-retry-after", "unparsable-reset", "remaining-left"],
)
def test_rate_limit_wait(status: int, headers: dict, message: str, wait: float | None) -> None:
    assert rate_limit_wait(status, headers, message, NOW) == wait


@pytest.mark.parametrize(
    ("headers", "retry_after", "said"),
    [
        ({"retry-after": "1e308"}, 3600.0, "GitHub asked for 1e+308s, clamped to 3600s"),
        ({"retry-after": "inf"}, 3600.0, "GitHub asked for infs, clamped to 3600s"),
        ({"retry-after": "nan"}, 60.0, "retry in 60s)"),
        ({"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1e308"}, 3600.0, "clamped to 3600s"),
        ({"retry-after": "3600"}, 3600.0, "retry in 3600s)"),
    ],
    ids=["huge-retry-after", "infinite", "not-a-number", "huge-reset", "an-hour-is-kept"],
)
def test_absurd_waits_are_clamped_and_the_message_says_so(
    headers: dict, retry_after: float, said: str
) -> None:
    error = error_for_response(429, headers, body("slow down"), NOW, "GET /app")
    assert isinstance(error, RateLimited)
    assert error.retry_after == retry_after
    assert said in str(error)
    assert len(str(error)) < 200


def test_backoff_doubles_and_is_capped() -> None:
    assert [backoff_delay(n) for n in range(6)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://api.github.com", "https://api.github.com"),
        ("https://api.github.com/", "https://api.github.com"),
        ("https://ghe.example.com/api/v3/", "https://ghe.example.com/api/v3"),
        ("http://127.0.0.1:8080/api/v3", "http://127.0.0.1:8080/api/v3"),
    ],
    ids=["github", "trailing-slash", "ghes", "loopback-http"],
)
def test_api_url_normalised(url: str, expected: str) -> None:
    assert normalise_api_url(url) == expected


@pytest.mark.parametrize(
    "url",
    ["api.github.com", "ftp://x", "https://", "https://h/api?x=1", ""],
    ids=["no-scheme", "ftp", "no-host", "query", "empty"],
)
def test_bad_api_url_is_a_config_error(url: str) -> None:
    with pytest.raises(ConfigError, match="not an http"):
        normalise_api_url(url)


@pytest.mark.parametrize(
    "url",
    ["http://[::1", "https://ghe.example.com:99999/api/v3", "https://ghe.example.com:port/api/v3"],
    ids=["unclosed-ipv6-bracket", "port-out-of-range", "port-not-a-number"],
)
def test_unparsable_api_url_is_a_config_error_not_a_value_error(url: str) -> None:
    with pytest.raises(ConfigError, match="is not a valid URL"):
        normalise_api_url(url)


@pytest.mark.parametrize(
    ("main", "args"),
    [
        ("tekton.steps.cli:cli", ["install", "--installation-id", "1"]),
        ("token_refresher.cli:cli", ["--namespace", "peribolos", "--dry-run"]),
    ],
    ids=["peribolos-step", "peribolos-refresh-tokens"],
)
def test_unparsable_api_url_exits_2_with_one_line(
    main: str, args: list[str], app_key_file: Path, tmp_path: Path
) -> None:
    module, name = main.split(":")
    command = getattr(importlib.import_module(module), name)
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n")
    env = {
        "GITHUB_APP_ID": "4242",
        "GITHUB_APP_PRIVATE_KEY_FILE": str(app_key_file),
        "GITHUB_API_URL": "http://[::1",
        "KUBECONFIG": str(kubeconfig),
        "POD_NAMESPACE": "peribolos",
    }
    root = logging.getLogger()
    handlers = root.handlers[:]
    try:
        result = CliRunner().invoke(command, args, env=env)
    finally:
        root.handlers[:] = handlers
    assert result.exit_code == 2, result.output
    assert "is not a valid URL" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"timeout": 0}, "timeout"), ({"max_retries": -1}, "max_retries")],
    ids=["timeout", "retries"],
)
def test_transport_settings_validated(kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Transport("https://api.github.com", **kwargs)


# -- the retry loop against the fake ------------------------------------------------------------------


@pytest.fixture
def sleeps() -> list[float]:
    return []


def transport(gh: FakeGitHub, sleeps: list[float], **kw) -> Transport:
    return Transport(gh.api_url, sleep=sleeps.append, clock=gh.clock, **kw)


def jwt_auth(key: rsa.RSAPrivateKey, gh: FakeGitHub) -> str:
    from peribolos_core.app_jwt import AppJWT

    return "Bearer " + AppJWT(gh.app_id, key).token(gh.clock())


@pytest.mark.parametrize(
    ("fault", "expected_sleeps"),
    [
        (Fault.server_error(500), [0.5, 1.0]),
        (Fault.server_error(503), [0.5, 1.0]),
        (Fault.disconnect(), [0.5, 1.0]),
        (Fault.truncated(), [0.5, 1.0]),
        (Fault.too_many_requests(retry_after=3), [3.0, 3.0]),
        (Fault.secondary_limit(retry_after=2), [2.0, 2.0]),
        (Fault.secondary_limit(retry_after=None), [60.0, 60.0]),
        (Fault.primary_limit(reset_in=30), [31.0, 31.0]),
    ],
    ids=[
        "500",
        "503",
        "disconnect",
        "truncated-body",
        "429-retry-after",
        "secondary-retry-after",
        "secondary-bare",
        "primary-reset",
    ],
)
def test_transient_failures_are_retried_then_succeed(
    fake_github: FakeGitHub,
    app_key: rsa.RSAPrivateKey,
    sleeps: list[float],
    fault: Fault,
    expected_sleeps: list[float],
) -> None:
    fake_github.clock = lambda: NOW  # frozen: the reset wait is exact
    fake_github.inject(fault, times=2, path="/app/installations/1$")
    t = transport(fake_github, sleeps)
    response = t.request("GET", "/app/installations/1", authorization=jwt_auth(app_key, fake_github))
    assert response.json()["account"]["login"] == "octo-org"
    assert sleeps == pytest.approx(expected_sleeps, abs=1.0)
    assert t.request_count == 3
    assert [r.status for r in fake_github.requests_to("GET", "/app/installations/1$")][-1] == 200


def test_timeout_is_retried(fake_github: FakeGitHub, app_key: rsa.RSAPrivateKey, sleeps: list[float]) -> None:
    fake_github.inject(Fault.timeout(1.0), times=1)
    t = transport(fake_github, sleeps, timeout=0.2)
    response = t.request("GET", "/app", authorization=jwt_auth(app_key, fake_github))
    assert response.status_code == 200
    assert sleeps == [0.5]


@pytest.mark.parametrize(
    ("fault", "kind"),
    [
        (Fault.server_error(502), GitHubUnavailable),
        (Fault.disconnect(), GitHubUnavailable),
        (Fault.too_many_requests(retry_after=1), RateLimited),
    ],
    ids=["5xx", "disconnect", "429"],
)
def test_gives_up_after_max_retries(
    fake_github: FakeGitHub, app_key: rsa.RSAPrivateKey, sleeps: list[float], fault: Fault, kind: type
) -> None:
    fake_github.inject(fault, times=10)
    t = transport(fake_github, sleeps, max_retries=2)
    with pytest.raises(kind) as info:
        t.request("GET", "/app", authorization=jwt_auth(app_key, fake_github))
    assert info.value.temporary
    assert t.request_count == 3
    assert len(sleeps) == 2


def test_connection_refused_is_unavailable(app_key: rsa.RSAPrivateKey, sleeps: list[float]) -> None:
    with FakeGitHub("1", app_key.public_key()) as gh:
        url = gh.api_url
    t = Transport(url, sleep=sleeps.append, max_retries=1)
    with pytest.raises(GitHubUnavailable, match="connection failed") as info:
        t.request("GET", "/app", authorization="Bearer x")
    assert info.value.status_code is None
    assert sleeps == [0.5]


def test_long_rate_limit_wait_goes_to_the_caller(
    fake_github: FakeGitHub, app_key: rsa.RSAPrivateKey, sleeps: list[float]
) -> None:
    fake_github.inject(Fault.too_many_requests(retry_after=600))
    t = transport(fake_github, sleeps, max_rate_limit_wait=60)
    with pytest.raises(RateLimited) as info:
        t.request("GET", "/app", authorization=jwt_auth(app_key, fake_github))
    assert info.value.retry_after == 600
    assert sleeps == []


@pytest.mark.parametrize(
    ("path", "status", "kind"),
    [("/app/installations/99", 404, GitHubRequestError), ("/nothing/here", 404, GitHubRequestError)],
    ids=["unknown-installation", "unknown-route"],
)
def test_client_errors_are_not_retried(
    fake_github: FakeGitHub,
    app_key: rsa.RSAPrivateKey,
    sleeps: list[float],
    path: str,
    status: int,
    kind: type,
) -> None:
    t = transport(fake_github, sleeps)
    with pytest.raises(kind) as info:
        t.request("GET", path, authorization=jwt_auth(app_key, fake_github))
    assert info.value.status_code == status
    assert not info.value.temporary
    assert t.request_count == 1 and sleeps == []


def test_headers_sent(fake_github: FakeGitHub, app_key: rsa.RSAPrivateKey, sleeps: list[float]) -> None:
    transport(fake_github, sleeps).request("GET", "/app", authorization=jwt_auth(app_key, fake_github))
    (seen,) = fake_github.requests
    assert seen.headers["user-agent"] == USER_AGENT
    assert seen.headers["x-github-api-version"] == API_VERSION
    assert seen.headers["accept"] == "application/vnd.github+json"
    assert seen.auth_scheme == "Bearer"
    assert "authorization" not in seen.headers


@pytest.mark.parametrize(
    "url",
    ["https://evil.example.com/app/installations?page=2", "http://127.0.0.1:1/app"],
    ids=["other-host", "other-port"],
)
def test_absolute_urls_must_stay_on_the_api_origin(
    fake_github: FakeGitHub, sleeps: list[float], url: str
) -> None:
    with pytest.raises(GitHubRequestError, match="outside"):
        transport(fake_github, sleeps).request("GET", url, authorization="Bearer x")
    assert fake_github.requests == []


TOKEN = "ghs_" + "T" * 36


@pytest.mark.parametrize(
    "content",
    [
        json.dumps({"message": f"Bad credentials for Authorization: token {TOKEN}"}).encode(),
        b"<html>" + b"x" * 250 + f"Authorization: token {TOKEN}".encode() + b"</html>",
        b"y" * 280 + f"token {TOKEN}".encode(),
    ],
    ids=["in-githubs-message", "echoed-header-at-the-cut", "token-straddling-the-cut"],
)
def test_an_echoed_credential_is_hidden_before_the_message_is_cut(content: bytes) -> None:
    error = error_for_response(500, {}, content, NOW, "GET /x", hide=(f"token {TOKEN}", TOKEN))
    assert TOKEN[:8] not in str(error)
    assert len(str(error)) < 400


def test_a_registered_secret_is_hidden_before_the_message_is_cut(monkeypatch: pytest.MonkeyPatch) -> None:
    from peribolos_core import logs

    monkeypatch.setattr(logs, "_secrets", {})
    secret = "registered-" + "s" * 40
    logs.register_secret(secret)
    error = error_for_response(502, {}, b"z" * 290 + secret.encode(), NOW, "GET /x")
    assert secret[:6] not in str(error).split(": HTTP 502: ")[1].lstrip("z")


# -- a misbehaving server: raw bytes on 127.0.0.1 --------------------------------------------------------


class RawServer:
    """Answers every request on 127.0.0.1 with ``reply(sock, head)``: whatever bytes, at whatever pace."""

    def __init__(self, reply: Callable[[socket.socket, bytes], None]) -> None:
        self.reply = reply
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.heads: list[bytes] = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        self.listener.settimeout(0.2)
        while not self.stopping.is_set():
            try:
                sock, _ = self.listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=self._one, args=(sock,), daemon=True).start()

    def _one(self, sock: socket.socket) -> None:
        with sock:
            sock.settimeout(5)
            try:
                while True:
                    head = b""
                    while b"\r\n\r\n" not in head:
                        chunk = sock.recv(65536)
                        if not chunk:
                            return
                        head += chunk
                    self.heads.append(head)
                    self.reply(sock, head)
            except OSError:
                return

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(5)
        self.listener.close()


@pytest.fixture
def raw_server() -> Iterator[Callable[[Callable[[socket.socket, bytes], None]], RawServer]]:
    servers: list[RawServer] = []

    def start(reply: Callable[[socket.socket, bytes], None]) -> RawServer:
        servers.append(RawServer(reply))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


def answer(status: int, body: bytes, headers: str = "") -> bytes:
    head = f"HTTP/1.1 {status} X\r\nContent-Length: {len(body)}\r\n{headers}\r\n"
    return head.encode() + body


def test_the_transport_hides_the_credential_it_sent(raw_server: Callable[..., RawServer]) -> None:
    server = raw_server(lambda sock, head: sock.sendall(answer(500, head)))  # echoes the request head
    t = Transport(server.url, max_retries=0, sleep=lambda s: None)
    with pytest.raises(GitHubUnavailable) as info:
        t.request("GET", "/app", authorization=f"Bearer {TOKEN}")
    assert "Authorization" in str(info.value)
    assert "T" * 8 not in str(info.value)


# -- bounds on GitHub's answers: time, size, pages ------------------------------------------------------


CHUNKED = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"


def trickle(prefix: bytes, byte: bytes = b"a", every: float = 0.05) -> Callable[[socket.socket, bytes], None]:
    def reply(sock: socket.socket, head: bytes) -> None:
        sock.sendall(prefix)
        for _ in range(2000):  # at most 100 s, far beyond any deadline here
            time.sleep(every)
            sock.sendall(byte)

    return reply


@pytest.mark.parametrize(
    "reply",
    [
        trickle(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n"),
        trickle(b"HTTP/1.1 200 OK\r\nX-Slow: "),
        trickle(CHUNKED, b"1\r\na\r\n"),
    ],
    ids=["body-a-byte-at-a-time", "headers-a-byte-at-a-time", "chunks-a-byte-at-a-time"],
)
def test_a_trickling_answer_is_cut_off_at_the_deadline(
    raw_server: Callable[..., RawServer], reply: Callable[[socket.socket, bytes], None]
) -> None:
    server = raw_server(reply)
    session = new_session()
    t = Transport(server.url, max_retries=0, timeout=5, deadline=0.5, sleep=lambda s: None, session=session)
    started = time.monotonic()
    deadline = r"no whole answer within 0.5s \(the deadline of one request\)"
    with pytest.raises(GitHubUnavailable, match=deadline):
        t.request("GET", "/repos/o/.github/contents/peribolos.yaml", authorization="token x")
    assert time.monotonic() - started < 3  # each byte came well within the 5 s read timeout


def test_the_deadline_is_per_attempt_and_retried(raw_server: Callable[..., RawServer]) -> None:
    server = raw_server(trickle(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n"))
    sleeps: list[float] = []
    t = Transport(server.url, max_retries=2, deadline=0.3, sleep=sleeps.append, session=new_session())
    with pytest.raises(GitHubUnavailable, match="after 3 attempt"):
        t.request("GET", "/app", authorization="Bearer x")
    assert sleeps == [0.5, 1.0] and len(server.heads) == 3


@pytest.mark.parametrize(
    "reply",
    [
        lambda sock, head: sock.sendall(answer(200, b"x" * (3 * 1024 * 1024))),
        trickle(CHUNKED, b"10000\r\n" + b"y" * 65536 + b"\r\n", 0),
    ],
    ids=["declared-length", "endless-chunks"],
)
def test_an_answer_over_the_size_cap_is_refused_without_reading_it_all(
    raw_server: Callable[..., RawServer], reply: Callable[[socket.socket, bytes], None]
) -> None:
    server = raw_server(reply)
    t = Transport(server.url, max_retries=0, max_response_bytes=1024 * 1024, session=new_session())
    with pytest.raises(GitHubRequestError, match=r"over 1048576 bytes \(the response size cap\)") as info:
        t.request("GET", "/repos/o/.github/contents/peribolos.yaml", authorization="token x")
    assert not info.value.temporary


def test_an_answer_within_the_cap_is_whole(raw_server: Callable[..., RawServer]) -> None:
    body = json.dumps({"id": 1, "data": "z" * 500_000}).encode()
    server = raw_server(lambda sock, head: sock.sendall(answer(200, body)))
    t = Transport(server.url, max_response_bytes=len(body), session=new_session())
    response = t.request("GET", "/app", authorization="Bearer x")
    assert response.content == body and response.json()["id"] == 1


PAGE = "{url}/app/installations?page="


def links(pages: Callable[[int], str | None]) -> Callable[[socket.socket, bytes], None]:
    """Answer page N (from the ``page=N`` query) with ``[]`` and a Link to ``pages(N)``."""

    def reply(sock: socket.socket, head: bytes) -> None:
        target = head.split(b" ")[1].decode()
        page = int(target.split("page=")[1]) if "page=" in target else 1
        after = pages(page)
        header = f'Link: <{after}>; rel="next"\r\n' if after else ""
        sock.sendall(answer(200, b"[]", header))

    return reply


@pytest.mark.parametrize(
    ("pages", "message", "requests"),
    [
        (lambda n: PAGE + "1", "page 1's Link: next points back to a page already read", 1),
        (lambda n: PAGE + str(3 - n), "points back to a page already read", 2),
        (lambda n: PAGE + str(n + 1), r"more than 5 pages \(the pagination cap\)", 5),
    ],
    ids=["next-is-itself", "two-pages-in-a-cycle", "endless-pages"],
)
def test_pagination_stops_at_a_repeated_page_and_at_the_cap(
    raw_server: Callable[..., RawServer], pages: Callable[[int], str], message: str, requests: int
) -> None:
    holder: list[str] = []
    server = raw_server(links(lambda n: pages(n).format(url=holder[0])))
    holder.append(server.url)
    t = Transport(server.url, max_pages=5, session=new_session())
    with pytest.raises(GitHubRequestError, match=message):
        list(t.paginate("/app/installations?page=1", authorization=lambda: "Bearer x"))
    assert len(server.heads) == requests


def test_pagination_follows_next_until_the_last_page(raw_server: Callable[..., RawServer]) -> None:
    holder: list[str] = []
    server = raw_server(links(lambda n: f"{holder[0]}/app/installations?page={n + 1}" if n < 4 else None))
    holder.append(server.url)
    t = Transport(server.url, max_pages=4, session=new_session())
    assert len(list(t.paginate("/app/installations?page=1", authorization=lambda: "Bearer x"))) == 4


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_both_schemes_register_their_connections_with_the_deadline(
    raw_server: Callable[..., RawServer], scheme: str
) -> None:
    from peribolos_core import http as transport_module

    server = raw_server(lambda sock, head: sock.sendall(answer(200, b"{}")))
    url = server.url.replace("http://", f"{scheme}://")
    adapter = new_session().get_adapter(url)
    pool = adapter.poolmanager.connection_from_url(url)
    connection = pool._new_conn()
    with transport_module._Watch(5) as watch:
        try:
            connection.request("GET", "/app")
        except OSError:
            pass  # https to a plain-HTTP server: the handshake fails, after the registration
    connection.close()
    assert watch._connections == [connection]
