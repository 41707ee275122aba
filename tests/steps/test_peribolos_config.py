"""The schema check of peribolos' format: every real config passes; each mistake is one problem, at the line
and column of the key or value, naming it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tekton.steps.peribolos_config import ERROR, RULES, WARNING, Problem, check
from tekton.steps.yaml_nodes import Mark

FIXTURES = Path(__file__).parent.parent / "fixtures" / "peribolos-configs"
REAL_CONFIGS = sorted(FIXTURES.glob("*.yaml"))

ORG = """\
orgs:
  octo-org:
    admins: [alice, bob]
    members: [carol, dave]
"""
"""A valid config; the cases below append to it or replace parts of it."""


def problems(text: str, **kwargs) -> list[tuple[int, int, str, str]]:
    result = check(text.encode(), **kwargs)
    return [(p.start.line, p.start.column, p.rule, p.format("f")) for p in result.problems]


def test_the_real_configs_are_all_here() -> None:
    assert len(REAL_CONFIGS) == 17
    assert (FIXTURES / "LICENSE").is_file() and (FIXTURES / "SOURCES.md").is_file()


@pytest.mark.parametrize("path", REAL_CONFIGS, ids=[p.stem for p in REAL_CONFIGS])
def test_every_real_config_passes(path: Path) -> None:
    result = check(path.read_bytes(), min_admins=2)
    assert result.ok, "\n".join(p.format(path.name) for p in result.errors)
    assert result.orgs
    # the one warning these files carry: kubevirt still writes the deprecated `private:`
    assert [p.rule for p in result.problems] == (["deprecated"] if path.stem == "kubevirt.orgs" else [])


def test_real_config_org_match_any_case() -> None:
    tekton = (FIXTURES / "tektoncd.org.yaml").read_bytes()
    assert check(tekton).orgs == ("tektoncd", "tektoncd-catalog")
    one_org = (FIXTURES / "kubernetes-org.kubernetes-csi.yaml").read_bytes()
    assert check(one_org, org="Kubernetes-CSI").ok


CASES = [
    # (id, text, kwargs, [(line, column, rule, text in the line)])
    ("valid", ORG, {}, []),
    (
        "admins-a-string",
        "orgs:\n  o:\n    admins: alice\n",
        {},
        [(3, 13, "type", 'orgs.o.admins: must be a list of logins, not the text "alice"')],
    ),
    (
        "teams-a-number",
        ORG + "    teams: 5\n",
        {},
        [(5, 12, "type", "orgs.octo-org.teams: must be a mapping of team names, not the number 5")],
    ),
    (
        "misspelt-key",
        ORG + "    membrs: [erin]\n",
        {},
        [(5, 5, "unknown-key", "unknown key \"membrs\": peribolos ignores it; did you mean 'members'?")],
    ),
    (
        "unknown-top-level-key",
        "org:\n  o: {}\norgs:\n  o:\n    admins: [a, b]\n",
        {},
        [
            (
                1,
                1,
                "unknown-key",
                "f:1:1: org: unknown key \"org\": peribolos ignores it; did you mean 'orgs'?",
            )
        ],
    ),
    (
        "unknown-key-no-near-name",
        ORG + "    owners: [erin]\n",
        {},
        [
            (
                5,
                5,
                "unknown-key",
                'unknown key "owners": peribolos ignores it; an org has admins, billing_email',
            )
        ],
    ),
    (
        "privacy-public",
        ORG + "    teams:\n      devs:\n        privacy: public\n",
        {},
        [
            (
                7,
                18,
                "value",
                'orgs.octo-org.teams.devs.privacy: "public" is not a team privacy peribolos knows: closed or '
                "secret; did you mean 'closed'?",
            )
        ],
    ),
    (
        "permission-push",
        ORG + "    teams:\n      devs:\n        repos: {infra: push}\n",
        {},
        [
            (
                7,
                24,
                "value",
                "is not a repository permission level peribolos knows: read, triage, write, maintain",
            )
        ],
    ),
    (
        "default-permission-triage",
        ORG + "    default_repository_permission: triage\n",
        {},
        [(5, 36, "value", '"triage" is not a default repository permission GitHub accepts: read, write')],
    ),
    (
        "visibility-hidden",
        ORG + "    repos:\n      web: {visibility: hidden}\n",
        {},
        [
            (
                6,
                25,
                "value",
                '"hidden" is not a repository visibility peribolos knows: public, private or internal',
            )
        ],
    ),
    (
        "squash-title",
        ORG + "    repos:\n      web: {squash_merge_commit_title: TITLE}\n",
        {},
        [
            (
                6,
                40,
                "value",
                "is not a squash merge commit title GitHub accepts: PR_TITLE or COMMIT_OR_PR_TITLE",
            )
        ],
    ),
    (
        "private-and-visibility",
        ORG + "    repos:\n      web:\n        private: true\n        visibility: private\n",
        {},
        [
            (
                7,
                9,
                "refused",
                "orgs.octo-org.repos.web.private: private and visibility together: peribolos refuses",
            )
        ],
    ),
    (
        "private-deprecated",
        ORG + "    repos:\n      web: {private: false}\n",
        {},
        [
            (
                6,
                13,
                "deprecated",
                "f:6:13: warning: orgs.octo-org.repos.web.private: private is deprecated: write "
                "visibility: public",
            )
        ],
    ),
    (
        "bool-as-text",
        ORG + '    has_organization_projects: "yes"\n',
        {},
        [
            (
                5,
                32,
                "type",
                'orgs.octo-org.has_organization_projects: must be true or false, not the text "yes"',
            )
        ],
    ),
    (
        "bool-yes-is-fine",
        ORG + "    has_organization_projects: yes\n",
        {},
        [],
    ),
    (
        "login-no-read-as-false",
        "orgs:\n  o:\n    admins: [alice, bob]\n    members: [no, 0123, 1.5, '0123', 42]\n",
        {},
        [
            (4, 15, "read-as", 'members[0]: no is read as the boolean false, not as a login: quote it, "no"'),
            (4, 19, "read-as", "members[1]: 0123 is read as the number 0123, not as a login"),
            (4, 25, "read-as", "members[2]: 1.5 is read as the number 1.5, not as a login"),
        ],
    ),
    (
        "description-true-is-text",
        ORG + "    description: true\n",
        {},
        [],
    ),
    (
        "empty-login",
        ORG + "    teams:\n      devs:\n        members: [carol, ~]\n",
        {},
        [
            (
                7,
                26,
                "value",
                'orgs.octo-org.teams.devs.members[1]: an empty entry: peribolos would read it as ""',
            )
        ],
    ),
    (
        "not-a-login",
        "orgs:\n  o:\n    admins: [alice, 'bob carol', ok]\n",
        {},
        [(3, 21, "value", 'admins[1]: "bob carol" is not a GitHub login')],
    ),
    (
        "duplicate-key",
        ORG + "    admins: [erin, frank]\n",
        {},
        [
            (
                5,
                5,
                "duplicate-key",
                'orgs.octo-org.admins: "admins" is written twice (first at line 3); '
                "peribolos keeps only the last one",
            ),
        ],
    ),
    (
        "duplicate-key-other-case",
        ORG + "    Admins: [erin, frank]\n",
        {},
        [(5, 5, "duplicate-key", '"Admins" is written twice (first at line 3)')],
    ),
    (
        "key-in-other-case-is-read",
        "orgs:\n  o:\n    Admins: [alice, bob]\n    MEMBERS: [carol]\n",
        {"min_admins": 2},
        [],
    ),
    (
        "duplicate-team",
        ORG + "    teams:\n      devs: {}\n      ops: {}\n      devs: {privacy: closed}\n",
        {},
        [(8, 7, "duplicate-key", 'orgs.octo-org.teams.devs: "devs" is written twice (first at line 6)')],
    ),
    (
        "admin-and-member",
        "orgs:\n  o:\n    admins: [alice, Bob]\n    members: [carol, bob]\n",
        {},
        [
            (
                4,
                22,
                "refused",
                "orgs.o.members[1]: bob is also an admin (line 3); peribolos refuses a login in both",
            )
        ],
    ),
    (
        "team-member-outside-org",
        ORG + "    teams:\n      devs:\n        maintainers: [Alice]\n        members: [erin]\n",
        {},
        [
            (
                8,
                19,
                "refused",
                "orgs.octo-org.teams.devs.members[0]: erin is not an admin or member of octo-org; peribolos "
                "refuses team members and maintainers outside the org",
            )
        ],
    ),
    (
        "nested-team-member-outside-org",
        ORG + "    teams:\n      devs:\n        teams:\n          web:\n            teams:\n"
        "              css: {maintainers: [zed]}\n",
        {},
        [
            (
                10,
                35,
                "refused",
                "orgs.octo-org.teams.devs.teams.web.teams.css.maintainers[0]: zed is not an admin",
            )
        ],
    ),
    (
        "team-maintainer-and-member",
        ORG + "    teams:\n      devs:\n        maintainers: [carol]\n        members: [dave, CAROL]\n",
        {},
        [
            (
                8,
                25,
                "refused",
                "members[1]: CAROL is also a maintainer of this team (line 7); peribolos refuses",
            )
        ],
    ),
    (
        "previously-names-a-team",
        ORG + "    teams:\n      devs: {}\n      web:\n        previously: [devs]\n",
        {},
        [
            (
                8,
                22,
                "refused",
                'orgs.octo-org.teams.web.previously[0]: "devs" is also a team name at line 6; peribolos '
                "refuses team names (current or previously) used twice",
            )
        ],
    ),
    (
        "nested-team-same-name",
        ORG + "    teams:\n      devs:\n        teams:\n          ops: {}\n      ops: {}\n",
        {},
        [(9, 7, "refused", 'orgs.octo-org.teams.ops: "ops" is also a team name at line 8')],
    ),
    (
        "secret-nested-team",
        ORG + "    teams:\n      devs:\n        teams:\n          web: {privacy: secret}\n",
        {},
        [
            (
                8,
                26,
                "github",
                "teams.devs.teams.web.privacy: a team with a parent or child teams cannot be secret",
            )
        ],
    ),
    (
        "secret-parent-team",
        ORG + "    teams:\n      devs:\n        privacy: secret\n        teams:\n          web: {}\n",
        {},
        [
            (
                7,
                18,
                "github",
                "orgs.octo-org.teams.devs.privacy: a team with a parent or child teams cannot be",
            )
        ],
    ),
    (
        "repos-differ-by-case",
        ORG + "    repos:\n      Web: {}\n      api:\n        previously: [web]\n",
        {},
        [
            (
                8,
                22,
                "refused",
                '"web" and "Web" (line 6) are the same repository to GitHub (names ignore case)',
            )
        ],
    ),
    (
        "collaborator-permission",
        ORG + "    repos:\n      web:\n        collaborators: {erin: pull}\n",
        {},
        [
            (
                7,
                31,
                "value",
                '"pull" is not a repository permission level peribolos knows: read, triage, write, '
                "maintain, admin or none; did you mean 'read'?",
            )
        ],
    ),
    (
        "too-few-admins",
        "orgs:\n  o:\n    admins: [alice, ALICE, '@alice']\n    members: [bob]\n",
        {"min_admins": 2},
        [
            (
                3,
                5,
                "refused",
                "orgs.o.admins: 1 admin listed; peribolos runs with --min-admins=2 and refuses fewer",
            )
        ],
    ),
    (
        "no-admins-at-all",
        "orgs:\n  o:\n    members: [bob]\n",
        {"min_admins": 3},
        [(2, 3, "refused", "orgs.o.admins: 0 admins listed; peribolos runs with --min-admins=3")],
    ),
    (
        "required-admin-missing",
        ORG,
        {"required_admins": ["Alice", "root"]},
        [
            (
                3,
                5,
                "refused",
                "must list Alice as an admin (--required-admins) (it lists alice: peribolos compares "
                "these exactly)",
            ),
            (3, 5, "refused", "must list root as an admin (--required-admins)"),
        ],
    ),
    (
        "other-org",
        ORG,
        {"org": "other-org"},
        [(1, 1, "org", "f:1:1: orgs: configures octo-org; this installation can only manage other-org")],
    ),
    (
        "two-orgs",
        ORG + "  b: {}\n",
        {"org": "Octo-Org"},
        [(1, 1, "org", "orgs: configures b, octo-org; this installation can only manage Octo-Org")],
    ),
    (
        "same-org-twice",
        ORG + "  Octo-Org: {}\n",
        {},
        [
            (
                5,
                3,
                "duplicate-key",
                "Octo-Org and octo-org (line 2) are the same GitHub org (names ignore case)",
            )
        ],
    ),
    (
        "no-orgs",
        "orgs: {}\n",
        {},
        [(1, 1, "format", "the file must configure at least one org under 'orgs:'")],
    ),
    (
        "orgs-null",
        "orgs:\n",
        {},
        [(1, 1, "format", "the file must configure at least one org under 'orgs:'")],
    ),
    (
        "a-list",
        "- a\n- b\n",
        {},
        [(1, 1, "format", "f:1:1: the file must be a mapping with 'orgs:', not a list")],
    ),
    ("empty", "", {}, [(1, 1, "format", "f:1:1: the file is empty: peribolos needs 'orgs:'")]),
    (
        "yaml-error",
        "orgs: [unclosed\n",
        {},
        [(2, 1, "yaml", "f:2:1: not valid YAML: did not find expected ',' or ']'")],
    ),
    (
        "second-document",
        ORG + "---\norgs: {}\n",
        {},
        [(5, 1, "format", "a second YAML document: peribolos reads only the first")],
    ),
    (
        "merge-keys-are-read",
        "base: &base {admins: [alice, bob]}\norgs:\n  o:\n    <<: *base\n    members: [carol]\n",
        {"min_admins": 2},
        [(1, 1, "unknown-key", 'unknown key "base"')],
    ),
    (
        "null-key",
        ORG + "    ~: [x]\n",
        {},
        [(5, 5, "value", "orgs.octo-org: an empty key: write a key")],
    ),
    (
        "list-key",
        ORG + "    teams:\n      [a, b]: {}\n",
        {},
        [(6, 7, "type", "orgs.octo-org.teams: a key must be a team name, not a list")],
    ),
    (
        "team-named-with-a-number",
        ORG + "    teams:\n      2024: {}\n      2024-release: {}\n      sig leads: {}\n",
        {},
        [],
    ),
    (
        "team-named-yes",
        ORG + "    teams:\n      yes: {}\n",
        {},
        [(6, 7, "read-as", "yes is read as the boolean true, not as a team name")],
    ),
]


@pytest.mark.parametrize(("text", "kwargs", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_each_mistake_is_one_problem_at_its_key_or_value(text: str, kwargs: dict, expected: list) -> None:
    found = problems(text, **kwargs)
    assert [(line, column, rule) for line, column, rule, _ in found] == [
        (e[0], e[1], e[2]) for e in expected
    ], found
    for (_, _, _, line), (*_, words) in zip(found, expected, strict=True):
        assert words in line


def test_problem_lines_are_file_line_column_message() -> None:
    problem = Problem(Mark(3, 13), Mark(3, 18), "orgs.o.admins", "must be a list", "type")
    assert problem.format("peribolos.yaml") == "peribolos.yaml:3:13: orgs.o.admins: must be a list"
    warning = Problem(Mark(1, 1), Mark(1, 2), "", "deprecated", "deprecated", WARNING)
    assert warning.format("x.yaml") == "x.yaml:1:1: warning: deprecated"
    assert set(RULES) >= {p.rule for case in CASES for p in check(case[1].encode(), **case[2]).problems}


def test_warnings_do_not_fail_the_check() -> None:
    result = check((ORG + "    repos:\n      web: {private: true}\n").encode())
    assert result.ok and [p.severity for p in result.problems] == [WARNING]
    result = check(b"orgs: {}\n")
    assert not result.ok and [p.severity for p in result.errors] == [ERROR]


def test_names_with_spaces_and_dots_are_quoted_in_paths() -> None:
    text = ORG + "    teams:\n      sig leads:\n        teams:\n          v1.2: {privacy: open}\n"
    (problem,) = check(text.encode()).problems
    assert problem.path == 'orgs.octo-org.teams["sig leads"].teams["v1.2"].privacy'


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"[" * 100_000, "f:1:1001: not valid YAML: exceeded maximum nesting depth"),
        (b"orgs:\n  o:\n    admins: [\xff]\n", "f:3:14: the file is not UTF-8 text"),
        (b"x" * (1024 * 1024 + 1), "f:1:1: the file has 1,048,577 bytes; the limit is 1,048,576 (1 MiB)"),
    ],
    ids=["brackets-100k", "not-utf8", "too-large"],
)
def test_hostile_files_give_one_clear_line(content: bytes, message: str) -> None:
    (problem,) = check(content).problems
    assert problem.format("f").startswith(message)


def test_an_alias_bomb_is_one_problem() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 10)]
    lines += ["orgs:\n  o:\n    admins: *a9"]
    (problem,) = check("\n".join(lines).encode()).problems
    assert problem.rule == "yaml" and "expands to more than 1,000,000 values" in problem.message


def test_a_utf8_bom_is_allowed() -> None:
    assert check(b"\xef\xbb\xbf" + ORG.encode()).ok


# -- the org admins' guide stays true -----------------------------------------------------------------------

GUIDE = Path(__file__).parent.parent.parent / "docs" / "org-admins.md"


def test_the_guides_example_config_passes() -> None:
    example = GUIDE.read_text().split("```yaml\n", 1)[1].split("```", 1)[0]
    result = check(example.encode(), org="My-Org", min_admins=2)
    assert result.problems == ()


def test_the_guide_names_every_key_and_value_of_the_format() -> None:
    from tekton.steps import peribolos_config as schema

    text = GUIDE.read_text()
    for struct in (schema.ORG, schema.TEAM, schema.REPO, schema.REPO.fields["on_create"]):
        for key in struct.fields:
            assert f"`{key}`" in text, key
    for choice in (
        schema.PRIVACY,
        schema.PERMISSION,
        schema.DEFAULT_PERMISSION,
        schema.VISIBILITY,
        schema.SQUASH_TITLE,
        schema.SQUASH_MESSAGE,
    ):
        for value in choice.values:
            assert f"`{value}`" in text, value
