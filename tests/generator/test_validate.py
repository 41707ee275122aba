"""validate: schema problems and the wiring checks no schema does, one line per problem, exit 1."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from generator.cli import main
from generator.render import render_objects
from generator.validate import Document, check_wiring, validate_path

from .conftest import case_values, tekton_crd_dir

Objects = dict[str, list[dict[str, Any]]]


def _obj(objects: Objects, kind: str, name: str) -> dict[str, Any]:
    return next(
        o for group in objects.values() for o in group if o["kind"] == kind and o["metadata"]["name"] == name
    )


def _step(objects: Objects, task: str, step: str) -> dict[str, Any]:
    return next(s for s in _obj(objects, "Task", task)["spec"]["steps"] if s["name"] == step)


def _trigger(objects: Objects, name: str) -> dict[str, Any]:
    listener = _obj(objects, "EventListener", "peribolos")
    return next(t for t in listener["spec"]["triggers"] if t["name"] == name)


def _write(objects: Objects, directory: Path) -> Path:
    for concern, group in objects.items():
        (directory / f"{concern}.yaml").write_text(yaml.safe_dump_all(group, sort_keys=False))
    return directory


def _mutate_undeclared_param(o: Objects) -> None:
    _step(o, "peribolos-sync", "fetch-config")["command"][5] = "$(params.repository)"


def _mutate_undeclared_tt_param(o: Objects) -> None:
    run = _obj(o, "TriggerTemplate", "peribolos-install")["spec"]["resourcetemplates"][0]
    run["metadata"]["annotations"]["peribolos.dev/delivery-id"] = "$(tt.params.delivery)"


def _mutate_unbound_template_param(o: Objects) -> None:
    _trigger(o, "peribolos-sync")["bindings"].pop()  # drop peribolos-config


def _mutate_interceptor_without_kind(o: Objects) -> None:
    del _trigger(o, "peribolos-install")["interceptors"][1]["ref"]["kind"]


def _mutate_unknown_cluster_interceptor(o: Objects) -> None:
    _trigger(o, "peribolos-install")["interceptors"][1]["ref"]["name"] = "peribolos-typo"


def _mutate_unknown_extension(o: Objects) -> None:
    _obj(o, "TriggerBinding", "peribolos-config")["spec"]["params"][0]["value"] = (
        "$(extensions.peribolos.repository)"
    )


def _mutate_run_param_not_in_task(o: Objects) -> None:
    run = _obj(o, "TriggerTemplate", "peribolos-uninstall")["spec"]["resourcetemplates"][0]["spec"]
    run["params"].append({"name": "secret", "value": "$(tt.params.secret_name)"})


def _mutate_run_missing_task_param(o: Objects) -> None:
    run = _obj(o, "TriggerTemplate", "peribolos-dry-run")["spec"]["resourcetemplates"][0]["spec"]
    run["params"] = [p for p in run["params"] if p["name"] != "revision"]


def _mutate_fixed_taskrun_name(o: Objects) -> None:
    run = _obj(o, "TriggerTemplate", "peribolos-sync")["spec"]["resourcetemplates"][0]
    run["metadata"]["name"] = "peribolos-sync"


def _mutate_step_without_name(o: Objects) -> None:
    del _step(o, "peribolos-install", "install")["name"]


def _mutate_unknown_step_ref(o: Objects) -> None:
    command = _step(o, "peribolos-dry-run", "report")["command"]
    at = command.index("$(steps.step-peribolos.exitCode.path)")
    command[at] = "$(steps.step-run-peribolos.exitCode.path)"


def _mutate_wildcard_verb(o: Objects) -> None:
    _obj(o, "Role", "peribolos-sync")["rules"][0]["verbs"] = ["*"]


def _mutate_unknown_field(o: Objects) -> None:
    _obj(o, "Deployment", "peribolos-interceptor")["spec"]["template"]["spec"]["containers"][0][
        "imagePolicy"
    ] = "x"


def _mutate_wrong_type(o: Objects) -> None:
    _obj(o, "Deployment", "peribolos-interceptor")["spec"]["replicas"] = "two"


def _mutate_missing_name(o: Objects) -> None:
    del _obj(o, "ServiceAccount", "peribolos-refresher")["metadata"]["name"]


def _mutate_unknown_template(o: Objects) -> None:
    _trigger(o, "peribolos-uninstall")["template"]["ref"] = "peribolos-remove"


def _mutate_unknown_binding(o: Objects) -> None:
    _trigger(o, "peribolos-uninstall")["bindings"][0]["ref"] = "peribolos-install-binding"


EL = "eventlistener.yaml: EventListener/peribolos: "
TT = "triggers.yaml: TriggerTemplate/"
TB = "triggers.yaml: TriggerBinding/"
DEPLOY = "interceptor.yaml: Deployment/peribolos-interceptor: "

CASES: list[tuple[str, Callable[[Objects], None], list[str]]] = [
    (
        "undeclared-task-param",
        _mutate_undeclared_param,
        [
            "tasks.yaml: Task/peribolos-sync: spec.steps[1].command[5]: $(params.repository) is not declared "
            "in "
            "spec.params"
        ],
    ),
    (
        "undeclared-tt-param",
        _mutate_undeclared_tt_param,
        [
            TT + "peribolos-install: spec.resourcetemplates[0].metadata.annotations."
            "peribolos.dev/delivery-id: $(tt.params.delivery) is not declared in spec.params"
        ],
    ),
    (
        "template-param-unbound",
        _mutate_unbound_template_param,
        [
            EL + f"spec.triggers[2].bindings: TriggerTemplate peribolos-sync "
            f"param {name!r} is bound by no binding"
            for name in ("config_path", "ref", "repo", "revision")
        ],
    ),
    (
        "interceptor-ref-without-kind",
        _mutate_interceptor_without_kind,
        [
            EL + "spec.triggers[0].interceptors[1].ref.kind: write the kind "
            "in full (ClusterInterceptor or NamespacedInterceptor), got None; nothing defaults it without "
            "the "
            "Triggers webhook"
        ],
    ),
    (
        "unknown-cluster-interceptor",
        _mutate_unknown_cluster_interceptor,
        [
            EL + "spec.triggers[0].interceptors[1].ref.name: no "
            "ClusterInterceptor named 'peribolos-typo' (neither rendered here nor a Tekton core interceptor)"
        ],
    ),
    (
        "unknown-extension-key",
        _mutate_unknown_extension,
        [
            TB + "peribolos-config: spec.params[0].value: the interceptor sets no extension "
            "peribolos.repository (it sets action, config_path, delivery_id, installation_id, org, ref, "
            "repo, "
            "revision, secret_name)"
        ],
    ),
    (
        "taskrun-param-not-in-task",
        _mutate_run_param_not_in_task,
        [
            TT + "peribolos-uninstall: spec.resourcetemplates[0].spec.params: Task "
            "peribolos-uninstall declares no param 'secret'"
        ],
    ),
    (
        "taskrun-misses-task-param",
        _mutate_run_missing_task_param,
        [
            TT + "peribolos-dry-run: spec.resourcetemplates[0].spec.params: Task "
            "peribolos-dry-run needs param 'revision'"
        ],
    ),
    (
        "fixed-taskrun-name",
        _mutate_fixed_taskrun_name,
        [
            TT + "peribolos-sync: spec.resourcetemplates[0].metadata.name: name it after the event (e.g. "
            "$(tt.params.delivery_id)) or use generateName; a fixed name makes the second event fail with "
            "AlreadyExists"
        ],
    ),
    (
        "step-without-name",
        _mutate_step_without_name,
        ["tasks.yaml: Task/peribolos-install: spec.steps[0]: a step needs a name"],
    ),
    (
        "unknown-step-ref",
        _mutate_unknown_step_ref,
        [
            "tasks.yaml: Task/peribolos-dry-run: spec.steps[3].command[13]: $(steps.step-run-peribolos.…) "
            "names no "
            "step of this Task"
        ],
    ),
    (
        "wildcard-verb",
        _mutate_wildcard_verb,
        [
            "rbac.yaml: Role/peribolos-sync: rules[0].verbs: wildcard '*' grants more than any actor of "
            "this "
            "service needs; list them"
        ],
    ),
    (
        "kubernetes-unknown-field",
        _mutate_unknown_field,
        [
            DEPLOY + "spec.template.spec.containers[0]: Additional "
            "properties are not allowed ('imagePolicy' was unexpected)"
        ],
    ),
    (
        "kubernetes-wrong-type",
        _mutate_wrong_type,
        [DEPLOY + "spec.replicas: 'two' is not of type 'integer', 'null'"],
    ),
    (
        "missing-metadata-name",
        _mutate_missing_name,
        ["serviceaccounts.yaml: ServiceAccount/?: missing metadata.name"],
    ),
    (
        "unknown-template",
        _mutate_unknown_template,
        [EL + "spec.triggers[1].template.ref: no TriggerTemplate named 'peribolos-remove'"],
    ),
    (
        "unknown-binding",
        _mutate_unknown_binding,
        [
            EL + "spec.triggers[1].bindings[0].ref: no TriggerBinding named 'peribolos-install-binding'",
            *(
                EL + f"spec.triggers[1].bindings: TriggerTemplate "
                f"peribolos-uninstall param {name!r} is bound by no binding"
                for name in ("delivery_id", "installation_id", "org", "secret_name")
            ),
        ],
    ),
]


@pytest.mark.parametrize(("mutate", "expected"), [pytest.param(m, e, id=i) for i, m, e in CASES])
def test_each_broken_wiring_is_one_precise_problem(
    tmp_path: Path, mutate: Callable[[Objects], None], expected: list[str]
) -> None:
    objects = copy.deepcopy(render_objects(case_values("defaults")))
    mutate(objects)
    report = validate_path(_write(objects, tmp_path))
    assert sorted(report.problems) == sorted(expected)


def test_cli_exits_1_with_one_line_per_problem(tmp_path: Path) -> None:
    objects = copy.deepcopy(render_objects(case_values("defaults")))
    _mutate_wildcard_verb(objects)
    _mutate_interceptor_without_kind(objects)
    result = CliRunner().invoke(main, ["validate", str(_write(objects, tmp_path))])
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 2


def test_unparseable_and_non_mapping_documents(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("kind: [\n")
    (tmp_path / "b.yaml").write_text("- just\n- a list\n")
    report = validate_path(tmp_path)
    assert len(report.problems) == 2
    assert report.problems[0].startswith("a.yaml: cannot parse: ")
    assert report.problems[1] == "b.yaml: document 1: expected a mapping, got list"


def _crd(group: str, kind: str, versions: dict[str, dict[str, Any] | None]) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{kind.lower()}s.{group}"},
        "spec": {
            "group": group,
            "names": {"kind": kind, "plural": f"{kind.lower()}s"},
            "scope": "Cluster",
            "versions": [
                {
                    "name": name,
                    "served": True,
                    "storage": True,
                    **({"schema": {"openAPIV3Schema": schema}} if schema else {}),
                }
                for name, schema in versions.items()
            ],
        },
    }


def test_crd_schemas_check_versions_and_unknown_fields(tmp_path: Path) -> None:
    """A CRD dir (here a hand-written one) catches unserved apiVersions and unknown fields strictly."""
    crds = tmp_path / "crds"
    crds.mkdir()
    strict = {
        "type": "object",
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": {
                "type": "object",
                "properties": {
                    "clientConfig": {
                        "type": "object",
                        "properties": {
                            "url": {"type": "string"},
                            "service": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                        },
                    }
                },
            },
        },
    }
    (crds / "ci.yaml").write_text(
        yaml.safe_dump(_crd("triggers.tekton.dev", "ClusterInterceptor", {"v1alpha1": strict}))
    )
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    good = {
        "apiVersion": "triggers.tekton.dev/v1alpha1",
        "kind": "ClusterInterceptor",
        "metadata": {"name": "a"},
        "spec": {"clientConfig": {"service": {"name": "x", "anything": 1}}},
    }
    wrong_version = {
        **copy.deepcopy(good),
        "apiVersion": "triggers.tekton.dev/v1beta1",
        "metadata": {"name": "b"},
    }
    unknown = copy.deepcopy(good)
    unknown["metadata"] = {"name": "c"}
    unknown["spec"]["clientConfig"]["uri"] = "http://x"
    (manifests / "all.yaml").write_text(yaml.safe_dump_all([good, wrong_version, unknown]))
    report = validate_path(manifests, crd_dir=crds)
    assert report.problems == [
        "all.yaml: ClusterInterceptor/b: apiVersion triggers.tekton.dev/v1beta1 is not served for "
        "ClusterInterceptor (served: v1alpha1)",
        "all.yaml: ClusterInterceptor/c: spec.clientConfig: Additional properties are not allowed "
        "('uri' was unexpected)",
    ]


def test_without_crds_tekton_kinds_get_only_the_wiring_checks_and_a_note(tmp_path: Path) -> None:
    objects = render_objects(case_values("defaults"))
    report = validate_path(_write(copy.deepcopy(objects), tmp_path), crd_dir=None)
    assert report.problems == []
    assert len(report.notes) == 1 and "pass --crds" in report.notes[0]


@pytest.mark.parametrize(
    ("reference", "problem"),
    [
        pytest.param("$(params.o.key)", False, id="object-param-key"),
        pytest.param('$(params["a.b"])', False, id="bracket-name-with-dot"),
        pytest.param("$(params.list[*])", False, id="array-expansion"),
        pytest.param("$$(params.escaped)", False, id="escaped"),
        pytest.param("$(params.nope.key)", True, id="undeclared-object"),
        pytest.param("$(params['nope'])", True, id="undeclared-bracket"),
    ],
)
def test_param_reference_forms(reference: str, problem: bool) -> None:
    from generator.validate import Document

    task = {
        "apiVersion": "tekton.dev/v1",
        "kind": "Task",
        "metadata": {"name": "t"},
        "spec": {
            "params": [{"name": "o", "type": "object"}, {"name": "a.b"}, {"name": "list", "type": "array"}],
            "steps": [{"name": "s", "image": "x", "args": [reference]}],
        },
    }
    problems = check_wiring([Document("t.yaml", task)])
    assert bool(problems) is problem, problems


def test_wiring_checks_are_pure() -> None:
    from generator.validate import Document

    docs = [
        Document("x.yaml", o) for group in render_objects(case_values("dry-run-only")).values() for o in group
    ]
    assert check_wiring(docs) == []


@pytest.mark.e2e
def test_rendered_defaults_pass_the_real_tekton_crd_schemas(tmp_path: Path) -> None:
    """With the Tekton Pipelines and Triggers CRDs `make e2e-tools` extracts from their Go modules."""
    crd_dir = tekton_crd_dir()
    assert crd_dir is not None, "no Tekton CRDs: run `make e2e-tools` first"
    for case in ("defaults", "ghes-ingress", "external-interceptor"):
        objects = render_objects(case_values(case))
        out = tmp_path / case
        out.mkdir()
        report = validate_path(_write(copy.deepcopy(objects), out), crd_dir=crd_dir)
        assert report.problems == [], case
        assert report.notes == [] or all("route.openshift.io" in note for note in report.notes), report.notes


def _interceptor_crd() -> dict[str, Any]:
    schema = {
        "type": "object",
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": {"type": "object", "properties": {"clientConfig": {"type": "object"}}},
        },
    }
    return _crd("triggers.tekton.dev", "ClusterInterceptor", {"v1alpha1": schema})


@pytest.mark.parametrize(
    "layout",
    [
        pytest.param("release-yaml", id="release-yaml-with-other-kinds"),
        pytest.param("kubectl-get-crd-list", id="kubectl-get-crd-o-yaml"),
        pytest.param("folder", id="folder"),
    ],
)
def test_crds_come_from_a_release_yaml_a_crd_list_or_a_folder(tmp_path: Path, layout: str) -> None:
    """Where users get the CRDs: Tekton's release.yaml, their cluster (kubectl get crd -o yaml), a folder."""
    crd = _interceptor_crd()
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "tekton-triggers"}}
    if layout == "release-yaml":
        source = tmp_path / "release.yaml"
        source.write_text(yaml.safe_dump_all([{"kind": "Namespace"}, crd, deployment]))
    elif layout == "kubectl-get-crd-list":
        source = tmp_path / "crds.yaml"
        source.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": [crd]}))
    else:
        source = tmp_path / "crds"
        source.mkdir()
        (source / "a.yaml").write_text(yaml.safe_dump(crd))
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    bad = {
        "apiVersion": "triggers.tekton.dev/v1alpha1",
        "kind": "ClusterInterceptor",
        "metadata": {"name": "x"},
        "spec": {"clientConfig": {}, "typo": 1},
    }
    (manifests / "x.yaml").write_text(yaml.safe_dump(bad))
    result = CliRunner().invoke(main, ["validate", str(manifests), "--crds", str(source)])
    assert result.exit_code == 1
    assert result.stderr == (
        "error: x.yaml: ClusterInterceptor/x: spec: Additional properties are not allowed ('typo' was "
        "unexpected)\n"
    )


def test_crds_have_no_default_from_the_test_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A newcomer has no $E2E_CACHE: what validate checks must not depend on the test tools' cache."""
    crds = tmp_path / "cache" / "crds"
    crds.mkdir(parents=True)
    (crds / "ci.yaml").write_text(yaml.safe_dump(_interceptor_crd()))
    monkeypatch.setenv("E2E_CACHE", str(tmp_path / "cache"))
    CliRunner().invoke(main, ["render", "--output-dir", str(tmp_path / "out")])
    result = CliRunner().invoke(main, ["validate", str(tmp_path / "out")])
    assert result.exit_code == 0
    assert "pass --crds with the Tekton CRDs (a release YAML) to check them" in result.stderr


def _docs(*sets: str) -> list[Document]:
    from generator.values import load_values

    objects = render_objects(load_values(sets=list(sets)))
    return [Document(f"{concern}.yaml", o) for concern, group in objects.items() for o in group]


def _set_namespace(docs: list[Document], namespace: str, *, service_too: bool) -> list[Document]:
    """What a kustomize namespace: overlay does (with or without the base's kustomizeconfig.yml)."""
    out = []
    for doc in docs:
        obj = copy.deepcopy(doc.obj)
        if obj["metadata"].get("namespace"):
            obj["metadata"]["namespace"] = namespace
        if obj["kind"] == "ClusterInterceptor" and service_too:
            obj["spec"]["clientConfig"]["service"]["namespace"] = namespace
        out.append(Document(doc.file, obj))
    return out


def test_instance_checks_pass_on_every_render() -> None:
    from generator.validate import check_instance

    for sets in ([], ["namespace=team-a"], ["namespace=team-b", "interceptor.url=http://127.0.0.1:1/"]):
        assert check_instance(_docs(*sets)) == ([], []), sets


def test_a_namespace_overlay_without_the_service_reference_is_a_problem_and_a_takeover_warning() -> None:
    from generator.validate import check_instance

    problems, warnings = check_instance(_set_namespace(_docs(), "team-a", service_too=False))
    assert problems == [
        "interceptor.yaml: ClusterInterceptor/peribolos: spec.clientConfig.service.namespace: 'peribolos', "
        "but the Service peribolos-interceptor is in team-a: the EventListener would call another install's "
        "interceptor or none (an overlay's namespace: on a base without its kustomizeconfig.yml?)"
    ]
    (warning,) = warnings
    assert "ClusterInterceptor/peribolos belong to the install in namespace peribolos" in warning
    problems, warnings = check_instance(_set_namespace(_docs(), "team-a", service_too=True))
    assert problems == [] and len(warnings) == 1


def test_a_cluster_interceptor_named_for_another_install_is_a_warning_even_without_labels() -> None:
    from generator.validate import check_instance

    docs = _docs("namespace=team-a")
    for doc in docs:
        if doc.kind == "ClusterInterceptor":
            doc.obj["metadata"]["labels"].pop("app.kubernetes.io/instance")
            doc.obj["metadata"]["name"] = "peribolos"
    (warning,) = check_instance(docs)[1]
    assert warning.startswith(
        "the cluster-wide ClusterInterceptor/peribolos belong to the install in namespace peribolos, but "
        "these manifests install into team-a"
    )
