"""Fixtures for the fake's own tests."""

from tests.fakes.fixtures import *  # noqa: F403
