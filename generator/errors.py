"""Errors of the generator: bad values and manifests that fail validation."""

from __future__ import annotations


class GeneratorError(Exception):
    """Base of the generator's errors; the CLI prints each problem on its own line and exits 1."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class ValuesError(GeneratorError):
    """The values (files, --set) are unreadable or do not match the schema; one line per problem."""


class RenderError(GeneratorError):
    """The values are valid but a command cannot use them (e.g. no webhook URL for the App manifest)."""
