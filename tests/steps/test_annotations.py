"""Check run annotations from config problems: GitHub's fields, columns on one line only, chunks of 50."""

from __future__ import annotations

import pytest

from tekton.steps.annotations import MAX_PER_REQUEST, annotation, annotations, chunks
from tekton.steps.peribolos_config import WARNING, Problem, check
from tekton.steps.yaml_nodes import Mark


@pytest.mark.parametrize(
    ("problem", "expected"),
    [
        (
            Problem(
                Mark(3, 13), Mark(3, 18), "orgs.o.admins", 'must be a list, not the text "alice"', "type"
            ),
            {
                "path": "peribolos.yaml",
                "start_line": 3,
                "end_line": 3,
                "start_column": 13,
                "end_column": 17,
                "annotation_level": "failure",
                "message": 'orgs.o.admins: must be a list, not the text "alice"',
                "title": "Wrong type: orgs.o.admins",
            },
        ),
        (
            Problem(Mark(5, 5), Mark(9, 1), "orgs.o.teams", "must be a mapping", "type"),
            {
                "path": "peribolos.yaml",
                "start_line": 5,
                "end_line": 8,
                "annotation_level": "failure",
                "message": "orgs.o.teams: must be a mapping",
                "title": "Wrong type: orgs.o.teams",
            },
        ),
        (
            Problem(Mark(2, 7), Mark(4, 9), "orgs.o.x", "spans lines", "value"),
            {
                "path": "peribolos.yaml",
                "start_line": 2,
                "end_line": 4,
                "annotation_level": "failure",
                "message": "orgs.o.x: spans lines",
                "title": "Bad value: orgs.o.x",
            },
        ),
        (
            Problem(Mark(1, 1), Mark(1, 1), "", "not valid YAML: x", "yaml"),
            {
                "path": "peribolos.yaml",
                "start_line": 1,
                "end_line": 1,
                "start_column": 1,
                "end_column": 1,
                "annotation_level": "failure",
                "message": "not valid YAML: x",
                "title": "Not valid YAML: peribolos.yaml",
            },
        ),
        (
            Problem(
                Mark(6, 13), Mark(6, 20), "orgs.o.repos.web.private", "deprecated", "deprecated", WARNING
            ),
            {
                "path": "peribolos.yaml",
                "start_line": 6,
                "end_line": 6,
                "start_column": 13,
                "end_column": 19,
                "annotation_level": "warning",
                "message": "orgs.o.repos.web.private: deprecated",
                "title": "Deprecated key: orgs.o.repos.web.private",
            },
        ),
    ],
    ids=["scalar", "block-ends-next-line", "multi-line", "no-path", "warning"],
)
def test_annotation_fields(problem: Problem, expected: dict) -> None:
    assert annotation("peribolos.yaml", problem) == expected


def test_long_messages_and_titles_are_cut() -> None:
    problem = Problem(Mark(1, 1), Mark(1, 2), "p" * 300, "m" * 5000, "value")
    item = annotation("f", problem)
    assert len(item["message"]) == 4000 and item["message"].endswith("…")
    assert len(item["title"]) == 255


def test_from_a_real_check() -> None:
    text = b"orgs:\n  octo-org:\n    admins: alice\n    membrs: [bob]\n"
    items = annotations("org/peribolos.yaml", check(text).problems)
    assert [(i["start_line"], i["start_column"], i["end_column"], i["title"]) for i in items] == [
        (3, 13, 17, "Wrong type: orgs.octo-org.admins"),
        (4, 5, 10, "Unknown key: orgs.octo-org.membrs"),
    ]
    assert {i["path"] for i in items} == {"org/peribolos.yaml"}


@pytest.mark.parametrize(
    ("count", "sizes"), [(0, []), (1, [1]), (50, [50]), (51, [50, 1]), (130, [50, 50, 30])]
)
def test_chunks_of_at_most_50(count: int, sizes: list[int]) -> None:
    items = [{"n": i} for i in range(count)]
    cut = chunks(items)
    assert [len(c) for c in cut] == sizes
    assert [i for c in cut for i in c] == items
    assert MAX_PER_REQUEST == 50


def test_chunk_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        chunks([{}], 0)
