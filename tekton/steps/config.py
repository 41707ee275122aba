"""fetch-config: read the org's peribolos.yaml at the pushed revision and check it before peribolos does.

Checking here gives the TaskRun (and the dry-run check run) one clear line ("not valid YAML at line 3",
"configures org X but the App is installed on Y") instead of peribolos' stack of errors.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from peribolos_core.errors import PeribolosError
from peribolos_core.github import GitHubInstallationClient

from .files import write_atomically


class InvalidConfig(PeribolosError):
    """The file exists but is not a peribolos configuration peribolos could apply for this org."""


def check_config(content: bytes, where: str, org: str | None = None) -> dict[str, Any]:
    """Parse and check a peribolos config (pure): a mapping with an ``orgs`` mapping; with ``org``, the
    only org it configures must be that one (the installation token can manage no other)."""
    try:
        data = yaml.safe_load(content.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise InvalidConfig(f"{where} is not UTF-8 text") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise InvalidConfig(f"{where} is not valid YAML{at}: {getattr(exc, 'problem', None) or exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("orgs"), dict) or not data["orgs"]:
        raise InvalidConfig(f"{where} must be a mapping with a non-empty 'orgs:' mapping (peribolos' format)")
    if org is not None:
        names = {str(name) for name in data["orgs"]}
        if {name.lower() for name in names} != {org.lower()}:
            raise InvalidConfig(
                f"{where} configures {', '.join(sorted(names))}; this installation can only manage {org}"
            )
    return data


def fetch_config(
    client: GitHubInstallationClient,
    repo: str,
    revision: str,
    path: str,
    output: Path,
    org: str | None = None,
) -> int:
    """Fetch ``path`` of ``repo`` at ``revision``, check it, write it to ``output``; returns its size."""
    content = client.get_file(repo, path, revision)
    check_config(content, f"{path} in {repo} at {revision[:12]}", org)
    write_atomically(output, content, 0o644)
    return len(content)
