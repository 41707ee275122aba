"""A TriggerTemplate's TaskRun, made here exactly as Tekton Triggers makes it (pure: no I/O).

Drift repair creates its sync TaskRuns from the rendered TriggerTemplate ``peribolos-sync``, read from the
API, so a sync TaskRun has one definition whoever starts it. Triggers (``pkg/template``) merges the
template's param defaults under the values it is given, replaces each ``$(tt.params.<name>)`` and
``$(uid)`` in the resource template's JSON, and escapes ``$(`` in a value to ``$$(`` so that no value
becomes a Tekton variable. This module does the same, with two deliberate differences: a value is
JSON-escaped (ours never hold quotes; Triggers would produce broken JSON), and a ``$(tt.params.x)`` left
over (a param without a default that was not given) is an error here, not a literal in the TaskRun.

The marks a drift run adds to the TaskRun, and nothing else, are :func:`mark_drift_run`'s.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from typing import Any

from peribolos_core.actions import CHANGED_OR_FAILED, CHECK_RUN_WHEN_PARAM
from peribolos_core.errors import PeribolosError
from peribolos_core.github import Installation, check_repo
from peribolos_core.token_secret import secret_name

_LEFT_OVER = re.compile(r"\$\(tt\.params\.([^)]*)\)")
TRIGGER_LABEL = "peribolos.dev/trigger"
"""Label naming what started a TaskRun; ``drift-repair`` on drift runs."""
DRIFT_REPAIR = "drift-repair"
RUN_ANNOTATION = "peribolos.dev/drift-run"
"""Annotation holding the drift run (the Job) that made a TaskRun: a retried Job skips what it made."""
INSTALLATION_LABEL = "peribolos.dev/installation-id"
ACTION_LABEL = "peribolos.dev/action"
_DELIVERY_NAMESPACE = uuid.UUID("5b0c3a52-52d6-4c55-9c3e-4f0d6f1c2a11")
"""Namespace of the drift runs' delivery ids (uuid5): the same run and installation, the same id."""


class TemplateError(PeribolosError):
    """The TriggerTemplate cannot make a TaskRun from the values given (what is wrong, by name)."""


def _escape(value: str) -> str:
    return json.dumps(value.replace("$(", "$$("))[1:-1]


def instantiate(template: Mapping[str, Any], values: Mapping[str, str], uid: str) -> list[dict[str, Any]]:
    """The resources ``template`` (a TriggerTemplate object) makes with ``values`` for its params."""
    name = (template.get("metadata") or {}).get("name", "?")
    spec = template.get("spec") or {}
    params: dict[str, str] = {}
    for declared in spec.get("params") or []:
        if isinstance(declared, Mapping) and isinstance(declared.get("default"), str):
            params[str(declared["name"])] = declared["default"]
    params.update(values)
    resources = spec.get("resourcetemplates") or []
    if not resources:
        raise TemplateError(f"TriggerTemplate {name} has no resourcetemplates")
    out = []
    for resource in resources:
        text = json.dumps(resource)
        for param, value in params.items():
            text = text.replace(f"$(tt.params.{param})", _escape(value))
        left = sorted(set(_LEFT_OVER.findall(text)))
        if left:
            raise TemplateError(
                f"TriggerTemplate {name}: no value for {', '.join(left)} (declared without a default, or not "
                "declared at all)"
            )
        out.append(json.loads(text.replace("$(uid)", uid)))
    return out


def delivery_id(run_id: str, installation_id: int) -> str:
    """The delivery id of one drift run's TaskRun for one installation: a GUID like GitHub's, the same
    for the same run and installation (a TaskRun named after it is created once)."""
    return str(uuid.uuid5(_DELIVERY_NAMESPACE, f"{run_id}/{installation_id}"))


def drift_values(
    installation: Installation, *, run_id: str, config_repo: str, config_path: str
) -> dict[str, str]:
    """The sync TriggerTemplate's params for a drift run of ``installation``: what the interceptor's
    decision carries for a push, with an empty ``revision`` and ``ref`` (the Task reads the default
    branch's head itself) and ``check_run_when: changed-or-failed``."""
    return {
        "installation_id": str(installation.id),
        "org": installation.account_login,
        "secret_name": secret_name(installation.id),
        "delivery_id": delivery_id(run_id, installation.id),
        "repo": check_repo(f"{installation.account_login}/{config_repo}"),
        "revision": "",
        "ref": "",
        "config_path": config_path,
        CHECK_RUN_WHEN_PARAM: CHANGED_OR_FAILED,
        "trigger": DRIFT_REPAIR,
    }


def mark_drift_run(taskrun: Mapping[str, Any], run_id: str) -> dict[str, Any]:
    """``taskrun`` with the drift run's marks: the label ``peribolos.dev/trigger: drift-repair``, the
    annotation naming the run, and the param ``check_run_when: changed-or-failed`` (set, or added when the
    template passes none: Tekton accepts params a Task does not declare)."""
    out = json.loads(json.dumps(taskrun))
    metadata = out.setdefault("metadata", {})
    metadata.setdefault("labels", {})[TRIGGER_LABEL] = DRIFT_REPAIR
    metadata.setdefault("annotations", {})[RUN_ANNOTATION] = run_id
    params = [
        p for p in out.setdefault("spec", {}).get("params") or [] if p.get("name") != CHECK_RUN_WHEN_PARAM
    ]
    out["spec"]["params"] = [*params, {"name": CHECK_RUN_WHEN_PARAM, "value": CHANGED_OR_FAILED}]
    return out


def drift_taskrun(
    template: Mapping[str, Any], installation: Installation, *, run_id: str, config_repo: str,
    config_path: str,
) -> dict[str, Any]:
    """The one TaskRun a drift run creates for ``installation``, from the sync TriggerTemplate."""
    values = drift_values(installation, run_id=run_id, config_repo=config_repo, config_path=config_path)
    resources = instantiate(template, values, uid=values["delivery_id"])
    taskruns = [r for r in resources if r.get("kind") == "TaskRun"]
    if len(taskruns) != 1 or len(resources) != 1:
        name = (template.get("metadata") or {}).get("name", "?")
        kinds = ", ".join(str(r.get("kind")) for r in resources)
        raise TemplateError(
            f"TriggerTemplate {name} makes {kinds or 'nothing'}; drift repair expects one TaskRun"
        )
    return mark_drift_run(taskruns[0], run_id)
