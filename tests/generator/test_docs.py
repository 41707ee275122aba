"""Every command in the docs runs as written.

- ``kubectl ... -l SELECTOR``: for each resource listed, the selector matches what this service makes of
  that kind (the render; the TaskRuns its TriggerTemplates create; the token Secrets, whose schema is
  peribolos_core/token_secret.py; the App Secret github-app create writes).
- ``kubectl ... TYPE/NAME`` and ``get TYPE NAME``: the object is one the service makes.
- The prune command (``kubectl apply -k ... --prune``): its allowlist holds every kind any render has but
  the Namespace (and Route, named beside it for OpenShift), its selector matches every object of the
  install and none of another install's.
- ``peribolos-generate ...``: run for real, in document order, in a folder of their own (``-k DIR`` of
  kubectl is built with ``kubectl kustomize DIR``); ``github-app create`` (it waits for a browser) is parsed.
"""

from __future__ import annotations

import re
import shlex
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
import pytest
import yaml
from click.testing import CliRunner

from generator import render
from generator.cli import main
from generator.github_app import PLACEHOLDER, secret_object
from generator.render import render_objects
from generator.values import load_values
from peribolos_core.github import Installation
from peribolos_core.leases import LABELS as LEASE_LABELS
from peribolos_core.leases import lease_body, lease_name
from peribolos_core.token_secret import build_secret
from tekton.maintenance.drift import SYNC_TEMPLATE
from tekton.maintenance.template import drift_taskrun

from .conftest import CASES, case_values
from .test_kustomize import kubectl

REPO = Path(__file__).resolve().parents[2]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
USER_DOCS = [REPO / "README.md", REPO / "docs" / "operations.md", REPO / "docs" / "values.md"]
NAMESPACE = "peribolos"

# kubectl resource names the docs use → kinds.
RESOURCES = {
    "taskruns": ["TaskRun"],
    "secrets": ["Secret"],
    "secret": ["Secret"],
    "role": ["Role"],
    "rolebinding": ["RoleBinding"],
    "clusterinterceptors": ["ClusterInterceptor"],
    "clusterinterceptor": ["ClusterInterceptor"],
    "clusterroles": ["ClusterRole"],
    "clusterrolebindings": ["ClusterRoleBinding"],
    "tasks": ["Task"],
    "eventlisteners": ["EventListener"],
    "eventlistener": ["EventListener"],
    "deploy": ["Deployment"],
    "deployment": ["Deployment"],
    "cronjob": ["CronJob"],
    "svc": ["Service"],
    "leases": ["Lease"],
    "all": ["Deployment", "Service", "CronJob", "Pod", "Job"],
}
# Made by Tekton Triggers from the EventListener, or at run time: named in the docs, not rendered.
NOT_RENDERED = {("Service", "el-peribolos"), ("Deployment", "el-peribolos")}


_PIECES = re.compile(
    r"(?P<shell>^ *```(?:sh|bash)\n.*?^ *```)|(?P<other>^ *```[a-z]*\n.*?^ *```)|`(?P<span>[^`\n]+)`",
    re.S | re.M,
)


def commands(text: str) -> Iterator[str]:
    """In document order: each line of the ```sh blocks (continuations joined), and each `inline` span
    that is a kubectl or peribolos-generate command."""
    for piece in _PIECES.finditer(text):
        if piece.group("shell"):
            body = piece.group("shell").split("\n", 1)[1].rsplit("```", 1)[0]
            yield from (line.strip() for line in body.replace("\\\n", " ").splitlines() if line.strip())
        elif piece.group("span") and piece.group("span").startswith(("kubectl ", "peribolos-generate ")):
            yield piece.group("span")


def _simple(line: str) -> Iterator[list[str]]:
    """Each simple command of a shell line (split at &&, ;, |), comments dropped."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars="&;|")
    lexer.whitespace_split = True
    lexer.commenters = "#"
    command: list[str] = []
    for token in lexer:
        if token in ("&&", ";", "|", "||"):
            if command:
                yield command
            command = []
        else:
            command.append(token)
    if command:
        yield command


def kubectl_commands() -> list[tuple[str, list[str]]]:
    found = []
    for doc in DOCS:
        text = doc.read_text()
        for line in commands(text):
            found.extend((doc.name, argv) for argv in _simple(line) if argv[0] == "kubectl")
    return found


def _selector(argv: list[str]) -> str | None:
    for index, arg in enumerate(argv):
        if arg in ("-l", "--selector"):
            return argv[index + 1]
        if arg.startswith(("-l=", "--selector=")):
            return arg.split("=", 1)[1]
    return None


def matches(selector: str, labels: dict[str, str]) -> bool:
    """Kubernetes equality-based selectors: ``k=v``, ``k==v``, ``k!=v``, ``k``, ``!k``, comma-separated."""
    for term in selector.split(","):
        if "!=" in term:
            key, value = term.split("!=", 1)
            ok = labels.get(key) != value
        elif "=" in term:
            key, value = term.split("==", 1) if "==" in term else term.split("=", 1)
            ok = labels.get(key) == value
        elif term.startswith("!"):
            ok = term[1:] not in labels
        else:
            ok = term in labels
        if not ok:
            return False
    return True


def service_objects(namespace: str = NAMESPACE) -> list[dict[str, Any]]:
    """What an install in ``namespace`` makes (drift repair on): its render, the TaskRuns, the token and App
    Secrets."""
    values = load_values(sets=[f"namespace={namespace}", "driftRepair.schedule=0 3 * * *"])
    objects = [o for group in render_objects(values).values() for o in group]
    for template in [o for o in objects if o["kind"] == "TriggerTemplate"]:
        for run in template["spec"]["resourcetemplates"]:
            labels = {
                k: v.replace("$(tt.params.installation_id)", "1001")
                for k, v in run["metadata"]["labels"].items()
            }
            objects.append(
                {"kind": run["kind"], "metadata": {"name": "run", "namespace": namespace, "labels": labels}}
            )
        if template["metadata"]["name"] == SYNC_TEMPLATE:
            org = Installation(1001, "Octo-Org", "Organization", False)
            drift = drift_taskrun(template, org, run_id="job", config_repo=".github",
                                  config_path="peribolos.yaml")
            objects.append({"kind": "TaskRun", "metadata": {
                "name": "drift", "namespace": namespace, "labels": drift["metadata"]["labels"]}})
    token = build_secret(1001, "t", datetime(2030, 1, 1, tzinfo=UTC), "Octo-Org", "Organization")
    token["metadata"]["namespace"] = render.token_namespace(values)
    objects.append(token)
    lease = lease_body(lease_name(1001), "run", datetime(2030, 1, 1, tzinfo=UTC), 1800, None, LEASE_LABELS)
    objects.append({"kind": "Lease", **lease, "metadata": {**lease["metadata"], "namespace": namespace}})
    objects.append(secret_object(values.data, PLACEHOLDER))
    for workload in [o for o in objects if o["kind"] in ("Deployment", "CronJob")]:
        spec = workload["spec"].get("jobTemplate", workload)["spec"]
        pod = {
            "kind": "Pod",
            "metadata": {"name": "pod", "namespace": namespace, **spec["template"]["metadata"]},
        }
        objects.append(pod)
    return objects


def _in(namespace: str | None, obj: dict[str, Any]) -> bool:
    return namespace is None or obj["metadata"].get("namespace") in (None, namespace)


def _namespace(argv: list[str]) -> str | None:
    for flag in ("-n", "--namespace"):
        if flag in argv:
            return argv[argv.index(flag) + 1]
    return None


def _resources_and_names(argv: list[str]) -> tuple[list[str], list[str]]:
    """The resource list after get/delete, and the objects named: TYPE/NAME, ``get TYPE NAME``,
    ``--from=TYPE/NAME``."""
    argv = argv[: argv.index(">")] if ">" in argv else argv
    valued = ("-n", "-l", "-f", "-k", "-o", "-c")
    words = [a for i, a in enumerate(argv) if i and not a.startswith("-") and argv[i - 1] not in valued]
    if words[:1] == ["kustomize"]:
        return [], []
    named = [a for a in words if re.fullmatch(r"[a-z]+/[a-z0-9][-a-z0-9]*", a)]
    named += [a.split("=", 1)[1] for a in argv if a.startswith("--from=")]
    resources: list[str] = []
    if words[:1] in (["get"], ["delete"]) and len(words) > 1:
        resources = words[1].split(",")
        named += [f"{words[1]}/{name}" for name in words[2:] if "<" not in name]
    return resources, named


COMMANDS = kubectl_commands()


def test_the_docs_hold_kubectl_commands_with_selectors() -> None:
    assert sum(1 for _, argv in COMMANDS if _selector(argv)) >= 8


@pytest.mark.parametrize(
    ("doc", "argv"),
    [pytest.param(doc, argv, id=f"{doc}:{' '.join(argv)[:90]}") for doc, argv in COMMANDS if _selector(argv)],
)
def test_every_selector_in_the_docs_matches_what_it_lists(doc: str, argv: list[str]) -> None:
    selector = _selector(argv)
    assert selector
    if "--prune" in argv:
        return  # the prune command has its own test
    resources, _ = _resources_and_names(argv)
    assert resources, f"{doc}: no resource list in {' '.join(argv)}"
    objects = [o for o in service_objects() if _in(_namespace(argv), o)]
    for resource in resources:
        assert resource in RESOURCES, f"{doc}: add kubectl's resource {resource!r} to RESOURCES"
        kinds = RESOURCES[resource]
        hits = [
            o for o in objects if o["kind"] in kinds and matches(selector, o["metadata"].get("labels") or {})
        ]
        assert hits, f"{doc}: `{' '.join(argv)}` selects no {'/'.join(kinds)} of this service"


@pytest.mark.parametrize(
    ("doc", "argv"),
    [
        pytest.param(doc, argv, id=f"{doc}:{' '.join(argv)[:90]}")
        for doc, argv in COMMANDS
        if _resources_and_names(argv)[1]
    ],
)
def test_every_object_the_docs_name_is_one_the_service_makes(doc: str, argv: list[str]) -> None:
    objects = service_objects()
    known = {(o["kind"], o["metadata"]["name"]) for o in objects} | NOT_RENDERED
    for reference in _resources_and_names(argv)[1]:
        resource, name = reference.split("/", 1)
        if resource in ("job", "pod"):
            continue  # made at run time (kubectl create job, TaskRun pods)
        assert resource in RESOURCES, f"{doc}: add kubectl's resource {resource!r} to RESOURCES"
        assert any((kind, name) in known for kind in RESOURCES[resource]), f"{doc}: no {reference} is made"


def _prune() -> list[str]:
    (argv,) = [argv for _, argv in COMMANDS if "--prune" in argv]
    return argv


def _gvk(obj: dict[str, Any]) -> str:
    group, _, version = obj["apiVersion"].rpartition("/")
    return f"{group or 'core'}/{version}/{obj['kind']}"


def test_the_prune_command_is_complete_and_touches_only_this_install() -> None:
    argv = _prune()
    allowlist = {a.split("=", 1)[1] for a in argv if a.startswith("--prune-allowlist=")}
    rendered = {
        _gvk(o) for case in CASES for group in render_objects(case_values(case)).values() for o in group
    }
    # Never pruned: the Namespace, and Secrets (the App's and the token Secrets live beside the rendered
    # peribolos-eventlistener-env, which therefore stays when a render drops it).
    # Named beside the command: OpenShift's Route, prometheus-operator's kinds (only where their CRDs exist).
    beside = {"route.openshift.io/v1/Route", "monitoring.coreos.com/v1/ServiceMonitor",
              "monitoring.coreos.com/v1/PodMonitor", "monitoring.coreos.com/v1/PrometheusRule"}
    assert rendered - allowlist <= {"core/v1/Namespace", "core/v1/Secret"} | beside
    assert {"core/v1/Namespace", "core/v1/Secret", "route.openshift.io/v1/Route"} <= rendered - allowlist
    operations = (REPO / "docs" / "operations.md").read_text()
    assert all(f"--prune-allowlist={kind}" in operations for kind in beside)
    assert not {a for a in allowlist if a.endswith(("/Secret", "/Namespace"))}
    selector = _selector(argv)
    assert selector
    ours = [o for group in render_objects(case_values("defaults")).values() for o in group]
    assert all(matches(selector, o["metadata"]["labels"]) for o in ours), "kubectl apply -l would skip some"
    others = [o for o in service_objects("team-b") if o["metadata"].get("labels")]
    assert not [o for o in others if matches(selector, o["metadata"]["labels"])]
    tokens = [o for o in service_objects() if o["kind"] in ("Secret", "TaskRun") and o not in ours]
    assert not [o for o in tokens if matches(selector, o["metadata"]["labels"])]


# ------------------------------------------------------------------------------ peribolos-generate, run


def _typical_values() -> str:
    text = (REPO / "docs" / "operations.md").read_text()
    match = re.search(r"A typical file sets[^\n]*\n\n *```yaml\n(.*?)```", text, re.S)
    assert match, "operations.md: the typical values file is gone"
    return "\n".join(line.strip() for line in match.group(1).splitlines()) + "\n"


def _overlays(text: str, folder: Path) -> None:
    """Write each ```yaml block whose first line names its file (``# overlays/prod/kustomization.yaml``)."""
    for block in re.findall(r"^ *```yaml\n(.*?)^ *```", text, re.S | re.M):
        first, _, rest = block.partition("\n")
        if first.startswith("# ") and first.endswith(".yaml"):
            path = folder / first[2:].strip()
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(rest)


def _parse_only(args: list[str]) -> None:
    ctx = main.make_context("peribolos-generate", list(args))
    command: click.Command = main
    while isinstance(command, click.Group):
        name, found, rest = command.resolve_command(ctx, [*ctx._protected_args, *ctx.args])
        assert found is not None and name
        command = found
        ctx = command.make_context(name, rest, parent=ctx)


def _kustomize_target(argv: list[str]) -> str | None:
    """The folder kubectl builds (``-k DIR``, ``kustomize DIR``); None for other commands (and for a
    bare ``kubectl apply -k`` in prose)."""
    if "-k" in argv[:-1]:
        return argv[argv.index("-k") + 1]
    return argv[2] if argv[1:2] == ["kustomize"] and len(argv) > 2 else None


def _run_line(line: str, folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """One documented shell line: peribolos-generate for real, kubectl -k as a kustomize build."""
    stdin = ""
    for argv in _simple(line):
        redirect = None
        if ">" in argv:
            redirect = folder / argv[argv.index(">") + 1]
            argv = argv[: argv.index(">")]
        if argv[0] == "kubectl":
            target = _kustomize_target(argv)
            if target is None:
                stdin = ""
                if redirect is not None:  # kubectl get crd -o yaml > crds.yaml: what a cluster would give
                    redirect.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": []}))
                continue
            done = subprocess.run(
                [kubectl(), "kustomize", target],
                cwd=folder,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            assert done.returncode == 0, f"`{line}`: kubectl kustomize {target}: {done.stderr}"
            stdin = done.stdout
            continue
        if argv[0] != "peribolos-generate":
            continue  # make, pipx, shred...: not this test's business
        if argv[1:3] == ["github-app", "create"]:
            _parse_only(argv[1:])
            continue
        monkeypatch.chdir(folder)
        result = CliRunner().invoke(main, argv[1:], input=stdin)
        assert result.exit_code == 0, f"`{line}` exited {result.exit_code}: {result.stderr}"
        stdin = result.stdout
        if redirect is not None:
            redirect.write_text(result.stdout)
            if argv[1:] == ["values"]:  # the docs say: edit it; the typical file is what they show
                redirect.write_text(_typical_values())


@pytest.mark.parametrize("doc", [pytest.param(d, id=d.name) for d in USER_DOCS])
def test_every_generator_command_in_the_docs_runs_as_written(
    doc: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = doc.read_text()
    _overlays(text, tmp_path)
    ran = 0
    for line in commands(text):
        if line.startswith("peribolos-generate ") and " -" not in line and ">" not in line:
            continue  # a bare `peribolos-generate render` in prose
        _run_line(line, tmp_path, monkeypatch)
        ran += "peribolos-generate " in line
    assert ran >= (2 if doc.name == "values.md" else 4)


def test_the_changelog_keeps_a_changelog_with_the_released_version_and_unreleased_work() -> None:
    from importlib import metadata

    text = (REPO / "CHANGELOG.md").read_text()
    headings = re.findall(r"^## \[([^\]]+)\]", text, re.M)
    assert headings[0] == "Unreleased"
    assert metadata.version("peribolos-as-a-service") in headings
    for section in re.split(r"^## ", text, flags=re.M)[1:]:
        kinds = re.findall(r"^### (\w+)", section, re.M)
        assert kinds and set(kinds) <= {
            "Added",
            "Changed",
            "Deprecated",
            "Removed",
            "Fixed",
            "Security",
            "Upgrading",
        }
