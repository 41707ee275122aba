"""The schema check of peribolos' config format: every problem as ``FILE:LINE:COL: message``.

peribolos (``sigs.k8s.io/prow`` ``pkg/config/org`` and ``cmd/peribolos``, at the commit of the image the
Tasks run, v20260821-a61940897) decodes ``peribolos.yaml`` leniently: an unknown or misspelt key is
dropped without a word, a duplicate key replaces the first, ``no`` becomes the login ``false``. It refuses
other mistakes only once it is running against GitHub (a login both admin and member, a team member outside
the org, fewer admins than ``--min-admins``...). This module finds all of them before peribolos runs, with
the line and column of the key or value, in one pass over the file.

It is pure (bytes in, problems out) and bounded: files over :data:`MAX_CONFIG_BYTES` are refused by size,
and :mod:`.yaml_nodes` bounds nesting and alias expansion.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .yaml_nodes import Document, Mapping, Mark, Node, Scalar, Sequence, YAMLReadError, read

PERIBOLOS_VERSION = (
    "sigs.k8s.io/prow a61940897 (image us-docker.pkg.dev/k8s-infra-prow/images/peribolos:v20260821-a61940897)"
)
"""The peribolos whose format this module checks."""
MAX_CONFIG_BYTES = 1024 * 1024
"""4 times the largest real config we know (kubernetes/org, all 8 orgs merged: 255 KB), 8 times the largest
single org (kubernetes-sigs, 126 KB), and what GitHub's contents API serves inline. A file at this limit is
checked in about a second with ~60 MB (``make bench``)."""

PERIBOLOS_MIN_ADMINS = 2
"""The least ``--min-admins`` peribolos runs with (its flag's floor and default)."""

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong in the file. ``rule`` names the kind (see :data:`RULES`); ``path`` the key or value,
    as ``orgs.my-org.teams.admins.members[2]``."""

    start: Mark
    end: Mark
    path: str
    message: str
    rule: str
    severity: str = ERROR

    def format(self, filename: str) -> str:
        """``FILE:LINE:COL: [warning: ]PATH: MESSAGE``, the form editors and pre-commit understand."""
        level = "warning: " if self.severity == WARNING else ""
        where = f"{self.path}: " if self.path else ""
        return f"{filename}:{self.start.line}:{self.start.column}: {level}{where}{self.message}"


RULES = {
    "yaml": "Not valid YAML",
    "too-large": "File too large",
    "format": "Not a peribolos config",
    "unknown-key": "Unknown key",
    "duplicate-key": "Duplicate key",
    "type": "Wrong type",
    "value": "Bad value",
    "read-as": "Value read differently",
    "deprecated": "Deprecated key",
    "org": "Wrong organisation",
    "refused": "peribolos would refuse this",
    "github": "GitHub would refuse this",
}
"""Each rule's title (check run annotations use it)."""


@dataclass(frozen=True, slots=True)
class CheckResult:
    problems: tuple[Problem, ...]
    orgs: tuple[str, ...] = ()
    """The org names the file configures, as written."""

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity == ERROR)

    @property
    def ok(self) -> bool:
        return not self.errors


# -- the format: peribolos' Go types ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Text:
    """A Go ``string``: sigs.k8s.io/yaml turns numbers and booleans into text, so ``no`` is ``"false"``."""

    what: str = "a text"
    login: bool = False


@dataclass(frozen=True, slots=True)
class Flag:
    """A Go ``bool``: only ``true``/``false`` (and YAML 1.1's ``yes``, ``no``, ``on``, ``off``...)."""


@dataclass(frozen=True, slots=True)
class Choice:
    """A Go text type with its own UnmarshalText (privacy, permission levels, visibility): only these."""

    values: tuple[str, ...]
    what: str
    hints: tuple[tuple[str, str], ...] = ()
    """Words people write for a value: ``push`` for ``write``."""
    judge: str = "peribolos knows"
    """Who limits the values: peribolos' own type, or GitHub's API behind a plain string."""


@dataclass(frozen=True, slots=True)
class ListOf:
    item: Any


@dataclass(frozen=True, slots=True)
class MapOf:
    """A Go map keyed by a name (team, repo, login)."""

    value: Any
    key_what: str
    key_login: bool = False


@dataclass(frozen=True, slots=True)
class Struct:
    name: str
    fields: dict[str, Any] = field(default_factory=dict)


LOGIN = Text("a login", login=True)
LOGINS = ListOf(LOGIN)
NAMES = ListOf(Text("a name"))
PERMISSION = Choice(
    ("read", "triage", "write", "maintain", "admin", "none"),
    "repository permission level",
    (("pull", "read"), ("push", "write")),
)
"""github.RepoPermissionLevel (team repos, collaborators)."""
DEFAULT_PERMISSION = Choice(
    ("read", "write", "admin", "none"),
    "default repository permission",
    (("pull", "read"), ("push", "write")),
    "GitHub accepts",
)
"""peribolos reads it as a RepoPermissionLevel, but GitHub's org API accepts only these four."""
PRIVACY = Choice(("closed", "secret"), "team privacy", (("visible", "closed"), ("public", "closed")))
VISIBILITY = Choice(("public", "private", "internal"), "repository visibility")
SQUASH_TITLE = Choice(("PR_TITLE", "COMMIT_OR_PR_TITLE"), "squash merge commit title", judge="GitHub accepts")
SQUASH_MESSAGE = Choice(
    ("PR_BODY", "COMMIT_MESSAGES", "BLANK"), "squash merge commit message", judge="GitHub accepts"
)

TEAM = Struct(
    "team",
    {
        "description": Text(),
        "privacy": PRIVACY,
        "members": LOGINS,
        "maintainers": LOGINS,
        "previously": NAMES,
        "repos": MapOf(PERMISSION, "repository name"),
    },
)
TEAM.fields["teams"] = MapOf(TEAM, "team name")  # children: the type is recursive
REPO = Struct(
    "repo",
    {
        "description": Text(),
        "homepage": Text(),
        "private": Flag(),
        "visibility": VISIBILITY,
        "has_issues": Flag(),
        "has_projects": Flag(),
        "has_wiki": Flag(),
        "allow_squash_merge": Flag(),
        "allow_merge_commit": Flag(),
        "allow_rebase_merge": Flag(),
        "squash_merge_commit_title": SQUASH_TITLE,
        "squash_merge_commit_message": SQUASH_MESSAGE,
        "default_branch": Text("a branch name"),
        "archived": Flag(),
        "previously": NAMES,
        "collaborators": MapOf(PERMISSION, "login", key_login=True),
        "on_create": Struct(
            "on_create",
            {"auto_init": Flag(), "gitignore_template": Text(), "license_template": Text()},
        ),
    },
)
ORG = Struct(
    "org",
    {
        "billing_email": Text(),
        "company": Text(),
        "email": Text(),
        "name": Text(),
        "description": Text(),
        "location": Text(),
        "has_organization_projects": Flag(),
        "has_repository_projects": Flag(),
        "default_repository_permission": DEFAULT_PERMISSION,
        "members_can_create_repositories": Flag(),
        "teams": MapOf(TEAM, "team name"),
        "members": LOGINS,
        "admins": LOGINS,
        "repos": MapOf(REPO, "repository name"),
    },
)
FULL_CONFIG = Struct("file", {"orgs": MapOf(ORG, "org name")})

_LOGIN = re.compile(r"@?[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})")
"""GitHub logins: letters, digits and hyphens, at most 39, not starting with a hyphen (peribolos drops a
leading ``@``)."""


# -- what the walk keeps ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Item:
    """A checked value with where it stands: ``value`` is a str, bool, list[Item], Fields or list[Entry]."""

    node: Node
    path: str
    value: Any


@dataclass(frozen=True, slots=True)
class Entry:
    """One name of a map (team, repo, org, login) and its checked value."""

    name: str
    key: Node
    path: str
    value: Item | None


@dataclass(frozen=True, slots=True)
class Fields:
    """A checked struct: canonical field name -> (key node, item) for the keys peribolos reads."""

    node: Node
    path: str
    keys: dict[str, Node]
    items: dict[str, Item]
    failed: frozenset[str] = frozenset()
    """Fields written with a value peribolos cannot read (reported already)."""

    def get(self, name: str, default: Any = None) -> Any:
        item = self.items.get(name)
        return default if item is None else item.value


def normalize_login(login: str) -> str:
    """github.NormLogin: peribolos compares logins in lower case, without a leading ``@``."""
    return login.lower().removeprefix("@")


def _segment(path: str, name: str) -> str:
    if re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*", name) and "." not in name:
        return f"{path}.{name}" if path else name
    return f"{path}[{json.dumps(name, ensure_ascii=False)}]"


def _describe(node: Node) -> str:
    if isinstance(node, Mapping):
        return "a mapping"
    if isinstance(node, Sequence):
        return "a list"
    assert isinstance(node, Scalar)
    if node.kind == "str":
        return f"the text {_quote(node.text)}"
    if node.kind == "null":
        return "empty (null)"
    if node.kind == "bool":
        return f"the boolean {node.text}"
    return f"the number {node.text}"


def _quote(text: str, limit: int = 80) -> str:
    shown = json.dumps(text if len(text) <= limit else text[:limit] + "…", ensure_ascii=False)
    return shown


def _go_text(node: Scalar) -> str:
    """The Go string sigs.k8s.io/yaml makes of a boolean or integer in a string field."""
    if node.kind == "bool":
        return "true" if node.value else "false"
    return str(node.value)


class _Checker:
    def __init__(self, min_admins: int | None, required_admins: tuple[str, ...], org: str | None) -> None:
        self.problems: list[Problem] = []
        self.min_admins = min_admins
        self.required_admins = required_admins
        self.org = org

    def add(self, node: Node, path: str, message: str, rule: str, severity: str = ERROR) -> None:
        self.problems.append(Problem(node.start, node.end, path, message, rule, severity))

    # -- types --

    def check(self, node: Node, kind: Any, path: str) -> Item | None:
        """The checked value of ``node`` as ``kind``; None (with a problem) when peribolos cannot read it."""
        if isinstance(node, Scalar) and node.kind == "null":
            return None  # Go leaves the field at its zero value
        if isinstance(kind, Struct):
            return self._struct(node, kind, path)
        if isinstance(kind, MapOf):
            return self._map(node, kind, path)
        if isinstance(kind, ListOf):
            return self._list(node, kind, path)
        if not isinstance(node, Scalar):
            what = "true or false" if isinstance(kind, Flag) else _what(kind)
            self.add(node, path, f"must be {what}, not {_describe(node)}", "type")
            return None
        if isinstance(kind, Flag):
            if node.kind != "bool":
                self.add(node, path, f"must be true or false, not {_describe(node)}", "type")
                return None
            return Item(node, path, node.value)
        if isinstance(kind, Choice):
            return self._choice(node, kind, path)
        return self._text(node, kind, path)

    def _text(self, node: Scalar, kind: Text, path: str) -> Item | None:
        text = self._read_as_text(node, path, kind.what)
        if text is None:
            return None
        if kind.login and not _LOGIN.fullmatch(text):
            self.add(node, path, f"{_quote(text)} is not a GitHub login (letters, digits, hyphens)", "value")
        return Item(node, path, text)

    def _read_as_text(self, node: Scalar, path: str, what: str) -> str | None:
        """A scalar as the Go string peribolos gets, with a problem when that is not what the file shows."""
        if node.kind == "str":
            return node.text
        if node.kind in ("bool", "int") and _go_text(node) == node.text:
            return node.text
        meaning = f"the boolean {_go_text(node)}" if node.kind == "bool" else f"the number {node.text}"
        self.add(
            node,
            path,
            f"{node.text} is read as {meaning}, not as {what}: quote it, {_quote(node.text)}, for the text",
            "read-as",
        )
        return None

    def _choice(self, node: Scalar, kind: Choice, path: str) -> Item | None:
        if node.kind != "str":
            self.add(node, path, f"must be a {kind.what} ({_or(kind.values)}), not {_describe(node)}", "type")
            return None
        if node.text not in kind.values:
            hint = dict(kind.hints).get(node.text.lower())
            if hint is None:
                close = difflib.get_close_matches(node.text.lower(), kind.values, n=1)
                hint = close[0] if close else None
            said = f"; did you mean {hint!r}?" if hint else ""
            self.add(
                node,
                path,
                f"{_quote(node.text)} is not a {kind.what} {kind.judge}: {_or(kind.values)}{said}",
                "value",
            )
            return None
        return Item(node, path, node.text)

    def _list(self, node: Node, kind: ListOf, path: str) -> Item | None:
        if not isinstance(node, Sequence):
            self.add(node, path, f"must be a list of {_plural(kind.item)}, not {_describe(node)}", "type")
            return None
        items = []
        for index, child in enumerate(node.items):
            child_path = f"{path}[{index}]"
            if isinstance(child, Scalar) and child.kind == "null":
                self.add(child, child_path, 'an empty entry: peribolos would read it as ""', "value")
                continue
            item = self.check(child, kind.item, child_path)
            if item is not None:
                items.append(item)
        return Item(node, path, items)

    def _keys(self, node: Mapping, path: str, what: str) -> Iterator[tuple[str, Node, Node]]:
        """(name, key node, value node) of a mapping's keys as Go strings; problems for keys it cannot be."""
        for pair in node.pairs:
            key = pair.key
            if not isinstance(key, Scalar):
                self.add(key, path, f"a key must be {what}, not {_describe(key)}", "type")
                continue
            if key.kind == "null":
                self.add(key, path, f"an empty key: write {what}", "value")
                continue
            name = key.text if key.kind == "str" else self._read_as_text(key, path, what)
            if name is None:
                continue
            yield name, key, pair.value

    def _unique(
        self, node: Mapping, path: str, what: str, fold: Callable[[str], str]
    ) -> list[tuple[str, Node, Node]]:
        """The keys Go keeps (the last of equal ones), with a problem at each key written twice."""
        seen: dict[str, Node] = {}
        kept: dict[str, tuple[str, Node, Node]] = {}
        for name, key, value in self._keys(node, path, what):
            folded = fold(name)
            first = seen.get(folded)
            if first is not None and not _merged(node, key):
                self.add(
                    key,
                    _segment(path, name),
                    f"{_quote(name)} is written twice (first at line {first.start.line}); peribolos keeps "
                    "only the last one",
                    "duplicate-key",
                )
            seen.setdefault(folded, key)
            kept.pop(folded, None)
            kept[folded] = (name, key, value)
        return list(kept.values())

    def _map(self, node: Node, kind: MapOf, path: str) -> Item | None:
        if not isinstance(node, Mapping):
            self.add(node, path, f"must be a mapping of {kind.key_what}s, not {_describe(node)}", "type")
            return None
        entries = []
        fold = normalize_login if kind.key_login else str
        for name, key, value in self._unique(node, path, f"a {kind.key_what}", fold):
            entry_path = _segment(path, name)
            if not name.strip():
                self.add(key, entry_path, f"an empty {kind.key_what}", "value")
                continue
            if kind.key_login and not _LOGIN.fullmatch(name):
                self.add(key, entry_path, f"{_quote(name)} is not a GitHub login", "value")
            entries.append(Entry(name, key, entry_path, self.check(value, kind.value, entry_path)))
        return Item(node, path, entries)

    def _struct(self, node: Node, kind: Struct, path: str) -> Item | None:
        if not isinstance(node, Mapping):
            self.add(
                node, path, f"must be a mapping (the {kind.name}'s settings), not {_describe(node)}", "type"
            )
            return None
        keys: dict[str, Node] = {}
        items: dict[str, Item] = {}
        failed: set[str] = set()
        canonical = {name.lower(): name for name in kind.fields}
        for name, key, value in self._unique(node, path, "a key", str.lower):
            # encoding/json matches keys to fields ignoring case
            field_name = canonical.get(name.lower())
            if field_name is None:
                self._unknown(key, name, kind, path)
                continue
            keys[field_name] = key
            item = self.check(value, kind.fields[field_name], _segment(path, field_name))
            if item is not None:
                items[field_name] = item
            elif not (isinstance(value, Scalar) and value.kind == "null"):
                failed.add(field_name)
        return Item(node, path, Fields(node, path, keys, items, frozenset(failed)))

    def _unknown(self, key: Node, name: str, kind: Struct, path: str) -> None:
        close = difflib.get_close_matches(name.lower(), list(kind.fields), n=1, cutoff=0.7)
        hint = (
            f"; did you mean {close[0]!r}?" if close else f"; {_a(kind.name)} has {_or(sorted(kind.fields))}"
        )
        self.add(
            key,
            _segment(path, name),
            f"unknown key {_quote(name)}: peribolos ignores it{hint}",
            "unknown-key",
        )

    # -- what peribolos refuses before acting, and what GitHub refuses --

    def file(self, root: Node) -> tuple[str, ...]:
        if not isinstance(root, Mapping):
            self.add(root, "", f"the file must be a mapping with 'orgs:', not {_describe(root)}", "format")
            return ()
        top = self.check(root, FULL_CONFIG, "")
        if top is None:
            return ()
        fields: Fields = top.value
        orgs: list[Entry] = fields.get("orgs", [])
        if "orgs" in fields.failed:
            return ()
        if not orgs:
            at = fields.keys.get("orgs", root)
            self.add(at, "orgs", "the file must configure at least one org under 'orgs:'", "format")
            return ()
        self._orgs_match(fields.keys["orgs"], orgs)
        for entry in orgs:
            self._org(entry)
        return tuple(entry.name for entry in orgs)

    def _orgs_match(self, key: Node, orgs: list[Entry]) -> None:
        seen: dict[str, Entry] = {}
        for entry in orgs:
            first = seen.setdefault(entry.name.lower(), entry)
            if first is not entry:
                self.add(
                    entry.key,
                    entry.path,
                    f"{entry.name} and {first.name} (line {first.key.start.line}) are the same GitHub org "
                    "(names ignore case): peribolos would apply both",
                    "duplicate-key",
                )
        names = {entry.name.lower() for entry in orgs}
        if self.org is not None and names != {self.org.lower()}:
            listed = ", ".join(sorted(entry.name for entry in orgs))
            self.add(key, "orgs", f"configures {listed}; this installation can only manage {self.org}", "org")

    def _org(self, entry: Entry) -> None:
        if entry.value is None:
            org = Fields(entry.key, entry.path, {}, {})
        else:
            org = entry.value.value
        admins: list[Item] = org.get("admins", [])
        members: list[Item] = org.get("members", [])
        admin_at = {normalize_login(item.value): item for item in admins}
        self._in_both_roles(members, admin_at, "an admin", "admins")
        self._admins(entry, org, admins)
        in_org = set(admin_at) | {normalize_login(item.value) for item in members}
        teams: list[Entry] = org.get("teams", [])
        names: dict[str, Node] = {}
        for team in _teams(teams):
            self._team(team, entry.name, in_org, names)
        self._repos(org.get("repos", []))

    def _in_both_roles(self, members: list[Item], higher_at: dict[str, Item], role: str, where: str) -> None:
        """peribolos refuses a login listed both as a member and in the higher role (admins of the org,
        maintainers of a team): ``higher_at`` maps the higher role's normalised logins to their items."""
        for item in members:
            higher = higher_at.get(normalize_login(item.value))
            if higher is not None:
                self.add(
                    item.node,
                    item.path,
                    f"{item.value} is also {role} (line {higher.node.start.line}); peribolos refuses a "
                    f"login in both roles: keep it under {where} only",
                    "refused",
                )

    def _admins(self, entry: Entry, org: Fields, admins: list[Item]) -> None:
        at = org.keys.get("admins", entry.key)
        if "admins" in org.failed:
            return  # the list itself is wrong: that problem is reported already
        path = f"{entry.path}.admins"
        distinct = {normalize_login(item.value) for item in admins}
        if self.min_admins is not None and len(distinct) < self.min_admins:
            self.add(
                at,
                path,
                f"{len(distinct)} admin{'' if len(distinct) == 1 else 's'} listed; peribolos runs with "
                f"--min-admins={self.min_admins} and refuses fewer",
                "refused",
            )
        written = {item.value for item in admins}
        for login in self.required_admins:
            if login not in written:
                near = [
                    item.value for item in admins if normalize_login(item.value) == normalize_login(login)
                ]
                how = f" (it lists {near[0]}: peribolos compares these exactly)" if near else ""
                self.add(at, path, f"must list {login} as an admin (--required-admins){how}", "refused")

    def _team(self, team: _Team, org_name: str, in_org: set[str], names: dict[str, Node]) -> None:
        for name, node in ((team.entry.name, team.entry.key), *team.previously()):
            first = names.setdefault(name, node)
            if first is not node:
                self.add(
                    node,
                    team.entry.path if node is team.entry.key else _path_of(team, node),
                    f"{_quote(name)} is also a team name at line {first.start.line}; peribolos refuses team "
                    "names (current or previously) used twice",
                    "refused",
                )
        if team.fields is None:
            return
        maintainers: list[Item] = team.fields.get("maintainers", [])
        members: list[Item] = team.fields.get("members", [])
        maintainer_at = {normalize_login(item.value): item for item in maintainers}
        for item in (*maintainers, *members):
            if normalize_login(item.value) not in in_org:
                self.add(
                    item.node,
                    item.path,
                    f"{item.value} is not an admin or member of {org_name}; peribolos refuses team members "
                    "and maintainers outside the org: add them to the org's members",
                    "refused",
                )
        self._in_both_roles(members, maintainer_at, "a maintainer of this team", "maintainers")
        privacy = team.fields.items.get("privacy")
        nested = team.parent is not None or bool(team.fields.get("teams"))
        if privacy is not None and privacy.value == "secret" and nested:
            self.add(
                privacy.node,
                privacy.path,
                "a team with a parent or child teams cannot be secret (GitHub nests closed teams only): "
                "write privacy: closed",
                "github",
            )

    def _repos(self, repos: list[Entry]) -> None:
        seen: dict[str, tuple[str, Node]] = {}
        for entry in repos:
            previously = entry.value.value.get("previously", []) if entry.value is not None else []
            for name, node in ((entry.name, entry.key), *((item.value, item.node) for item in previously)):
                first = seen.setdefault(name.lower(), (name, node))
                if first[1] is not node:
                    self.add(
                        node,
                        entry.path,
                        f"{_quote(name)} and {_quote(first[0])} (line {first[1].start.line}) are the same "
                        "repository to GitHub (names ignore case); peribolos refuses duplicate repo names",
                        "refused",
                    )
            if entry.value is None:
                continue
            fields: Fields = entry.value.value
            private = fields.keys.get("private")
            if private is not None and "visibility" in fields.keys:
                self.add(
                    private,
                    f"{entry.path}.private",
                    "private and visibility together: peribolos refuses the file; keep visibility only",
                    "refused",
                )
            elif private is not None and "private" in fields.items:
                word = "private" if fields.get("private") else "public"
                self.add(
                    private,
                    f"{entry.path}.private",
                    f"private is deprecated: write visibility: {word}",
                    "deprecated",
                    WARNING,
                )


@dataclass(frozen=True, slots=True)
class _Team:
    entry: Entry
    parent: _Team | None

    @property
    def fields(self) -> Fields | None:
        return None if self.entry.value is None else self.entry.value.value

    def previously(self) -> list[tuple[str, Node]]:
        if self.fields is None:
            return []
        return [(item.value, item.node) for item in self.fields.get("previously", [])]


def _teams(entries: list[Entry], parent: _Team | None = None) -> Iterator[_Team]:
    """Every team, children after their parent (an explicit stack: the type nests without bound)."""
    stack = [(entry, parent) for entry in reversed(entries)]
    while stack:
        entry, up = stack.pop()
        team = _Team(entry, up)
        yield team
        children = team.fields.get("teams", []) if team.fields is not None else []
        stack.extend((child, team) for child in reversed(children))


def _path_of(team: _Team, node: Node) -> str:
    assert team.fields is not None
    for item in team.fields.get("previously", []):
        if item.node is node:
            return item.path
    return team.entry.path


def _merged(node: Mapping, key: Node) -> bool:
    return any(pair.key is key and pair.merged for pair in node.pairs)


def _what(kind: Any) -> str:
    if isinstance(kind, Text):
        return kind.what
    if isinstance(kind, Choice):
        return f"a {kind.what} ({_or(kind.values)})"
    if isinstance(kind, Flag):
        return "true or false"
    if isinstance(kind, Struct):
        return f"a mapping (the {kind.name}'s settings)"
    if isinstance(kind, MapOf):
        return f"a mapping of {kind.key_what}s"
    return f"a list of {_plural(kind.item)}"


def _plural(kind: Any) -> str:
    if isinstance(kind, Text):
        return kind.what.removeprefix("a ") + "s"
    return _what(kind)


def _a(word: str) -> str:
    return f"an {word}" if word[0] in "aeiou" else f"a {word}"


def _or(values: Iterable[str]) -> str:
    values = list(values)
    return values[0] if len(values) == 1 else f"{', '.join(values[:-1])} or {values[-1]}"


# -- the entry point --------------------------------------------------------------------------------------


def check(
    content: bytes,
    *,
    org: str | None = None,
    min_admins: int | None = None,
    required_admins: Iterable[str] = (),
    max_bytes: int = MAX_CONFIG_BYTES,
) -> CheckResult:
    """Every problem in ``content`` (a peribolos.yaml), sorted by line. ``org``: the file must configure
    exactly this org (any case). ``min_admins`` / ``required_admins``: peribolos' flags of that name."""
    start = Mark(1, 1)
    if len(content) > max_bytes:
        return CheckResult(
            (
                Problem(
                    start,
                    start,
                    "",
                    f"the file has {len(content):,} bytes; the limit is {max_bytes:,} "
                    f"({max_bytes // (1024 * 1024)} MiB): split it or trim it",
                    "too-large",
                ),
            )
        )
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as exc:
        mark = _mark_at(content, exc.start)
        return CheckResult((Problem(mark, mark, "", "the file is not UTF-8 text", "yaml"),))
    try:
        document = read(text.removeprefix("\ufeff"))
    except YAMLReadError as exc:
        return CheckResult((Problem(exc.mark, exc.mark, "", exc.message, "yaml"),))
    return _check_document(document, org, min_admins, tuple(required_admins))


def _check_document(
    document: Document, org: str | None, min_admins: int | None, required_admins: tuple[str, ...]
) -> CheckResult:
    start = Mark(1, 1)
    checker = _Checker(min_admins, required_admins, org)
    if document.root is None:
        checker.problems.append(
            Problem(
                start, start, "", "the file is empty: peribolos needs 'orgs:' with at least one org", "format"
            )
        )
        return CheckResult(tuple(checker.problems))
    orgs = checker.file(document.root)
    if document.next_document is not None:
        mark = document.next_document
        checker.problems.append(
            Problem(
                mark,
                mark,
                "",
                "a second YAML document: peribolos reads only the first; remove the '---' and merge them",
                "format",
            )
        )
    problems = sorted(checker.problems, key=lambda p: (p.start.line, p.start.column))
    return CheckResult(tuple(problems), orgs)


def _mark_at(content: bytes, offset: int) -> Mark:
    before = content[:offset]
    line_start = before.rfind(b"\n") + 1
    return Mark(before.count(b"\n") + 1, len(before[line_start:].decode("utf-8", "replace")) + 1)
