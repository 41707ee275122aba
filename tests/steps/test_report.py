"""report against the fake GitHub; check_run_for as a table."""

from pathlib import Path

import pytest

from tekton.steps.report import CheckRun, check_run_for, read_exit_code
from tests.fakes.github import FakeGitHub
from tests.steps.conftest import SHA, log_lines, run_step


@pytest.fixture(autouse=True)
def head_commit(fake_github: FakeGitHub) -> None:
    """The commit the check runs are reported on (GitHub refuses a check run for an unknown SHA)."""
    fake_github.add_file("octo-org/.github", SHA, "peribolos.yaml", "orgs: {}\n")


def report(token_file: Path, gh: FakeGitHub, tmp_path: Path, *extra: str, name: str = "peribolos/dry-run"):
    return run_step(
        "report",
        "--token-file",
        token_file,
        "--repo",
        "octo-org/.github",
        "--head-sha",
        SHA,
        "--name",
        name,
        "--exit-code-file",
        tmp_path / "exit-code",
        "--github-api-url",
        gh.api_url,
        *extra,
    )


@pytest.mark.parametrize(
    ("exit_code", "conclusion", "title"),
    [
        ("0\n", "success", "peribolos dry run succeeded"),
        ("1", "failure", "peribolos dry run failed (exit code 1)"),
        (None, "failure", "peribolos dry run did not finish"),
        ("", "failure", "peribolos dry run did not finish"),
    ],
    ids=["success", "failure", "no-file", "empty-file"],
)
def test_reports_a_check_run(
    fake_github: FakeGitHub,
    token_file: Path,
    tmp_path: Path,
    exit_code: str | None,
    conclusion: str,
    title: str,
) -> None:
    if exit_code is not None:
        (tmp_path / "exit-code").write_text(exit_code)
    result = report(token_file, fake_github, tmp_path)
    assert result.exit_code == 0, result.stderr
    (run,) = fake_github.check_runs
    assert (run["repo"], run["name"], run["head_sha"], run["status"], run["conclusion"]) == (
        "octo-org/.github",
        "peribolos/dry-run",
        SHA,
        "completed",
        conclusion,
    )
    assert run["output"]["title"] == title
    assert log_lines(result)[-1]["check_run_id"] == run["id"]


def test_details_tail_is_the_text_and_the_token_is_redacted(
    fake_github: FakeGitHub, token_file: Path, tmp_path: Path
) -> None:
    token = token_file.read_text().strip()
    (tmp_path / "exit-code").write_text("1")
    details = tmp_path / "details"
    details.write_text("x" * 100_000 + f"\nlevel=error msg=oops token={token}\n")
    result = report(token_file, fake_github, tmp_path, "--details-file", details, name="peribolos/sync")
    assert result.exit_code == 0, result.stderr
    text = fake_github.check_runs[0]["output"]["text"]
    assert text.startswith("(earlier output cut)\n~~~~\n") and text.endswith("\n~~~~")
    assert "level=error msg=oops token=[REDACTED]" in text
    assert token not in text and len(text) <= 65535
    assert fake_github.check_runs[0]["name"] == "peribolos/sync"


def test_propagate_exit_code(fake_github: FakeGitHub, token_file: Path, tmp_path: Path) -> None:
    (tmp_path / "exit-code").write_text("3")
    result = report(token_file, fake_github, tmp_path, "--propagate-exit-code")
    assert result.exit_code == 1
    assert len(fake_github.check_runs) == 1, "reported first, then failed"
    assert "peribolos failed: peribolos dry run failed (exit code 3)" in result.stderr


@pytest.mark.parametrize(
    ("setup", "extra", "code", "message"),
    [
        (lambda p: p.write_text("banana"), (), 2, "not an integer"),
        (lambda p: p.write_text("0"), ("--name", "other/check"), 2, "Invalid value for '--name'"),
        (lambda p: p.write_text("0"), ("--head-sha",), 2, "requires an argument"),
    ],
    ids=["garbage-exit-code", "unknown-name", "missing-value"],
)
def test_bad_input_exits_2(
    fake_github: FakeGitHub, token_file: Path, tmp_path: Path, setup, extra: tuple, code: int, message: str
) -> None:
    setup(tmp_path / "exit-code")
    result = report(token_file, fake_github, tmp_path, *extra)
    assert result.exit_code == code
    assert message in result.stderr
    assert fake_github.check_runs == []


def test_token_without_checks_permission_fails(fake_github: FakeGitHub, app_key, tmp_path: Path) -> None:
    from peribolos_core.github import GitHubApp
    from tests.fakes.fixtures import APP_ID

    token = GitHubApp(APP_ID, app_key, api_url=fake_github.api_url).mint_token(
        1, permissions={"contents": "read"}
    )
    token_file = tmp_path / "token"
    token_file.write_text(token.token)
    (tmp_path / "exit-code").write_text("0")
    result = report(token_file, fake_github, tmp_path)
    assert result.exit_code == 1
    assert "Resource not accessible by integration" in result.stderr.splitlines()[-1]


@pytest.mark.parametrize(
    ("name", "code", "details", "expected"),
    [
        (
            "peribolos/sync",
            0,
            None,
            CheckRun(
                "success",
                "peribolos sync succeeded",
                "`peribolos` (sync) exited with code 0 for 0123456.",
                None,
            ),
        ),
        (
            "peribolos/sync",
            2,
            "boom ~~~~ fence",
            CheckRun(
                "failure",
                "peribolos sync failed (exit code 2)",
                "`peribolos` (sync) exited with code 2 for 0123456; its output is below.",
                "~~~~\nboom ~~~ fence\n~~~~",
            ),
        ),
    ],
    ids=["sync-success", "sync-failure-fence-escaped"],
)
def test_check_run_for(name: str, code: int, details: str | None, expected: CheckRun) -> None:
    assert check_run_for(name, code, details, SHA) == expected


def test_read_exit_code(tmp_path: Path) -> None:
    (tmp_path / "c").write_text(" 137 \n")
    assert read_exit_code(tmp_path / "c") == 137
    assert read_exit_code(tmp_path / "missing") is None
