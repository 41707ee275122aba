"""Shared core of Peribolos as a Service: GitHub App auth, the installation-token store, logging.

Used by the interceptor and step commands (``tekton/``), the refresher (``token_refresher/``) and the
generator; nothing here is written twice elsewhere.
"""
