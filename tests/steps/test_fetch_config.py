"""fetch-config against the fake GitHub (no Kubernetes involved)."""

from pathlib import Path

import pytest

from tekton.steps import state
from tekton.steps.config import InvalidConfig, check_config
from tekton.steps.state import Record
from tests.fakes.github import FakeGitHub, Fault
from tests.steps.conftest import SHA, log_lines, run_step

CONFIG = b"orgs:\n  octo-org:\n    admins: [alice, bob]\n    members: [carol]\n"


def fetch(token_file: Path, gh: FakeGitHub, output: Path, *extra: str):
    return run_step(
        "fetch-config",
        "--token-file",
        token_file,
        "--repo",
        "octo-org/.github",
        "--revision",
        SHA,
        "--output",
        output,
        "--github-api-url",
        gh.api_url,
        "--github-max-retries",
        "0",
        *extra,
    )


def test_fetches_and_writes_the_file(fake_github: FakeGitHub, token_file: Path, tmp_path: Path) -> None:
    fake_github.add_file("octo-org/.github", SHA, "peribolos.yaml", CONFIG)
    output = tmp_path / "out" / "config.yaml"
    result = fetch(token_file, fake_github, output, "--org", "Octo-Org")
    assert result.exit_code == 0, result.stderr
    assert output.read_bytes() == CONFIG
    (seen,) = fake_github.requests
    assert (seen.path, seen.query) == ("/repos/octo-org/.github/contents/peribolos.yaml", {"ref": [SHA]})
    (line,) = log_lines(result)
    assert line["msg"] == "config fetched" and line["bytes"] == len(CONFIG)
    assert token_file.read_text().strip() not in result.stderr + result.stdout


def test_other_path_and_ghes(app_key, tmp_path: Path) -> None:
    from peribolos_core.github import GitHubApp
    from tests.fakes.fixtures import APP_ID

    with FakeGitHub(APP_ID, app_key.public_key(), path_prefix="/api/v3") as gh:
        gh.add_installation(1, "octo-org")
        gh.add_file("octo-org/.github", SHA, "org/peribolos.yaml", CONFIG)
        token = tmp_path / "token"
        token.write_text(GitHubApp(APP_ID, app_key, api_url=gh.api_url).mint_token(1).token)
        result = fetch(token, gh, tmp_path / "c.yaml", "--path", "org/peribolos.yaml")
        assert result.exit_code == 0, result.stderr
        assert gh.requests[-1].path == "/api/v3/repos/octo-org/.github/contents/org/peribolos.yaml"


@pytest.mark.parametrize(
    ("content", "extra", "message"),
    [
        (b"orgs: [unclosed\n", (), "(1 problem): peribolos.yaml:2:1: not valid YAML: did not find expected"),
        (b"- a\n- b\n", (), "peribolos.yaml:1:1: the file must be a mapping with 'orgs:', not a list"),
        (
            b"orgs: {}\n",
            (),
            "peribolos.yaml:1:1: orgs: the file must configure at least one org under 'orgs:'",
        ),
        (b"\xff\xfe", (), "peribolos.yaml:1:1: the file is not UTF-8 text"),
        (
            b"orgs:\n  other-org: {}\n",
            ("--org", "octo-org"),
            "configures other-org; this installation can only",
        ),
        (b"orgs:\n  octo-org: {}\n  b: {}\n", ("--org", "octo-org"), "configures b, octo-org"),
        (
            b"orgs:\n  octo-org:\n    admins: alice\n    membrs: [bob]\n    teams: 5\n",
            (),
            "(3 problems): peribolos.yaml:3:13: orgs.octo-org.admins: must be a list of logins, not the text "
            '"alice"; peribolos.yaml:4:5: orgs.octo-org.membrs: unknown key "membrs": peribolos ignores it; '
            "did you mean 'members'?; peribolos.yaml:5:12: orgs.octo-org.teams: must be a mapping",
        ),
        (
            b"orgs:\n  octo-org:\n    members: [" + b", ".join(b"u%d" % i for i in range(8)) + b"]\n"
            b"    teams:\n      t:\n        members: [" + b", ".join(b"x%d" % i for i in range(8)) + b"]\n",
            (),
            "(8 problems): peribolos.yaml:6:19: orgs.octo-org.teams.t.members[0]: x0 is not an admin or ",
        ),
        (b"[" * 100_000, (), "peribolos.yaml:1:1001: not valid YAML: exceeded maximum nesting depth"),
    ],
    ids=["bad-yaml", "a-list", "no-orgs", "binary", "other-org", "two-orgs", "schema", "many", "brackets"],
)
def test_invalid_config_fails_with_one_line(
    fake_github: FakeGitHub, token_file: Path, tmp_path: Path, content: bytes, extra: tuple, message: str
) -> None:
    fake_github.add_file("octo-org/.github", SHA, "peribolos.yaml", content)
    output = tmp_path / "config.yaml"
    result = fetch(token_file, fake_github, output, *extra)
    assert result.exit_code == 1
    assert message in result.stderr.splitlines()[-1]
    assert result.stderr.splitlines()[-1].startswith("peribolos-step fetch-config: error: peribolos.yaml in ")
    assert len(result.stderr.splitlines()[-1]) < 2000  # five problems spelt out, the rest counted
    assert not output.exists()


@pytest.mark.parametrize(
    ("setup", "code", "message"),
    [
        (lambda gh, tf: None, 1, "HTTP 404"),
        (
            lambda gh, tf: gh.inject(Fault.server_error(502), times=5),
            1,
            "temporary: retrying the TaskRun may help",
        ),
        (lambda gh, tf: tf.write_text(" \n"), 2, "is empty"),
        (lambda gh, tf: tf.unlink(), 2, "run ensure-token --token-file first"),
        (lambda gh, tf: tf.write_text("ghs_expired_or_revoked_token"), 1, "Bad credentials"),
    ],
    ids=["missing-file", "github-down", "empty-token-file", "no-token-file", "revoked-token"],
)
def test_failures(
    fake_github: FakeGitHub, token_file: Path, tmp_path: Path, setup, code: int, message: str
) -> None:
    setup(fake_github, token_file)
    result = fetch(token_file, fake_github, tmp_path / "c.yaml")
    assert result.exit_code == code, result.stderr
    assert message in result.stderr.splitlines()[-1]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--repo", "not-a-repo"], "is not of the form ORG/REPO"),
        (["--github-api-url", "api.github.com"], "is not an http(s) base URL"),
        (["--path", "../../etc/passwd"], "must be a relative file path"),
    ],
    ids=["bad-repo", "bad-url", "path-escape"],
)
def test_bad_arguments_exit_2(
    fake_github: FakeGitHub, token_file: Path, tmp_path: Path, args, message
) -> None:
    result = fetch(token_file, fake_github, tmp_path / "c.yaml", *args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert fake_github.requests == []


def test_check_config_returns_the_warnings_and_raises_the_errors() -> None:
    result = check_config(CONFIG, "x", "octo-org")
    assert result.ok and result.orgs == ("octo-org",) and result.problems == ()
    legacy = CONFIG + b"    repos:\n      web: {private: true}\n"
    assert [p.rule for p in check_config(legacy, "x").problems] == ["deprecated"]
    with pytest.raises(InvalidConfig) as caught:
        check_config(b"orgs: 3", "x", filename="org/peribolos.yaml", min_admins=2)
    assert [p.format("f") for p in caught.value.problems] == [
        "f:1:7: orgs: must be a mapping of org names, not the number 3"
    ]
    assert str(caught.value) == (
        "x is not a valid peribolos config (1 problem): "
        "org/peribolos.yaml:1:7: orgs: must be a mapping of org names, not the number 3"
    )
    many = b"orgs:\n  o:\n    admins: [a, b]\n" + b"".join(b"    k%d: 1\n" % i for i in range(8))
    with pytest.raises(
        InvalidConfig, match=r"\(8 problems\): f:4:5: .* f:8:5: orgs\.o\.k4: .*; and 3 more$"
    ) as many_:
        check_config(many, "x", filename="f")
    assert "k5" not in str(many_.value) and len(many_.value.problems) == 8
    with pytest.raises(InvalidConfig, match=r"\(1 problem\): f:3:5: orgs.octo-org.admins: 1 admin listed"):
        check_config(b"orgs:\n  octo-org:\n    admins: [a]\n", "x", filename="f", min_admins=2)


def test_unwritable_output_exits_1(fake_github: FakeGitHub, token_file: Path, tmp_path: Path) -> None:
    fake_github.add_file("octo-org/.github", SHA, "peribolos.yaml", CONFIG)
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = fetch(token_file, fake_github, blocker / "config.yaml")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1].startswith("peribolos-step fetch-config: error: FileExistsError")


# --- as the Task runs it: after prepare, the outcome recorded for report -----------------------------


def _task_fetch(token_file: Path, gh: FakeGitHub, tmp_path: Path, prepared: Record | None, *extra: str):
    """fetch-config as the Task runs it: an empty --revision (the one prepare recorded), --state-dir."""
    states = tmp_path / "state"
    if prepared is not None:
        state.write(states, prepared)
    output = tmp_path / "config" / "peribolos.yaml"
    result = fetch(
        token_file, gh, output, "--revision", "", "--org", "octo-org", "--state-dir", states, *extra
    )
    return result, state.read(states, "fetch-config"), output


@pytest.mark.parametrize(
    ("content", "extra", "outcome", "cause", "problems"),
    [
        pytest.param(CONFIG, (), "ok", "", 0, id="valid"),
        pytest.param(
            b"orgs:\n  octo-org:\n    admins: [alice]\n",
            ("--min-admins", "2"),
            "failed",
            "config",
            1,
            id="fewer-admins-than-min-admins",
        ),
        pytest.param(
            CONFIG, ("--required-admins", "dave"), "failed", "config", 1, id="required-admin-missing"
        ),
        pytest.param(
            b"orgs:\n  other-org:\n    admins: [alice, bob]\n", (), "failed", "config", 1, id="another-org"
        ),
        pytest.param(b"orgs: [\n", (), "failed", "config", 1, id="yaml-error"),
        pytest.param(None, (), "failed", "github", 0, id="missing-file"),
    ],
)
def test_the_outcome_is_recorded_and_the_step_exits_0(
    fake_github: FakeGitHub,
    token_file: Path,
    tmp_path: Path,
    content: bytes | None,
    extra: tuple[str, ...],
    outcome: str,
    cause: str,
    problems: int,
) -> None:
    if content is not None:
        fake_github.add_file("octo-org/.github", SHA, "peribolos.yaml", content)
    result, record, output = _task_fetch(
        token_file, fake_github, tmp_path, Record("prepare", "ok", revision=SHA), *extra
    )
    assert result.exit_code == 0, result.stderr
    assert record is not None and (record.outcome, record.cause) == (outcome, cause), record
    assert len([p for p in record.problems if ": warning: " not in p]) == problems
    assert len(record.annotations) == len(record.problems)
    assert output.exists() is (outcome == "ok"), "peribolos gets no config to act on when the check fails"
    if content is not None:
        assert fake_github.requests[-1].query == {"ref": [SHA]}, "the revision prepare recorded"


@pytest.mark.parametrize(
    "prepared",
    [
        None,
        Record("prepare", "superseded", revision=SHA, newer="9" * 40),
        Record("prepare", "failed", revision=SHA),
    ],
    ids=["none", "superseded", "failed"],
)
def test_nothing_is_fetched_unless_prepare_succeeded(
    fake_github: FakeGitHub, token_file: Path, tmp_path: Path, prepared: Record | None
) -> None:
    fake_github.add_file("octo-org/.github", SHA, "peribolos.yaml", CONFIG)
    result, record, output = _task_fetch(token_file, fake_github, tmp_path, prepared)
    assert result.exit_code == 0
    assert record is not None and record.outcome == "skipped"
    assert not output.exists() and fake_github.requests == []
