"""Run the real peribolos against the fake GitHub and keep what it prints: the golden inputs of the plan
summary (``tests/fixtures/peribolos-output/``).

``python -m tests.steps.peribolos_runs`` re-captures every scenario (and ``--update-summaries`` rewrites
the expected summaries next to them); ``test_plan_summary.py`` reads the captured files, and re-runs the
scenarios when the binary is there to show the files are still what peribolos prints.

Scenarios that change teams or repos run without ``--confirm`` (peribolos' dry-run client logs each
write it would make and sends none), as the dry-run check on a pull request does; member changes run with
``--confirm``. The repositories a scenario names are created in the fake with their settings.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from peribolos_core.github import GitHubApp
from tests.fakes.fixtures import APP_ID
from tests.fakes.github import FakeGitHub, FakeTeam

OUTPUT_DIR = Path(__file__).parent.parent / "fixtures" / "peribolos-output"
ORG = "octo-org"
INSTALLATION_ID = 1
BASE_FLAGS = ("--require-self=false", "--min-admins=2", "--maximum-removal-delta=0.25")
"""As the generator renders them (defaults), with the config, token and endpoint flags added per run."""
FIX_DEFAULT = ("--fix-org-members", "--fix-teams", "--fix-team-members", "--fix-team-repos")
"""The generator's default ``--fix-*`` set."""


@dataclass(frozen=True)
class FakeRepo:
    """A repository of the scenario's org and the settings peribolos' ``--fix-repos`` compares."""

    name: str
    description: str = ""
    private: bool = False
    archived: bool = False
    has_issues: bool = True
    has_wiki: bool = True


@dataclass(frozen=True)
class Scenario:
    name: str
    config: str
    confirm: bool
    admins: tuple[str, ...] = ("alice", "bob")
    members: tuple[str, ...] = ("carol", "dave")
    teams: tuple[FakeTeam, ...] = ()
    repos: tuple[FakeRepo, ...] = ()
    flags: tuple[str, ...] = FIX_DEFAULT
    invitations: dict[str, str] = field(default_factory=dict)
    """What this run shows, for the reader of the fixture."""
    about: str = ""


def _team(id_: int, name: str, **kwargs: Any) -> FakeTeam:
    return FakeTeam(id_, name, name.lower().replace(" ", "-"), **kwargs)


TEAMS = (
    _team(11, "reviewers", maintainers={"alice"}, members={"carol"}, repos={"website": "push"}),
    _team(12, "release", privacy="secret", maintainers={"bob"}, members={"dave"}, repos={"infra": "admin"}),
)
MORE_TEAMS = (
    *TEAMS,
    _team(13, "docs", maintainers={"carol"}, repos={"docs": "push"}),
    _team(14, "triage", members={"dave"}, repos={"website": "triage"}),
    _team(15, "security", privacy="secret", maintainers={"alice"}),
)
"""Five teams, so that deleting one stays within --maximum-removal-delta=0.25."""
IN_SYNC = """\
orgs:
  octo-org:
    admins: [alice, bob]
    members: [carol, dave]
    teams:
      reviewers:
        privacy: closed
        maintainers: [alice]
        members: [carol]
        repos: {website: write}
      release:
        privacy: secret
        maintainers: [bob]
        members: [dave]
        repos: {infra: admin}
"""

SCENARIOS = (
    Scenario("no-change-dry-run", IN_SYNC, confirm=False, teams=TEAMS, about="the config is what GitHub has"),
    Scenario("no-change-sync", IN_SYNC, confirm=True, teams=TEAMS, about="the same, applied"),
    Scenario(
        "members-sync",
        IN_SYNC.replace("admins: [alice, bob]", "admins: [alice, bob, carol]")
        .replace("members: [carol, dave]\n    teams", "members: [dave, erin, frank]\n    teams")
        .replace("members: [carol]\n        repos", "members: [carol, erin]\n        repos"),
        confirm=True,
        members=("carol", "dave", "gina"),
        teams=TEAMS,
        flags=("--fix-org-members",),
        about="carol promoted to admin, erin and frank invited, gina removed (only --fix-org-members)",
    ),
    Scenario(
        "members-dry-run",
        IN_SYNC.replace("admins: [alice, bob]", "admins: [alice, carol]").replace(
            "members: [carol, dave]\n    teams", "members: [bob, dave, erin]\n    teams"
        ),
        confirm=False,
        members=("carol", "dave", "gina"),
        teams=TEAMS,
        flags=("--fix-org-members",),
        about="bob demoted, carol promoted, erin added, gina removed, as a dry run",
    ),
    Scenario(
        "teams-dry-run",
        """\
orgs:
  octo-org:
    admins: [alice, bob]
    members: [carol, dave, erin]
    teams:
      reviewers:
        description: Reviews every change
        privacy: closed
        maintainers: [alice, carol]
        members: [erin]
        repos: {website: maintain, docs: read}
      release:
        privacy: secret
        maintainers: [bob]
        repos: {}
      docs:
        privacy: closed
        maintainers: [carol]
        repos: {docs: write}
      triage:
        privacy: secret
        members: [dave]
        repos: {website: triage}
""",
        confirm=False,
        members=("carol", "dave", "erin"),
        teams=MORE_TEAMS,
        about="a team edited (description), members and repos changed and removed, one team deleted",
    ),
    Scenario(
        "new-team-dry-run",
        IN_SYNC.replace("members: [carol, dave]", "members: [carol, dave, erin]")
        + """\
      sig leads:
        description: Leads of the special interest groups
        privacy: closed
        maintainers: [bob]
        members: [erin]
        repos: {infra: triage}
""",
        confirm=False,
        members=("carol", "dave", "erin"),
        teams=TEAMS,
        about="a new team: the dry run stops where it would list the team it has not created",
    ),
    Scenario(
        "repos-dry-run",
        IN_SYNC
        + """\
    repos:
      website:
        description: The project's website
        has_wiki: false
      infra:
        archived: true
      api:
        description: A new repository
        private: true
      old-site:
        private: false
""",
        confirm=False,
        teams=TEAMS,
        repos=(FakeRepo("website"), FakeRepo("infra"), FakeRepo("old-site", private=True)),
        flags=(*FIX_DEFAULT, "--fix-repos"),
        about="repo settings: one updated, one created, archival and publishing refused by default",
    ),
    Scenario(
        "removal-delta-refused",
        IN_SYNC.replace("members: [carol, dave]\n    teams", "members: []\n    teams")
        .replace("members: [carol]\n        repos", "members: []\n        repos")
        .replace("members: [dave]\n        repos", "members: []\n        repos"),
        confirm=True,
        teams=TEAMS,
        about="removing 2 of 4 members passes --maximum-removal-delta=0.25: peribolos refuses",
    ),
    Scenario(
        "min-admins-refused",
        IN_SYNC.replace("admins: [alice, bob]", "admins: [alice]").replace(
            "maintainers: [bob]", "maintainers: [alice]"
        ),
        confirm=True,
        teams=TEAMS,
        about="one admin with --min-admins=2: peribolos refuses before any change",
    ),
    Scenario(
        "bad-config",
        "orgs:\n  octo-org:\n    admins: alice\n",
        confirm=False,
        about="a config peribolos cannot load",
    ),
)


@dataclass(frozen=True)
class Run:
    scenario: Scenario
    exit_code: int
    output: str
    argv: tuple[str, ...]


def default_binary() -> Path | None:
    """The peribolos build.sh built, when it is there (``$E2E_CACHE/bin/peribolos``)."""
    cache = Path(os.environ.get("E2E_CACHE") or Path.home() / ".cache" / "peribolos-e2e")
    binary = cache / "bin" / "peribolos"
    return binary if binary.is_file() else None


def run(binary: Path, scenario: Scenario, key: rsa.RSAPrivateKey, workdir: Path) -> Run:
    """peribolos with the scenario's config and flags against a fake GitHub holding its org state."""
    with FakeGitHub(APP_ID, key.public_key()) as github:
        github.add_installation(INSTALLATION_ID, ORG)
        for repo in scenario.repos:
            github.add_repo(f"{ORG}/{repo.name}", description=repo.description, private=repo.private,
                            archived=repo.archived, has_issues=repo.has_issues, has_wiki=repo.has_wiki)
        org = github.add_org(ORG, scenario.admins, scenario.members, scenario.teams)
        org.invitations.update(scenario.invitations)
        token = GitHubApp(APP_ID, key, api_url=github.api_url).mint_token(INSTALLATION_ID).token
        token_file = workdir / "token"
        token_file.write_text(token)
        config = workdir / "peribolos.yaml"
        config.write_text(scenario.config)
        argv = (
            str(binary),
            f"--github-endpoint={github.api_url}",
            f"--config-path={config}",
            f"--github-token-path={token_file}",
            *BASE_FLAGS,
            *scenario.flags,
            *(("--confirm",) if scenario.confirm else ()),
        )
        result = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
        output = normalize(
            result.stdout + result.stderr,
            {github.api_url: "https://api.github.test", token: "<token>", str(workdir): "/workspace"},
        )
    return Run(scenario, result.returncode, output, argv)


_TIME = re.compile(r'"time":"[^"]*"')
_DURATION = re.compile(r'"duration":"[^"]*"')


def normalize(output: str, replace: dict[str, str]) -> str:
    """What varies between runs made fixed: timestamps, durations, the fake's port, the token, paths."""
    for old, new in replace.items():
        output = output.replace(old, new)
    output = _TIME.sub('"time":"2026-01-01T00:00:00Z"', output)
    return _DURATION.sub('"duration":"1ms"', output)


def fixture_path(scenario: Scenario) -> Path:
    return OUTPUT_DIR / f"{scenario.name}.log"


def write_fixture(result: Run) -> Path:
    """The captured output, after a header line saying how it was made (the summary ignores it)."""
    header = {
        "capture": result.scenario.name,
        "about": result.scenario.about,
        "exit_code": result.exit_code,
        "confirm": result.scenario.confirm,
        "flags": list(BASE_FLAGS + result.scenario.flags),
    }
    path = fixture_path(result.scenario)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"# {json.dumps(header)}\n{result.output}")
    return path


def read_fixture(path: Path) -> tuple[dict[str, Any], str]:
    """(header, peribolos' output) of a captured file."""
    first, _, rest = path.read_text().partition("\n")
    return json.loads(first.removeprefix("# ")), rest


def main(argv: list[str]) -> int:
    binary = default_binary()
    if binary is None:
        print("no peribolos binary: run `make e2e-tools` first", file=sys.stderr)
        return 2
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    for scenario in SCENARIOS:
        with tempfile.TemporaryDirectory() as tmp:
            result = run(binary, scenario, key, Path(tmp))
        path = write_fixture(result)
        print(f"{scenario.name}: exit {result.exit_code}, {len(result.output.splitlines())} lines -> {path}")
        if "--update-summaries" in argv:
            from tekton.steps.plan_summary import summarize

            header, output = read_fixture(path)
            summary = summarize(output, confirm=header["confirm"], exit_code=header["exit_code"])
            path.with_suffix(".md").write_text(summary.markdown)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
