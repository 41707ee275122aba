"""The bootstrap export: how many GitHub requests, how long and how much memory reading an org and writing
its peribolos config takes, from a small org to one the size of the largest real config we know.

Each row builds the org in the fake GitHub (on loopback), reads it through the installation client as the
bootstrap step does (``org_export.read_org``), and exports it (pure). Printed, never asserted.
``python -m tests.bench bootstrap``.
"""

from __future__ import annotations

import time
import tracemalloc
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import rsa

from peribolos_core.github import GitHubApp, GitHubInstallationClient
from tekton.steps import org_export
from tekton.steps.org_export import ExportOptions
from tekton.steps.peribolos_config import check
from tests.fakes.fixtures import APP_ID
from tests.fakes.github import FakeGitHub, FakeTeam


@dataclass(frozen=True)
class Shape:
    name: str
    members: int
    teams: int
    team_size: int
    repos: int
    options: ExportOptions


SHAPES = (
    Shape("small org", 50, 10, 5, 10, ExportOptions()),
    Shape("small org, --fix-repos", 50, 10, 5, 10, ExportOptions(repos=True)),
    Shape("large org (kubernetes-sized)", 3000, 400, 15, 300, ExportOptions()),
    Shape("large org, --fix-repos --fix-collaborators", 3000, 400, 15, 300,
          ExportOptions(repos=True, collaborators=True)),
)


def _build(github: FakeGitHub, shape: Shape) -> None:
    logins = [f"user-{i:05d}" for i in range(shape.members)]
    for r in range(shape.repos):
        github.add_repo(f"big-org/repo-{r:04d}", private=r % 3 == 0, has_wiki=r % 2 == 0)
    teams = []
    for t in range(shape.teams):
        start = (t * shape.team_size) % len(logins)
        members = set(logins[start : start + shape.team_size])
        parent = f"team-{t // 10:04d}" if t >= 10 else None  # ten top-level teams, the rest nested below
        repos = {f"repo-{(t + k) % shape.repos:04d}": ("push", "pull", "admin")[k] for k in range(3)}
        teams.append(FakeTeam(t + 1, f"team-{t:04d}", f"team-{t:04d}", f"Team {t}",
                              maintainers={logins[start]}, members=members - {logins[start]},
                              repos=repos, parent=parent))
    github.add_org("big-org", admins=logins[:5], members=logins[5:], teams=teams)


def _row(shape: Shape, key: rsa.RSAPrivateKey) -> str:
    with FakeGitHub(APP_ID, key.public_key(), record=False) as github:
        github.add_installation(1, "big-org")
        _build(github, shape)
        scope = {"members": "read", "metadata": "read"}
        if shape.options.lists_repos:
            scope["administration"] = "read"
        token = GitHubApp(APP_ID, key, api_url=github.api_url).mint_token(1, permissions=scope).token
        client = GitHubInstallationClient(token, github.api_url)
        started = time.perf_counter()
        state = org_export.read_org(client, "big-org", shape.options)
        read_s = time.perf_counter() - started
        tracemalloc.start()
        started = time.perf_counter()
        text = org_export.export(state, shape.options)
        export_s = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        ok = check(text.encode(), org="big-org").ok
    return (
        f"| {shape.name} | {shape.members:,} | {shape.teams:,} | {shape.repos:,} | "
        f"{client.request_count:,} | "
        f"{read_s:.2f} s | {export_s * 1000:.0f} ms | {peak / 1e6:.1f} MB | {len(text) / 1024:.0f} KiB | "
        f"{'yes' if ok else 'NO'} |"
    )


def main() -> int:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    print("| org | members | teams | repos | GitHub requests | read | export (pure) | export peak memory | "
          "file | passes the check |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for shape in SHAPES:
        print(_row(shape, key), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
