"""The shared test helpers: the signature is GitHub's (its documented example), the port is free, and only
the JSON lines of a log are read."""

from __future__ import annotations

import socket

import pytest

from tests.helpers import free_port, json_lines, sign

# GitHub's example in "Validating webhook deliveries".
GITHUB_SECRET = "It's a Secret to Everybody"
GITHUB_PAYLOAD = b"Hello, World!"
GITHUB_SIGNATURE = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"


@pytest.mark.parametrize("secret", [GITHUB_SECRET, GITHUB_SECRET.encode()], ids=["text", "bytes"])
def test_sign_is_githubs_signature(secret: str | bytes) -> None:
    assert sign(GITHUB_PAYLOAD, secret) == GITHUB_SIGNATURE


def test_sign_depends_on_the_secret() -> None:
    assert sign(GITHUB_PAYLOAD, "other") != GITHUB_SIGNATURE


def test_free_port_can_be_bound() -> None:
    port = free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))
    assert 0 < port < 65536


@pytest.mark.parametrize(
    "given",
    ['{"a": 1}\nperibolos-step: failed\n{"b": 2}\n', ['{"a": 1}\n', "Traceback ...\n", '{"b": 2}\n']],
    ids=["text", "lines"],
)
def test_json_lines_reads_only_the_json_lines(given: str | list[str]) -> None:
    assert json_lines(given) == [{"a": 1}, {"b": 2}]
