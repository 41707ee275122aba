"""Check run annotations from config problems, so GitHub shows each one on its line of the PR's diff.

Pure. GitHub takes at most 50 annotations per create or update request (more are added by further PATCHes of
``output.annotations`` on the same check run): :func:`chunks` cuts them so.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from .peribolos_config import RULES, WARNING, Problem

MAX_PER_REQUEST = 50
"""GitHub's limit of annotations in one check run request."""
MAX_MESSAGE = 4_000
"""Far below GitHub's 64 KB per message; a problem line is a few hundred characters."""
MAX_TITLE = 255


def annotation(path: str, problem: Problem) -> dict[str, Any]:
    """One GitHub check run annotation: on the problem's lines; columns only when it is on one line."""
    start, end = problem.start, problem.end
    end_line = end.line
    if end.line > start.line and end.column == 1:
        end_line -= 1  # a block value ends where the next line starts
    end_line = max(end_line, start.line)
    item: dict[str, Any] = {
        "path": path,
        "start_line": start.line,
        "end_line": end_line,
        "annotation_level": "warning" if problem.severity == WARNING else "failure",
        "message": _cut(
            f"{problem.path}: {problem.message}" if problem.path else problem.message, MAX_MESSAGE
        ),
        "title": _cut(f"{RULES.get(problem.rule, problem.rule)}: {problem.path or path}", MAX_TITLE),
    }
    if end.line == start.line:
        item["start_column"] = start.column
        item["end_column"] = max(start.column, end.column - 1)  # marks end after the value's last column
    return item


def annotations(path: str, problems: Iterable[Problem]) -> list[dict[str, Any]]:
    """Annotations of ``problems`` in the file ``path`` (the path in the repository, as in the diff)."""
    return [annotation(path, problem) for problem in problems]


def chunks(items: Sequence[dict[str, Any]], size: int = MAX_PER_REQUEST) -> list[list[dict[str, Any]]]:
    """``items`` in groups of at most ``size`` (GitHub's per-request limit), in order; [] for none."""
    if size < 1:
        raise ValueError("chunk size must be at least 1")
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
