"""Values: defaults, merging, --set, and every error message (each names its source and key)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from generator.errors import ValuesError
from generator.values import defaults_text, load_schema, load_values, parse_set, validate_values


def _schema_leaves(schema: dict[str, Any], root: dict[str, Any], prefix: str = "") -> set[str]:
    if "$ref" in schema:
        target: Any = root
        for part in schema["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        schema = {
            **target,
            **schema,
            "properties": {**target.get("properties", {}), **schema.get("properties", {})},
        }
    properties = schema.get("properties") or {}
    if not properties or prefix.endswith("resources"):
        return {prefix}
    out: set[str] = set()
    for key, sub in properties.items():
        out |= _schema_leaves(sub, root, f"{prefix}.{key}" if prefix else key)
    return out


def _default_leaves(value: Any, prefix: str = "") -> set[str]:
    if isinstance(value, dict) and value and not prefix.endswith("resources"):
        out: set[str] = set()
        for key, sub in value.items():
            out |= _default_leaves(sub, f"{prefix}.{key}" if prefix else key)
        return out
    return {prefix}


def test_defaults_are_valid_and_document_every_schema_key() -> None:
    values = load_values()
    schema = load_schema()
    assert _schema_leaves(schema, schema) == _default_leaves(yaml.safe_load(defaults_text()))
    assert values.data["namespace"] == "peribolos"
    assert values.data["interceptor"]["url"] == ""
    assert values.data["eventListener"]["githubInterceptor"] is True
    assert values.data["githubApp"]["secretName"] == "peribolos-github-app"


def test_files_merge_in_order_mappings_by_key_lists_replaced(tmp_path: Path) -> None:
    first = tmp_path / "first.yaml"
    second = tmp_path / "second.yaml"
    first.write_text("allowedOrgs: [a, b]\ninterceptor: {replicas: 3, port: 9000}\n")
    second.write_text("allowedOrgs: [c]\ninterceptor: {replicas: 4}\n")
    values = load_values([first, second], ["interceptor.port=9100"])
    assert values.data["allowedOrgs"] == ["c"]
    assert values.data["interceptor"]["replicas"] == 4
    assert values.data["interceptor"]["port"] == 9100
    assert values.data["interceptor"]["resources"]["limits"]["memory"] == "256Mi"


def test_empty_values_file_changes_nothing(tmp_path: Path) -> None:
    empty = tmp_path / "empty.yaml"
    empty.write_text("# nothing\n")
    assert load_values([empty]).data == load_values().data


@pytest.mark.parametrize(
    ("argument", "expected"),
    [
        pytest.param("a.b.c=3", {"a": {"b": {"c": 3}}}, id="nested-int"),
        pytest.param("a=true", {"a": True}, id="yaml-bool"),
        pytest.param("a='1.2'", {"a": "1.2"}, id="quoted-string"),
        pytest.param("a=", {"a": ""}, id="empty-is-empty-string"),
        pytest.param("a=[x, y]", {"a": ["x", "y"]}, id="flow-list"),
        pytest.param("a=x=y", {"a": "x=y"}, id="equals-in-value"),
        pytest.param(
            r"extraLabels.example\.com/team=x", {"extraLabels": {"example.com/team": "x"}}, id="escaped-dot"
        ),
    ],
)
def test_parse_set(argument: str, expected: dict[str, Any]) -> None:
    assert parse_set(argument) == expected


def _problems(files: list[Path] = (), sets: list[str] = ()) -> list[str]:  # type: ignore[assignment]
    with pytest.raises(ValuesError) as caught:
        load_values(files, sets)
    return caught.value.problems


# (--set argument, key reported, message): the line is "--set <argument>: <key>: <message>".
VALUE_ERRORS = [
    ("image.tag=1.2", "image.tag", 'expected a string, got 1.2 — quote it: "1.2"', "type-string-quote-it"),
    ("image.tag=1.10", "image.tag", 'expected a string, got 1.10 — quote it: "1.10"', "number-as-written"),
    ("image.tag=yes", "image.tag", 'expected a string, got yes — quote it: "yes"', "yaml-bool-as-written"),
    (
        "taskRun.timeout=30",
        "taskRun.timeout",
        'expected a duration string such as "30m", got 30',
        "duration-bare-number",
    ),
    (
        "taskRun.timeout=2:00:00",
        "taskRun.timeout",
        'expected a duration string such as "30m", got 2:00:00',
        "duration-sexagesimal-as-written",
    ),
    (
        "extraLabels={Bad Key: x}",
        "extraLabels",
        'key "Bad Key" is not a valid key: an optional prefix (a DNS subdomain, lower case, at most 253 '
        "characters) and '/', then a name of at most 63 letters, digits, '-', '_' or '.' that starts and "
        "ends with a letter or digit",
        "label-key-space",
    ),
    ("extraLabels={a/b/c: x}", "extraLabels", 'key "a/b/c" is not a valid key', "label-key-two-slashes"),
    ("extraLabels={Example.com/x: y}", "extraLabels", 'key "Example.com/x" is not', "label-prefix-upper"),
    ("extraLabels={" + "k" * 64 + ": v}", "extraLabels", f'key "{"k" * 64}" is not', "label-name-too-long"),
    (
        "extraLabels={team: a b}",
        "extraLabels.team",
        "must be a label value: empty, or at most 63 letters, digits, '-', '_' or '.' that start and end "
        'with a letter or digit, got "a b"',
        "label-value",
    ),
    ("extraLabels={team: " + "v" * 64 + "}", "extraLabels.team", "must be a label value", "label-value-long"),
    ("extraLabels={team: 1}", "extraLabels.team", 'expected a string, got 1 — quote it: "1"', "label-number"),
    ("extraAnnotations={-x: y}", "extraAnnotations", 'key "-x" is not a valid key', "annotation-key"),
    ("nodeSelector={x y: z}", "nodeSelector", 'key "x y" is not a valid key', "node-selector-key"),
    (
        "exposure.ingress.annotations={_a: b}",
        "exposure.ingress.annotations",
        'key "_a" is not a valid key',
        "ingress-annotation-key",
    ),
    ("interceptor.replicas=two", "interceptor.replicas", 'expected an integer, got "two"', "type-integer"),
    ("createNamespace=1", "createNamespace", "expected true or false, got 1", "type-boolean"),
    ("image=3", "image", "expected a mapping, got 3", "type-mapping"),
    ("allowedOrgs=x", "allowedOrgs", 'expected a list, got "x"', "type-list"),
    (
        "podSecurity.runAsUser=x",
        "podSecurity.runAsUser",
        'expected an integer or null, got "x"',
        "type-nullable",
    ),
    (
        "interceptor.replica=3",
        "interceptor.replica",
        "unknown key (did you mean 'replicas'?)",
        "unknown-key-suggestion",
    ),
    ("zzz=3", "zzz", "unknown key (known keys: allowedOrgs, bootstrap, checkRun, config, createNamespace, ",
     "unknown-key-list"),
    ("image.colour=red", "image.colour", "unknown key", "unknown-key-through-ref"),
    (
        "exposure.type=nodeport",
        "exposure.type",
        'expected one of "none", "ingress", "route", got "nodeport"',
        "enum",
    ),
    (
        "taskRun.timeout=30 minutes",
        "taskRun.timeout",
        'must be a duration such as 45m, 1h30m or 90s, got "30 minutes"',
        "pattern-duration",
    ),
    (
        "github.apiUrl=ftp://x",
        "github.apiUrl",
        'must be an http:// or https:// URL, got "ftp://x"',
        "pattern-url",
    ),
    (
        "interceptor.url=localhost:8080",
        "interceptor.url",
        'must be an http:// or https:// URL, got "localhost:8080"',
        "pattern-in-anyof",
    ),
    (
        "namespace=Peribolos",
        "namespace",
        "must be a DNS label (lower-case letters, digits and '-', at most 63 characters), got \"Peribolos\"",
        "pattern-dns-label",
    ),
    ("peribolos.minAdmins=1", "peribolos.minAdmins", "expected at least 2, got 1", "minimum"),
    (
        "peribolos.maximumRemovalDelta=1.5",
        "peribolos.maximumRemovalDelta",
        "expected at most 1, got 1.5",
        "maximum",
    ),
    (
        "mintBudget.perMinute=500",
        "mintBudget.perMinute",
        "expected at most 180, got 500",
        "mint-budget-above-github-limit",
    ),
    ("image.repository=", "image.repository", "must not be empty", "min-length"),
    (
        "networkPolicy.egressPorts=[]",
        "networkPolicy.egressPorts",
        "expected at least 1 item(s), got 0",
        "min-items",
    ),
    (
        "refresher.schedule=every hour",
        "refresher.schedule",
        'must be a cron schedule with 5 fields (e.g. */10 * * * *), got "every hour"',
        "cron",
    ),
    (
        "refresher.schedule=0 * * * *",
        "refresher.schedule",
        "runs up to 60 minutes apart; at most 30 (the refresher keeps every token above the margin only if "
        "the next run comes within 30 minutes)",
        "schedule-gap-over-30-minutes",
    ),
    (
        'refresher.schedule="*/10 9-17 * * *"',
        "refresher.schedule",
        "the refresher must run every hour of every day: set only the minutes field, the others *",
        "schedule-not-every-hour",
    ),
    (
        "image.digest=sha256:abc",
        "image.digest",
        'must be empty or sha256: followed by 64 hex digits, got "sha256:abc"',
        "digest",
    ),
    (
        "peribolos.fixTeams=false",
        "peribolos.fixTeamMembers",
        "requires peribolos.fixTeams: true (peribolos refuses it otherwise)",
        "fix-team-members-needs-fix-teams",
    ),
    (
        "exposure.type=ingress",
        "exposure.host",
        "required when exposure.type is ingress",
        "ingress-needs-host",
    ),
    (
        "taskRun.timeout=1h",
        "taskRun.timeout",
        "must be under 1h: the tokens a TaskRun mints when it starts live one hour",
        "tokens-outlive-taskrun",
    ),
    (
        "taskRun.lockWait=30m",
        "taskRun.lockWait",
        "must be less than taskRun.timeout (30m): a sync that waited that long would have no time left",
        "lock-wait-under-timeout",
    ),
    (
        "tokenNamespace=peribolos",
        "tokenNamespace",
        "must differ from namespace: the token Secrets live apart from the App key",
        "token-namespace-apart",
    ),
    (
        "checkRun.detailsUrl=https://x.example/{pipelinerun}",
        "checkRun.detailsUrl",
        "unknown placeholder {pipelinerun}: only {namespace}, {taskrun}",
        "details-url-placeholder",
    ),
    (
        "checkRun.detailsUrl=tekton.example.com",
        "checkRun.detailsUrl",
        "",
        "details-url-not-a-url",
    ),
    (
        "refresher.margin=30s",
        "refresher.margin",
        "must be between 1m and 59m (installation tokens live one hour)",
        "refresher-margin-range",
    ),
    (
        "metrics.monitor=prometheus",
        "metrics.monitor",
        'expected one of "none", "servicemonitor", "podmonitor", got "prometheus"',
        "monitor-kind",
    ),
    (
        "events={install: false, uninstall: false, sync: false, dryRun: false}",
        "events",
        "wire at least one event (an EventListener needs a Trigger)",
        "no-event-wired",
    ),
    ("image.tag=", "image.tag", "set a tag or image.digest", "no-tag-no-digest"),
    (
        "interceptor.url=https://interceptor.example/",
        "interceptor.caBundle",
        "required when interceptor.url is https:// (Tekton Triggers verifies the interceptor's certificate "
        "with this CA only)",
        "https-interceptor-needs-ca",
    ),
    (
        "interceptor.caBundle=not base64!",
        "interceptor.caBundle",
        'must be base64 (of the PEM CA certificate), got "not base64!"',
        "ca-bundle-base64",
    ),
]


@pytest.mark.parametrize(
    ("argument", "key", "message"), [pytest.param(*case[:3], id=case[3]) for case in VALUE_ERRORS]
)
def test_every_values_error_names_source_and_key(argument: str, key: str, message: str) -> None:
    problems = _problems(sets=[argument])
    expected = f"--set {argument}: {key}: {message}"
    assert any(problem.startswith(expected) for problem in problems), problems


@pytest.mark.parametrize("argument", ["nokey", "a.=1", "=1"])
def test_malformed_set_argument(argument: str) -> None:
    assert _problems(sets=[argument]) == [f"--set {argument}: expected key.path=value"]


def test_missing_key_is_reported_against_the_defaults() -> None:
    # Mappings merge over the defaults, so only a broken defaults file can miss a key.
    values = load_values()
    del values.data["interceptor"]["resources"]["limits"]["memory"]
    with pytest.raises(ValuesError) as caught:
        validate_values(values)
    assert caught.value.problems == ["defaults: interceptor.resources.limits.memory: missing required key"]


def test_problem_is_blamed_on_the_file_that_set_the_key(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    bad = tmp_path / "bad.yaml"
    good.write_text("image:\n  tag: '1.0'\n")
    bad.write_text("image:\n  tag: 1.2\ninterceptor:\n  replicas: 0\n")
    assert _problems([good, bad]) == [
        f'{bad}: image.tag: expected a string, got 1.2 — quote it: "1.2"',
        f"{bad}: interceptor.replicas: expected at least 1, got 0",
    ]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        pytest.param(None, "cannot read: No such file or directory", id="missing-file"),
        pytest.param("a: [1, 2\n", "not valid YAML: ", id="bad-yaml"),
        pytest.param(
            "- a\n- b\n", "expected a mapping of keys at the top level, got a list", id="top-level-list"
        ),
    ],
)
def test_file_errors(tmp_path: Path, content: str | None, expected: str) -> None:
    path = tmp_path / "values.yaml"
    if content is not None:
        path.write_text(content)
    problems = _problems([path])
    assert len(problems) == 1
    assert problems[0].startswith(f"{path}: {expected}"), problems


def test_non_string_key_is_an_unknown_key(tmp_path: Path) -> None:
    path = tmp_path / "values.yaml"
    path.write_text("interceptor:\n  1: x\n  replica: 2\n")
    assert _problems([path]) == [
        f"{path}: interceptor.1: unknown key (known keys: caBundle, port, replicas, resources, url)",
        f"{path}: interceptor.replica: unknown key (did you mean 'replicas'?)",
    ]


def test_unknown_mapping_is_blamed_on_the_source_that_set_below_it() -> None:
    assert _problems(sets=["eventlistener.replicas=2"]) == [
        "--set eventlistener.replicas=2: eventlistener: unknown key (did you mean 'eventListener'?)"
    ]


def test_bad_yaml_says_where(tmp_path: Path) -> None:
    path = tmp_path / "values.yaml"
    path.write_text("image:\n  tag: [unclosed\n")
    assert " at line 3 column 1" in _problems([path])[0]


@pytest.mark.parametrize(
    "labels",
    [
        pytest.param({"team": "platform"}, id="plain"),
        pytest.param({"example.com/team": "a-b_c.d"}, id="prefixed"),
        pytest.param({"app.kubernetes.io/part-of": ""}, id="empty-value"),
        pytest.param({"a" * 63: "b" * 63}, id="longest-name-and-value"),
        pytest.param({"x" * 253 + "/n": "v"}, id="longest-prefix"),
    ],
)
def test_valid_label_keys_and_values_pass(labels: dict[str, str]) -> None:
    values = load_values(sets=[f"extraLabels={json.dumps(labels)}", f"extraAnnotations={json.dumps(labels)}"])
    assert values.data["extraLabels"] == labels


def test_prefix_longer_than_253_is_refused() -> None:
    key = "x" * 254 + "/n"
    assert _problems(sets=[f'extraLabels={{"{key}": v}}'])[0].startswith(
        f'--set extraLabels={{"{key}": v}}: extraLabels: key "{key}" is not a valid key'
    )


def test_scalars_are_echoed_as_written_in_files_and_the_last_source_wins(tmp_path: Path) -> None:
    first = tmp_path / "first.yaml"
    second = tmp_path / "second.yaml"
    first.write_text("taskRun:\n  timeout: 2:00:00\nimage: {tag: 1.10}\n")
    second.write_text("taskRun:\n  timeout: 90\n")
    assert _problems([first, second]) == [
        f'{first}: image.tag: expected a string, got 1.10 — quote it: "1.10"',
        f'{second}: taskRun.timeout: expected a duration string such as "30m", got 90',
    ]
