"""A bounded YAML reader that keeps where every value is, and reads scalars the way peribolos does.

peribolos loads its config with ``sigs.k8s.io/yaml`` on top of ``go.yaml.in/yaml/v2`` (YAML 1.1): a plain
``no``, ``y`` or ``off`` is a boolean, ``0123`` is the octal number 83, ``<<`` merges mappings, a duplicate
key silently replaces the first, and only the first document of the file is read. This module reads a file
into :class:`Scalar`, :class:`Sequence` and :class:`Mapping` nodes with 1-based line and column marks and
those same meanings, so that a checker can say ``FILE:LINE:COL`` for every problem.

It is pure and bounded whatever the input: PyYAML's event parser (not its recursive composer) feeds a loop
with an explicit stack, nesting deeper than ``max_depth`` stops it, and so does a document whose aliases
expand it to more than ``max_nodes`` values (a "billion laughs" file stops after ``max_nodes`` counted, not
after expanding). Every failure is one :class:`YAMLReadError` with a mark.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import yaml

LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's parser when PyYAML was built with it (several times faster); the pure-Python one otherwise."""

MAX_DEPTH = 64
"""Nesting a real config never needs: orgs > org > teams > team (x3 nested) > members > login is ~12."""
MAX_NODES = 1_000_000
"""Values after expanding aliases; the largest real config (kubernetes/org, 8 orgs) has ~30,000."""


class Mark(NamedTuple):
    """A position in the file: 1-based line and column (columns count characters). A tuple: a file has
    two for each of its values."""

    line: int
    column: int

    @classmethod
    def of(cls, mark: Any) -> Mark:
        return cls(mark.line + 1, mark.column + 1)


@dataclass(eq=False, slots=True)
class Node:
    start: Mark
    end: Mark
    size: int = 1
    """How many values this node stands for once aliases are expanded (itself included)."""


@dataclass(eq=False, slots=True)
class Scalar(Node):
    text: str = ""
    kind: str = "str"
    """What go-yaml v2 reads: ``str``, ``null``, ``bool``, ``int`` or ``float`` (``merge`` for ``<<``)."""
    value: Any = None
    plain: bool = True
    """Written without quotes, tag or block style: only then is ``no`` a boolean."""


@dataclass(eq=False, slots=True)
class Sequence(Node):
    items: list[Node] = field(default_factory=list)


@dataclass(eq=False, slots=True)
class Pair:
    key: Node
    value: Node
    merged: bool = False
    """Came from a ``<<`` merge key rather than being written in this mapping."""


@dataclass(eq=False, slots=True)
class Mapping(Node):
    pairs: list[Pair] = field(default_factory=list)
    """In the order go-yaml applies them (merges where their ``<<`` stands); the last of equal keys wins."""


@dataclass(frozen=True, slots=True)
class Document:
    root: Node | None
    """None for an empty file (or one holding only comments)."""
    next_document: Mark | None = None
    """Where a second document starts: peribolos never reads it."""


class YAMLReadError(Exception):
    """The file cannot be read as one YAML document; ``mark`` says where."""

    def __init__(self, mark: Mark, message: str) -> None:
        super().__init__(f"{mark.line}:{mark.column}: {message}")
        self.mark = mark
        self.message = message


# -- scalars as go.yaml.in/yaml/v2 resolves them (resolve.go) --------------------------------------------

_TABLE: dict[str, tuple[str, Any]] = {}
for _words, _entry in (
    ("y Y yes Yes YES true True TRUE on On ON", ("bool", True)),
    ("n N no No NO false False FALSE off Off OFF", ("bool", False)),
    ("~ null Null NULL", ("null", None)),
    (".nan .NaN .NAN", ("float", math.nan)),
    (".inf .Inf .INF +.inf +.Inf +.INF", ("float", math.inf)),
    ("-.inf -.Inf -.INF", ("float", -math.inf)),
):
    for _word in _words.split():
        _TABLE[_word] = _entry
_TABLE[""] = ("null", None)

_GO_INT = re.compile(r"[-+]?(?:0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)")
_YAML_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")
_GO_FLOAT = re.compile(r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")


def _go_int(text: str) -> int | None:
    """strconv.ParseInt(text, 0, 64), falling back to ParseUint (no sign) as go-yaml does."""
    if not _GO_INT.fullmatch(text):
        return None
    sign = -1 if text[0] == "-" else 1
    digits = text.lstrip("+-")
    lower = digits.lower()
    if lower.startswith(("0x", "0o", "0b")):
        value = int(digits[2:], {"x": 16, "o": 8, "b": 2}[lower[1]])
    elif len(digits) > 1 and digits[0] == "0":
        value = int(digits, 8)
    else:
        value = int(digits)
    value *= sign
    if -(2**63) <= value < 2**63 or (text[0] not in "+-" and 0 <= value < 2**64):
        return value
    return None


def resolve_plain(text: str) -> tuple[str, Any]:
    """(kind, value) of a plain (unquoted, untagged) scalar as go-yaml v2 reads it."""
    if text in _TABLE:
        return _TABLE[text]
    if text == "<<":
        return "merge", text
    first = text[0]
    if first == ".":
        if _GO_FLOAT.fullmatch(text):
            return "float", float(text)
    elif first in "0123456789+-":
        # go-yaml tries a timestamp first, but keeps it as its text: the same as a string here.
        plain = text.replace("_", "")
        number = _go_int(plain)
        if number is not None:
            return "int", number
        if _YAML_FLOAT.fullmatch(plain):
            return "float", float(plain)
    return "str", text


_STANDARD_TAGS = {f"tag:yaml.org,2002:{name}" for name in ("str", "int", "float", "bool", "null")}


def _scalar(event: Any) -> Scalar:
    start, end = Mark.of(event.start_mark), Mark.of(event.end_mark)
    plain = not event.style
    tag = event.tag
    if tag in (None, "!") and plain and event.implicit[0]:
        kind, value = resolve_plain(event.value)
    elif tag in (None, "!", "tag:yaml.org,2002:str"):
        kind, value = "str", event.value
    elif tag in _STANDARD_TAGS:
        wanted = tag.rsplit(":", 1)[1]
        kind, value = resolve_plain(event.value)
        if kind == "int" and wanted == "float":
            kind, value = "float", float(value)
        if kind != wanted:
            raise YAMLReadError(start, f"cannot read {event.value!r} as !!{wanted}")
    else:
        raise YAMLReadError(start, f"the YAML tag {tag} is not part of peribolos' format")
    return Scalar(start, end, text=event.value, kind=kind, value=value, plain=plain and tag is None)


# -- the composer ------------------------------------------------------------------------------------------


@dataclass(eq=False, slots=True)
class _Open:
    node: Sequence | Mapping
    anchor: str | None
    pending_key: Node | None = None


def _merged_pairs(key: Node, value: Node) -> list[Pair]:
    """The pairs a ``<<: value`` brings in, in go-yaml v2's order (a list's first mapping wins)."""
    sources = value.items[::-1] if isinstance(value, Sequence) else [value]
    if not all(isinstance(source, Mapping) for source in sources):
        raise YAMLReadError(key.start, "a '<<' merge needs a mapping or a list of mappings")
    return [Pair(p.key, p.value, merged=True) for source in sources for p in source.pairs]  # type: ignore[union-attr]


def read(
    text: str, *, max_depth: int = MAX_DEPTH, max_nodes: int = MAX_NODES, loader: Any = LOADER
) -> Document:
    """The first YAML document of ``text`` as nodes; :class:`YAMLReadError` for anything peribolos could not
    read, or that exceeds the bounds."""
    anchors: dict[str, Node] = {}
    stack: list[_Open] = []
    root: Node | None = None
    total = 0
    try:
        events = _events(loader(text))  # the pure-Python loader reads (and may refuse) the text at once
        for event in events:
            kind = type(event)
            if kind is yaml.ScalarEvent:
                node: Node = _scalar(event)
                total += 1
                if event.anchor is not None:
                    anchors[event.anchor] = node
            elif kind is yaml.SequenceStartEvent or kind is yaml.MappingStartEvent:
                mark = Mark.of(event.start_mark)
                if len(stack) >= max_depth:
                    raise YAMLReadError(mark, f"values nested more than {max_depth} levels deep")
                if event.tag not in (None, "!", "tag:yaml.org,2002:seq", "tag:yaml.org,2002:map"):
                    raise YAMLReadError(mark, f"the YAML tag {event.tag} is not part of peribolos' format")
                total += 1
                collection = Sequence(mark, mark) if kind is yaml.SequenceStartEvent else Mapping(mark, mark)
                stack.append(_Open(collection, event.anchor))
                continue
            elif kind is yaml.SequenceEndEvent or kind is yaml.MappingEndEvent:
                done = stack.pop()
                done.node.end = Mark.of(event.end_mark)
                node = done.node
                if done.anchor is not None:
                    anchors[done.anchor] = node
            elif kind is yaml.AliasEvent:
                node = _alias(event, anchors, stack)
                total += node.size
                if total > max_nodes:
                    raise YAMLReadError(Mark.of(event.start_mark), _too_many(max_nodes))
            elif kind is yaml.DocumentEndEvent:
                return Document(root, _next_document(events))
            else:
                continue  # stream and document start
            if total > max_nodes:
                raise YAMLReadError(node.start, _too_many(max_nodes))
            if stack:
                _add(stack[-1], node)
            else:
                root = node
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = Mark.of(mark) if mark is not None else Mark(1, 1)
        raise YAMLReadError(where, f"not valid YAML: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:  # ReaderError (a character YAML forbids) and the like carry no mark
        raise YAMLReadError(_reader_mark(text, exc), f"not valid YAML: {str(exc).splitlines()[0]}") from None
    return Document(root)


def _events(parser: Any) -> Iterator[Any]:
    """The parser's events (what ``yaml.parse`` does, without disposing of the parser in between)."""
    try:
        while parser.check_event():
            yield parser.get_event()
    finally:
        parser.dispose()


def _too_many(max_nodes: int) -> str:
    return f"the document expands to more than {max_nodes:,} values (through aliases?)"


def _alias(event: Any, anchors: dict[str, Node], stack: list[_Open]) -> Node:
    mark = Mark.of(event.start_mark)
    if any(open_.anchor == event.anchor for open_ in stack):
        raise YAMLReadError(mark, f"the alias *{event.anchor} refers to a value that contains it")
    if event.anchor not in anchors:
        raise YAMLReadError(mark, f"the alias *{event.anchor} has no anchor &{event.anchor} before it")
    return anchors[event.anchor]


def _add(parent: _Open, node: Node) -> None:
    target = parent.node
    target.size += node.size
    if isinstance(target, Sequence):
        target.items.append(node)
    elif parent.pending_key is None:
        parent.pending_key = node
    else:
        key, parent.pending_key = parent.pending_key, None
        if isinstance(key, Scalar) and key.kind == "merge":
            target.pairs.extend(_merged_pairs(key, node))
        else:
            target.pairs.append(Pair(key, node))


def _next_document(events: Any) -> Mark | None:
    """Where the next document starts, if the stream has one (its content is never read)."""
    try:
        for event in events:
            if isinstance(event, yaml.DocumentStartEvent):
                return Mark.of(event.start_mark)
            if isinstance(event, yaml.StreamEndEvent):
                return None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        return Mark.of(mark) if mark is not None else Mark(1, 1)
    return None


def _reader_mark(text: str, exc: yaml.YAMLError) -> Mark:
    position = getattr(exc, "position", None)
    if position is None:
        return Mark(1, 1)
    before = text[:position]
    return Mark(before.count("\n") + 1, position - (before.rfind("\n") + 1) + 1)
