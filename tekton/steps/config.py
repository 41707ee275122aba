"""fetch-config: read the org's peribolos.yaml at the pushed revision and check it before peribolos does.

Checking here (with :mod:`.peribolos_config`, the schema of peribolos' format) gives the TaskRun and the
check run every problem as ``FILE:LINE:COL: message`` ("unknown key 'membrs'", "configures X but the App
is installed on Y") instead of peribolos silently dropping what it does not know, or its stack of errors.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from peribolos_core.errors import PeribolosError
from peribolos_core.github import GitHubInstallationClient

from . import peribolos_config, state
from .annotations import annotations
from .files import write_atomically
from .peribolos_config import CheckResult, Problem
from .state import Record

SHOWN_IN_MESSAGE = 5
"""Problems spelt out in the one-line error; the rest are counted (the check run's annotations list all)."""


class InvalidConfig(PeribolosError):
    """The file is not a peribolos configuration peribolos could apply as written for this org."""

    def __init__(
        self, where: str, filename: str, problems: tuple[Problem, ...], all_problems: tuple[Problem, ...] = ()
    ) -> None:
        count = len(problems)
        shown = "; ".join(problem.format(filename) for problem in problems[:SHOWN_IN_MESSAGE])
        more = f"; and {count - SHOWN_IN_MESSAGE} more" if count > SHOWN_IN_MESSAGE else ""
        super().__init__(
            f"{where} is not a valid peribolos config ({count} problem{'' if count == 1 else 's'}): "
            f"{shown}{more}"
        )
        self.filename = filename
        self.problems = problems
        self.all_problems = all_problems or problems
        """The errors and the warnings (annotations show both)."""


def check_config(
    content: bytes,
    where: str,
    org: str | None = None,
    *,
    filename: str = "peribolos.yaml",
    min_admins: int | None = None,
    required_admins: Iterable[str] = (),
) -> CheckResult:
    """Check a peribolos config (pure); with ``org``, the only org it configures must be that one (the
    installation token can manage no other). Raises :class:`InvalidConfig` listing the errors; returns the
    result (warnings only) otherwise."""
    result = peribolos_config.check(content, org=org, min_admins=min_admins, required_admins=required_admins)
    if not result.ok:
        raise InvalidConfig(where, filename, result.errors, result.problems)
    return result


def fetch_config(
    client: GitHubInstallationClient,
    repo: str,
    revision: str,
    path: str,
    output: Path,
    org: str | None = None,
    *,
    min_admins: int | None = None,
    required_admins: Iterable[str] = (),
) -> tuple[int, CheckResult]:
    """Fetch ``path`` of ``repo`` at ``revision``, check it, write it to ``output``; returns its size and
    the check's result (warnings only: errors raise :class:`InvalidConfig`)."""
    content = client.get_file(repo, path, revision)
    result = check_config(content, f"{path} in {repo} at {revision[:12]}", org, filename=path,
                          min_admins=min_admins, required_admins=required_admins)
    write_atomically(output, content, 0o644)
    return len(content), result


def record_of(path: str, problems: Iterable[Problem], outcome: str, reason: str = "", cause: str = ""
              ) -> Record:
    """fetch-config's record: the problems as ``FILE:LINE:COL`` lines and as check run annotations."""
    problems = tuple(problems)
    return Record(
        state.FETCH_CONFIG,
        outcome,
        reason,
        cause,
        problems=tuple(problem.format(path) for problem in problems),
        annotations=tuple(annotations(path, problems)),
    )


def fetch_and_record(
    fetch: Callable[[], tuple[int, CheckResult]], path: str, repo: str, revision: str
) -> Record:
    """Run ``fetch`` (:func:`fetch_config` with its arguments) and say how it went as a :class:`Record`,
    failures included: an invalid config (the org's own mistake) or GitHub failing."""
    try:
        _, result = fetch()
    except InvalidConfig as exc:
        count = len(exc.problems)
        reason = (
            f"{path} in {repo} at {revision[:7]} is not a config peribolos can apply as written: "
            f"{count} problem{'' if count == 1 else 's'} (listed below)."
        )
        return record_of(path, exc.all_problems, state.FAILED, reason, "config")
    except PeribolosError as exc:
        return Record(state.FETCH_CONFIG, state.FAILED, f"{path} could not be read from {repo} at "
                      f"{revision[:7]}: {exc}", "github")
    return record_of(path, result.problems, state.OK)
