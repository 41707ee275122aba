"""``peribolos-step check-config``, the local check for org admins, and its pre-commit hook definition."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.steps.conftest import run_step

ROOT = Path(__file__).parent.parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "peribolos-configs"
VALID = "orgs:\n  octo-org:\n    admins: [alice, bob]\n    members: [carol]\n"


def write(tmp_path: Path, text: str, name: str = "peribolos.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "args", "code", "lines"),
    [
        (VALID, [], 0, []),
        (VALID, ["--org", "Octo-Org"], 0, []),
        (
            VALID.replace("members", "membrs"),
            [],
            1,
            [
                '{f}:4:5: orgs.octo-org.membrs: unknown key "membrs": peribolos ignores it; '
                "did you mean 'members'?"
            ],
        ),
        (
            VALID,
            ["--org", "other"],
            1,
            ["{f}:1:1: orgs: configures octo-org; this installation can only manage other"],
        ),
        (
            VALID,
            ["--min-admins", "3", "--required-admins", "root"],
            1,
            [
                "{f}:3:5: orgs.octo-org.admins: 2 admins listed; peribolos runs with --min-admins=3 "
                "and refuses fewer",
                "{f}:3:5: orgs.octo-org.admins: must list root as an admin (--required-admins)",
            ],
        ),
        (
            "orgs:\n  octo-org:\n    admins: [alice]\n",
            [],
            1,
            [
                "{f}:3:5: orgs.octo-org.admins: 1 admin listed; peribolos runs with --min-admins=2 "
                "and refuses fewer"
            ],
        ),
        (
            VALID + "    repos:\n      web: {private: true}\n",
            [],
            0,
            [
                "{f}:6:13: warning: orgs.octo-org.repos.web.private: private is deprecated: "
                "write visibility: private"
            ],
        ),
        ("[" * 100_000, [], 1, ["{f}:1:1001: not valid YAML: exceeded maximum nesting depth"]),
    ],
    ids=[
        "valid",
        "org-any-case",
        "unknown-key",
        "other-org",
        "min-and-required-admins",
        "default-min-2",
        "warning-only",
        "brackets-100k",
    ],
)
def test_exit_code_and_one_line_per_problem(
    tmp_path: Path, text: str, args: list[str], code: int, lines: list[str]
) -> None:
    path = write(tmp_path, text)
    result = run_step("check-config", path, *args)
    assert result.exit_code == code, result.output
    assert result.stdout.splitlines() == [line.format(f=path) for line in lines]


def test_several_files_each_named_in_its_lines(tmp_path: Path) -> None:
    good = write(tmp_path, VALID, "a.yaml")
    bad = write(tmp_path, "orgs: {}\n", "b.yaml")
    result = run_step("check-config", good, bad)
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f"{bad}:1:1: orgs: the file must configure at least one org under 'orgs:'"
    ]


def test_the_real_configs_pass(tmp_path: Path) -> None:
    result = run_step("check-config", *sorted(FIXTURES.glob("*.yaml")))
    assert result.exit_code == 0, result.stdout
    assert [line.split(": ", 1)[1] for line in result.stdout.splitlines()] == [
        "warning: orgs.kubevirt.repos.secrets.private: private is deprecated: write visibility: private"
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "Missing argument 'FILE...'"),
        (["{tmp}/missing.yaml"], "does not exist"),
        (["{tmp}"], "is a directory"),
        (["{tmp}/ok.yaml", "--min-admins", "1"], "1 is not in the range x>=2"),
        (["{tmp}/ok.yaml", "--confirm"], "No such option '--confirm'"),
    ],
    ids=["no-file", "missing-file", "directory", "min-admins-below-2", "unknown-flag"],
)
def test_bad_usage_exits_2(tmp_path: Path, args: list[str], message: str) -> None:
    write(tmp_path, VALID, "ok.yaml")
    result = run_step("check-config", *[a.format(tmp=tmp_path) for a in args])
    assert result.exit_code == 2
    assert message in result.stderr


# -- the pre-commit hook ----------------------------------------------------------------------------------

HOOKS = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())


def test_the_hook_definition_has_what_pre_commit_requires() -> None:
    (hook,) = HOOKS
    # pre-commit's manifest schema: id, name, entry and language are required; the rest is optional
    assert {"id", "name", "entry", "language"} <= set(hook)
    assert hook["id"] == "peribolos-check-config"
    assert hook["language"] == "python"  # pre-commit pip-installs this repository: setup.py's console scripts
    assert hook["entry"] == "peribolos-step check-config"
    setup = (ROOT / "setup.py").read_text()
    assert '"peribolos-step=tekton.steps.cli:main"' in setup
    assert hook["types"] == ["yaml"]


@pytest.mark.parametrize(
    ("path", "matched"),
    [
        ("peribolos.yaml", True),
        ("peribolos.yml", True),
        ("org/peribolos.yaml", True),
        ("config/kubernetes/peribolos.yaml", True),
        ("my-peribolos.yaml", False),
        ("peribolos.yaml.bak", False),
        ("README.md", False),
        (".github/workflows/ci.yaml", False),
    ],
)
def test_the_hook_files_pattern(path: str, matched: bool) -> None:
    (hook,) = HOOKS
    assert bool(re.search(hook["files"], path)) == matched  # pre-commit matches with re.search


@pytest.mark.parametrize(
    ("text", "code"), [(VALID, 0), (VALID.replace("admins", "admin"), 1)], ids=["ok", "bad"]
)
def test_the_hook_entry_runs_as_pre_commit_runs_it(tmp_path: Path, text: str, code: int) -> None:
    """pre-commit runs ``entry`` with the staged file names appended, from the repository's root."""
    (hook,) = HOOKS
    command, *args = hook["entry"].split()
    executable = Path(sys.executable).parent / command  # the console script this checkout installed
    write(tmp_path, text)
    result = subprocess.run(
        [str(executable), *args, *hook.get("args", []), "peribolos.yaml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == code, result.stdout + result.stderr
    if code:
        assert 'peribolos.yaml:3:5: orgs.octo-org.admin: unknown key "admin"' in result.stdout
