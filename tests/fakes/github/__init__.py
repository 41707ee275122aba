"""A strict fake of the GitHub API: a real HTTP server (127.0.0.1 unless told another bind address) that
answers with GitHub's shapes and refuses what GitHub refuses.

Used by the tests (through the fixtures in :mod:`tests.fakes.fixtures`) and the benchmarks, which run it
with thousands of installations and added latency. Never imported by product code. The package:

====================  =================================================================================
``fake``              :class:`FakeGitHub`: start/stop, set-up, scenario helpers, read-backs, counters
``models``            the state as dataclasses: Apps, installations, orgs, teams, repos, commits...
``shapes``            GitHub's JSON for each model (validated against GitHub's OpenAPI description)
``state``             the state behind one lock, and the changes routes and helpers share
``auth``              App JWTs, minting scoped installation tokens, checking a token for a route
``permissions``       the one table: which permission each route needs
``faults``            fault injection (5xx, timeouts, disconnects, 429, secondary/primary limits)
``routes/*``          one route table per API area: apps, orgs (members, teams, repos), repos
                      (contents, git, collaborators), checks, pulls, graphql
``ui``                changes "by hand in GitHub's UI" for drift tests
``server``            the HTTP server
====================  =================================================================================
"""

from tests.fakes.github.fake import FakeGitHub, RecordedRequest
from tests.fakes.github.faults import Fault
from tests.fakes.github.models import DEFAULT_PERMISSIONS, FakeInstallation, FakeOrg, FakeTeam
from tests.fakes.github.replies import (
    DOCS,
    MSG_BAD_CREDENTIALS,
    MSG_EXP_TOO_FAR,
    MSG_EXPIRED,
    MSG_IAT,
    MSG_JWT_UNDECODABLE,
    MSG_NOT_ACCESSIBLE,
    MSG_PERMISSIONS_NOT_GRANTED,
    MSG_PRIMARY,
    MSG_REPOS_NOT_ACCESSIBLE,
    MSG_SECONDARY,
    MSG_SUSPENDED,
)
from tests.fakes.github.state import ZERO_SHA, Push

__all__ = [
    "DEFAULT_PERMISSIONS",
    "DOCS",
    "MSG_BAD_CREDENTIALS",
    "MSG_EXPIRED",
    "MSG_EXP_TOO_FAR",
    "MSG_IAT",
    "MSG_JWT_UNDECODABLE",
    "MSG_NOT_ACCESSIBLE",
    "MSG_PERMISSIONS_NOT_GRANTED",
    "MSG_PRIMARY",
    "MSG_REPOS_NOT_ACCESSIBLE",
    "MSG_SECONDARY",
    "MSG_SUSPENDED",
    "ZERO_SHA",
    "FakeGitHub",
    "FakeInstallation",
    "FakeOrg",
    "FakeTeam",
    "Fault",
    "Push",
    "RecordedRequest",
]
