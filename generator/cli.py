"""``peribolos-generate``: render, validate and document the service's manifests.

Exit codes: 0 ok, 1 the manifests have problems (``validate``) or GitHub did not create the App
(``github-app create``), 2 bad values or arguments. Every problem is one line on stderr.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from pathlib import Path
from typing import Any

import click

from generator import app_manifest, docs, endpoints, github_app, render, validate
from generator.errors import GeneratorError, GitHubAppError, ManifestError, ValuesError
from generator.values import defaults_text, load_values
from peribolos_core.durations import DURATION, format_duration
from peribolos_core.errors import ConfigError
from peribolos_core.http import Transport

DISTRIBUTION = "peribolos-as-a-service"
"""The package whose metadata gives ``--version``."""


def _fail_on_problems(*failures: type[GeneratorError]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Turn a GeneratorError into one stderr line per problem: exit 1 for ``failures`` (what the command
    found or met), 2 for everything else (values, arguments, an output that cannot be written)."""

    def decorate(function: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return function(*args, **kwargs)
            except GeneratorError as exc:
                for problem in exc.problems:
                    click.echo(f"error: {problem}", err=True)
                sys.exit(1 if isinstance(exc, failures) else 2)

        return wrapper

    return decorate


values_option = click.option(
    "--values", "-f", "values_files", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
    help="Values file (YAML); repeat to merge several, later files win.",
)
set_option = click.option(
    "--set", "sets", multiple=True, metavar="KEY.PATH=VALUE",
    help="Override one value; VALUE is read as YAML (repeatable, applied after the files).",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name=DISTRIBUTION, prog_name="peribolos-generate")
def main() -> None:
    """Render every manifest of Peribolos as a Service from one values file."""


@main.command("render")
@values_option
@set_option
@click.option("--output-dir", type=click.Path(path_type=Path),
              help="Write one file per concern plus kustomization.yaml here, a kustomize base (default: one "
                   "stream on stdout). A folder holding files the generator did not write is refused.")
@click.option("--force", is_flag=True,
              help="Write into an --output-dir holding other files (they are kept; a kustomization.yaml "
                   "of yours is never overwritten).")
@_fail_on_problems()
def render_command(
    values_files: tuple[Path, ...], sets: tuple[str, ...], output_dir: Path | None, force: bool
) -> None:
    """Render the manifests (kubectl apply -k DIR, or pipe the stream to kubectl apply -f -)."""
    values = load_values(values_files, sets)
    if output_dir is None:
        click.echo(render.render_stream(values), nl=False)
        return
    written = render.write_dir(values, output_dir, force=force)
    click.echo(f"wrote {len(written)} files to {output_dir}", err=True)


@main.command("values")
def values_command() -> None:
    """Print the documented default values file (a starting point for --values)."""
    click.echo(defaults_text(), nl=False)


@main.command("values-docs")
def values_docs_command() -> None:
    """Print the values reference in Markdown (docs/values.md)."""
    click.echo(docs.values_markdown(), nl=False)


@main.command("validate")
@click.argument("path", type=click.Path(exists=True, allow_dash=True, path_type=Path))
@click.option("--crds", "--crd-dir", "crds", multiple=True,
              type=click.Path(exists=True, dir_okay=True, path_type=Path),
              help="Where the Tekton Pipelines and Triggers CRDs are, to check the Tekton objects against "
                   "their schemas: a release YAML (release.yaml of each), `kubectl get crd -o yaml` of "
                   "your cluster, or a folder of CRD YAML. Repeatable. Without it the Tekton objects get "
                   "only the wiring checks.")
@click.option("--kubernetes-version", default=validate.DEFAULT_KUBERNETES_VERSION, show_default=True,
              help="Kubernetes minor version whose schemas check the built-in kinds: "
                   f"{', '.join(validate.kubernetes_versions())}.")
@_fail_on_problems(ManifestError)
def validate_command(path: Path, crds: tuple[Path, ...], kubernetes_version: str) -> None:
    """Check rendered (or hand-edited) manifests in PATH: a folder, a file, or - for a stream on stdin
    (e.g. `kubectl kustomize overlay/ | peribolos-generate validate -`). Exit 1 on any problem."""
    try:
        validate.KubeSchemas(kubernetes_version)
    except ValueError as exc:
        raise ValuesError([f"--kubernetes-version: {exc}"]) from exc
    if str(path) == "-":
        docs, problems = validate.parse_documents(sys.stdin.read(), "<stdin>")
        report = validate.validate_documents(docs, problems, list(crds), kubernetes_version)
    else:
        report = validate.validate_path(path, crd_dir=list(crds), kubernetes_version=kubernetes_version)
    for note in report.notes:
        click.echo(f"note: {note}", err=True)
    for warning in report.warnings:
        click.echo(f"warning: {warning}", err=True)
    if report.problems:
        raise ManifestError(report.problems)
    click.echo(f"{report.objects} objects valid", err=True)


@main.group("github-app")
def github_app_group() -> None:
    """Register the service's GitHub App (create) or print its manifest (manifest)."""


@click.command("manifest")
@values_option
@set_option
@_fail_on_problems()
def github_app_manifest_command(values_files: tuple[Path, ...], sets: tuple[str, ...]) -> None:
    """Print the GitHub App manifest (JSON) for GitHub's App manifest flow."""
    values = load_values(values_files, sets)
    click.echo(json.dumps(app_manifest.build(values.data), indent=2))


github_app_group.add_command(github_app_manifest_command)
# The name before `github-app manifest` existed; kept so that scripts using it go on working.
main.add_command(github_app_manifest_command, "github-app-manifest")


@github_app_group.command("create")
@values_option
@set_option
@click.option("--org", metavar="ORG", help="Organisation that will own the App (default: your user account).")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              help="Secret manifest to write, mode 0600 (default: <githubApp.secretName>.secret.yaml here).")
@click.option("--apply", "apply_secret", is_flag=True,
              help="Create the Secret in the cluster with your kubeconfig instead of writing a file.")
@click.option("--kubeconfig", type=click.Path(dir_okay=False, path_type=Path),
              help="Kubeconfig for --apply (default: $KUBECONFIG, then ~/.kube/config).")
@click.option("--port", type=click.IntRange(0, 65535), default=0,
              help="Local port of the page (default: a free one). Fix it to forward it from another machine.")
@click.option("--timeout", type=DURATION, default="15m", show_default=True,
              help="How long to wait for GitHub's redirect.")
@click.option("--force", is_flag=True, help="Replace an existing Secret (file or object).")
@_fail_on_problems(GitHubAppError)
def github_app_create_command(
    values_files: tuple[Path, ...], sets: tuple[str, ...], org: str | None, output: Path | None,
    apply_secret: bool, kubeconfig: Path | None, port: int, timeout: timedelta, force: bool,
) -> None:
    """Create the GitHub App from the values, in one browser click, and store its Secret.

    Opens a page on 127.0.0.1 that sends the App manifest to GitHub (GitHub.com or the Enterprise host
    of github.apiUrl / github.webUrl); after you press Create there, GitHub sends the browser back, the
    code is exchanged for the App id, private key and webhook secret, and they become the Secret
    githubApp.secretName in namespace: a file (mode 0600) or, with --apply, the object in your cluster.
    Nothing secret is printed.
    """
    values = load_values(values_files, sets)
    v = values.data
    manifest = app_manifest.build(v)
    github = endpoints.resolved(v["github"])
    secret_file = output or Path(f"{v['githubApp']['secretName']}.secret.yaml")
    if apply_secret:
        from peribolos_core.kube import load_core_v1  # the kubernetes client loads slowly: only here

        try:
            core_v1 = load_core_v1(str(kubeconfig) if kubeconfig else None)
        except ConfigError as exc:
            raise ValuesError([exc.message]) from exc
        in_cluster = github_app.KubeSecretStore(core_v1, force)
        in_cluster.check(github_app.secret_object(v, github_app.PLACEHOLDER))
        store = in_cluster.store
    else:
        github_app.check_output_file(secret_file, force)

        def store(obj: dict[str, Any]) -> github_app.Stored:
            return github_app.write_secret_file(secret_file, obj, force)

    def fallback(obj: dict[str, Any], exc: Exception) -> github_app.Stored:
        stored = github_app.write_fallback_file(secret_file, obj)
        click.echo(f"warning: {exc}; so the Secret is {stored.where} instead", err=True)
        return stored

    action = github_app.new_app_url(github["webUrl"], org)
    owner = f"the organisation {org}" if org else "your user account"
    with github_app.ManifestServer(manifest, action, port) as server:
        click.echo(f"Open {server.url} in your browser. It sends the App manifest to {action}, where you "
                   f"create the App {manifest['name']!r} for {owner}. Waiting up to "
                   f"{format_duration(timeout)} for GitHub's redirect (Ctrl-C stops).", err=True)
        result = github_app.run_flow(
            server, Transport(github["apiUrl"], max_retries=2),
            lambda credentials: github_app.secret_object(v, credentials), store, fallback,
            timeout.total_seconds(),
        )
    app = result.credentials
    click.echo(f"Created the GitHub App {app.name} (id {app.app_id}) {app.html_url}".rstrip(), err=True)
    secret = f"{v['namespace']}/{v['githubApp']['secretName']}"
    click.echo(f"Its Secret {secret} is {result.stored.where}.", err=True)
    if result.stored.file is not None:
        click.echo(f"Apply it, then remove the file: kubectl apply -f {result.stored.file} && "
                   f"shred -u {result.stored.file}", err=True)
    if app.html_url:
        click.echo(f"Install the App on the organisation: {app.html_url}/installations/new", err=True)


if __name__ == "__main__":  # pragma: no cover
    main()
