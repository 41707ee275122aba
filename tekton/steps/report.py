"""report: turn peribolos' exit code (and its output) into a check run on the commit.

:func:`check_run_for` is pure; :func:`report` reads the files and posts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from peribolos_core.actions import ACTIONS, ActionTable
from peribolos_core.errors import ConfigError
from peribolos_core.github import CHECK_RUN_TEXT_LIMIT, GitHubInstallationClient

_FENCE = "~~~~"


def check_run_names(table: ActionTable = ACTIONS) -> tuple[str, ...]:
    """The names ``report --name`` accepts: the table's check runs, by which the interceptor recognises a
    rerequest."""
    return table.check_run_names


@dataclass(frozen=True)
class CheckRun:
    conclusion: str
    title: str
    summary: str
    text: str | None


def read_exit_code(path: Path) -> int | None:
    """The integer in ``path``; None when the file is missing or empty (peribolos never ran or was killed)."""
    try:
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    if not text:
        return None
    try:
        return int(text)
    except ValueError as exc:
        raise ConfigError(f"--exit-code-file {path} holds {text[:20]!r}, not an integer") from exc


def check_run_for(
    name: str, exit_code: int | None, details: str | None, revision: str, table: ActionTable = ACTIONS
) -> CheckRun:
    """Conclusion success for exit code 0, failure otherwise; the output tail as the text. ``name`` is one of
    :func:`check_run_names`; the action's title says what ran ("peribolos dry run failed")."""
    row = next((row for row in table if row.check_run == name), None)
    if row is None:
        known = ", ".join(table.check_run_names)
        raise ConfigError(f"--name {name!r} is not a check run of peribolos ({known})")
    what = row.title or row.name
    short = revision[:7]
    if exit_code == 0:
        conclusion = "success"
        title = f"peribolos {what} succeeded"
        summary = f"`peribolos` ({what}) exited with code 0 for {short}."
    elif exit_code is None:
        conclusion = "failure"
        title = f"peribolos {what} did not finish"
        summary = f"`peribolos` ({what}) recorded no exit code for {short}: it did not run or was stopped."
    else:
        conclusion = "failure"
        title = f"peribolos {what} failed (exit code {exit_code})"
        summary = f"`peribolos` ({what}) exited with code {exit_code} for {short}; its output is below."
    text = None
    if details:
        room = CHECK_RUN_TEXT_LIMIT - 2 * len(_FENCE) - 80
        tail = details[-room:]
        cut = "(earlier output cut)\n" if len(details) > room else ""
        text = f"{cut}{_FENCE}\n{tail.replace(_FENCE, '~~~')}\n{_FENCE}"
    return CheckRun(conclusion, title, summary, text)


def report(
    client: GitHubInstallationClient,
    repo: str,
    head_sha: str,
    name: str,
    exit_code_file: Path,
    details_file: Path | None = None,
    scrub: Callable[[str], str] = str,
) -> tuple[int, CheckRun]:
    """Create the check run; returns its id and what it said. ``scrub`` redacts secrets from the output."""
    exit_code = read_exit_code(exit_code_file)
    details = None
    if details_file is not None and details_file.is_file():
        details = scrub(details_file.read_text(encoding="utf-8", errors="replace"))
    run = check_run_for(name, exit_code, details, head_sha)
    output = {"title": run.title, "summary": run.summary}
    if run.text:
        output["text"] = run.text
    run_id = client.create_check_run(
        repo, head_sha, name, status="completed", conclusion=run.conclusion, output=output
    )
    return run_id, run
