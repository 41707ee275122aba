"""``peribolos-generate validate``: schema checks plus the Tekton wiring checks no schema does.

Built-in kinds are checked against the Kubernetes OpenAPI schemas shipped by ``kubernetes-validate``
(strict: unknown fields are errors, as with ``kubectl apply --validate=strict``). Tekton kinds are checked
against the ``openAPIV3Schema`` of the CustomResourceDefinitions found in ``--crd-dir`` (made strict the
same way where the CRD does not preserve unknown fields), including the TaskRuns embedded in
TriggerTemplates. The wiring checks (``check_wiring``) are pure and need no schema at all.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate.utils
import referencing
import yaml

from tekton.interceptor.decision import EXTENSION_KEYS

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
DEFAULT_KUBERNETES_VERSION = "1.32"
INTERCEPTOR_KINDS = frozenset({"ClusterInterceptor", "NamespacedInterceptor"})
# Installed by Tekton Triggers itself (core interceptors).
CORE_INTERCEPTORS = frozenset({"github", "gitlab", "bitbucket", "cel", "slack"})
MAX_ERRORS_PER_OBJECT = 20

_PARAM_REF = re.compile(r"(?<!\$)\$\(params(?:\.([A-Za-z0-9_.-]+?)|\[['\"]([^'\"]+)['\"]\])(?:\[\*\])?\)")
_TT_PARAM_REF = re.compile(r"(?<!\$)\$\(tt\.params\.([A-Za-z0-9_-]+)\)")
_STEP_REF = re.compile(r"(?<!\$)\$\(steps\.step-([A-Za-z0-9_-]+)\.")
_EXTENSION_REF = re.compile(r"\$\(extensions\.peribolos\.([A-Za-z0-9_-]+)\)")


@dataclass(frozen=True)
class Document:
    """One object of the manifests and where it came from."""

    file: str
    obj: dict[str, Any]

    @property
    def kind(self) -> str:
        return str(self.obj.get("kind", "?"))

    @property
    def name(self) -> str:
        metadata = self.obj.get("metadata") or {}
        return str(metadata.get("name") or metadata.get("generateName") or "?")

    def where(self, path: str = "") -> str:
        return f"{self.file}: {self.kind}/{self.name}" + (f": {path}" if path else "")


@dataclass
class Report:
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    """Risks that do not make the manifests wrong (exit code 0), e.g. two installs sharing an object."""
    notes: list[str] = field(default_factory=list)
    objects: int = 0
    unchecked: list[str] = field(default_factory=list)
    """apiVersion+kind of each object no schema was found for (summarised in one note)."""


# ------------------------------------------------------------------------------------------------ loading


KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")


def _kustomize_configurations(folder: Path) -> set[Path]:
    """The files a folder's kustomization lists under ``configurations:``: kustomize settings, no objects."""
    out: set[Path] = set()
    for name in KUSTOMIZATION_FILES:
        try:
            loaded = yaml.safe_load((folder / name).read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError):
            continue
        if isinstance(loaded, dict):
            out |= {folder / str(entry) for entry in loaded.get("configurations") or []}
    return out


def _manifest_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    candidates = [
        p for p in path.rglob("*") if p.suffix in (".yaml", ".yml") and p.name not in KUSTOMIZATION_FILES
    ]
    folders = {p.parent for p in candidates}
    skipped = {config for folder in folders for config in _kustomize_configurations(folder)}
    return sorted(p for p in candidates if p not in skipped)


def parse_documents(text: str, label: str) -> tuple[list[Document], list[str]]:
    """The non-empty YAML documents of one file's ``text``, and one problem per unparseable document."""
    try:
        loaded = list(yaml.load_all(text, Loader=_Loader))
    except yaml.YAMLError as exc:
        return [], [f"{label}: cannot parse: {' '.join(str(exc).split())}"]
    docs: list[Document] = []
    problems: list[str] = []
    for index, obj in enumerate(loaded):
        if obj is None:
            continue
        if not isinstance(obj, dict):
            problems.append(f"{label}: document {index + 1}: expected a mapping, got {type(obj).__name__}")
            continue
        docs.append(Document(label, obj))
    return docs, problems


def load_documents(path: Path) -> tuple[list[Document], list[str]]:
    """Every non-empty YAML document under ``path``, and one problem per unreadable file or document."""
    docs: list[Document] = []
    problems: list[str] = []
    base = path if path.is_dir() else path.parent
    for file in _manifest_files(path):
        label = str(file.relative_to(base)) if file != path else file.name
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(f"{label}: cannot read: {' '.join(str(exc).split())}")
            continue
        found, bad = parse_documents(text, label)
        docs.extend(found)
        problems.extend(bad)
    return docs, problems


def _openapi_to_jsonschema(schema: Any) -> Any:
    """A CRD's structural schema as a strict JSON Schema (unknown fields rejected, ``nullable`` honoured)."""
    if isinstance(schema, list):
        return [_openapi_to_jsonschema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: _openapi_to_jsonschema(value) for key, value in schema.items()}
    if out.get("nullable") and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    if out.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if (
        "properties" in out
        and "additionalProperties" not in out
        and not out.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


@dataclass
class CrdSchemas:
    """(apiVersion, kind) → JSON Schema, from the CRDs of a directory; which kinds each group serves."""

    schemas: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    served: dict[tuple[str, str], list[str]] = field(default_factory=dict)

    validators: dict[tuple[str, str], jsonschema.protocols.Validator] = field(default_factory=dict)

    def validator(self, api_version: str, kind: str) -> jsonschema.protocols.Validator | None:
        """A (cached) validator for the kind's schema, None when no CRD defines it."""
        key = (api_version, kind)
        if key not in self.validators and key in self.schemas:
            self.validators[key] = jsonschema.Draft7Validator(self.schemas[key])
        return self.validators.get(key)

    def knows_group(self, api_version: str, kind: str) -> bool:
        return (api_version.split("/")[0], kind) in self.served


def kubernetes_versions() -> list[str]:
    """The Kubernetes minor versions (``1.32``) whose schemas kubernetes-validate ships, oldest first."""
    known = {".".join(v.split(".")[:2]) for v in kubernetes_validate.utils.all_versions()}
    return sorted(known, key=_version_key)


class KubeSchemas:
    """Validators for the built-in kinds, from the strict OpenAPI schemas kubernetes-validate ships.

    Its ``validate()`` re-reads the shared definitions (megabytes of JSON) for every object; this keeps
    one validator per kind instead. Strict: unknown fields are errors, as with ``kubectl --validate=strict``.
    A version it has no schemas for is refused (ValueError), never checked against another version's.
    """

    def __init__(self, version: str) -> None:
        wanted = _version_key(version)[:2]
        shipped = sorted(set(kubernetes_validate.utils.all_versions()), key=_version_key)
        usable = [v for v in shipped if _version_key(v)[:2] == wanted]
        if not re.fullmatch(r"v?\d+\.\d+(\.\d+)?", version.strip()) or not usable:
            known = ", ".join(kubernetes_versions())
            raise ValueError(f"no Kubernetes schemas for {version!r}; known versions: {known}")
        self.version = usable[-1]
        schemas = resources.files("kubernetes_validate") / "kubernetes-json-schema"
        self._root = schemas / f"v{self.version}-local-strict"
        self._validators: dict[tuple[str, str], jsonschema.protocols.Validator | None] = {}
        self._registry: referencing.Registry | None = None

    def validator(self, api_version: str, kind: str) -> jsonschema.protocols.Validator | None:
        key = (api_version, kind)
        if key not in self._validators:
            # rbac.authorization.k8s.io/v1 -> rbac-v1, apps/v1 -> apps-v1, v1 -> v1
            suffix = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
            path = self._root / f"{kind.lower()}-{suffix}.json"
            if not path.is_file():
                self._validators[key] = None
            else:
                schema = json.loads(path.read_text(encoding="utf-8"))
                if self._registry is None:
                    definitions = json.loads((self._root / "_definitions.json").read_text(encoding="utf-8"))
                    self._registry = referencing.Resource.from_contents(definitions) @ referencing.Registry()
                registry = referencing.Resource.from_contents(schema) @ self._registry
                self._validators[key] = jsonschema.Draft202012Validator(schema, registry=registry)
        return self._validators[key]


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version)[:3])


def _crd_files(source: Path) -> list[Path]:
    if source.is_file():
        return [source]
    return sorted(p for p in source.rglob("*") if p.suffix in (".yaml", ".yml", ".json"))


def _objects(loaded: list[Any]) -> Iterator[dict[str, Any]]:
    """The objects of YAML documents, the items of ``kind: List`` ones (``kubectl get crd -o yaml``) too."""
    for obj in loaded:
        if isinstance(obj, dict) and str(obj.get("kind", "")).endswith("List"):
            yield from _objects(obj.get("items") or [])
        elif isinstance(obj, dict):
            yield obj


def _as_list(sources: Path | Sequence[Path] | None) -> list[Path]:
    return [] if sources is None else [sources] if isinstance(sources, Path) else list(sources)


def load_crds(sources: Path | Sequence[Path]) -> CrdSchemas:
    """The CRDs of each source: a YAML file (a Tekton release.yaml, ``kubectl get crd -o yaml``) or a
    folder of them; documents of other kinds are skipped."""
    crds = CrdSchemas()
    for file in [f for source in _as_list(sources) for f in _crd_files(source)]:
        try:
            loaded = list(yaml.load_all(file.read_text(encoding="utf-8"), Loader=_Loader))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue
        for obj in _objects(loaded):
            if obj.get("kind") != "CustomResourceDefinition":
                continue
            spec = obj.get("spec") or {}
            group, kind = spec.get("group"), (spec.get("names") or {}).get("kind")
            for version in spec.get("versions") or []:
                if not version.get("served", True):
                    continue
                crds.served.setdefault((group, kind), []).append(version["name"])
                schema = (version.get("schema") or {}).get("openAPIV3Schema")
                if schema:
                    crds.schemas[(f"{group}/{version['name']}", kind)] = _openapi_to_jsonschema(schema)
    return crds


# ------------------------------------------------------------------------------------------------ schemas


def _path(parts: Any) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else ("." if out else "") + str(part)
    return out or "(object)"


def _schema_problems(doc: Document, obj: dict[str, Any], prefix: str, crds: CrdSchemas | None,
                     kube: KubeSchemas, report: Report) -> None:
    api_version, kind = str(obj.get("apiVersion", "")), str(obj.get("kind", ""))
    validator = kube.validator(api_version, kind)
    if validator is not None:
        _report_errors(doc, prefix, validator, obj, report)
        return
    if crds is None:
        report.unchecked.append(f"{api_version} {kind}")
        return
    validator = crds.validator(api_version, kind)
    if validator is None:
        if crds.knows_group(api_version, kind):
            served = ", ".join(crds.served[(api_version.split("/")[0], kind)])
            report.problems.append(
                f"{doc.where(prefix)}: apiVersion {api_version} is not served for {kind} (served: {served})"
            )
        else:
            report.unchecked.append(f"{api_version} {kind}")
        return
    _report_errors(doc, prefix, validator, obj, report)


def _report_errors(doc: Document, prefix: str, validator: jsonschema.protocols.Validator, obj: dict[str, Any],
                   report: Report) -> None:
    errors = sorted(validator.iter_errors(obj), key=lambda e: list(map(str, e.path)))
    for error in errors[:MAX_ERRORS_PER_OBJECT]:
        report.problems.append(f"{doc.where(_path([*prefix_parts(prefix), *error.path]))}: {error.message}")


def prefix_parts(prefix: str) -> list[Any]:
    """``spec.resourcetemplates[0]`` → ["spec", "resourcetemplates", 0] (to prefix nested paths)."""
    parts: list[Any] = []
    for token in re.findall(r"[^.\[\]]+|\[\d+\]", prefix):
        parts.append(int(token[1:-1]) if token.startswith("[") else token)
    return parts


# ------------------------------------------------------------------------------------------------ wiring


def _strings(value: Any, path: list[Any]) -> Iterator[tuple[str, str]]:
    """(path, string) for every string inside ``value``."""
    if isinstance(value, str):
        yield _path(path), value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, [*path, key])
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, [*path, index])


def _params(spec_params: Any) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in spec_params or [] if isinstance(p, dict) and "name" in p}


def _check_metadata(doc: Document) -> list[str]:
    out = []
    for key in ("apiVersion", "kind"):
        if not doc.obj.get(key):
            out.append(f"{doc.where()}: missing {key}")
    if not (doc.obj.get("metadata") or {}).get("name"):
        out.append(f"{doc.where()}: missing metadata.name")
    return out


def _check_task(doc: Document) -> list[str]:
    out = []
    spec = doc.obj.get("spec") or {}
    declared = _params(spec.get("params"))
    steps = spec.get("steps") or []
    names = [step.get("name") for step in steps if isinstance(step, dict)]
    for index, name in enumerate(names):
        if not name:
            out.append(f"{doc.where(f'spec.steps[{index}]')}: a step needs a name")
        elif names.count(name) > 1 and names.index(name) == index:
            out.append(f"{doc.where(f'spec.steps[{index}].name')}: step name {name!r} is used twice")
    if not steps:
        out.append(f"{doc.where('spec.steps')}: a Task needs at least one step")
    for where, text in _strings({k: v for k, v in spec.items() if k != "params"}, ["spec"]):
        for match in _PARAM_REF.finditer(text):
            name = match.group(1) or match.group(2)
            # $(params.obj.key) reads a key of an object param.
            if name not in declared and (match.group(2) or name.split(".")[0] not in declared):
                out.append(f"{doc.where(where)}: $(params.{name}) is not declared in spec.params")
        for match in _STEP_REF.finditer(text):
            if match.group(1) not in names:
                out.append(f"{doc.where(where)}: {match.group(0)}…) names no step of this Task")
    return out


def _check_trigger_template(doc: Document, by_kind: dict[str, dict[str, Document]]) -> list[str]:
    out = []
    spec = doc.obj.get("spec") or {}
    declared = _params(spec.get("params"))
    for where, text in _strings(spec.get("resourcetemplates"), ["spec", "resourcetemplates"]):
        for match in _TT_PARAM_REF.finditer(text):
            if match.group(1) not in declared:
                name = match.group(1)
                out.append(f"{doc.where(where)}: $(tt.params.{name}) is not declared in spec.params")
    for index, resource in enumerate(spec.get("resourcetemplates") or []):
        where = f"spec.resourcetemplates[{index}]"
        if not isinstance(resource, dict):
            continue
        fixed = (resource.get("metadata") or {}).get("name")
        if isinstance(fixed, str) and not _TT_PARAM_REF.search(fixed):
            out.append(f"{doc.where(where + '.metadata.name')}: name it after the event (e.g. "
                       "$(tt.params.delivery_id)) or use generateName; a fixed name makes the second event "
                       "fail with AlreadyExists")
        if resource.get("kind") != "TaskRun":
            continue
        run = resource.get("spec") or {}
        task_name = (run.get("taskRef") or {}).get("name")
        task = by_kind.get("Task", {}).get(task_name)
        if task is None:
            if task_name and by_kind.get("Task"):
                out.append(f"{doc.where(where + '.spec.taskRef.name')}: no Task named {task_name!r}")
            continue
        task_params = _params((task.obj.get("spec") or {}).get("params"))
        given = _params(run.get("params"))
        for name in sorted(set(given) - set(task_params)):
            out.append(f"{doc.where(where + '.spec.params')}: Task {task_name} declares no param {name!r}")
        for name, param in sorted(task_params.items()):
            if name not in given and "default" not in param:
                out.append(f"{doc.where(where + '.spec.params')}: Task {task_name} needs param {name!r}")
    return out


def _check_trigger(doc: Document, trigger: dict[str, Any], where: str,
                   by_kind: dict[str, dict[str, Document]]) -> list[str]:
    out = []
    for index, interceptor in enumerate(trigger.get("interceptors") or []):
        at = f"{where}.interceptors[{index}]"
        ref = (interceptor or {}).get("ref")
        if not isinstance(ref, dict) or not ref.get("name"):
            out.append(f"{doc.where(at)}: an interceptor needs ref.name")
            continue
        kind = ref.get("kind")
        if kind not in INTERCEPTOR_KINDS:
            out.append(f"{doc.where(at + '.ref.kind')}: write the kind in full (ClusterInterceptor or "
                       f"NamespacedInterceptor), got {kind!r}; nothing defaults it without the Triggers "
                       "webhook")
            continue
        if kind == "ClusterInterceptor" and ref["name"] not in CORE_INTERCEPTORS \
                and ref["name"] not in by_kind.get("ClusterInterceptor", {}):
            out.append(f"{doc.where(at + '.ref.name')}: no ClusterInterceptor named {ref['name']!r} "
                       "(neither rendered here nor a Tekton core interceptor)")
    bound: set[str] = set()
    for index, binding in enumerate(trigger.get("bindings") or []):
        at = f"{where}.bindings[{index}]"
        if not isinstance(binding, dict):
            continue
        if binding.get("ref"):
            if binding.get("kind", "TriggerBinding") != "TriggerBinding":
                continue  # ClusterTriggerBindings live outside these manifests
            found = by_kind.get("TriggerBinding", {}).get(binding["ref"])
            if found is None:
                out.append(f"{doc.where(at + '.ref')}: no TriggerBinding named {binding['ref']!r}")
                continue
            bound |= set(_params((found.obj.get("spec") or {}).get("params")))
        elif binding.get("name"):
            bound.add(binding["name"])
    template_ref = (trigger.get("template") or {}).get("ref")
    if template_ref:
        template = by_kind.get("TriggerTemplate", {}).get(template_ref)
        if template is None:
            out.append(f"{doc.where(where + '.template.ref')}: no TriggerTemplate named {template_ref!r}")
        else:
            for name, param in sorted(_params((template.obj.get("spec") or {}).get("params")).items()):
                if name not in bound and "default" not in param:
                    out.append(f"{doc.where(where + '.bindings')}: TriggerTemplate {template_ref} param "
                               f"{name!r} is bound by no binding")
    return out


def _check_binding(doc: Document) -> list[str]:
    out = []
    for where, text in _strings((doc.obj.get("spec") or {}).get("params"), ["spec", "params"]):
        for match in _EXTENSION_REF.finditer(text):
            if match.group(1) not in EXTENSION_KEYS:
                known = ", ".join(sorted(EXTENSION_KEYS))
                out.append(f"{doc.where(where)}: the interceptor sets no extension "
                           f"peribolos.{match.group(1)} (it sets {known})")
    return out


def _check_cluster_interceptor(doc: Document) -> list[str]:
    client = (doc.obj.get("spec") or {}).get("clientConfig") or {}
    if not str(client.get("url", "")).startswith("https://"):
        return []
    out = []
    if ((doc.obj.get("metadata") or {}).get("labels") or {}).get("server/type") != "https":
        out.append(f"{doc.where('metadata.labels')}: an https:// interceptor needs the label "
                   "server/type: https")
    if not client.get("caBundle"):
        out.append(f"{doc.where('spec.clientConfig.caBundle')}: an https:// interceptor needs the CA that "
                   "signed its certificate")
    return out


def _check_rbac(doc: Document) -> list[str]:
    out = []
    for index, rule in enumerate(doc.obj.get("rules") or []):
        for key in ("apiGroups", "resources", "verbs"):
            if "*" in (rule or {}).get(key, []):
                out.append(f"{doc.where(f'rules[{index}].{key}')}: wildcard '*' grants more than any actor "
                           "of this service needs; list them")
    return out


def _check_secret_access(docs: list[Document]) -> list[str]:
    """No Role may reach Secrets where the App key lives: the namespace of the EventListener and the
    Tasks. Token Secrets live in a namespace of their own (a kustomize ``namespace:`` overlay, which moves
    both into one, is what this catches)."""
    key_namespaces = {
        str((doc.obj.get("metadata") or {}).get("namespace"))
        for doc in docs
        if doc.kind in ("EventListener", "Task")
    }
    out = []
    for doc in docs:
        namespace = (doc.obj.get("metadata") or {}).get("namespace")
        if doc.kind != "Role" or namespace not in key_namespaces:
            continue
        for index, rule in enumerate(doc.obj.get("rules") or []):
            if "secrets" in ((rule or {}).get("resources") or []):
                out.append(
                    f"{doc.where(f'rules[{index}]')}: grants Secrets in {namespace}, where the App key "
                    "Secret lives (with the EventListener and the Tasks): token Secrets belong in the token "
                    "namespace (tokenNamespace). A kustomize namespace: overlay moves both into one: render "
                    "with --set namespace=... instead"
                )
    return out


def check_wiring(docs: list[Document]) -> list[str]:
    """The checks no schema does (pure: objects in, problem lines out)."""
    by_kind: dict[str, dict[str, Document]] = {}
    for doc in docs:
        by_kind.setdefault(doc.kind, {})[doc.name] = doc
    out: list[str] = _check_secret_access(docs)
    for doc in docs:
        out.extend(_check_metadata(doc))
        if doc.kind == "Task":
            out.extend(_check_task(doc))
        elif doc.kind == "TriggerTemplate":
            out.extend(_check_trigger_template(doc, by_kind))
        elif doc.kind == "TriggerBinding":
            out.extend(_check_binding(doc))
        elif doc.kind == "Trigger":
            out.extend(_check_trigger(doc, doc.obj.get("spec") or {}, "spec", by_kind))
        elif doc.kind == "EventListener":
            for index, trigger in enumerate((doc.obj.get("spec") or {}).get("triggers") or []):
                where = f"spec.triggers[{index}]"
                if isinstance(trigger, dict) and trigger.get("triggerRef"):
                    found = by_kind.get("Trigger", {}).get(trigger["triggerRef"])
                    if found is None:
                        out.append(f"{doc.where(where + '.triggerRef')}: no Trigger named "
                                   f"{trigger['triggerRef']!r}")
                    continue
                out.extend(_check_trigger(doc, trigger or {}, where, by_kind))
        elif doc.kind in ("Role", "ClusterRole"):
            out.extend(_check_rbac(doc))
        elif doc.kind == "ClusterInterceptor":
            out.extend(_check_cluster_interceptor(doc))
    return out


# Kinds without a namespace (those an install of this service renders, and their neighbours).
CLUSTER_SCOPED = frozenset({
    "Namespace", "ClusterRole", "ClusterRoleBinding", "ClusterInterceptor", "ClusterTriggerBinding",
    "CustomResourceDefinition", "IngressClass", "PriorityClass", "StorageClass",
    "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration",
})
INSTANCE_LABEL = "app.kubernetes.io/instance"
_INTERCEPTOR_NAME = re.compile(r"^peribolos(?:-([a-z0-9](?:[-a-z0-9]*[a-z0-9])?))?$")


def _install_named(doc: Document) -> str | None:
    """The namespace of the install a cluster-wide object belongs to, by its instance label or (for the
    ClusterInterceptor) by the name the generator derives from the namespace; None when neither says."""
    labels = (doc.obj.get("metadata") or {}).get("labels") or {}
    if labels.get(INSTANCE_LABEL):
        return str(labels[INSTANCE_LABEL])
    match = _INTERCEPTOR_NAME.match(doc.name) if doc.kind == "ClusterInterceptor" else None
    return (match.group(1) or "peribolos") if match else None


def check_instance(docs: list[Document]) -> tuple[list[str], list[str]]:
    """Checks of the install as a whole (pure): (problems, warnings).

    Problem: the ClusterInterceptor calls an interceptor Service in another namespace than the one
    rendered here (a kustomize ``namespace:`` overlay on a base without its kustomizeconfig.yml).
    Warning: a cluster-wide object is named for the install of another namespace, so applying these
    manifests would take it over from that install (and deleting either removes it for both).
    """
    problems: list[str] = []
    services: dict[str, set[str]] = {}
    for doc in docs:
        if doc.kind == "Service":
            services.setdefault(doc.name, set()).add(str((doc.obj.get("metadata") or {}).get("namespace")))
    for doc in docs:
        if doc.kind != "ClusterInterceptor":
            continue
        service = ((doc.obj.get("spec") or {}).get("clientConfig") or {}).get("service") or {}
        found = services.get(str(service.get("name")))
        if found and str(service.get("namespace")) not in found:
            problems.append(
                f"{doc.where('spec.clientConfig.service.namespace')}: {service.get('namespace')!r}, but the "
                f"Service {service['name']} is in {', '.join(sorted(found))}: the EventListener would call "
                "another install's interceptor or none (an overlay's namespace: on a base without its "
                "kustomizeconfig.yml?)"
            )
    # The install's namespace: the EventListener's (its token Secrets' namespace is another one).
    namespaces = {
        str(doc.obj["metadata"]["namespace"])
        for doc in docs
        if doc.kind == "EventListener" and (doc.obj.get("metadata") or {}).get("namespace")
    } or {
        str(doc.obj["metadata"]["namespace"])
        for doc in docs
        if doc.kind not in CLUSTER_SCOPED and (doc.obj.get("metadata") or {}).get("namespace")
    }
    if len(namespaces) != 1:
        return problems, []
    (namespace,) = namespaces
    taken = [
        (doc, owner)
        for doc in docs
        if doc.kind in CLUSTER_SCOPED and doc.kind != "Namespace"
        and (owner := _install_named(doc)) not in (None, namespace)
    ]
    if not taken:
        return problems, []
    objects = ", ".join(f"{doc.kind}/{doc.name}" for doc, _ in taken)
    owners = ", ".join(sorted({str(owner) for _, owner in taken}))
    return problems, [
        f"the cluster-wide {objects} belong to the install in namespace {owners}, but these manifests "
        f"install into {namespace}: applying them takes those objects over from that install, and "
        f"`kubectl delete -k` of either removes them for both. Render with --set namespace={namespace} "
        "instead of a kustomize namespace: overlay"
    ]


def validate_path(path: Path, crd_dir: Path | Sequence[Path] | None = None,
                  kubernetes_version: str = DEFAULT_KUBERNETES_VERSION) -> Report:
    """Every check over the manifests under ``path`` (a folder or a file); ``crd_dir``: where the Tekton
    CRDs are (a folder, a release YAML, or several)."""
    docs, problems = load_documents(path)
    return validate_documents(docs, problems, crd_dir, kubernetes_version)


def validate_documents(
    docs: list[Document],
    problems: list[str],
    crd_dir: Path | Sequence[Path] | None = None,
    kubernetes_version: str = DEFAULT_KUBERNETES_VERSION,
) -> Report:
    """Every check over ``docs`` (``problems``: what loading them found already)."""
    report = Report(problems=list(problems), objects=len(docs))
    kube = KubeSchemas(kubernetes_version)
    sources = _as_list(crd_dir)
    crds = load_crds(sources) if sources else None
    if crds is not None and not crds.served:
        where = ", ".join(map(str, sources))
        report.notes.append(f"{where}: no CustomResourceDefinition found; Tekton kinds not schema-checked")
        crds = None
    for doc in docs:
        if doc.obj.get("apiVersion") and doc.obj.get("kind"):
            _schema_problems(doc, doc.obj, "", crds, kube, report)
        if doc.kind == "TriggerTemplate":
            for index, resource in enumerate((doc.obj.get("spec") or {}).get("resourcetemplates") or []):
                if isinstance(resource, dict) and resource.get("apiVersion") and resource.get("kind"):
                    embedded = copy.deepcopy(resource)
                    embedded.setdefault("metadata", {}).setdefault("name", "embedded")
                    _schema_problems(doc, embedded, f"spec.resourcetemplates[{index}]", crds, kube, report)
    report.problems.extend(check_wiring(docs))
    instance_problems, report.warnings = check_instance(docs)
    report.problems.extend(instance_problems)
    if report.unchecked:
        counts = {key: report.unchecked.count(key) for key in sorted(set(report.unchecked))}
        listed = ", ".join(f"{key} ({count})" for key, count in counts.items())
        hint = "" if crds is not None else "; pass --crds with the Tekton CRDs (a release YAML) to check them"
        report.notes.append(f"no schema for {listed}: only the wiring checks ran on them{hint}")
    return report
