"""A TaskRun's state from its object (table), and the book that counts each completion once."""

from __future__ import annotations

from typing import Any

import pytest

from tekton.exporter.taskruns import TaskRunBook, TaskRunState, state_of

ACTIONS = frozenset({"install", "uninstall", "sync", "dry-run"})
START = "2026-11-27T12:00:00Z"
END = "2026-11-27T12:01:30Z"


def taskrun(uid: str = "u1", action: str | None = "sync", condition: dict[str, Any] | None = None,
            started: str | None = START, completed: str | None = None) -> dict[str, Any]:
    labels = {"peribolos.dev/action": action} if action else {}
    status: dict[str, Any] = {}
    if started:
        status["startTime"] = started
    if completed:
        status["completionTime"] = completed
    if condition is not None:
        status["conditions"] = [{"type": "Succeeded", **condition}]
    return {"metadata": {"uid": uid, "labels": labels}, "status": status}


STATES = [
    ("pending", taskrun(started=None), "pending", None),
    ("running", taskrun(condition={"status": "Unknown", "reason": "Running"}), "running", None),
    ("succeeded", taskrun(condition={"status": "True", "reason": "Succeeded"}, completed=END), "succeeded",
     90.0),
    ("failed", taskrun(condition={"status": "False", "reason": "Failed"}, completed=END), "failed", 90.0),
    ("cancelled", taskrun(condition={"status": "False", "reason": "TaskRunCancelled"}, completed=END),
     "cancelled", 90.0),
    ("timeout", taskrun(condition={"status": "False", "reason": "TaskRunTimeout"}, completed=END), "timeout",
     90.0),
    ("completion-from-the-condition", taskrun(condition={"status": "False", "reason": "Failed",
                                                         "lastTransitionTime": END}), "failed", 90.0),
    ("never-started-failed", taskrun(started=None, condition={"status": "False", "reason": "CouldntGetTask"},
                                     completed=END), "failed", None),
]


@pytest.mark.parametrize(("obj", "state", "duration"), [c[1:] for c in STATES], ids=[c[0] for c in STATES])
def test_state_of(obj, state, duration) -> None:
    found = state_of(obj, ACTIONS)
    assert (found.state, found.duration_s) == (state, duration)
    assert found.finished is (state not in ("pending", "running"))


@pytest.mark.parametrize(("action", "label"), [("sync", "sync"), ("drift", "other"), (None, "other"),
                                               ("sync,org=x", "other")],
                         ids=["known", "unknown", "unlabelled", "never-a-label-value-of-its-own"])
def test_the_action_label_is_bounded(action, label) -> None:
    assert state_of(taskrun(action=action), ACTIONS).action == label


def test_an_object_without_a_uid_is_no_taskrun() -> None:
    assert state_of({"metadata": {}}, ACTIONS) is None


def _book(started_at: float = 0.0) -> tuple[TaskRunBook, list[TaskRunState]]:
    seen: list[TaskRunState] = []
    return TaskRunBook(ACTIONS, started_at, seen.append), seen


FAILED = {"status": "False", "reason": "Failed"}


def test_each_completion_is_counted_once_however_often_it_is_seen() -> None:
    book, seen = _book()
    book.apply("ADDED", taskrun("a"))
    book.apply("MODIFIED", taskrun("a", condition=FAILED, completed=END))
    book.apply("MODIFIED", taskrun("a", condition=FAILED, completed=END))
    book.replace([taskrun("a", condition=FAILED, completed=END)])  # a relist after a 410
    assert [(s.uid, s.state) for s in seen] == [("a", "failed")]
    assert book.states() == {("sync", "failed"): 1}


def test_runs_that_finished_before_the_exporter_started_are_kept_but_not_counted() -> None:
    book, seen = _book(started_at=4_000_000_000.0)
    book.replace([taskrun("old", condition=FAILED, completed=END)])
    assert seen == [] and book.states() == {("sync", "failed"): 1}


@pytest.mark.parametrize(
    ("started_at", "counted"),
    [
        pytest.param(1_795_780_890.0, True, id="finished-the-second-it-started"),
        pytest.param(1_795_780_890.7, True, id="in-that-second-after-it-started"),
        pytest.param(1_795_780_891.0, False, id="the-second-before"),
    ],
)
def test_completion_times_have_a_seconds_resolution(started_at: float, counted: bool) -> None:
    """The API writes whole seconds (END is 1_795_780_890): a run that finished in the second the exporter
    started counts (a restart might count it twice, rather than miss one that finished after it started)."""
    book, seen = _book(started_at=started_at)
    book.apply("MODIFIED", taskrun("a", condition=FAILED, completed=END))
    assert bool(seen) is counted


def test_a_deleted_run_leaves_the_book_and_bookmarks_change_nothing() -> None:
    book, _ = _book()
    book.apply("ADDED", taskrun("a", action="install"))
    book.apply("BOOKMARK", {"metadata": {"resourceVersion": "9"}})
    assert book.states() == {("install", "running"): 1}
    book.apply("DELETED", taskrun("a", action="install"))
    assert book.states() == {}


def test_a_relist_forgets_runs_gone_meanwhile() -> None:
    book, _ = _book()
    book.replace([taskrun("a"), taskrun("b")])
    book.replace([taskrun("b")])
    assert book.states() == {("sync", "running"): 1}
