"""peribolos' output as a readable Markdown summary for a check run: what it changed, or would change.

peribolos logs one JSON line per event (logrus). Its GitHub client logs every call it makes as
``Method(arg, arg, ...)``, in a dry run too (where writes are logged and not sent), and peribolos adds
lines of its own ("Invited erin to octo-org as a member", "repo does not exist, creating") and, when it
refuses, one ``fatal`` line with the reason. :func:`summarize` turns those into lists an org admin reads:
members added, removed, promoted and demoted; teams created, changed and deleted; team members and
maintainers; team repositories; repositories; and the failure reasons in plain words. It is pure: the
output (a string) in, a :class:`PlanSummary` out; ``scrub`` hides secrets before anything is measured or
cut, and the result fits GitHub's 65,535-character limit with a note saying what was cut.

The line formats are those of peribolos at the image's commit (sigs.k8s.io/prow a61940897) and of the
e2e tests' build (a2314bdb); ``tests/fixtures/peribolos-output/`` holds real output of the latter.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

SUMMARY_LIMIT = 65_535
"""GitHub's limit on a check run's ``output.summary`` (and ``output.text``), in characters."""

_CALL = re.compile(r"(?P<method>[A-Z]\w*)\((?P<args>.*)\)", re.S)
_TEAM = re.compile(
    r"\{(?P<id>\d+) (?P<head>.*?) (?P<privacy>closed|secret|)(?: (?:organization|enterprise|))? "
    r"(?P<parent><nil>|0x[0-9a-f]+) (?P<parent_id><nil>|0x[0-9a-f]+) (?P<permission>\w*)\}",
    re.S,
)
"""github.Team printed with %v: ``{ID Name Slug Description Privacy [Type] Parent ParentTeamID Permission}``
(the image's peribolos has Type, the e2e build does not); pointers print as addresses."""
_TEAM_PERMISSION = {
    "pull": "read",
    "push": "write",
    "triage": "triage",
    "maintain": "maintain",
    "admin": "admin",
}
"""UpdateTeamRepoBySlug takes GitHub's API words; the config says read/write."""
_OUTCOME = re.compile(r"(?P<what>Invited|Set|Waiting for) (?P<login>\S+) (?:to|as a) ?(?P<rest>.*)", re.S)


@dataclass(frozen=True, slots=True)
class Change:
    """One change, grouped by ``section``; ``subject`` (a login, team or repo) and ``detail`` in words."""

    section: str
    org: str
    subject: str
    detail: str
    sort: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PlanSummary:
    title: str
    markdown: str
    changes: int
    failed: bool
    reasons: tuple[str, ...] = ()
    """Why peribolos failed or refused, in plain words (empty when it finished)."""
    dry_run_artifact: bool = False
    """The only failure is a dry run not finding a team it would create (the sync creates it first)."""


SECTIONS = (
    ("members", "Members"),
    ("teams", "Teams"),
    ("team-members", "Team members and maintainers"),
    ("team-repos", "Team repositories"),
    ("repos", "Repositories"),
    ("collaborators", "Repository collaborators"),
    ("org", "Organisation settings"),
)


@dataclass
class _State:
    confirm: bool
    current: Mapping[str, str] | None
    changes: list[Change] = field(default_factory=list)
    teams: dict[str, str] = field(default_factory=dict)
    """slug -> team name."""
    created_teams: set[str] = field(default_factory=set)
    outcomes: dict[tuple[str, str], str] = field(default_factory=dict)
    """(org or team slug, login) -> Invited | Set | Waiting for."""
    members: dict[tuple[str, str], bool] = field(default_factory=dict)
    """(org, login) -> admin, of UpdateOrgMembership calls: worded once the outcome lines are read."""
    team_members: list[tuple[str, str, str, bool]] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)
    """(what, why) peribolos left out (repo changes not allowed, members it could not add)."""
    fatal: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    finished: bool = False
    unparsed: list[str] = field(default_factory=list)


def _split(args: str) -> list[str]:
    return [part.strip() for part in args.split(", ")]


def _slugify(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def _team_struct(text: str) -> dict[str, str] | None:
    """Name, slug, description, privacy of a github.Team printed with %v; None when it does not parse."""
    match = _TEAM.fullmatch(text.strip())
    if match is None:
        return None
    words = match.group("head").split(" ")
    name, slug, description = match.group("head"), "", ""
    for cut in range(1, len(words) + 1):
        candidate = " ".join(words[:cut])
        rest = words[cut:]
        if rest and (rest[0] == _slugify(candidate) or rest[0] == ""):
            name, slug, description = candidate, rest[0], " ".join(rest[1:]).strip()
            break
    return {
        "id": match.group("id"),
        "name": name,
        "slug": slug or _slugify(name),
        "description": description,
        "privacy": match.group("privacy"),
        "parent": match.group("parent_id"),
    }


def _line(raw: str) -> dict[str, object] | None:
    raw = raw.strip()
    if not raw.startswith("{"):
        return None
    try:
        entry = json.loads(raw)
    except ValueError:
        return None
    return entry if isinstance(entry, dict) else None


def _read(output: str, state: _State) -> None:
    for raw in output.splitlines():
        entry = _line(raw)
        if entry is None:
            if raw.strip():
                state.unparsed.append(raw.rstrip())
            continue
        message = str(entry.get("msg", ""))
        level = str(entry.get("level", "info"))
        error = str(entry["error"]) if "error" in entry else ""
        if level in ("fatal", "panic"):
            state.fatal.append(f"{message}: {error}" if error else message)
            continue
        if entry.get("client") == "github":
            _call(message, state)
            continue
        _event(message, level, error, entry, state)


def _call(message: str, state: _State) -> None:
    match = _CALL.fullmatch(message)
    if match is None:
        return
    method, args = match.group("method"), match.group("args")
    parts = _split(args)
    if method == "UpdateOrgMembership" and len(parts) == 3:
        org, login, admin = parts
        state.members[(org, login)] = admin == "true"
    elif method == "RemoveOrgMembership" and len(parts) == 2:
        org, login = parts
        state.changes.append(Change("members", org, login, "removed from the org", ("3", login.lower())))
    elif method == "CreateTeam":
        org, _, struct = args.partition(", ")
        team = _team_struct(struct)
        name = team["name"] if team else struct
        if team:
            state.teams[team["slug"]] = name
            state.created_teams.add(team["slug"])
        details = _team_details(team) if team else ""
        state.changes.append(Change("teams", org, name, f"created{details}", ("1", name.lower())))
    elif method == "EditTeam":
        team = _team_struct(args)
        if team is None:
            return
        state.teams.setdefault(team["slug"], team["name"])
        if team["slug"] in state.created_teams:
            return  # a dry run edits the team it just created: part of creating it
        details = _team_details(team, " to ")
        state.changes.append(
            Change(
                "teams",
                "",
                team["name"],
                f"settings updated{details}",
                ("2", team["name"].lower()),
            )
        )
    elif method == "DeleteTeamBySlug" and len(parts) == 2:
        org, slug = parts
        state.changes.append(Change("teams", org, state.teams.get(slug, slug), "deleted", ("3", slug)))
    elif method == "UpdateTeamMembershipBySlug" and len(parts) == 4:
        org, slug, login, maintainer = parts
        state.team_members.append((org, slug, login, maintainer == "true"))
    elif method == "RemoveTeamMembershipBySlug" and len(parts) == 3:
        org, slug, login = parts
        state.changes.append(
            Change("team-members", org, f"@{slug}", f"{login} removed", (slug, "3", login.lower()))
        )
    elif method == "UpdateTeamRepoBySlug" and len(parts) == 4:
        org, slug, repo, permission = parts
        level = _TEAM_PERMISSION.get(permission, permission)
        state.changes.append(
            Change("team-repos", org, f"@{slug}", f"{repo}: {level}", (slug, "1", repo.lower()))
        )
    elif method == "RemoveTeamRepoBySlug" and len(parts) == 3:
        org, slug, repo = parts
        state.changes.append(
            Change("team-repos", org, f"@{slug}", f"{repo}: access removed", (slug, "2", repo.lower()))
        )
    elif method == "UpdateRepo" and len(parts) >= 2:
        org, repo = parts[0], parts[1]
        state.changes.append(
            Change("repos", org, repo, "settings updated to match the config", ("2", repo.lower()))
        )
    elif method in ("AddCollaborator", "UpdateCollaborator") and len(parts) == 4:
        org, repo, login, permission = parts
        state.changes.append(
            Change("collaborators", org, repo, f"{login}: {permission}", (repo.lower(), "1", login.lower()))
        )
    elif method == "RemoveCollaborator" and len(parts) == 3:
        org, repo, login = parts
        state.changes.append(
            Change("collaborators", org, repo, f"{login} removed", (repo.lower(), "2", login.lower()))
        )
    elif (
        method in ("UpdateCollaboratorRepoInvitation", "DeleteCollaboratorRepoInvitation") and len(parts) >= 3
    ):
        org, repo = parts[0], parts[1]
        what = "pending invitation updated" if method.startswith("Update") else "pending invitation withdrawn"
        state.changes.append(Change("collaborators", org, repo, what, (repo.lower(), "3", parts[2])))
    elif method == "EditOrg" and parts:
        org = parts[0]
        state.changes.append(Change("org", org, org, "settings updated to match the config", ("1",)))


def _team_details(team: dict[str, str] | None, lead: str = " (") -> str:
    if not team:
        return ""
    bits = []
    if team["privacy"]:
        bits.append(f"privacy {team['privacy']}")
    if team["description"]:
        bits.append(f'description "{team["description"]}"')
    if team["parent"] != "<nil>":
        bits.append("nested under its parent team")
    if not bits:
        return ""
    return f"{lead}{', '.join(bits)}{')' if lead == ' (' else ''}"


def _event(message: str, level: str, error: str, entry: Mapping[str, object], state: _State) -> None:
    if message == "Finished syncing configuration.":
        state.finished = True
        return
    if message.startswith("Skipping ") and message.endswith(" configuration"):
        what = message.removeprefix("Skipping ").removesuffix(" configuration")
        state.skipped.append(_SKIPPED.get(what, "team members (`--fix-team-members`)"))
        return
    outcome = _OUTCOME.fullmatch(message)
    if outcome is not None and level == "info":
        what, rest = outcome.group("what"), outcome.group("rest")
        team = re.search(r"(\S+)\((.*)\)", rest)
        if team is not None:
            state.teams.setdefault(team.group(1), team.group(2))
            state.outcomes[(team.group(1), outcome.group("login"))] = what
        else:  # "Invited X to ORG as a member", "Set X as a admin of ORG", "Waiting for X ... to ORG"
            words = rest.split(" ")
            state.outcomes[(words[0] if what == "Invited" else words[-1], outcome.group("login"))] = what
        return
    repo = str(entry.get("repo", ""))
    if message == "repo does not exist, creating":
        state.changes.append(Change("repos", "", repo, "created", ("1", repo.lower())))
    elif message == "requested repo change is not allowed, removing from delta":
        state.refused.append((f"repository {repo}", error))
    elif message == "repo does not exist but is configured as archived: not creating":
        state.refused.append((f"repository {repo}", "it does not exist and the config says archived"))
    elif level in ("warning", "error"):
        text = f"{message}: {error}" if error and error not in message else message
        new_team = _NEW_TEAM.search(text)
        if new_team is not None and not state.confirm:
            name = new_team.group("a") or new_team.group("b")
            state.notes.append(
                f"{name}: its members are set when the sync has created it (a dry run cannot list a team "
                "that does not exist yet)."
            )
        else:
            state.warnings.append(text)


def _word_members(state: _State) -> None:
    """UpdateOrgMembership and UpdateTeamMembershipBySlug calls in words, now that the outcome lines
    (Invited / Set / Waiting for) that follow them have been read."""
    for (org, login), admin in state.members.items():
        outcome = state.outcomes.get((org, login))
        was = state.current.get(login.lower().removeprefix("@")) if state.current is not None else None
        role = "an admin" if admin else "a member"
        if outcome == "Waiting for":
            detail = "invited already: waiting for them to accept"
        elif outcome == "Invited" or (state.current is not None and was is None):
            detail = f"invited as {role}"
        elif state.current is not None or (state.confirm and outcome == "Set"):
            detail = "promoted to admin" if admin else "demoted to member"
        else:
            detail = f"becomes {role}"
            state.notes.append(
                'A dry run cannot tell an invitation from a role change: "becomes" is one or the other.'
            )
        state.changes.append(Change("members", org, login, detail, ("1" if admin else "2", login.lower())))
    for org, slug, login, maintainer in state.team_members:
        outcome = state.outcomes.get((slug, login))
        role = "maintainer" if maintainer else "member"
        if outcome == "Waiting for":
            detail = f"{login} as {role} once they accept the org's invitation"
        else:
            detail = f"{login} as {role}"
        state.changes.append(Change("team-members", org, f"@{slug}", detail, (slug, "1", login.lower())))


_REASONS: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], str]], ...] = (
    (
        re.compile(r"cannot delete (\d+) memberships or ([\d.]+) of (\S+) \(exceeds limit of ([\d.]+)\)"),
        lambda m: (
            f"peribolos refused: the config removes {m[1]} of {m[3]}'s memberships ({float(m[2]):.0%}), "
            f"more than `--maximum-removal-delta` allows ({float(m[4]):.0%}). Remove fewer at once, or ask "
            "the service's operators to raise the limit for this change."
        ),
    ),
    (
        re.compile(r"cannot delete (\d+) teams or ([\d.]+) of (\S+) teams \(exceeds limit of ([\d.]+)\)"),
        lambda m: (
            f"peribolos refused: the config deletes {m[1]} of {m[3]}'s teams ({float(m[2]):.0%}), more "
            f"than `--maximum-removal-delta` allows ({float(m[4]):.0%}). Delete fewer teams at once."
        ),
    ),
    (
        re.compile(r"(\S+) must specify at least (\d+) admins, only found (\d+)"),
        lambda m: (
            f"peribolos refused: {m[1]} lists {m[3]} admin(s); `--min-admins` requires at least {m[2]}."
        ),
    ),
    (
        re.compile(r"(\S+) must specify \[(.*?)\] as admins, missing \[(.*?)\]"),
        lambda m: f"peribolos refused: `--required-admins` needs {m[3]} under admins of {m[1]}.",
    ),
    (
        re.compile(r"users in both roles: (.*)"),
        lambda m: (
            f"peribolos refused: {m[1]} listed in both roles (admin and member, or maintainer and "
            "member); list each login once."
        ),
    ),
    (
        re.compile(r"all team members/maintainers must also be org members: (.*)"),
        lambda m: f"peribolos refused: team members or maintainers who are not org members: {m[1]}.",
    ),
    (
        re.compile(r"team names must be unique \(including previous names\), \d+ duplicated names: (.*)"),
        lambda m: f"peribolos refused: team names used twice (as a name or under previously): {m[1]}.",
    ),
    (
        re.compile(r"found duplicate repo names.*?: (.*)"),
        lambda m: f"peribolos refused: repository names used twice (names ignore case): {m[1]}.",
    ),
    (
        re.compile(r"authenticated user (\S+) is not an admin of (\S+)"),
        lambda m: f"peribolos refused: it runs as {m[1]}, who is not listed as an admin of {m[2]}.",
    ),
    (
        re.compile(r"Failed to load configuration: (?:error unmarshaling JSON: while decoding JSON: )?(.*)"),
        lambda m: f"peribolos could not read the config: {m[1]}.",
    ),
)
_ARCHIVE = "asked to archive a repo but this is not allowed by default (see --allow-repo-archival)"
_PUBLISH = ("asked to publish a private repo", "asked to change repo visibility to public")
_SKIPPED = {
    "org metadata": "org settings (`--fix-org`)",
    "org member": "members (`--fix-org-members`)",
    "org repositories": "repositories (`--fix-repos`)",
    "repository collaborators": "collaborators (`--fix-collaborators`)",
    "team and team member": "teams (`--fix-teams`)",
    "team repo permissions": "team repositories (`--fix-team-repos`)",
}
"""peribolos' "Skipping X configuration" lines, as the part of the config it leaves alone and the flag;
the one not listed is "Skipping <team> member configuration"."""
_NEW_TEAM = re.compile(
    r"failed to list (?:team 0\((?P<a>[^)]*)\)|(?P<slug>[^( ]+)\((?P<b>[^)]*)\)) (?:repos|members)"
)


def _reason(fatal: str, confirm: bool) -> str:
    for pattern, words in _REASONS:
        match = pattern.search(fatal)
        if match:
            return words(match)
    if _ARCHIVE in fatal or any(p in fatal for p in _PUBLISH):
        done = "was" if confirm else "would be"
        return (
            "peribolos refused repository changes the service does not allow (under Left out); the rest "
            f"{done} applied."
        )
    return f"peribolos failed: {fatal.removeprefix('Configuration failed: ')}"


def _refusal(why: str) -> str:
    if why == _ARCHIVE:
        return "archiving is off (`--allow-repo-archival`); archive it by hand, or ask the operators"
    if any(why.startswith(p) for p in _PUBLISH):
        return "making a repository public is off (`--allow-repo-publish`)"
    return why


def summarize(
    output: str,
    *,
    confirm: bool,
    exit_code: int | None,
    scrub: Callable[[str], str] = str,
    current: Mapping[str, str] | None = None,
    limit: int = SUMMARY_LIMIT,
) -> PlanSummary:
    """The summary of one peribolos run. ``confirm``: it ran with ``--confirm`` (changes were made, not
    planned). ``current``: lower-case login -> ``admin``/``member`` before the run, when known, so a dry
    run can tell an invitation from a role change. ``scrub`` hides secrets (applied before cutting)."""
    state = _State(confirm, current)
    _read(output, state)
    _word_members(state)
    reasons = tuple(dict.fromkeys(scrub(_reason(f, confirm)) for f in state.fatal))
    artifact = (
        not confirm
        and bool(state.created_teams)
        and bool(state.fatal)
        and all(_NEW_TEAM.search(f) for f in state.fatal)
    )
    failed = bool(state.fatal) or (exit_code not in (0, None) and not state.finished) or exit_code is None
    if exit_code not in (0, None) and not state.fatal and not state.finished:
        reasons = (f"peribolos exited with code {exit_code} without saying why; its last lines are below.",)
    if exit_code is None:
        reasons = ("peribolos did not finish (no exit code): it was stopped, or never started.",)
    if artifact:
        reasons = (
            "The dry run stopped at a team it would create: peribolos cannot list the members or "
            "repositories of a team that does not exist yet. The sync creates it first, so this is expected; "
            "the changes listed are those found before that point.",
        )
    count = len(state.changes)
    title = _title(count, failed, artifact, confirm, reasons, len(set(state.refused)))
    for cap in (None, 200, 50, 10, 3, 0):
        markdown = scrub(_render(state, count, failed, reasons, artifact, cap))
        if len(markdown) <= limit:
            break
    markdown = _fit(markdown, limit)
    return PlanSummary(scrub(title), markdown, count, failed, reasons, artifact)


def _title(
    count: int, failed: bool, artifact: bool, confirm: bool, reasons: tuple[str, ...], left_out: int
) -> str:
    changes = f"{count} change{'' if count == 1 else 's'}"
    done = "made" if confirm else "planned"
    if artifact:
        return f"{changes} planned (the dry run cannot look inside teams it would create)"
    if left_out and all(r.startswith("peribolos refused repository changes") for r in reasons):
        return f"{changes} {done}, {left_out} refused (not allowed by the service)"
    if failed:
        first = reasons[0] if reasons else "peribolos failed"
        return first if len(first) <= 120 else first[:119] + "…"
    if count == 0:
        return "No change: GitHub matches the config"
    return f"{changes} {done}"


def _render(
    state: _State, count: int, failed: bool, reasons: tuple[str, ...], artifact: bool, cap: int | None
) -> str:
    out: list[str] = []
    if reasons:
        heading = "Refused" if any("refused" in r for r in reasons) else "Failed"
        out += [f"### {'Stopped early' if artifact else heading}", ""]
        out += [f"- {reason}" for reason in reasons]
        out.append("")
    if count == 0 and not failed:
        out += [
            "peribolos found nothing to change: the organisation on GitHub already matches the config.",
            "",
        ]
    elif count:
        verb = "made" if state.confirm else "would make (dry run: nothing was changed)"
        out += [f"### Changes peribolos {verb}", ""]
        cut_total = 0
        for key, heading in SECTIONS:
            items = sorted((c for c in state.changes if c.section == key), key=lambda c: c.sort)
            if not items:
                continue
            out += [f"#### {heading} ({len(items)})", ""]
            shown = items if cap is None else items[:cap]
            out += _items(key, shown, state)
            if len(shown) < len(items):
                cut_total += len(items) - len(shown)
                out.append(f"- … and {len(items) - len(shown)} more")
            out.append("")
        if cut_total:
            out.append(
                f"_{cut_total} changes are not listed, to fit GitHub's {SUMMARY_LIMIT:,}-character limit._"
            )
            out.append("")
    if state.refused:
        out += ["### Left out", ""]
        out += [f"- {what}: {_refusal(why)}" for what, why in sorted(set(state.refused))]
        out.append("")
    if state.notes:
        out += ["### Notes", ""]
        out += [f"- {note}" for note in dict.fromkeys(state.notes)]
        out.append("")
    if state.warnings:
        out += ["### Warnings from peribolos", ""]
        warnings = list(dict.fromkeys(state.warnings))
        shown = warnings if cap is None else warnings[: max(cap, 1)]
        out += [f"- {w}" for w in shown]
        if len(shown) < len(warnings):
            out.append(f"- … and {len(warnings) - len(shown)} more")
        out.append("")
    if failed and not state.fatal and state.unparsed:
        out += ["### peribolos' last lines", "", "~~~~"]
        out += [line.replace("~~~~", "~~~") for line in state.unparsed[-20:]]
        out += ["~~~~", ""]
    if state.skipped:
        out.append(f"_Not managed by this service (flag off): {', '.join(dict.fromkeys(state.skipped))}._")
    return "\n".join(out).rstrip() + "\n"


def _items(section: str, items: Iterable[Change], state: _State) -> list[str]:
    lines = []
    group: dict[str, list[str]] = {}
    several = len({c.org for c in state.changes if c.org}) > 1
    for change in items:
        subject = change.subject
        if subject.startswith("@"):
            subject = state.teams.get(subject[1:], subject[1:])
        if several and change.org:
            subject = f"{change.org}: {subject}"
        if section in ("team-members", "team-repos", "collaborators"):
            group.setdefault(subject, []).append(change.detail)
        else:
            lines.append(f"- **{subject}**: {change.detail}")
    for subject, details in group.items():
        lines.append(f"- **{subject}**: {'; '.join(details)}")
    return lines


def _fit(markdown: str, limit: int) -> str:
    """A last cut at ``limit`` characters (on a line end) with a note, for a summary still too long."""
    if len(markdown) <= limit:
        return markdown
    note = f"\n\n_Cut at GitHub's {limit:,}-character limit._\n"
    head = markdown[: limit - len(note)]
    head = head[: head.rfind("\n")] if "\n" in head else head
    return head + note
