"""report: conclude() as a table over what the steps recorded and what peribolos printed (the captured real
output in tests/fixtures/peribolos-output/), post() and the command against the fake GitHub."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from peribolos_core.actions import ACTIONS
from peribolos_core.github import GitHubApp, GitHubInstallationClient
from tekton.steps import state
from tekton.steps.annotations import MAX_PER_REQUEST
from tekton.steps.config import record_of
from tekton.steps.peribolos_config import check
from tekton.steps.report import Facts, Outcome, conclude, post, read_exit_code
from tekton.steps.state import Record
from tests.fakes.fixtures import APP_ID
from tests.fakes.github import FakeGitHub
from tests.steps.conftest import SHA, log_lines, run_step

OUTPUT = Path(__file__).parents[1] / "fixtures" / "peribolos-output"
SYNC, DRY_RUN = ACTIONS.get("sync"), ACTIONS.get("dry-run")
NEWER = "9" * 40
BAD_CONFIG = "orgs:\n  octo-org:\n    admins: [alice, bob]\n    membrs: [carol]\n    teams: 5\n"


def _log(name: str) -> str:
    return (OUTPUT / f"{name}.log").read_text()


def _prepared(outcome: str = state.OK, **fields: Any) -> Record:
    return Record(state.PREPARE, outcome, revision=SHA, **fields)


def _fetched(outcome: str = state.OK, **fields: Any) -> Record:
    return Record(state.FETCH_CONFIG, outcome, **fields)


def _bad_config() -> Record:
    result = check(BAD_CONFIG.encode(), org="octo-org")
    return record_of(
        "peribolos.yaml",
        result.problems,
        state.FAILED,
        "peribolos.yaml is not a config peribolos can apply as written: 2 problems (listed below).",
        "config",
    )


def facts(
    action: Any = SYNC,
    prepare: Record | None = None,
    fetch: Record | None = None,
    exit_code: int | None = 0,
    output: str | None = "",
    **more: Any,
) -> Facts:
    return Facts(action, "peribolos", SHA, prepare, fetch, exit_code, output, **more)


CASES = [
    pytest.param(
        facts(prepare=None), "failure", "The prepare step did not finish", True, True, id="no-prepare"
    ),
    pytest.param(
        facts(prepare=_prepared(state.RUNNING)),
        "failure",
        "prepare step did not finish",
        True,
        True,
        id="prepare-crashed",
    ),
    pytest.param(
        facts(
            prepare=_prepared(
                state.FAILED,
                cause="token",
                reason="GitHub gave no token to read the config: 404 installation gone",
            )
        ),
        "failure",
        "GitHub gave no token to read the config",
        True,
        True,
        id="token",
    ),
    pytest.param(
        facts(prepare=_prepared(state.SUPERSEDED, newer=NEWER, reason="abc is no longer the head")),
        "neutral",
        "superseded by 9999999",
        False,
        False,
        id="superseded",
    ),
    pytest.param(
        facts(prepare=_prepared(state.FAILED, cause="lock", reason="Another sync of octo-org ...")),
        "failure",
        "Another sync of octo-org",
        True,
        True,
        id="lock",
    ),
    pytest.param(
        facts(prepare=_prepared(), fetch=None),
        "failure",
        "fetch-config step did not finish",
        True,
        True,
        id="fetch-crashed",
    ),
    pytest.param(
        facts(
            prepare=_prepared(),
            fetch=_fetched(
                state.FAILED,
                cause="github",
                reason="peribolos.yaml could not be read from octo-org/.github at 0123456: 404",
            ),
        ),
        "failure",
        "could not be read",
        True,
        True,
        id="fetch-failed",
    ),
    pytest.param(
        facts(prepare=_prepared(), fetch=_bad_config()),
        "failure",
        "#### The config has 2 problems",
        True,
        False,
        id="schema",
    ),
    pytest.param(
        facts(DRY_RUN, prepare=_prepared(), fetch=_bad_config()),
        "failure",
        "peribolos did not run",
        False,
        False,
        id="schema-dry-run-taskrun-succeeds",
    ),
    pytest.param(
        facts(prepare=_prepared(), fetch=_fetched(), output=_log("members-sync")),
        "success",
        "#### Members (4)",
        False,
        False,
        id="changes",
    ),
    pytest.param(
        facts(prepare=_prepared(), fetch=_fetched(), output=_log("no-change-sync")),
        "success",
        "peribolos found nothing to change",
        False,
        False,
        id="no-change",
    ),
    pytest.param(
        facts(prepare=_prepared(), fetch=_fetched(), exit_code=1, output=_log("removal-delta-refused")),
        "failure",
        "more than `--maximum-removal-delta` allows",
        True,
        False,
        id="peribolos-refuses",
    ),
    pytest.param(
        facts(DRY_RUN, prepare=_prepared(), fetch=_fetched(), exit_code=1, output=_log("new-team-dry-run")),
        "neutral",
        "Stopped early",
        False,
        False,
        id="dry-run-new-team",
    ),
    pytest.param(
        facts(
            prepare=_prepared(),
            fetch=_fetched(),
            exit_code=0,
            output=None,
            output_error="HTTP 403: forbidden",
        ),
        "success",
        "its output could not be read (HTTP 403: forbidden)",
        False,
        False,
        id="log-unreadable",
    ),
    pytest.param(
        facts(prepare=_prepared(), fetch=_fetched(), exit_code=None, output=None),
        "failure",
        "peribolos failed (no exit code)",
        True,
        True,
        id="peribolos-killed",
    ),
]


@pytest.mark.parametrize(("given", "conclusion", "words", "taskrun_fails", "service"), CASES)
def test_conclude(given: Facts, conclusion: str, words: str, taskrun_fails: bool, service: bool) -> None:
    outcome = conclude(given)
    assert outcome.conclusion == conclusion
    assert words in outcome.summary or words in outcome.title, outcome.summary
    assert outcome.taskrun_fails(given.action) is taskrun_fails
    assert outcome.service_failed is service
    assert outcome.title.startswith("peribolos: ") and len(outcome.title) <= 255
    what = "sync" if given.action is SYNC else "dry run"
    assert outcome.summary.endswith(f"_peribolos · {what} of `0123456`_\n"), "it carries the App's name"
    assert len(outcome.summary) <= 65535


def test_the_summary_lists_the_change_and_the_text_only_failures() -> None:
    outcome = conclude(facts(prepare=_prepared(), fetch=_fetched(), output=_log("members-sync")))
    assert (outcome.changes, outcome.title) == (4, "peribolos: 4 changes made")
    assert "- **erin**: invited as a member" in outcome.summary and outcome.text is None
    refused = conclude(
        facts(prepare=_prepared(), fetch=_fetched(), exit_code=1, output=_log("removal-delta-refused"))
    )
    assert (
        refused.text is not None
        and refused.text.startswith("~~~~\n")
        and "maximum-removal-delta" in (refused.text)
    )


def test_config_problems_become_annotations_on_their_lines() -> None:
    outcome = conclude(facts(prepare=_prepared(), fetch=_bad_config()))
    lines = sorted((a["start_line"], a["annotation_level"]) for a in outcome.annotations)
    assert lines == [(4, "failure"), (5, "failure")]
    assert "- `peribolos.yaml:4:5: orgs.octo-org.membrs: unknown key" in outcome.summary


def test_secrets_are_scrubbed_from_everything_posted() -> None:
    output = _log("removal-delta-refused") + '{"level":"error","msg":"token ghs_SECRET leaked"}\n'
    outcome = conclude(
        facts(prepare=_prepared(), fetch=_fetched(), exit_code=1, output=output),
        scrub=lambda text: text.replace("ghs_SECRET", "[REDACTED]"),
    )
    assert "ghs_SECRET" not in outcome.summary + (outcome.text or "") + outcome.title


@pytest.mark.parametrize(
    ("notes", "when", "check_run_id", "requests"),
    [
        pytest.param(0, "always", None, [("POST", "completed")], id="create-completed"),
        pytest.param(0, "always", "existing", [("PATCH", "completed")], id="complete-in-progress"),
        pytest.param(
            MAX_PER_REQUEST * 2 + 1,
            "always",
            "existing",
            [("PATCH", "completed"), ("PATCH", None), ("PATCH", None)],
            id="annotations-in-chunks",
        ),
        pytest.param(0, "changed-or-failed", None, [], id="scheduled-no-news"),
    ],
)
def test_post(
    fake_github: FakeGitHub,
    token_file: Path,
    notes: int,
    when: str,
    check_run_id: str | None,
    requests: list[tuple[str, str | None]],
) -> None:
    fake_github.add_file("octo-org/.github", SHA, "peribolos.yaml", "orgs: {}\n")
    client = GitHubInstallationClient(token_file.read_text().strip(), fake_github.api_url)
    existing = (
        client.create_check_run("octo-org/.github", SHA, "peribolos/sync", status="in_progress")
        if (check_run_id)
        else None
    )
    fake_github.clear_requests()
    note = {
        "path": "peribolos.yaml",
        "start_line": 1,
        "end_line": 1,
        "annotation_level": "warning",
        "message": "m",
    }
    outcome = Outcome("success", "peribolos: No change", "nothing\n", None, tuple([note] * notes))
    posted = post(
        client, "octo-org/.github", SHA, "peribolos/sync", outcome, check_run_id=existing, check_run_when=when
    )
    sent = [
        (r.method, (r.body or {}).get("conclusion") and (r.body or {}).get("status"))
        for r in fake_github.requests
        if "check-runs" in r.path
    ]
    assert sent == requests
    if requests:
        run = fake_github.check_run(posted or 0)
        assert (run["status"], run["conclusion"]) == ("completed", "success")
        assert len(fake_github.annotations(run["id"])) == notes
    else:
        assert posted is None


# --- the command --------------------------------------------------------------------------------------


@pytest.fixture
def task_run(fake_github: FakeGitHub, token_file: Path, tmp_path: Path) -> Callable[..., Any]:
    """The report command as the Task runs it, after prepare and fetch-config left ``records``."""
    fake_github.add_file("octo-org/.github", SHA, "peribolos.yaml", "orgs: {}\n")

    def run(*records: Record, exit_code: str | None = "0", action: str = "sync", extra: tuple[str, ...] = ()):
        states = tmp_path / "state"
        for record in records:
            state.write(states, record)
        if exit_code is not None:
            (tmp_path / "exit-code").write_text(exit_code)
        return run_step(
            "report",
            "--action",
            action,
            "--repo",
            "octo-org/.github",
            "--revision",
            SHA,
            "--state-dir",
            states,
            "--token-file",
            token_file,
            "--exit-code-file",
            tmp_path / "exit-code",
            "--app-name",
            "Octo Peribolos",
            "--github-api-url",
            fake_github.api_url,
            "--namespace",
            "peribolos",
            *extra,
        )

    return run


def test_a_sync_that_failed_completes_its_check_run_and_fails_the_taskrun(
    fake_github: FakeGitHub, task_run: Callable[..., Any]
) -> None:
    result = task_run(_prepared(), _bad_config())
    assert result.exit_code == 1, result.stderr
    (run,) = fake_github.check_runs
    assert (run["name"], run["status"], run["conclusion"]) == ("peribolos/sync", "completed", "failure")
    assert run["output"]["title"].startswith("Octo Peribolos: peribolos.yaml is not a config peribolos")
    assert len(fake_github.annotations(run["id"])) == 2
    assert result.stderr.splitlines()[-1].startswith("peribolos-step report: error: Octo Peribolos:")
    assert any(line.get("check_run_id") == run["id"] for line in log_lines(result))


def test_a_superseded_sync_succeeds_and_releases_nothing_it_does_not_hold(
    fake_github: FakeGitHub, task_run: Callable[..., Any]
) -> None:
    result = task_run(_prepared(state.SUPERSEDED, newer=NEWER, reason="moved on"), exit_code="1")
    assert result.exit_code == 0, result.stderr
    (run,) = fake_github.check_runs
    assert (run["conclusion"], run["output"]["title"]) == ("neutral", "Octo Peribolos: superseded by 9999999")


def test_without_a_pod_the_output_is_unreadable_and_the_check_says_so(
    fake_github: FakeGitHub, task_run: Callable[..., Any], tmp_path: Path
) -> None:
    result = task_run(_prepared(), _fetched(), exit_code="0", extra=("--kubeconfig", str(tmp_path / "none")))
    assert result.exit_code == 2, "a kubeconfig that does not exist is bad configuration"
    result = task_run(_prepared(), _fetched(), exit_code="0")
    assert result.exit_code == 0, result.stderr
    (run,) = fake_github.check_runs
    assert "its output could not be read (no pod name (--pod-name / POD_NAME))" in run["output"]["summary"]


def test_a_dry_run_whose_config_is_wrong_keeps_the_taskrun_green(
    fake_github: FakeGitHub, task_run: Callable[..., Any]
) -> None:
    result = task_run(_prepared(), _bad_config(), action="dry-run")
    assert result.exit_code == 0, result.stderr
    assert [r["conclusion"] for r in fake_github.check_runs] == ["failure"]


def test_no_token_means_no_check_run_and_a_failed_taskrun(
    fake_github: FakeGitHub, task_run: Callable[..., Any], token_file: Path
) -> None:
    token_file.unlink()
    result = task_run(_prepared(state.FAILED, cause="token", reason="GitHub gave no token"))
    assert result.exit_code == 1
    assert "no check run can be posted" in result.stderr.splitlines()[-1]
    assert fake_github.check_runs == []


def test_a_token_without_checks_permission_fails(
    fake_github: FakeGitHub, app_key: Any, task_run: Callable[..., Any], token_file: Path
) -> None:
    token = GitHubApp(APP_ID, app_key, api_url=fake_github.api_url).mint_token(1, {"contents": "read"})
    token_file.write_text(token.token)
    result = task_run(_prepared(), _fetched())
    assert result.exit_code == 1
    assert "Resource not accessible by integration" in result.stderr.splitlines()[-1]


def test_read_exit_code(tmp_path: Path) -> None:
    (tmp_path / "c").write_text(" 137 \n")
    assert read_exit_code(tmp_path / "c") == 137
    assert read_exit_code(tmp_path / "missing") is None
    (tmp_path / "bad").write_text("banana")
    with pytest.raises(Exception, match="not an integer"):
        read_exit_code(tmp_path / "bad")
