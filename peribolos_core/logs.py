"""Structured logging: one JSON object per line, and no secret ever printed.

Every program calls :func:`configure` once at start-up. Values registered with :func:`register_secret`
(tokens, JWTs, webhook secrets) are replaced by ``[REDACTED]`` in every formatted line, as a last line of
defence behind the rule that code never logs them in the first place. A secret is also hidden in the
forms JSON and ``repr`` print it in (``"`` as ``\\"``, non-ASCII as ``\\u00e9``), and however short it is.

Every line is one line: the text format escapes control characters (``\\n``, ``\\x1b``...), so that a
header value cannot forge a log line; JSON escapes them itself. :class:`Throttle` keeps a flood of the
same warning (every rejected request of an attack) to one line per interval, with a count of the rest.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
import time
from collections.abc import Callable, Hashable
from datetime import UTC, datetime
from typing import Any

REDACTED = "[REDACTED]"
_RESERVED = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}
_PREFIX = 8  # secrets are indexed by their first 8 characters; shorter ones are matched by a regex
_secrets: dict[str, set[str]] = {}  # first _PREFIX characters -> secrets starting with them
_short: set[str] = set()  # secrets shorter than _PREFIX
_short_pattern: re.Pattern[str] | None = None
_secrets_lock = threading.Lock()
_FEW = 32
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def printed_forms(value: str) -> set[str]:
    """``value`` as it may appear in a line: itself, inside a JSON string (``ensure_ascii`` or not), inside
    a ``repr``, and as the text format escapes it (pure)."""
    return {
        value,
        json.dumps(value, ensure_ascii=False)[1:-1],
        json.dumps(value)[1:-1],
        repr(value)[1:-1],
        escape_controls(value),
    }


def register_secret(value: str | None) -> None:
    """Never print ``value`` in a log line from now on, in any of its :func:`printed_forms`. A secret under
    8 characters is hidden too (at the price of hiding the same letters wherever they appear)."""
    global _short_pattern
    if not value:
        return
    with _secrets_lock:
        for form in printed_forms(value):
            if len(form) >= _PREFIX:
                _secrets.setdefault(form[:_PREFIX], set()).add(form)
            elif form not in _short:
                _short.add(form)
                # REDACTED first: a short secret inside an earlier "[REDACTED]" stays as it is.
                alternatives = [REDACTED, *sorted(_short, key=len, reverse=True)]
                _short_pattern = re.compile("|".join(map(re.escape, alternatives)))


def escape_controls(text: str) -> str:
    """Control characters (C0, DEL, C1, line and paragraph separators) as ``\\n``, ``\\xNN``, ``\\uNNNN``."""
    if not _CONTROL.search(text):
        return text
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], text)


def redact(text: str) -> str:
    """Replace every registered secret in ``text`` with ``[REDACTED]``.

    Cost grows with the length of ``text``, not with the number of secrets: the refresher registers
    one token per installation (10,000 and more), so each window of the text is looked up by prefix.
    """
    text = _redact_long(text)
    pattern = _short_pattern
    return pattern.sub(REDACTED, text) if pattern is not None else text


def _redact_long(text: str) -> str:
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
        line = json.dumps(entry, default=str, ensure_ascii=False)
        # JSON leaves these two raw; some viewers break lines at them.
        return redact(line).replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


class TextFormatter(logging.Formatter):
    """Human-readable lines for a terminal, redacted the same way; one record is always one line."""

    def format(self, record: logging.LogRecord) -> str:
        line = f"{self.formatTime(record)} {record.levelname} {record.name}: {record.getMessage()}"
        extras = {k: v for k, v in vars(record).items() if k not in _RESERVED and not k.startswith("_")}
        if extras:
            line += " " + " ".join(f"{k}={v}" for k, v in sorted(extras.items()))
        if record.exc_info and record.exc_info[0] is not None:
            exc = record.exc_info[1]  # as in JSON: type and message, no traceback
            line += f" error={type(exc).__name__}: {exc}"
        return escape_controls(redact(line))


class Throttle:
    """At most one line per ``interval`` seconds for each key; counts the lines held back in between.

    Keys must come from a fixed set (a reason, never a value from a request), so the table stays small;
    past ``max_keys`` every new key shares one slot.
    """

    def __init__(
        self, interval: float = 10.0, clock: Callable[[], float] = time.monotonic, max_keys: int = 256
    ) -> None:
        self.interval = interval
        self.clock = clock
        self.max_keys = max_keys
        self._last: dict[Hashable, float] = {}
        self._held: dict[Hashable, int] = {}
        self._lock = threading.Lock()

    def check(self, key: Hashable) -> int | None:
        """None: hold this line back. A number: write it, saying that many were held back since the last."""
        now = self.clock()
        with self._lock:
            if key not in self._last and len(self._last) >= self.max_keys:
                key = "(other)"
            last = self._last.get(key)
            if last is not None and now - last < self.interval:
                self._held[key] = self._held.get(key, 0) + 1
                return None
            self._last[key] = now
            return self._held.pop(key, 0)


class ThrottleFilter(logging.Filter):
    """A logger filter: warnings and errors repeat at most once per interval per message (the format
    string, not the values), with ``suppressed`` = how many were dropped since. Lower levels pass."""

    def __init__(self, throttle: Throttle) -> None:
        super().__init__()
        self.throttle = throttle

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        held = self.throttle.check((record.name, str(record.msg)))
        if held is None:
            return False
        if held:
            record.suppressed = held
        return True


def throttle_warnings(
    *names: str, interval: float = 10.0, clock: Callable[[], float] = time.monotonic
) -> None:
    """Attach one :class:`ThrottleFilter` to each named logger (records logged through them directly)."""
    throttle = Throttle(interval, clock)
    for name in names:
        logger = logging.getLogger(name)
        logger.filters[:] = [f for f in logger.filters if not isinstance(f, ThrottleFilter)]
        logger.addFilter(ThrottleFilter(throttle))


def configure(level: str = "info", fmt: str = "json", stream: Any = None) -> None:
    """Route the root logger to ``stream`` (stderr) in ``json`` or ``text`` form, replacing old handlers."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JSONFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # urllib3 logs full URLs and retry details at debug; keep it at warning so nothing sensitive slips out.
    logging.getLogger("urllib3").setLevel(logging.WARNING)
