"""Routes: a method, a path template as GitHub's docs write it, who may call it, and a handler.

Templates use ``{name}`` for one path segment, ``{name+}`` for one or more (``git/ref/heads/main``) and
``{name*}`` for zero or more (``contents/`` lists the root). Each API area declares its routes in a
:class:`RouteTable` (``routes/apps.py``, ``routes/orgs.py``...); a handler gets a :class:`Call` and returns
or raises a :class:`~tests.fakes.github.replies.Reply`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from tests.fakes.github.auth import Caller
from tests.fakes.github.replies import Reply, validation_failed
from tests.fakes.github.shapes import Urls
from tests.fakes.github.state import GitHubState

AUTH_KINDS = ("app", "installation", "none")


@dataclass
class Context:
    """What every handler may use besides the request: the state, the URLs, the token lifetime, and the
    mint budget (a callable that says whether one more mint is allowed now)."""

    state: GitHubState
    urls: Urls
    token_ttl: float
    admit_mint: Callable[[float], bool]
    new_app_key: Callable[[], tuple[Any, str]]
    """A fresh RSA key pair for a manifest-created App: (public key, private PEM)."""


@dataclass
class Call:
    method: str
    path: str
    params: dict[str, str]
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any
    caller: Caller
    ctx: Context
    now: float

    @property
    def state(self) -> GitHubState:
        return self.ctx.state

    @property
    def urls(self) -> Urls:
        return self.ctx.urls

    def arg(self, name: str, default: str | None = None) -> str | None:
        """The first value of query parameter ``name``."""
        return self.query.get(name, [default])[0]

    def json_object(self) -> dict[str, Any]:
        """The body as a JSON object ({} when empty); 422 when it is another JSON value."""
        if self.body is None:
            return {}
        if not isinstance(self.body, dict):
            raise validation_failed("Invalid request.\n\nThe request body must be a JSON object.")
        return self.body


Handler = Callable[[Call], Reply]


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    auth: str
    handler: Handler
    pattern: re.Pattern[str] = field(compare=False)

    def match(self, path: str) -> dict[str, str] | None:
        found = self.pattern.fullmatch(path)
        if found is None:
            return None
        return {k: unquote(v) for k, v in found.groupdict().items()}


def compile_template(template: str) -> re.Pattern[str]:
    """``/repos/{owner}/{repo}/contents/{path*}`` -> a regex with one named group per parameter."""
    out, pos = [], 0
    for found in re.finditer(r"\{(\w+)([+*]?)\}", template):
        out.append(re.escape(template[pos : found.start()]))
        name, kind = found.groups()
        out.append(f"(?P<{name}>{'.+' if kind == '+' else '.*' if kind == '*' else '[^/]+'})")
        pos = found.end()
    out.append(re.escape(template[pos:]))
    return re.compile("".join(out))


class RouteTable:
    """The routes of one API area; ``@table.route("GET", "/app", auth="app")`` adds one."""

    def __init__(self, area: str) -> None:
        self.area = area
        self.routes: list[Route] = []

    def route(self, method: str, template: str, auth: str = "installation") -> Callable[[Handler], Handler]:
        if auth not in AUTH_KINDS:
            raise ValueError(f"auth must be one of {AUTH_KINDS}, not {auth!r}")

        def add(handler: Handler) -> Handler:
            self.routes.append(Route(method, template, auth, handler, compile_template(template)))
            return handler

        return add

    def __iter__(self) -> Iterator[Route]:
        return iter(self.routes)


def find(routes: Iterable[Route], method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    """The first route of ``method`` whose template matches ``path``."""
    for candidate in routes:
        if candidate.method != method:
            continue
        params = candidate.match(path)
        if params is not None:
            return candidate, params
    return None
