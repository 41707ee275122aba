"""Fixtures for the core tests: the App's RSA keys and a started fake GitHub (see tests/fakes/fixtures.py)."""

from tests.fakes.fixtures import *  # noqa: F403
