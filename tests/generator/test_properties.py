"""Properties over combinations of the switches: any valid combination renders manifests that pass
validate and carry the labels."""

from __future__ import annotations

import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from generator.render import write_dir
from generator.validate import validate_path
from generator.values import load_values

EVENTS = ("install", "uninstall", "sync", "dryRun")


def _flag(value: bool) -> str:
    return "true" if value else "false"


@st.composite
def switch_sets(draw: st.DrawFn) -> list[str]:
    events = draw(st.lists(st.sampled_from(EVENTS), min_size=1, max_size=4, unique=True))
    sets = [f"events.{name}={_flag(name in events)}" for name in EVENTS]
    for key in (
        "eventListener.githubInterceptor",
        "refresher.enabled",
        "networkPolicy.enabled",
        "createNamespace",
    ):
        sets.append(f"{key}={_flag(draw(st.booleans()))}")
    sets.append(f"interceptor.replicas={draw(st.integers(1, 4))}")
    if draw(st.booleans()):
        sets.append("interceptor.url=http://interceptor.example:9000/")
    exposure = draw(st.sampled_from(["none", "ingress"]))
    sets.append(f"exposure.type={exposure}")
    if exposure != "none":
        sets.append("exposure.host=hooks.example.com")
    if draw(st.booleans()):
        sets += ["peribolos.fixTeams=false", "peribolos.fixTeamMembers=false", "peribolos.fixTeamRepos=false"]
    orgs = draw(st.lists(st.sampled_from(["a", "b-c", "D9"]), unique=True))
    sets.append(f"allowedOrgs=[{', '.join(orgs)}]")
    return sets


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sets=switch_sets())
def test_any_valid_combination_renders_valid_labelled_manifests(sets: list[str]) -> None:
    values = load_values(sets=sets)
    with tempfile.TemporaryDirectory() as tmp:
        write_dir(values, Path(tmp))
        report = validate_path(Path(tmp))
        docs = [
            d
            for p in Path(tmp).glob("*.yaml")
            if p.name != "kustomization.yaml"
            for d in yaml.safe_load_all(p.read_text())
        ]
    assert report.problems == [], sets
    for doc in docs:
        assert doc["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "peribolos-generate"
        assert doc["metadata"]["labels"]["app.kubernetes.io/component"]
