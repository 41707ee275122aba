"""Values: the documented defaults, user overrides (files and --set), and their validation.

Every problem is reported as ``<source>: <key.path>: <message>`` where the source is the values file (or the
``--set`` argument) that last set the key, so a user knows which file to open.
"""

from __future__ import annotations

import copy
import difflib
import functools
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from generator.errors import ValuesError
from peribolos_core.durations import parse_duration
from peribolos_core.settings import MIN_VALID_RULE, TOKEN_LIFETIME, min_valid_ok

from . import schedule

DEFAULTS_SOURCE = "defaults"
DETAILS_URL_FIELDS = {"namespace": "$(context.taskRun.namespace)", "taskrun": "$(context.taskRun.name)"}
"""The placeholders of ``checkRun.detailsUrl`` and the Tekton variables the Tasks put there."""
_SET_KEY = re.compile(r"^[A-Za-z0-9_-]+(?:(?<!\\)\.[^=]+)*$")

KeyPath = tuple[str | int, ...]


def defaults_text() -> str:
    """The default values file, comments included (what ``peribolos-generate values`` prints)."""
    return resources.files("generator").joinpath("defaults.yaml").read_text(encoding="utf-8")


@functools.cache
def load_schema() -> dict[str, Any]:
    """The JSON Schema of the values (stored as YAML in the package)."""
    text = resources.files("generator").joinpath("values.schema.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


@dataclass
class Values:
    """Merged values plus, for every key, the source that set it last."""

    data: dict[str, Any]
    sources: dict[KeyPath, str] = field(default_factory=dict)
    written: dict[tuple[str, ...], str] = field(default_factory=dict)
    """Key path → the text as the user wrote it, for each scalar YAML read as no string (``1.2``,
    ``30``, ``yes``, ``2:00:00``): messages echo what is in the file, not what YAML made of it."""

    def source_of(self, *paths: KeyPath) -> str:
        """The source that set the first of ``paths`` a user source touched: the path itself, a mapping
        above it, or (for an unknown mapping key) the last value set below it."""
        for path in paths:
            keys = tuple(str(part) for part in path)
            for end in range(len(keys), 0, -1):
                found = self.sources.get(keys[:end])
                if found is not None:
                    return found
            below = [source for key, source in self.sources.items() if key[: len(keys)] == keys]
            if below:
                return below[-1]
        return DEFAULTS_SOURCE


def _leaf_paths(value: Any, prefix: KeyPath = ()) -> Iterable[KeyPath]:
    """Paths of the values a source sets (mappings are walked, anything else is a leaf)."""
    if isinstance(value, dict) and value:
        for key, item in value.items():
            yield from _leaf_paths(item, (*prefix, str(key)))
    else:
        yield prefix


def _merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Deep merge: mappings merge key by key, anything else (lists too) is replaced."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _overlay(
    values: Values, override: Mapping[str, Any], source: str, written: Mapping[tuple[str, ...], str]
) -> None:
    values.data = _merge(values.data, override)
    paths = [path for path in _leaf_paths(dict(override)) if path]
    for path in paths:
        values.sources[path] = source
    kept = {
        key: text for key, text in values.written.items() if not any(key[: len(p)] == p for p in paths)
    }
    values.written = {**kept, **written}


def written_scalars(text: str, prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], str]:
    """Key path → text as written, of every plain scalar YAML reads as something other than a string."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return {}
    out: dict[tuple[str, ...], str] = {}
    todo: list[tuple[yaml.Node | None, tuple[str, ...]]] = [(root, prefix)]
    while todo:
        node, path = todo.pop()
        if isinstance(node, yaml.MappingNode):
            todo.extend((value, (*path, str(key.value))) for key, value in node.value)
        elif isinstance(node, yaml.SequenceNode):
            todo.extend((item, (*path, str(index))) for index, item in enumerate(node.value))
        elif isinstance(node, yaml.ScalarNode) and node.tag != "tag:yaml.org,2002:str":
            out[path] = node.value
    return out


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValuesError([f"{path}: cannot read: {exc.strerror or exc}"]) from exc


def parse_values_file(path: Path, text: str | None = None) -> dict[str, Any]:
    """Read one user values file (``text``: its content, already read); an empty file is no override."""
    text = _read(path) if text is None else text
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        where = ""
        mark = getattr(exc, "problem_mark", None)
        if mark is not None:
            where = f" at line {mark.line + 1} column {mark.column + 1}"
        problem = getattr(exc, "problem", None) or "syntax error"
        raise ValuesError([f"{path}: not valid YAML: {problem}{where}"]) from exc
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ValuesError([f"{path}: expected a mapping of keys at the top level, got {_kind(loaded)}"])
    return loaded


def _split_set(argument: str) -> tuple[list[str], str]:
    """``key.path=value`` → (the key's parts, the value's text)."""
    key, sep, raw = argument.partition("=")
    if not sep or not key or not _SET_KEY.match(key):
        raise ValuesError([f"--set {argument}: expected key.path=value"])
    return [part.replace("\\.", ".") for part in re.split(r"(?<!\\)\.", key)], raw


def parse_set(argument: str) -> dict[str, Any]:
    """``key.path=value`` to a nested mapping; the value is read as YAML (``\\.`` escapes a dot in a key)."""
    parts, raw = _split_set(argument)
    if raw == "":
        value: Any = ""
    else:
        try:
            value = yaml.safe_load(raw)
        except yaml.YAMLError as exc:
            raise ValuesError([f"--set {argument}: the value is not valid YAML"]) from exc
    nested: Any = value
    for part in reversed(parts):
        nested = {part: nested}
    return nested


def load_values(files: Sequence[Path] = (), sets: Sequence[str] = ()) -> Values:
    """Defaults, then each file in order, then each ``--set``; validated (ValuesError lists every problem)."""
    values = Values(data=yaml.safe_load(defaults_text()))
    problems: list[str] = []
    for path in files:
        try:
            text = _read(Path(path))
            _overlay(values, parse_values_file(Path(path), text), str(path), written_scalars(text))
        except ValuesError as exc:
            problems.extend(exc.problems)
    for argument in sets:
        try:
            parts, raw = _split_set(argument)
            _overlay(values, parse_set(argument), f"--set {argument}", written_scalars(raw, tuple(parts)))
        except ValuesError as exc:
            problems.extend(exc.problems)
    if problems:
        raise ValuesError(problems)
    validate_values(values)
    return values


# ---------------------------------------------------------------------------------------------- messages

_TYPE_NAMES = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "object": "a mapping",
    "array": "a list",
    "null": "null",
}


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return json.dumps(value, default=str)


def _dotted(path: KeyPath) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def _resolve(root: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """Follow a local ``$ref`` ("#/$defs/x") of ``schema`` within ``root``."""
    ref = schema.get("$ref")
    if not ref:
        return {}
    target: Any = root
    for part in ref.removeprefix("#/").split("/"):
        target = target[part]
    return target


def _unknown_keys(error: jsonschema.ValidationError, root: dict[str, Any]) -> tuple[list[str], list[str]]:
    """The keys of the instance no schema declares, and the declared ones (for a did-you-mean hint)."""
    known = set(error.schema.get("properties") or {})
    known |= set(_resolve(root, error.schema).get("properties") or {})
    instance = error.instance if isinstance(error.instance, dict) else {}
    return sorted((key for key in instance if key not in known), key=str), sorted(known)


def _messages(
    error: jsonschema.ValidationError, root: dict[str, Any], written: Mapping[tuple[str, ...], str]
) -> list[tuple[KeyPath, str]]:
    """One (path, message) per problem in ``error``, in words a user acts on; a scalar is shown as the
    user wrote it (``written``), not as YAML read it."""
    path: KeyPath = tuple(error.absolute_path)
    validator = error.validator
    schema = error.schema
    got = _kind(error.instance)
    if not isinstance(error.instance, dict | list):
        got = written.get(tuple(str(part) for part in path), got)
    if "propertyNames" in error.absolute_schema_path:
        # A key of a mapping (labels, annotations): the error's instance is the key itself.
        return [(path, f"key {_kind(error.instance)} {schema.get('x-error', 'is not a valid key')}")]
    if validator == "anyOf":
        # anyOf [const "", url]: report the branch that is not the empty-string escape hatch.
        meaningful = [sub for sub in error.context or () if sub.validator != "const"]
        if meaningful:
            return _messages(meaningful[0], root, written)
        return [(path, f"invalid value {got}")]
    if validator == "type":
        wanted = schema["type"]
        names = [_TYPE_NAMES.get(t, t) for t in ([wanted] if isinstance(wanted, str) else wanted)]
        expected = schema.get("x-type-error") or f"expected {' or '.join(names)}"
        hint = ""
        if "x-type-error" not in schema and wanted == "string" and isinstance(error.instance, int | float):
            # 1.2, 30, true: YAML read a number or a boolean where a string was meant.
            hint = f' — quote it: "{got}"'
        return [(path, f"{expected}, got {got}{hint}")]
    if validator == "enum":
        options = ", ".join(json.dumps(option) for option in schema["enum"])
        return [(path, f"expected one of {options}, got {got}")]
    if validator == "pattern":
        hint = schema.get("x-error", f"must match {schema['pattern']}")
        return [(path, f"{hint}, got {got}")]
    if validator == "minLength":
        if schema["minLength"] == 1:
            return [(path, "must not be empty")]
        return [(path, f"expected at least {schema['minLength']} characters, got {got}")]
    if validator == "maxLength":
        return [(path, f"expected at most {schema['maxLength']} characters, got {got}")]
    if validator in ("minimum", "maximum"):
        word = "at least" if validator == "minimum" else "at most"
        return [(path, f"expected {word} {schema[validator]}, got {got}")]
    if validator == "minItems":
        return [(path, f"expected at least {schema['minItems']} item(s), got {len(error.instance)}")]
    if validator in ("additionalProperties", "unevaluatedProperties"):
        unknown, known = _unknown_keys(error, root)
        out = []
        for key in unknown:
            close = difflib.get_close_matches(str(key), known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else f" (known keys: {', '.join(known)})"
            out.append(((*path, str(key)), f"unknown key{hint}"))
        return out or [(path, error.message)]
    if validator == "required":
        missing = [key for key in schema["required"] if key not in error.instance]
        return [((*path, key), "missing required key") for key in missing]
    return [(path, error.message)]


def _seconds(text: str) -> float:
    return parse_duration(text).total_seconds()


Problem = tuple[KeyPath, str, tuple[KeyPath, ...]]


def _semantic_problems(data: dict[str, Any]) -> list[Problem]:
    """Rules the schema cannot say: (key reported, message, keys whose source is blamed)."""
    out: list[Problem] = []
    peribolos = data["peribolos"]
    for flag in ("fixTeamMembers", "fixTeamRepos"):
        if peribolos[flag] and not peribolos["fixTeams"]:
            path = ("peribolos", flag)
            out.append((path, "requires peribolos.fixTeams: true (peribolos refuses it otherwise)",
                        (("peribolos", "fixTeams"), path)))
    exposure = data["exposure"]
    if exposure["type"] != "none" and not exposure["host"]:
        out.append((("exposure", "host"), f"required when exposure.type is {exposure['type']}",
                    (("exposure", "host"), ("exposure", "type"))))
    path = ("refresher", "margin")
    # The rule the refresher's --margin applies (one home: settings).
    if not min_valid_ok(parse_duration(data["refresher"]["margin"])):
        out.append((path, f"must be {MIN_VALID_RULE}", (path,)))
    if data["refresher"]["enabled"]:
        try:
            schedule.check(data["refresher"]["schedule"])
        except schedule.ScheduleError as exc:
            path = ("refresher", "schedule")
            out.append((path, str(exc), (path,)))
    interceptor = data["interceptor"]
    if interceptor["url"].startswith("https://") and not interceptor["caBundle"]:
        out.append((("interceptor", "caBundle"), "required when interceptor.url is https:// (Tekton Triggers "
                    "verifies the interceptor's certificate with this CA only)",
                    (("interceptor", "caBundle"), ("interceptor", "url"))))
    task_run = data["taskRun"]
    if _seconds(task_run["timeout"]) >= TOKEN_LIFETIME.total_seconds():
        out.append((
            ("taskRun", "timeout"),
            "must be under 1h: the tokens a TaskRun mints when it starts live one hour",
            (("taskRun", "timeout"),),
        ))
    if _seconds(task_run["lockWait"]) >= _seconds(task_run["timeout"]):
        out.append((
            ("taskRun", "lockWait"),
            f"must be less than taskRun.timeout ({task_run['timeout']}): a sync that waited that long "
            "would have no time left to run",
            (("taskRun", "lockWait"), ("taskRun", "timeout")),
        ))
    if data["tokenNamespace"] and data["tokenNamespace"] == data["namespace"]:
        out.append((
            ("tokenNamespace",),
            "must differ from namespace: the token Secrets live apart from the App key, so that the "
            "identities that write them can reach no other Secret",
            (("tokenNamespace",), ("namespace",)),
        ))
    template = data["checkRun"]["detailsUrl"]
    unknown = sorted(set(re.findall(r"\{([^{}]*)\}", template)) - set(DETAILS_URL_FIELDS))
    if unknown:
        out.append((
            ("checkRun", "detailsUrl"),
            f"unknown placeholder {', '.join('{' + u + '}' for u in unknown)}: only "
            f"{', '.join('{' + k + '}' for k in DETAILS_URL_FIELDS)}",
            (("checkRun", "detailsUrl"),),
        ))
    if data["driftRepair"]["schedule"] and not data["events"]["sync"]:
        message = "requires events.sync: true (drift runs are sync TaskRuns of its TriggerTemplate)"
        out.append((("driftRepair", "schedule"), message, (("driftRepair", "schedule"), ("events", "sync"))))
    if not any(data["events"].values()):
        message = "wire at least one event (an EventListener needs a Trigger)"
        out.append((("events",), message, tuple(("events", key) for key in data["events"])))
    for key in ("image", "peribolosImage"):
        if not data[key]["tag"] and not data[key]["digest"]:
            out.append(((key, "tag"), f"set a tag or {key}.digest", ((key, "tag"), (key, "digest"))))
    return out


def validate_values(values: Values) -> None:
    """Raise ValuesError listing every problem, each naming its source and key."""
    schema = load_schema()
    validator = jsonschema.Draft202012Validator(schema)
    found: list[Problem] = []
    for error in validator.iter_errors(values.data):
        found.extend((path, message, (path,)) for path, message in _messages(error, schema, values.written))
    if not found:
        found = _semantic_problems(values.data)
    if found:
        lines = {f"{values.source_of(*blame)}: {_dotted(path)}: {message}" for path, message, blame in found}
        raise ValuesError(sorted(lines))
