"""Check runs: create, update (annotations are appended), get, list annotations, list for a ref, with
GitHub's limits (422): at most 50 annotations a request, ``output.summary``/``text`` at most 65535
characters, a conclusion for a completed run, no ``stale`` and no Actions-only statuses."""

from __future__ import annotations

from typing import Any

from tests.fakes.github import shapes
from tests.fakes.github.models import Annotation, CheckRun, Repo
from tests.fakes.github.replies import Reply, invalid, not_found, page, paged, parse_iso, validation_failed
from tests.fakes.github.router import Call, RouteTable
from tests.fakes.github.routes.common import repo_of

ROUTES = RouteTable("checks")
REPO = "/repos/{owner}/{repo}"
STATUSES = ("queued", "in_progress", "completed")
ACTIONS_ONLY_STATUSES = ("waiting", "requested", "pending")
CONCLUSIONS = ("action_required", "cancelled", "failure", "neutral", "success", "skipped", "timed_out")
ANNOTATION_LEVELS = ("notice", "warning", "failure")
MAX_OUTPUT_CHARS = 65535
MAX_ANNOTATIONS_PER_REQUEST = 50
MAX_ANNOTATION_BYTES = 64 * 1024
MAX_ANNOTATION_TITLE = 255
MAX_ACTIONS = 3
ACTION_LIMITS = {"label": 20, "description": 40, "identifier": 20}


def _string(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise invalid(name, "CheckRun")
    return value


def _timestamp(body: dict[str, Any], name: str) -> float | None:
    if body.get(name) is None:
        return None
    parsed = parse_iso(body[name])
    if parsed is None:
        raise invalid(name, "CheckRun")
    return parsed


def _int(note: dict[str, Any], name: str, required: bool) -> int | None:
    value = note.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise invalid(f"annotations.{name}", "CheckRun")
    return value


def parse_annotation(note: Any) -> Annotation:
    """One ``output.annotations[]`` entry; columns only on a single line, messages at most 64 KB."""
    if not isinstance(note, dict):
        raise invalid("annotations", "CheckRun")
    for name in ("path", "message"):
        if not isinstance(note.get(name), str) or not note[name]:
            raise invalid(f"annotations.{name}", "CheckRun", "missing_field")
    if note.get("annotation_level") not in ANNOTATION_LEVELS:
        raise invalid("annotations.annotation_level", "CheckRun")
    start, end = _int(note, "start_line", True), _int(note, "end_line", True)
    assert start is not None and end is not None
    if end < start:
        raise invalid("annotations.end_line", "CheckRun")
    start_col, end_col = _int(note, "start_column", False), _int(note, "end_column", False)
    if (start_col is not None or end_col is not None) and start != end:
        raise validation_failed("Invalid request.\n\nstart_column and end_column are only valid on one line.")
    if len(note["message"].encode()) > MAX_ANNOTATION_BYTES:
        raise invalid("annotations.message", "CheckRun", "too_long")
    title, raw = note.get("title"), note.get("raw_details")
    if title is not None and (not isinstance(title, str) or len(title) > MAX_ANNOTATION_TITLE):
        raise invalid("annotations.title", "CheckRun", "too_long")
    if raw is not None and (not isinstance(raw, str) or len(raw.encode()) > MAX_ANNOTATION_BYTES):
        raise invalid("annotations.raw_details", "CheckRun", "too_long")
    return Annotation(
        note["path"], start, end, note["annotation_level"], note["message"], start_col, end_col, title, raw
    )


def parse_output(output: Any) -> tuple[dict[str, str | None], list[Annotation], list[dict]]:
    """``output``: title and summary required, summary and text within 65535 characters, at most 50
    annotations; the text fields, the annotations and the images."""
    if not isinstance(output, dict):
        raise invalid("output", "CheckRun")
    for name in ("title", "summary"):
        if not isinstance(output.get(name), str):
            raise validation_failed(f'Invalid request.\n\n"{name}" wasn\'t supplied.')
    text = output.get("text")
    if text is not None and not isinstance(text, str):
        raise invalid("output.text", "CheckRun")
    for name in ("summary", "text"):
        if len(output.get(name) or "") > MAX_OUTPUT_CHARS:
            raise validation_failed(
                f"Invalid request.\n\nOnly {MAX_OUTPUT_CHARS} characters are allowed; "
                f"{len(output[name])} were supplied for output.{name}."
            )
    notes = output.get("annotations") or []
    if not isinstance(notes, list):
        raise invalid("output.annotations", "CheckRun")
    if len(notes) > MAX_ANNOTATIONS_PER_REQUEST:
        raise validation_failed(
            f"Invalid request.\n\nOnly {MAX_ANNOTATIONS_PER_REQUEST} annotations are allowed per request; "
            f"{len(notes)} were supplied."
        )
    images = output.get("images") or []
    if not isinstance(images, list) or not all(
        isinstance(i, dict) and isinstance(i.get("alt"), str) and isinstance(i.get("image_url"), str)
        for i in images
    ):
        raise invalid("output.images", "CheckRun")
    fields = {"title": output["title"], "summary": output["summary"], "text": text}
    return fields, [parse_annotation(n) for n in notes], images


def parse_actions(actions: Any) -> list[dict[str, Any]]:
    if not isinstance(actions, list) or len(actions) > MAX_ACTIONS:
        raise invalid("actions", "CheckRun")
    for action in actions:
        if not isinstance(action, dict):
            raise invalid("actions", "CheckRun")
        for name, limit in ACTION_LIMITS.items():
            value = action.get(name)
            if not isinstance(value, str) or not value or len(value) > limit:
                raise invalid(f"actions.{name}", "CheckRun")
    return [dict(a) for a in actions]


def apply(run: CheckRun, body: dict[str, Any], now: float, creating: bool) -> None:
    """Apply a create or update body to ``run`` after checking all of it (nothing changes on a 422)."""
    status = _string(body, "status")
    conclusion = _string(body, "conclusion")
    if status in ACTIONS_ONLY_STATUSES:
        raise validation_failed(f"Invalid request.\n\nOnly GitHub Actions can set a status of {status}.")
    if status is not None and status not in STATUSES:
        raise invalid("status", "CheckRun")
    if conclusion == "stale":
        raise validation_failed("Invalid request.\n\nOnly GitHub can set a conclusion of stale.")
    if conclusion is not None and conclusion not in CONCLUSIONS:
        raise invalid("conclusion", "CheckRun")
    started, completed = _timestamp(body, "started_at"), _timestamp(body, "completed_at")
    final = conclusion or (run.conclusion if status in (None, "completed") else None)
    if (status == "completed" or completed is not None) and final is None:
        raise validation_failed('Invalid request.\n\n"conclusion" wasn\'t supplied.')
    details, external = _string(body, "details_url"), _string(body, "external_id")
    name = _string(body, "name")
    if creating and not name:
        raise invalid("name", "CheckRun", "missing_field")
    output = parse_output(body["output"]) if body.get("output") is not None else None
    actions = parse_actions(body["actions"]) if body.get("actions") is not None else None
    # All checked: change the run.
    if name:
        run.name = name
    if conclusion is not None:
        run.status, run.conclusion = "completed", conclusion
        run.completed_at = completed or now
    elif status is not None:
        run.status = status
        if status != "completed":
            run.conclusion, run.completed_at = None, None
        else:
            run.completed_at = completed or run.completed_at or now
    if started is not None or creating:
        run.started_at = started or now
    if details is not None:
        run.details_url = details
    if external is not None:
        run.external_id = external
    if output is not None:
        fields, notes, images = output
        run.title, run.summary, run.text = fields["title"], fields["summary"], fields["text"]
        run.annotations.extend(notes)
        run.images = images
    if actions is not None:
        run.actions = actions


def _json(call: Call, run: CheckRun) -> dict[str, Any]:
    repo = call.state.repo(*run.repo.split("/", 1))
    app = call.state.apps[run.app_id]
    pulls = [
        p
        for p in call.state.pulls.get(run.repo.lower(), [])
        if p.state == "open" and p.head_sha == run.head_sha
    ]
    return shapes.check_run(run, app, call.urls, pulls, repo.id if repo else 0)


def _run(call: Call, repo: Repo) -> CheckRun:
    found = (
        call.state.check_runs.get(int(call.params["check_run_id"]))
        if call.params["check_run_id"].isdigit()
        else None
    )
    if found is None or found.repo.lower() != repo.full_name.lower():
        raise not_found()
    return found


@ROUTES.route("POST", REPO + "/check-runs")
def create_check_run(call: Call) -> Reply:
    repo = repo_of(call)
    body = call.json_object()
    head_sha = _string(body, "head_sha")
    if not head_sha:
        raise invalid("head_sha", "CheckRun", "missing_field")
    if head_sha not in repo.commits:
        raise validation_failed(f"No commit found for SHA: {head_sha}")
    assert call.caller.installation is not None
    app_id = call.caller.installation.app_id
    run = CheckRun(
        id=call.state.next_id("check_run"),
        repo=repo.full_name,
        head_sha=head_sha,
        name="",
        app_id=app_id,
        check_suite_id=call.state.check_suite_id(repo.full_name, head_sha, app_id),
    )
    apply(run, body, call.now, creating=True)
    call.state.check_runs[run.id] = run
    return Reply(201, _json(call, run))


@ROUTES.route("GET", REPO + "/check-runs/{check_run_id}")
def get_check_run(call: Call) -> Reply:
    return Reply(200, _json(call, _run(call, repo_of(call))))


@ROUTES.route("PATCH", REPO + "/check-runs/{check_run_id}")
def update_check_run(call: Call) -> Reply:
    """Only the App that created a check run may update it."""
    run = _run(call, repo_of(call))
    assert call.caller.installation is not None
    if run.app_id != call.caller.installation.app_id:
        raise invalid("check_run_id", "CheckRun")
    apply(run, call.json_object(), call.now, creating=False)
    return Reply(200, _json(call, run))


@ROUTES.route("GET", REPO + "/check-runs/{check_run_id}/annotations")
def list_annotations(call: Call) -> Reply:
    repo = repo_of(call)
    run = _run(call, repo)
    items = [shapes.annotation(a, run, call.urls) for a in run.annotations]
    return page(f"{call.urls.api}/repos/{repo.full_name}/check-runs/{run.id}/annotations", call.query, items)


@ROUTES.route("GET", REPO + "/commits/{ref}/check-runs")
def list_check_runs_for_ref(call: Call) -> Reply:
    """``{total_count, check_runs}``; ``filter=latest`` (the default) keeps the newest run of each name."""
    repo = repo_of(call)
    found = repo.resolve(call.params["ref"])
    if found is None:
        raise validation_failed(f"No commit found for SHA: {call.params['ref']}")
    wanted_filter = call.arg("filter", "latest")
    if wanted_filter not in ("latest", "all"):
        raise invalid("filter", "CheckRun")
    runs = sorted(
        (
            r
            for r in call.state.check_runs.values()
            if r.repo.lower() == repo.full_name.lower() and r.head_sha == found.sha
        ),
        key=lambda r: r.id,
        reverse=True,
    )
    name, status, app_id = call.arg("check_name"), call.arg("status"), call.arg("app_id")
    runs = [r for r in runs if (name is None or r.name == name) and (status is None or r.status == status)]
    runs = [r for r in runs if app_id is None or str(r.app_id) == app_id]
    if wanted_filter == "latest":
        seen: set[tuple[str, int]] = set()
        runs = [r for r in runs if (r.name, r.app_id) not in seen and not seen.add((r.name, r.app_id))]
    items, headers = paged(
        f"{call.urls.api}/repos/{repo.full_name}/commits/{call.params['ref']}/check-runs", call.query, runs
    )
    return Reply(200, {"total_count": len(runs), "check_runs": [_json(call, r) for r in items]}, headers)
