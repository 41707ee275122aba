"""``peribolos-generate``: render, validate and document the service's manifests.

Exit codes: 0 ok, 1 the manifests have problems (``validate``), 2 bad values or arguments. Every problem
is one line on stderr.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any

import click

from generator import app_manifest, docs, render, validate
from generator.errors import GeneratorError, ManifestError, ValuesError
from generator.values import defaults_text, load_values

DISTRIBUTION = "peribolos-as-a-service"
"""The package whose metadata gives ``--version``."""


def _fail_on_problems(exit_code: int) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Turn a GeneratorError into one stderr line per problem and ``exit_code``."""

    def decorate(function: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return function(*args, **kwargs)
            except ValuesError as exc:
                for problem in exc.problems:
                    click.echo(f"error: {problem}", err=True)
                sys.exit(2)
            except GeneratorError as exc:
                for problem in exc.problems:
                    click.echo(f"error: {problem}", err=True)
                sys.exit(exit_code)

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
@_fail_on_problems(2)
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
@_fail_on_problems(1)
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


@main.command("github-app-manifest")
@values_option
@set_option
@_fail_on_problems(2)
def github_app_manifest_command(values_files: tuple[Path, ...], sets: tuple[str, ...]) -> None:
    """Print the GitHub App manifest (JSON) for GitHub's App manifest flow."""
    values = load_values(values_files, sets)
    click.echo(json.dumps(app_manifest.build(values.data), indent=2))


if __name__ == "__main__":  # pragma: no cover
    main()
