"""Structured logging: one JSON object per line, and no secret ever printed.

Every program calls :func:`configure` once at start-up. Values registered with :func:`register_secret`
(tokens, JWTs, webhook secrets) are replaced by ``[REDACTED]`` in every formatted line, as a last line of
defence behind the rule that code never logs them in the first place.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from datetime import UTC, datetime
from typing import Any

REDACTED = "[REDACTED]"
_RESERVED = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}
_PREFIX = 8  # secrets shorter than this are not registered: too many false hits
_secrets: dict[str, set[str]] = {}  # first _PREFIX characters -> secrets starting with them
_secrets_lock = threading.Lock()
_FEW = 32


def register_secret(value: str | None) -> None:
    """Never print ``value`` in a log line from now on (values under 8 characters are ignored)."""
    if value and len(value) >= _PREFIX:
        with _secrets_lock:
            _secrets.setdefault(value[:_PREFIX], set()).add(value)


def redact(text: str) -> str:
    """Replace every registered secret in ``text`` with ``[REDACTED]``.

    Cost grows with the length of ``text``, not with the number of secrets: the refresher registers
    one token per installation (10,000 and more), so each window of the text is looked up by prefix.
    """
    if not _secrets:
        return text
    if len(_secrets) <= _FEW:
        # A few secrets (a webhook secret, one token): C-speed substring checks, nothing found = no copy.
        if not any(secret in text for group in _secrets.values() for secret in group):
            return text
    out: list[str] = []
    i = start = 0
    end = len(text) - _PREFIX + 1
    while i < end:
        candidates = _secrets.get(text[i : i + _PREFIX], ())
        match = max((s for s in candidates if text.startswith(s, i)), key=len, default=None)
        if match is None:
            i += 1
            continue
        out.append(text[start:i])
        out.append(REDACTED)
        i = start = i + len(match)
    if not out:
        return text
    out.append(text[start:])
    return "".join(out)


class JSONFormatter(logging.Formatter):
    """``{"ts", "level", "logger", "msg", ...extra fields}`` on one line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _RESERVED and not key.startswith("_"):
                entry[key] = value
        if record.exc_info and record.exc_info[0] is not None:
            # Type and message only: tracebacks can hold locals' reprs, and our errors' messages are safe.
            exc = record.exc_info[1]
            entry["error"] = f"{type(exc).__name__}: {exc}"
        return redact(json.dumps(entry, default=str, ensure_ascii=False))


class TextFormatter(logging.Formatter):
    """Human-readable lines for a terminal, redacted the same way."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = {k: v for k, v in vars(record).items() if k not in _RESERVED and not k.startswith("_")}
        if extras:
            line += " " + " ".join(f"{k}={v}" for k, v in sorted(extras.items()))
        return redact(line)


def configure(level: str = "info", fmt: str = "json", stream: Any = None) -> None:
    """Route the root logger to ``stream`` (stderr) in ``json`` or ``text`` form, replacing old handlers."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JSONFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # urllib3 logs full URLs and retry details at debug; keep it at warning so nothing sensitive slips out.
    logging.getLogger("urllib3").setLevel(logging.WARNING)
