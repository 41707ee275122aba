"""report: the last step of the sync and dry-run Tasks. It completes the run's check run with what happened,
in plain words, whichever step stopped the run, and sets the TaskRun's result.

:func:`conclude` is pure: the records of ``prepare`` and ``fetch-config`` (:mod:`.state`), peribolos' exit
code and output in, an :class:`Outcome` out (conclusion, title, Markdown summary from
:mod:`.plan_summary`, annotations on the config's lines). :func:`post` completes the check run prepare
created (``PATCH``), or creates it completed, with the annotations in GitHub's chunks of 50.

Conclusions: ``success`` when peribolos finished (changes or none); ``neutral`` when superseded (a newer
commit is the default branch's head) or a dry run stopped at a team it would create; ``failure`` for
everything else. A sync's TaskRun fails whenever its check fails; a dry run's only when the service or
GitHub failed (the config's own mistakes are the check's news, not the TaskRun's).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from peribolos_core.actions import ACTIONS, ALWAYS, Action, ActionTable
from peribolos_core.errors import ConfigError
from peribolos_core.github import CHECK_RUN_TEXT_LIMIT, GitHubInstallationClient

from . import state
from .annotations import chunks
from .plan_summary import SUMMARY_LIMIT, summarize
from .prepare import short
from .state import Record

_FENCE = "~~~~"
FOOTER_ROOM = 300
"""Characters kept free in the summary for the footer naming the App and the commit."""
PROBLEMS_SHOWN = 200
"""Config problems listed in the summary (every one is an annotation on its line)."""


def check_run_names(table: ActionTable = ACTIONS) -> tuple[str, ...]:
    """The check runs our Tasks report, by which the interceptor recognises a rerequest."""
    return table.check_run_names


def config_actions(table: ActionTable = ACTIONS) -> tuple[str, ...]:
    """The actions whose Task runs prepare, fetch-config, peribolos and report."""
    return tuple(row.name for row in table if row.reads_config)


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


@dataclass(frozen=True)
class Outcome:
    conclusion: str
    title: str
    summary: str
    text: str | None = None
    annotations: tuple[Mapping[str, Any], ...] = field(default_factory=tuple)
    changes: int = 0
    failed: bool = False
    """The check failed."""
    service_failed: bool = False
    """What failed is the service or GitHub (a token, a request, a step that did not finish), not the
    org's config or peribolos' own refusal."""

    @property
    def news(self) -> bool:
        """Worth a check run on a scheduled run: peribolos changed something, or something failed."""
        return self.failed or self.changes > 0

    def taskrun_fails(self, action: Action) -> bool:
        return self.failed and (action.confirm or self.service_failed)


@dataclass(frozen=True)
class Facts:
    """What report knows when it runs."""

    action: Action
    app_name: str
    revision: str
    prepare: Record | None
    fetch: Record | None
    exit_code: int | None
    output: str | None
    """peribolos' output (its container's log); None when it could not be read (``output_error`` says why)."""
    output_error: str = ""


def conclude(facts: Facts, scrub: Callable[[str], str] = str) -> Outcome:
    """The check run's conclusion and words for ``facts``."""
    action, prepare, fetch = facts.action, facts.prepare, facts.fetch
    nothing = "Nothing was changed." if action.confirm else "peribolos did not run."
    if prepare is None or prepare.outcome == state.RUNNING:
        return _failed(facts, "The prepare step did not finish (it was stopped, or crashed: its log in the "
                              f"TaskRun says why). {nothing}", service=True)
    if prepare.outcome == state.SUPERSEDED:
        return _finish(facts, "neutral", f"superseded by {short(prepare.newer)}",
                       f"### Superseded\n\n{prepare.reason}\n", scrub)
    if not prepare.ok:
        return _failed(facts, f"{prepare.reason} {nothing}", service=prepare.cause != "config", scrub=scrub)
    if fetch is None or fetch.outcome == state.RUNNING:
        return _failed(facts, f"The fetch-config step did not finish (it was stopped, or crashed). {nothing}",
                       service=True)
    notes = tuple(fetch.annotations)
    if not fetch.ok:
        return _failed(facts, f"{fetch.reason} {nothing}", service=fetch.cause != "config",
                       problems=fetch.problems, annotations=notes, scrub=scrub)
    return _peribolos(facts, notes, scrub)


def _peribolos(facts: Facts, notes: tuple[Mapping[str, Any], ...], scrub: Callable[[str], str]) -> Outcome:
    confirm = facts.action.confirm
    if facts.output is None:
        why = f" ({facts.output_error})" if facts.output_error else ""
        if facts.exit_code == 0:
            return _finish(facts, "success", "peribolos finished", (
                f"peribolos finished (exit code 0), but its output could not be read{why}, so what it "
                "changed is not listed here.\n"), scrub, annotations=notes, service=True)
        code = "no exit code" if facts.exit_code is None else f"exit code {facts.exit_code}"
        return _failed(facts, f"peribolos failed ({code}) and its output could not be read{why}.",
                       service=True, annotations=notes, scrub=scrub)
    plan = summarize(facts.output, confirm=confirm, exit_code=facts.exit_code, scrub=scrub,
                     limit=SUMMARY_LIMIT - FOOTER_ROOM)
    if plan.dry_run_artifact:
        conclusion = "neutral"
    else:
        conclusion = "failure" if plan.failed else "success"
    text = _tail(scrub(facts.output)) if conclusion == "failure" and facts.output.strip() else None
    return _finish(facts, conclusion, plan.title, plan.markdown, scrub, text=text, annotations=notes,
                   changes=plan.changes)


def _failed(
    facts: Facts,
    reason: str,
    *,
    service: bool,
    problems: Sequence[str] = (),
    annotations: tuple[Mapping[str, Any], ...] = (),
    scrub: Callable[[str], str] = str,
) -> Outcome:
    lines = ["### Failed", "", f"- {reason}", ""]
    if problems:
        errors = [p for p in problems if ": warning: " not in p]
        lines += [f"#### The config has {len(errors)} problem{'' if len(errors) == 1 else 's'}", ""]
        lines += [f"- `{p.replace('`', '')}`" for p in problems[:PROBLEMS_SHOWN]]
        if len(problems) > PROBLEMS_SHOWN:
            lines.append(f"- … and {len(problems) - PROBLEMS_SHOWN} more")
        lines += ["", "Each one is also shown on its line of the file (the check's annotations)."]
    title = reason.split(": ")[0] if len(reason) > 120 else reason
    title = title if len(title) <= 120 else title[:119] + "…"
    return _finish(facts, "failure", title, "\n".join(lines) + "\n", scrub, annotations=annotations,
                   service=service)


def _finish(
    facts: Facts,
    conclusion: str,
    title: str,
    summary: str,
    scrub: Callable[[str], str],
    *,
    text: str | None = None,
    annotations: tuple[Mapping[str, Any], ...] = (),
    changes: int = 0,
    service: bool = False,
) -> Outcome:
    what = facts.action.title or facts.action.name
    footer = f"\n---\n_{facts.app_name} · {what} of `{short(facts.revision)}`_\n" if facts.revision else ""
    body = scrub(summary)
    room = SUMMARY_LIMIT - len(footer)
    if len(body) > room:
        note = "\n_Cut at GitHub's limit._\n"
        body = body[: room - len(note)] + note
    failed = conclusion == "failure"
    return Outcome(conclusion, scrub(f"{facts.app_name}: {title}")[:255], body + footer, text,
                   tuple(annotations), changes, failed, failed and service)


def _tail(output: str) -> str:
    room = CHECK_RUN_TEXT_LIMIT - 2 * len(_FENCE) - 80
    tail = output[-room:]
    cut = "(earlier output cut)\n" if len(output) > room else ""
    return f"{cut}{_FENCE}\n{tail.replace(_FENCE, '~~~').rstrip()}\n{_FENCE}"


def post(
    client: GitHubInstallationClient,
    repo: str,
    revision: str,
    name: str,
    outcome: Outcome,
    *,
    check_run_id: int | None,
    check_run_when: str = ALWAYS,
) -> int | None:
    """Complete check run ``check_run_id`` (or create it completed) with ``outcome``; the annotations go
    50 a request. None, posting nothing, when the run posts only news and there is none."""
    if check_run_id is None and check_run_when != ALWAYS and not outcome.news:
        return None
    groups = chunks(list(outcome.annotations)) or [[]]
    output: dict[str, Any] = {"title": outcome.title, "summary": outcome.summary, "text": outcome.text}
    first = {**output, "annotations": groups[0]} if groups[0] else output
    if check_run_id is None:
        check_run_id = client.create_check_run(repo, revision, name, status="completed",
                                               conclusion=outcome.conclusion, output=first)
    else:
        client.update_check_run(repo, check_run_id, conclusion=outcome.conclusion, output=first)
    for group in groups[1:]:
        client.update_check_run(repo, check_run_id, output={**output, "annotations": group})
    return check_run_id
