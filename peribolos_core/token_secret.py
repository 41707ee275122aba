"""The token Secret's schema: its name, labels, annotations and data keys (pure, no I/O).

One Secret per installation, named from the installation id so that it survives org renames.
"""

from __future__ import annotations

SECRET_PREFIX = "peribolos-token-"  # noqa: S105 (a name prefix, not a secret)


def secret_name(installation_id: int | str) -> str:
    """``peribolos-token-<installation_id>``; the id must be a positive integer."""
    text = str(installation_id)
    if not text.isdigit() or int(text) <= 0:
        raise ValueError(f"installation id must be a positive integer, got {text!r}")
    return f"{SECRET_PREFIX}{int(text)}"
