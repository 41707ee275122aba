"""peribolos' output as a Markdown summary: golden files from real runs, the wording of each change and
failure, secrets scrubbed before cutting, and GitHub's 65,535-character limit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tekton.steps.plan_summary import SUMMARY_LIMIT, summarize
from tests.steps import peribolos_runs

CAPTURED = sorted(peribolos_runs.OUTPUT_DIR.glob("*.log"))


def line(msg: str, level: str = "info", client: bool = False, **fields: str) -> str:
    """One peribolos log line as logrus writes it."""
    entry = {**({"client": "github"} if client else {}), "level": level, "msg": msg, **fields}
    return json.dumps({"component": "peribolos", "severity": level, "time": "2026-01-01T00:00:00Z", **entry})


def call(msg: str) -> str:
    return line(msg, client=True)


FINISHED = line("Finished syncing configuration.")


def test_every_scenario_was_captured() -> None:
    assert {p.stem for p in CAPTURED} == {s.name for s in peribolos_runs.SCENARIOS}


@pytest.mark.parametrize("path", CAPTURED, ids=[p.stem for p in CAPTURED])
def test_golden_summaries_of_real_peribolos_output(path: Path) -> None:
    header, output = peribolos_runs.read_fixture(path)
    summary = summarize(output, confirm=header["confirm"], exit_code=header["exit_code"])
    assert summary.markdown == path.with_suffix(".md").read_text()
    assert summary.failed == (header["exit_code"] != 0)
    assert "<token>" not in output  # the capture replaced the token, if peribolos had ever printed it


@pytest.mark.parametrize(
    ("name", "title", "changes", "artifact"),
    [
        ("no-change-dry-run", "No change: GitHub matches the config", 0, False),
        ("no-change-sync", "No change: GitHub matches the config", 0, False),
        ("members-sync", "4 changes made", 4, False),
        ("members-dry-run", "4 changes planned", 4, False),
        ("teams-dry-run", "9 changes planned", 9, False),
        (
            "new-team-dry-run",
            "1 change planned (the dry run cannot look inside teams it would create)",
            1,
            True,
        ),
        ("repos-dry-run", "2 changes planned, 2 refused (not allowed by the service)", 2, False),
        (
            "removal-delta-refused",
            "peribolos refused: the config removes 2 of octo-org's memberships (50%), more than "
            "`--maximum-removal-delta` allows (25…",
            0,
            False,
        ),
        (
            "min-admins-refused",
            "peribolos refused: octo-org lists 1 admin(s); `--min-admins` requires at least 2.",
            0,
            False,
        ),
        (
            "bad-config",
            "peribolos could not read the config: json: cannot unmarshal string into Go struct field "
            "Config.orgs"
            ".admins of type []st…",
            0,
            False,
        ),
    ],
)
def test_titles(name: str, title: str, changes: int, artifact: bool) -> None:
    header, output = peribolos_runs.read_fixture(peribolos_runs.OUTPUT_DIR / f"{name}.log")
    summary = summarize(output, confirm=header["confirm"], exit_code=header["exit_code"])
    assert (summary.title, summary.changes, summary.dry_run_artifact) == (title, changes, artifact)


def test_a_dry_run_with_the_current_members_tells_invitations_from_role_changes() -> None:
    _, output = peribolos_runs.read_fixture(peribolos_runs.OUTPUT_DIR / "members-dry-run.log")
    current = {"alice": "admin", "bob": "admin", "carol": "member", "dave": "member", "gina": "member"}
    summary = summarize(output, confirm=False, exit_code=0, current=current)
    members = [ln for ln in summary.markdown.splitlines() if ln.startswith("- **")]
    assert members == [
        "- **carol**: promoted to admin",
        "- **bob**: demoted to member",
        "- **erin**: invited as a member",
        "- **gina**: removed from the org",
    ]
    assert "cannot tell" not in summary.markdown


@pytest.mark.parametrize(
    ("lines", "confirm", "expected"),
    [
        (
            [call("UpdateOrgMembership(o, erin, false)"), line("Waiting for erin to accept invitation to o")],
            True,
            "- **erin**: invited already: waiting for them to accept",
        ),
        (
            [
                call("UpdateTeamMembershipBySlug(o, devs, erin, true)"),
                line("Invited erin to devs(Devs) as a maintainer"),
            ],
            True,
            "- **Devs**: erin as maintainer",
        ),
        ([call("RemoveTeamMembershipBySlug(o, devs, erin)")], True, "- **devs**: erin removed"),
        ([call("UpdateTeamRepoBySlug(o, devs, api, push)")], False, "- **devs**: api: write"),
        ([call("RemoveTeamRepoBySlug(o, devs, api)")], False, "- **devs**: api: access removed"),
        (
            [call("CreateTeam(o, {0 Sig Leads  Leads closed <nil> 0xc00012 })")],
            False,
            '- **Sig Leads**: created (privacy closed, description "Leads", nested under its parent team)',
        ),
        ([call("DeleteTeamBySlug(o, old-team)")], True, "- **old-team**: deleted"),
        ([call("AddCollaborator(o, api, erin, write)")], True, "- **api**: erin: write"),
        ([call("RemoveCollaborator(o, api, erin)")], True, "- **api**: erin removed"),
        (
            [call("DeleteCollaboratorRepoInvitation(o, api, 42)")],
            True,
            "- **api**: pending invitation withdrawn",
        ),
        ([call("EditOrg(o, {x y z})")], True, "- **o**: settings updated to match the config"),
        (
            [line("repo does not exist, creating", repo="api"), call("CreateRepo(o, false, {{0xc0 <nil>}})")],
            True,
            "- **api**: created",
        ),
        (
            [call("UpdateRepo(o, web, {{<nil> 0xc0}})")],
            True,
            "- **web**: settings updated to match the config",
        ),
        (
            [call("RemoveOrgMembership(a, x)"), call("RemoveOrgMembership(b, y)")],
            True,
            "- **b: y**: removed from the org",
        ),
    ],
    ids=[
        "waiting",
        "team-invited",
        "team-removed",
        "team-repo",
        "team-repo-removed",
        "team-created-nested",
        "team-deleted",
        "collaborator",
        "collaborator-removed",
        "collaborator-invitation",
        "org-settings",
        "repo-created",
        "repo-updated",
        "two-orgs",
    ],
)
def test_each_change_in_words(lines: list[str], confirm: bool, expected: str) -> None:
    summary = summarize("\n".join([*lines, FINISHED]), confirm=confirm, exit_code=0)
    assert expected in summary.markdown.splitlines(), summary.markdown
    assert not summary.failed


@pytest.mark.parametrize(
    ("fatal", "reason"),
    [
        (
            "Configuration failed: failed to configure o teams: cannot delete 3 teams or 0.600 of o teams "
            "(exceeds "
            "limit of 0.250)",
            "peribolos refused: the config deletes 3 of o's teams (60%), more than `--maximum-removal-delta` "
            "allows (25%). Delete fewer teams at once.",
        ),
        (
            "Configuration failed: failed to configure o members: o must specify [root admin2] as admins, "
            "missing "
            "[root]",
            "peribolos refused: `--required-admins` needs root under admins of o.",
        ),
        (
            "Configuration failed: failed to configure o members: users in both roles: alice",
            "peribolos refused: alice listed in both roles (admin and member, or maintainer and member); "
            "list "
            "each login once.",
        ),
        (
            "Configuration failed: failed to configure o members: all team members/maintainers must also be "
            "org "
            "members: dave, erin",
            "peribolos refused: team members or maintainers who are not org members: dave, erin.",
        ),
        (
            "Configuration failed: failed to configure o members: team names must be unique (including "
            "previous "
            "names), 1 duplicated names: devs",
            "peribolos refused: team names used twice (as a name or under previously): devs.",
        ),
        (
            "Configuration failed: failed to configure o repos: found duplicate repo names (GitHub repo "
            "names are "
            "case-insensitive): Web/web",
            "peribolos refused: repository names used twice (names ignore case): Web/web.",
        ),
        (
            "Configuration failed: failed to configure o members: authenticated user bot is not an admin of "
            "o",
            "peribolos refused: it runs as bot, who is not listed as an admin of o.",
        ),
        (
            "Configuration failed: failed to list o invitations: return code not 2XX: 502 Bad Gateway",
            "peribolos failed: failed to list o invitations: return code not 2XX: 502 Bad Gateway",
        ),
    ],
    ids=[
        "team-delta",
        "required-admins",
        "both-roles",
        "outside-org",
        "team-names",
        "repo-names",
        "self",
        "github-down",
    ],
)
def test_failure_reasons_in_plain_words(fatal: str, reason: str) -> None:
    summary = summarize(line(fatal, "fatal"), confirm=True, exit_code=1)
    assert summary.failed and summary.reasons == (reason,)
    assert f"- {reason}" in summary.markdown.splitlines()


def test_an_exit_without_a_reason_shows_peribolos_last_lines() -> None:
    output = "panic: runtime error: index out of range\n\ngoroutine 1 [running]:\nmain.main()\n"
    summary = summarize(output, confirm=True, exit_code=2)
    assert summary.failed
    assert summary.reasons == ("peribolos exited with code 2 without saying why; its last lines are below.",)
    assert "~~~~\npanic: runtime error: index out of range\ngoroutine 1 [running]:\nmain.main()\n~~~~" in (
        summary.markdown
    )


def test_no_exit_code_means_it_did_not_finish() -> None:
    summary = summarize(call("ListTeams(o)"), confirm=True, exit_code=None)
    assert summary.failed and "did not finish" in summary.title


def test_warnings_are_listed_once() -> None:
    warning = line(
        "UpdateOrgMembership(o, ghost, false) failed", "warning", error="status code 404 not one of [200]"
    )
    summary = summarize("\n".join([warning, warning, FINISHED]), confirm=True, exit_code=0)
    assert summary.markdown.count("UpdateOrgMembership(o, ghost, false) failed: status code 404") == 1


def test_secrets_are_scrubbed_before_the_summary_is_cut() -> None:
    secret = "ghs_" + "s" * 300
    lines = [line(f"Configuration failed: bad header Authorization: token {secret}", "fatal")]
    lines += [call(f"RemoveOrgMembership(o, user-{i:05d})") for i in range(3000)]
    summary = summarize("\n".join(lines), confirm=True, exit_code=1, scrub=lambda s: s.replace(secret, "***"))
    assert secret[:8] not in summary.markdown + summary.title + "".join(summary.reasons)
    assert "Authorization: token ***" in summary.markdown


@pytest.mark.parametrize("count", [10, 2_000, 20_000])
def test_the_summary_fits_githubs_limit_with_a_cut_note(count: int) -> None:
    lines = [call(f"RemoveOrgMembership(o, user-with-a-long-login-{i:06d})") for i in range(count)]
    lines += [call(f"UpdateTeamRepoBySlug(o, team-{i % 50}, repo-{i:06d}, push)") for i in range(count)]
    summary = summarize("\n".join([*lines, FINISHED]), confirm=True, exit_code=0)
    assert len(summary.markdown) <= SUMMARY_LIMIT
    assert summary.changes == 2 * count
    if count > 200:
        assert "more\n" in summary.markdown
        assert "changes are not listed, to fit GitHub's 65,535-character limit." in summary.markdown
    else:
        assert "not listed" not in summary.markdown


def test_warnings_are_capped_with_a_count() -> None:
    lines = [line(f"warning number {i} " + "x" * 200, "warning") for i in range(50)]
    summary = summarize("\n".join([*lines, FINISHED]), confirm=True, exit_code=0, limit=1_000)
    assert len(summary.markdown) <= 1_000
    assert "- … and 47 more" in summary.markdown  # the first cap that fits: 3 of 50


def test_a_last_cut_on_a_line_end_when_even_the_shortest_form_is_too_long() -> None:
    words = "\n".join(f"line {i} of a very long error" for i in range(200))
    summary = summarize(
        line("Configuration failed: " + words, "fatal"), confirm=True, exit_code=1, limit=1_000
    )
    assert len(summary.markdown) <= 1_000
    assert summary.markdown.endswith("\n\n_Cut at GitHub's 1,000-character limit._\n")


# -- the captured files are what peribolos prints ---------------------------------------------------------


@pytest.mark.e2e
@pytest.mark.parametrize("scenario", peribolos_runs.SCENARIOS, ids=[s.name for s in peribolos_runs.SCENARIOS])
def test_captured_output_is_still_what_peribolos_prints(
    scenario, tmp_path: Path, app_key: rsa.RSAPrivateKey
) -> None:
    """Re-run each scenario with the built peribolos: the summary of a fresh run equals the golden one (the
    order of peribolos' lines varies from run to run: Go maps; the summary sorts)."""
    from tests.infra.controlplane import find_tools

    binary = find_tools(modules=("peribolos",)).bin("peribolos")
    fresh = peribolos_runs.run(binary, scenario, app_key, tmp_path)
    header, _ = peribolos_runs.read_fixture(peribolos_runs.fixture_path(scenario))
    assert fresh.exit_code == header["exit_code"], fresh.output
    summary = summarize(fresh.output, confirm=scenario.confirm, exit_code=fresh.exit_code)
    assert summary.markdown == peribolos_runs.fixture_path(scenario).with_suffix(".md").read_text()
    assert "ghs_" not in fresh.output  # peribolos never prints the token it was given
