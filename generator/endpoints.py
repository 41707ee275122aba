"""GitHub's other endpoints, derived from the REST API base URL (pure).

- ``https://api.github.com``: GraphQL ``https://api.github.com/graphql``, web ``https://github.com``;
- ``https://HOST/api/v3`` (Enterprise Server): ``https://HOST/api/graphql``, web ``https://HOST``;
- ``https://api.SUB.ghe.com`` (Enterprise Cloud with data residency): ``https://api.SUB.ghe.com/graphql``,
  web ``https://SUB.ghe.com``;
- anything else (a proxy, a test fake): ``<apiUrl>/graphql``, web = the API URL's origin.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

_GHES_API_PATH = "/api/v3"


def _split(api_url: str) -> tuple[str, str, str]:
    parts = urlsplit(api_url.strip().rstrip("/"))
    return parts.scheme, parts.netloc, parts.path


def graphql_url(api_url: str) -> str:
    """The GraphQL endpoint of the GitHub whose REST API is at ``api_url``."""
    scheme, host, path = _split(api_url)
    if path == _GHES_API_PATH:
        return f"{scheme}://{host}/api/graphql"
    return f"{scheme}://{host}{path}/graphql"


def web_url(api_url: str) -> str:
    """The web address (``https://github.com``, ``https://HOST``) of the GitHub at ``api_url``."""
    scheme, host, path = _split(api_url)
    if path in ("", _GHES_API_PATH) and host.startswith("api.") and (
        host == "api.github.com" or host.endswith(".ghe.com")
    ):
        return f"{scheme}://{host.removeprefix('api.')}"
    return f"{scheme}://{host}"


def resolved(github: dict[str, Any]) -> dict[str, str]:
    """The ``github`` values with empty ``graphqlUrl`` / ``webUrl`` filled in from ``apiUrl``."""
    api = github["apiUrl"].strip().rstrip("/")
    return {
        "apiUrl": api,
        "graphqlUrl": github["graphqlUrl"] or graphql_url(api),
        "webUrl": github["webUrl"] or web_url(api),
    }
