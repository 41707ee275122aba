"""The bounded YAML reader: go-yaml v2's scalar meanings, marks, merges and aliases, and its bounds."""

from __future__ import annotations

import pytest
import yaml

from tekton.steps.yaml_nodes import Mapping, Mark, Scalar, Sequence, YAMLReadError, read, resolve_plain

# What sigs.k8s.io/yaml v1.6.0 (go.yaml.in/yaml/v2 v2.4.2, as peribolos uses them) made of ``s: TEXT``
# decoded into a Go *string and a *bool: captured once with a 20-line Go program, kept here as data.
GO_READS = [
    # text, kind, the Go string a string field gets
    ("no", "bool", "false"),
    ("y", "bool", "true"),
    ("Y", "bool", "true"),
    ("n", "bool", "false"),
    ("off", "bool", "false"),
    ("On", "bool", "true"),
    ("yes", "bool", "true"),
    ("True", "bool", "true"),
    ("0123", "int", "83"),
    ("1_000", "int", "1000"),
    ("0x1F", "int", "31"),
    ("0o17", "int", "15"),
    ("0b101", "int", "5"),
    ("+12", "int", "12"),
    ("-0", "int", "0"),
    ("12", "int", "12"),
    ("18446744073709551615", "int", "18446744073709551615"),
    ("1e3", "float", "1000"),
    ("089", "float", "89"),
    (".5", "float", "0.5"),
    ("1.10", "float", "1.1"),
    ("99999999999999999999", "float", "1e+20"),
    ("-9223372036854775809", "float", "-9.223372e+18"),
    (".inf", "float", "+Inf"),
    ("1e-7", "float", "1e-07"),
    ("2001-12-14", "str", "2001-12-14"),
    ("1:20", "str", "1:20"),
    ("alice", "str", "alice"),
    ("~", "null", None),
    ("null", "null", None),
    ("Null", "null", None),
]


@pytest.mark.parametrize(("text", "kind", "go_string"), GO_READS, ids=[row[0] for row in GO_READS])
def test_plain_scalars_resolve_as_go_yaml_v2_does(text: str, kind: str, go_string: str | None) -> None:
    assert resolve_plain(text)[0] == kind
    node = read(f"s: {text}\n").root
    assert isinstance(node, Mapping)
    value = node.pairs[0].value
    assert isinstance(value, Scalar) and value.kind == kind and value.plain


@pytest.mark.parametrize(
    ("source", "kind", "value"),
    [
        ('"no"', "str", "no"),
        ("'yes'", "str", "yes"),
        ("!!str 12", "str", "12"),
        ("|\n  no\n", "str", "no\n"),
        ("!!int 12", "int", 12),
        ("!!float 12", "float", 12.0),
        ("!!bool yes", "bool", True),
    ],
    ids=["double-quoted", "single-quoted", "str-tag", "block", "int-tag", "float-tag-on-int", "bool-tag"],
)
def test_quoted_and_tagged_scalars(source: str, kind: str, value: object) -> None:
    node = read(f"s: {source}").root
    assert isinstance(node, Mapping)
    scalar = node.pairs[0].value
    assert isinstance(scalar, Scalar) and (scalar.kind, scalar.value) == (kind, value)


def test_marks_are_one_based_lines_and_columns() -> None:
    root = read("orgs:\n  octo-org:\n    admins: [alice, bob]\n").root
    assert isinstance(root, Mapping)
    org = root.pairs[0].value
    assert isinstance(org, Mapping)
    admins = org.pairs[0]
    assert admins.key.start == Mark(2, 3)
    assert isinstance(admins.value, Mapping)
    listed = admins.value.pairs[0].value
    assert isinstance(listed, Sequence)
    bob = listed.items[1]
    assert isinstance(bob, Scalar)
    assert (bob.text, bob.start, bob.end) == ("bob", Mark(3, 21), Mark(3, 24))


def test_duplicate_keys_are_all_kept_in_order() -> None:
    root = read("a: 1\nb: 2\na: 3\n").root
    assert isinstance(root, Mapping)
    assert [(p.key.text, p.value.text) for p in root.pairs] == [("a", "1"), ("b", "2"), ("a", "3")]  # type: ignore[attr-defined]


def test_merge_keys_bring_pairs_in_where_they_stand() -> None:
    root = read("base: &b {x: 1, y: 2}\nuse:\n  y: 0\n  <<: [*b, {x: 9, z: 3}]\n  w: 4\n").root
    assert isinstance(root, Mapping)
    use = root.pairs[1].value
    assert isinstance(use, Mapping)
    pairs = [(p.key.text, p.value.text, p.merged) for p in use.pairs]  # type: ignore[attr-defined]
    # go-yaml v2 applies a list's mappings last to first, so the first one listed wins
    assert pairs == [
        ("y", "0", False),
        ("x", "9", True),
        ("z", "3", True),
        ("x", "1", True),
        ("y", "2", True),
        ("w", "4", False),
    ]


def test_an_alias_is_the_anchored_node_and_counts_its_size() -> None:
    root = read("a: &x [1, 2, 3]\nb: *x\n").root
    assert isinstance(root, Mapping)
    assert root.pairs[0].value is root.pairs[1].value
    assert root.size == 1 + 2 * 1 + 2 * 4  # the mapping, two keys, the list (4 values) twice


@pytest.mark.parametrize(
    ("text", "mark", "message"),
    [
        ("a: b: c\n", Mark(1, 5), "not valid YAML: mapping values are not allowed in this context"),
        ("a: [1, 2\n", Mark(2, 1), "not valid YAML:"),
        ("a: *nope\n", Mark(1, 4), "the alias *nope has no anchor &nope before it"),
        ("a: &x [*x]\n", Mark(1, 8), "the alias *x refers to a value that contains it"),
        ("a: !!binary aGk=\n", Mark(1, 4), "the YAML tag tag:yaml.org,2002:binary is not part of"),
        ("a: !mine x\n", Mark(1, 4), "the YAML tag !mine is not part of peribolos' format"),
        ("a: !!set {x}\n", Mark(1, 4), "the YAML tag tag:yaml.org,2002:set is not part of"),
        ("a: !!int abc\n", Mark(1, 4), "cannot read 'abc' as !!int"),
        ("a: 1\n<<: 3\n", Mark(2, 1), "a '<<' merge needs a mapping or a list of mappings"),
        ("a: b\x00\n", Mark(1, 5), "not valid YAML: unacceptable character #x0000"),
    ],
    ids=[
        "syntax",
        "unclosed",
        "undefined-alias",
        "recursive-alias",
        "binary-tag",
        "custom-tag",
        "set-tag",
        "bad-int-tag",
        "bad-merge",
        "nul",
    ],
)
def test_unreadable_files_give_one_error_with_a_mark(text: str, mark: Mark, message: str) -> None:
    with pytest.raises(YAMLReadError) as caught:
        read(text)
    assert caught.value.mark == mark
    assert caught.value.message.startswith(message)


def test_only_the_first_document_is_read_and_the_next_is_pointed_at() -> None:
    document = read("a: 1\n---\nb: [unclosed\n")
    assert isinstance(document.root, Mapping)
    assert document.next_document == Mark(2, 1)
    assert read("a: 1\n").next_document is None
    assert read("# only a comment\n").root is None


@pytest.mark.parametrize(
    ("text", "kwargs", "message"),
    [
        ("[" * 100_000, {}, "nesting depth"),
        ("a: " + "[" * 10 + "]" * 10, {"max_depth": 5}, "values nested more than 5 levels deep"),
        ("- x\n" * 50, {"max_nodes": 20}, "the document expands to more than 20 values"),
    ],
    ids=["brackets-100k", "depth-limit", "node-limit"],
)
def test_bounds_stop_with_one_error(text: str, kwargs: dict, message: str) -> None:
    with pytest.raises(YAMLReadError) as caught:
        read(text, **kwargs)
    assert message in caught.value.message


def test_an_alias_bomb_stops_after_the_bound_not_after_expanding() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 10)]  # 10**10 values
    with pytest.raises(YAMLReadError) as caught:
        read("\n".join(lines) + "\n")
    assert "expands to more than 1,000,000 values" in caught.value.message
    assert caught.value.mark == Mark(6, 45)  # a5's 8th alias passes 10**6: it stops there, not at 10**10


@pytest.mark.parametrize(
    ("text", "mark", "message"),
    [
        ("[" * 100_000, Mark(1, 65), "values nested more than 64 levels deep"),
        (
            "a: b\x00\n",
            Mark(1, 5),
            "not valid YAML: unacceptable character #x0000: special characters are not allowed",
        ),
        ("a: [1, 2\n", Mark(2, 1), "not valid YAML: expected ',' or ']', but got '<stream end>'"),
    ],
    ids=["brackets-100k", "nul", "unclosed"],
)
def test_the_pure_python_parser_gives_the_same_kind_of_error(text: str, mark: Mark, message: str) -> None:
    """Where PyYAML was built without libyaml, its own (slower) parser is used, with the same bounds."""
    with pytest.raises(YAMLReadError) as caught:
        read(text, loader=yaml.SafeLoader)
    assert (caught.value.mark, caught.value.message) == (mark, message)
    assert read("a: [1, 2]\n", loader=yaml.SafeLoader).root is not None
