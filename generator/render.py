"""Render the manifests: jinja2 templates (one per concern) → parsed objects → deterministic YAML.

Templates write every scalar through ``tojson``; the output of each template is parsed back with
``yaml.safe_load_all`` (so a template mistake fails here, not in ``kubectl apply``), the common
``app.kubernetes.io/*`` labels and the extra labels/annotations are merged into every object, and the
objects are dumped again with a fixed key order: the same values always give byte-identical output.
"""

from __future__ import annotations

import functools
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2
import yaml

from generator import endpoints, output_dir, schedule
from generator.errors import RenderError
from generator.values import DETAILS_URL_FIELDS, Values
from peribolos_core import scopes
from peribolos_core.actions import ACTIONS, CONFIG_KEYS, INSTALLATION_KEYS, ActionTable
from peribolos_core.durations import format_duration

# libyaml when present (10x faster); same safe subset of YAML either way.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

PRODUCT = "peribolos-as-a-service"
MANAGED_BY = output_dir.MANAGED_BY

# Output files in apply order; each is rendered from templates/<concern>.yaml.j2.
CONCERNS: tuple[str, ...] = (
    "namespace",
    "serviceaccounts",
    "rbac",
    "budget",
    "tasks",
    "triggers",
    "eventlistener",
    "interceptor",
    "refresher",
    "maintenance",
    "exporter",
    "networkpolicy",
    "exposure",
    "monitoring",
)
KUSTOMIZATION = output_dir.KUSTOMIZATION
# Not *.yaml: it is no manifest (and tools reading every *.yaml of the folder as one must skip it).
KUSTOMIZE_CONFIG = "kustomizeconfig.yml"

# Paths inside the containers (part of the contract with the step commands). Each token has a folder
# (a memory-backed emptyDir) of its own, mounted only into prepare, which writes it, and its consumer.
TOKEN_DIR = "/var/run/peribolos/token"  # noqa: S105 - a directory, not a secret
TOKEN_FILE = f"{TOKEN_DIR}/token"
"""peribolos' token (``--github-token-path``)."""
TOKEN_DIRS = {
    "peribolos-token": TOKEN_DIR,
    "fetch-token": "/var/run/peribolos/fetch-token",
    "report-token": "/var/run/peribolos/report-token",
}
CONFIG_DIR = "/var/run/peribolos/config"
STATE_DIR = "/var/run/peribolos/state"
GITHUB_APP_DIR = "/var/run/peribolos/github-app"
PRIVATE_KEY_FILE = f"{GITHUB_APP_DIR}/private-key.pem"
WEBHOOK_DIR = "/var/run/peribolos/webhook"
WEBHOOK_SECRET_FILE = f"{WEBHOOK_DIR}/webhook-secret"
KUBE_API_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
"""Where in-cluster config looks for the ServiceAccount token: the projected volume goes there, into the
steps that call the Kubernetes API only."""
KUBE_API_TOKEN_SECONDS = 3600

# The Triggers, TriggerTemplates and Tasks are one per wired row of the action table
# (peribolos_core.actions): names, event types, check runs and what each Task runs come from the row.
# TaskRun params are named after the interceptor's extension keys, which the bindings read.
INSTALLATION_PARAMS = INSTALLATION_KEYS
CONFIG_PARAMS = CONFIG_KEYS


# Tekton catalog annotations of every Task (https://github.com/tektoncd/catalog: minimum Pipelines version,
# search tags, the name shown in dashboards, the platforms the step images are built for).
TASK_ANNOTATIONS = {
    "tekton.dev/pipelines.minVersion": "1.15.0",
    "tekton.dev/categories": "Git",
    "tekton.dev/tags": "github, peribolos, gitops",
    "tekton.dev/platforms": "linux/amd64",
}
DEFAULT_NAMESPACE = "peribolos"


def cluster_interceptor_name(namespace: str) -> str:
    """The ClusterInterceptor is cluster-wide: named for the install's namespace, so that two installs never
    share (and re-point) one. The install in the default namespace keeps the plain name ``peribolos``."""
    return "peribolos" if namespace == DEFAULT_NAMESPACE else f"peribolos-{namespace}"


def image_ref(image: dict[str, Any]) -> str:
    """``repository@digest`` when a digest is set, else ``repository:tag``."""
    if image["digest"]:
        return f"{image['repository']}@{image['digest']}"
    return f"{image['repository']}:{image['tag']}"


@functools.cache
def _environment() -> jinja2.Environment:
    # Not HTML: the output is YAML and every scalar goes through tojson.
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("generator", "templates"),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,  # noqa: S701
    )
    env.policies["json.dumps_kwargs"] = {"sort_keys": False, "ensure_ascii": False}
    return env


def _context(values: Values, table: ActionTable) -> dict[str, Any]:
    v = values.data
    security = v["podSecurity"]
    pod_security: dict[str, Any] = {"runAsNonRoot": True}
    for key in ("runAsUser", "runAsGroup", "fsGroup"):
        if security[key] is not None:
            pod_security[key] = security[key]
    pod_security["seccompProfile"] = {"type": "RuntimeDefault"}
    container_security = {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "privileged": False,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    wired = table.wired(v["events"])
    flags = peribolos_flags(v)
    return {
        "v": v,
        "network": _network(v),
        "image": image_ref(v["image"]),
        "peribolos_image": image_ref(v["peribolosImage"]),
        "pod_security": pod_security,
        "container_security": container_security,
        "image_pull_secrets": [{"name": name} for name in v["image"]["pullSecrets"]],
        "wired": wired,
        "peribolos_flags": flags,
        "peribolos_scope": lambda action: _scope_args(flags, action.confirm),
        "task_identities": task_identities(wired),
        "required_admins_args": [f"--required-admins={login}" for login in v["peribolos"]["requiredAdmins"]],
        "check_runs_wired": any("check_run" in action.event_types for action in wired),
        "token_namespace": token_namespace(values),
        "details_url": details_url(v["checkRun"]["detailsUrl"]),
        "token_dirs": TOKEN_DIRS,
        "state_dir": STATE_DIR,
        "kube_api_dir": KUBE_API_DIR,
        "kube_api_token_seconds": KUBE_API_TOKEN_SECONDS,
        "installation_params": INSTALLATION_PARAMS,
        "config_params": CONFIG_PARAMS,
        "token_dir": TOKEN_DIR,
        "token_file": TOKEN_FILE,
        "config_dir": CONFIG_DIR,
        "github_app_dir": GITHUB_APP_DIR,
        "private_key_file": PRIVATE_KEY_FILE,
        "webhook_dir": WEBHOOK_DIR,
        "webhook_secret_file": WEBHOOK_SECRET_FILE,
        "selector": lambda component: selector_labels(values, component),
        "cluster_interceptor": cluster_interceptor_name(v["namespace"]),
        "task_annotations": TASK_ANNOTATIONS,
        "refresher_timing": refresher_timing(v["refresher"]),
        "mint_budget_env": mint_budget_env(v),
        "minting_service_accounts": minting_service_accounts(v, task_identities(wired)),
        "scrapers": scraper_peers(v["metrics"]),
    }


PERIBOLOS_SWITCHES = (
    *((fix.values_key, fix.flag) for fix in scopes.FIX_FLAGS),
    ("ignoreSecretTeams", "--ignore-secret-teams"),
    ("allowRepoArchival", "--allow-repo-archival"),
    ("allowRepoPublish", "--allow-repo-publish"),
)
"""``peribolos.<key>: true`` → the flag (the ``--fix-*`` ones from the core's table)."""


def peribolos_flags(v: dict[str, Any]) -> list[str]:
    """peribolos' command line (without ``--confirm``) from the values."""
    peribolos = v["peribolos"]
    github = endpoints.resolved(v["github"])
    flags = [
        f"--github-endpoint={github['apiUrl']}",
        f"--github-graphql-endpoint={github['graphqlUrl']}",
        f"--config-path={CONFIG_DIR}/peribolos.yaml",
        f"--github-token-path={TOKEN_FILE}",
        "--require-self=false",
        f"--min-admins={peribolos['minAdmins']}",
        f"--maximum-removal-delta={peribolos['maximumRemovalDelta']}",
    ]
    flags.extend(flag for key, flag in PERIBOLOS_SWITCHES if peribolos[key])
    flags.extend(f"--required-admins={login}" for login in peribolos["requiredAdmins"])
    flags.extend(peribolos["extraArgs"])
    return flags


def task_identities(wired: list[Any]) -> list[dict[str, Any]]:
    """The ServiceAccount of each wired Task (sync and dry-run share one) and what its Roles grant, from
    the action table: token Secret verbs (in the token namespace), org Leases when it applies the config,
    its own Pod's log when it reads peribolos' output."""
    out: dict[str, dict[str, Any]] = {}
    for action in wired:
        identity = out.setdefault(action.service_account, {
            "name": action.service_account, "actions": [], "secret_verbs": [], "rules": [], "mints": False,
        })
        identity["actions"].append(action.name)
        identity["mints"] = identity["mints"] or action.mints
        for verb in action.token_secrets:
            if verb not in identity["secret_verbs"]:
                identity["secret_verbs"].append(verb)
        wanted = []
        if action.locks:
            wanted.append({"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
                           "verbs": ["get", "create", "update"]})
        if action.reads_config:
            wanted.append({"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]})
        identity["rules"].extend(rule for rule in wanted if rule not in identity["rules"])
    return list(out.values())


def _scope_args(flags: list[str], confirm: bool) -> list[str]:
    """prepare's arguments for peribolos' token: the permissions ``flags`` need (the core's rule)."""
    permissions = scopes.peribolos_permissions(flags, confirm)
    args = [f"--peribolos-permission={name}={level}" for name, level in permissions.items()]
    if scopes.manages_repos(flags):
        args.append("--peribolos-all-repositories")
    return args


def details_url(template: str) -> str:
    """``checkRun.detailsUrl`` with its placeholders as Tekton's context variables ("" stays "")."""
    out = template
    for key, variable in DETAILS_URL_FIELDS.items():
        out = out.replace("{" + key + "}", variable)
    return out


def token_namespace(values: Values) -> str:
    """Where the token Secrets live: ``tokenNamespace``, by default ``<namespace>-tokens``."""
    return values.data["tokenNamespace"] or f"{values.data['namespace']}-tokens"


REFRESHER_SERVICE_ACCOUNT = "peribolos-refresher"


def refresher_timing(refresher: dict[str, Any]) -> dict[str, Any]:
    """The refresher's ``--interval`` (its schedule's longest gap), the Job's deadline (the value, or the
    interval + 2 minutes) and ``--max-run-time`` when that deadline is given (4/5 of it; the refresher
    itself stops minting a minute before the next run)."""
    if not refresher["enabled"]:
        return {}
    interval = schedule.longest_gap(refresher["schedule"])  # checked <= 30 minutes with the values
    deadline = refresher["activeDeadlineSeconds"]
    seconds = int(interval.total_seconds())
    timing: dict[str, Any] = {"interval": format_duration(interval), "interval_s": seconds,
                              "max_run_time": None, "active_deadline": deadline or seconds + 120}
    if deadline:
        limit = timedelta(seconds=deadline * 4 // 5)
        timing["max_run_time"] = format_duration(min(limit, interval))
    return timing


def mint_budget_env(v: dict[str, Any]) -> list[dict[str, str]]:
    """The App-wide mint budget's settings, for every container that mints (the Tasks' stepTemplate, the
    refresher)."""
    budget = v["mintBudget"]
    return [
        {"name": "MINT_BUDGET", "value": budget["configMapName"]},
        {"name": "MINT_BUDGET_NAMESPACE", "value": v["namespace"]},
        {"name": "MINT_BUDGET_PER_MINUTE", "value": str(budget["perMinute"])},
    ]


def minting_service_accounts(v: dict[str, Any], identities: list[dict[str, Any]]) -> list[str]:
    """The ServiceAccounts whose pods mint tokens: the budget's Role is bound to each (budget.yaml.j2).
    The Tasks' identities that mint come from the action table (:func:`task_identities`)."""
    names = {identity["name"] for identity in identities if identity["mints"]}
    if v["refresher"]["enabled"]:
        names.add(REFRESHER_SERVICE_ACCOUNT)
    return sorted(names)


def scraper_peers(metrics: dict[str, Any]) -> list[dict[str, Any]]:
    """NetworkPolicy peers of the Prometheus scraping the metrics ports: its namespace (and pods)."""
    if not metrics["scraperNamespace"]:
        return []
    peer: dict[str, Any] = {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": metrics["scraperNamespace"]}}
    }
    if metrics["scraperPodLabels"]:
        peer["podSelector"] = {"matchLabels": dict(metrics["scraperPodLabels"])}
    return [peer]


def _tcp(ports: list[int]) -> list[dict[str, Any]]:
    return [{"protocol": "TCP", "port": port} for port in sorted(set(ports))]


def _network(v: dict[str, Any]) -> dict[str, Any]:
    """Ports of the NetworkPolicies' egress rules."""
    api_ports = list(v["networkPolicy"]["egressPorts"])
    listener = list(api_ports)
    if v["eventListener"]["githubInterceptor"]:
        listener.append(8443)  # Tekton Triggers' core interceptors Service
    if v["interceptor"]["url"]:
        parsed = urlsplit(v["interceptor"]["url"])
        listener.append(parsed.port or (443 if parsed.scheme == "https" else 80))
    return {
        "dns": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
        "eventlistener_egress": _tcp(listener),
        "jobs_egress": _tcp(api_ports),
    }


def selector_labels(values: Values, component: str) -> dict[str, str]:
    """Labels that select one component's pods (stable across upgrades: no version in them)."""
    return {
        "app.kubernetes.io/name": PRODUCT,
        "app.kubernetes.io/instance": values.data["namespace"],
        "app.kubernetes.io/component": component,
    }


def common_labels(values: Values) -> dict[str, str]:
    """The labels every rendered object carries (its component label comes from the template)."""
    image = values.data["image"]
    version = image["tag"] or image["digest"].removeprefix("sha256:")[:12]
    labels = {
        "app.kubernetes.io/name": PRODUCT,
        "app.kubernetes.io/instance": values.data["namespace"],
        "app.kubernetes.io/part-of": PRODUCT,
        "app.kubernetes.io/managed-by": MANAGED_BY,
        "app.kubernetes.io/version": version[:63],
    }
    return labels


def _decorate(obj: dict[str, Any], values: Values) -> dict[str, Any]:
    """Merge the common labels and the extra labels/annotations into ``obj``'s metadata, in a fixed order."""
    metadata = obj.setdefault("metadata", {})
    own = metadata.get("labels") or {}
    labels = {**common_labels(values), **values.data["extraLabels"], **own}
    metadata["labels"] = dict(sorted(labels.items()))
    annotations = {**values.data["extraAnnotations"], **(metadata.get("annotations") or {})}
    if annotations:
        metadata["annotations"] = dict(sorted(annotations.items()))
    else:
        metadata.pop("annotations", None)
    return obj


def render_objects(values: Values, table: ActionTable = ACTIONS) -> dict[str, list[dict[str, Any]]]:
    """Concern → its objects (concerns with no object are left out); ``table`` is the action table."""
    env = _environment()
    context = _context(values, table)
    out: dict[str, list[dict[str, Any]]] = {}
    for concern in CONCERNS:
        name = f"{concern}.yaml.j2"
        try:
            text = env.get_template(name).render(context)
        except jinja2.TemplateError as exc:
            raise RenderError([f"template {name}: {exc}"]) from exc
        try:
            docs = [doc for doc in yaml.load_all(text, Loader=_Loader) if doc is not None]
        except yaml.YAMLError as exc:
            raise RenderError([f"template {name} rendered invalid YAML: {exc}"]) from exc
        if docs:
            out[concern] = [_decorate(doc, values) for doc in docs]
    return out


def dump(objects: list[dict[str, Any]]) -> str:
    """Multi-document YAML with the objects' key order kept (the templates fix it)."""
    return "---\n".join(
        yaml.dump(obj, Dumper=_Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True,
                  width=1_000_000)
        for obj in objects
    )


def render_stream(values: Values, table: ActionTable = ACTIONS) -> str:
    """Every object, in apply order, as one multi-document stream."""
    rendered = render_objects(values, table)
    return dump([obj for concern in CONCERNS for obj in rendered.get(concern, [])])


def kustomization(files: list[str]) -> dict[str, Any]:
    return {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": files,
        "configurations": [KUSTOMIZE_CONFIG],
    }


def kustomize_config() -> dict[str, Any]:
    """Where kustomize finds images and namespaces in the Tekton objects (it knows Kubernetes' own kinds
    only), so an overlay's ``images:`` reaches the Task steps and its ``namespace:`` the ClusterInterceptor's
    Service reference. Kustomize merges a base's configurations into every overlay built on it."""
    return {
        "images": [{"path": f"spec/{field}[]/image", "kind": "Task"} for field in ("steps", "sidecars")]
        + [{"path": "spec/stepTemplate/image", "kind": "Task"}],
        "namespace": [{"path": "spec/clientConfig/service/namespace", "kind": "ClusterInterceptor"}],
    }


def render_files(values: Values) -> dict[str, str]:
    """File name → content for ``render --output-dir``: one file per concern, kustomization.yaml and the
    kustomize configuration it names."""
    rendered = render_objects(values)
    files = {f"{concern}.yaml": dump(objects) for concern, objects in rendered.items()}
    files[KUSTOMIZATION] = dump([kustomization(list(files))])
    files[KUSTOMIZE_CONFIG] = (
        "# kustomize: the image and namespace fields of the Tekton objects (see kustomization.yaml).\n"
        + dump([kustomize_config()])
    )
    return files


def write_dir(values: Values, directory: Path, force: bool = False) -> list[Path]:
    """Write the files into ``directory`` (see :mod:`generator.output_dir` for what is refused)."""
    return output_dir.write_files(directory, render_files(values), force=force)
