"""Errors of the generator, in the project's one tree (peribolos_core.errors): bad values, unusable values
for a command, manifests that fail validation. Each carries one line per problem."""

from __future__ import annotations

from peribolos_core.errors import ConfigError


class GeneratorError(ConfigError):
    """Base of the generator's errors; the CLI prints each problem on its own line."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class ValuesError(GeneratorError):
    """The values (files, --set) are unreadable or do not match the schema (exit 2)."""


class RenderError(GeneratorError):
    """Valid values a command cannot use, e.g. no webhook URL for the App manifest (exit 2)."""


class OutputError(RenderError):
    """The output folder cannot take the render: not writable, or holding the user's files (exit 2)."""


class GitHubAppError(GeneratorError):
    """github-app create failed after it started: GitHub refused or sent no redirect (exit 1)."""


class ManifestError(GeneratorError):
    """validate found problems in the manifests (exit 1)."""
