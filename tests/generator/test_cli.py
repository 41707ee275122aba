"""The peribolos-generate command line: output channels, exit codes, one stderr line per problem."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from generator.cli import main
from generator.docs import values_markdown
from generator.validate import kubernetes_versions
from generator.values import defaults_text, load_schema

REPO = Path(__file__).resolve().parents[2]


def test_render_to_stdout_is_one_stream() -> None:
    result = CliRunner().invoke(main, ["render", "--set", "namespace=ops"])
    assert result.exit_code == 0, result.stderr
    docs = list(yaml.safe_load_all(result.stdout))
    assert {d["metadata"].get("namespace") for d in docs} == {"ops", "ops-tokens", None}


def test_render_to_a_directory(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["render", "--output-dir", str(tmp_path / "out")])
    assert result.exit_code == 0
    assert (tmp_path / "out" / "kustomization.yaml").exists()
    assert result.stdout == ""


def test_bad_values_exit_2_with_one_line_each(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("image: {tag: 1.2}\ninterceptor: {replicas: 0}\n")
    result = CliRunner().invoke(main, ["render", "-f", str(bad)])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f'error: {bad}: image.tag: expected a string, got 1.2 — quote it: "1.2"',
        f"error: {bad}: interceptor.replicas: expected at least 1, got 0",
    ]
    assert result.stdout == ""


def test_values_prints_the_documented_defaults() -> None:
    result = CliRunner().invoke(main, ["values"])
    assert result.stdout == defaults_text()
    assert "# " in result.stdout


def test_values_docs_cover_every_top_level_key_and_match_the_committed_file() -> None:
    result = CliRunner().invoke(main, ["values-docs"])
    for key in load_schema()["properties"]:
        assert f"## `{key}`" in result.stdout
    assert result.stdout == values_markdown()
    assert (REPO / "docs" / "values.md").read_text() == result.stdout, (
        "docs/values.md is stale: run make docs"
    )


def test_committed_deploy_matches_the_default_render(tmp_path: Path) -> None:
    """deploy/ is the golden render of the defaults: any change to the manifests shows up in review."""
    CliRunner().invoke(main, ["render", "--output-dir", str(tmp_path)])
    deploy = REPO / "deploy"
    assert sorted(p.name for p in deploy.iterdir()) == sorted(p.name for p in tmp_path.iterdir())
    for path in tmp_path.iterdir():
        assert (deploy / path.name).read_text() == path.read_text(), (
            f"deploy/{path.name} is stale: make manifests"
        )


def test_github_app_manifest_is_json() -> None:
    result = CliRunner().invoke(
        main, ["github-app-manifest", "--set", "githubApp.webhookUrl=https://h.example/"]
    )
    assert result.exit_code == 0
    assert json.loads(result.stdout)["hook_attributes"]["url"] == "https://h.example/"


def test_github_app_manifest_without_url_exits_2() -> None:
    result = CliRunner().invoke(main, ["github-app-manifest"])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: githubApp.webhookUrl: required")


@pytest.mark.parametrize("version", ["1.2", "1.40", "2.0", "latest", "1.3x"])
def test_validate_refuses_a_kubernetes_version_it_has_no_schemas_for(tmp_path: Path, version: str) -> None:
    result = CliRunner().invoke(main, ["validate", str(tmp_path), "--kubernetes-version", version])
    assert result.exit_code == 2
    known = ", ".join(kubernetes_versions())
    assert result.stderr == (
        f"error: --kubernetes-version: no Kubernetes schemas for {version!r}; known versions: {known}\n"
    )
    assert known.startswith("1.25, 1.26, ")


@pytest.mark.parametrize("version", ["1.32", "1.33.4", "v1.30"])
def test_validate_takes_a_known_minor_with_or_without_patch(tmp_path: Path, version: str) -> None:
    CliRunner().invoke(main, ["render", "--output-dir", str(tmp_path)])
    args = ["validate", str(tmp_path / "rbac.yaml"), "--kubernetes-version", version]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.stderr


def test_validate_reports_ok_on_stderr(tmp_path: Path) -> None:
    CliRunner().invoke(main, ["render", "--output-dir", str(tmp_path)])
    result = CliRunner().invoke(main, ["validate", str(tmp_path / "rbac.yaml")])
    assert result.exit_code == 0
    assert result.stderr.strip().endswith("objects valid")
