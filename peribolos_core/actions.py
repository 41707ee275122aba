"""The action contract, in one table: what each GitHub event means for peribolos and all that follows.

One row per action (``install``, ``uninstall``, ``sync``, ``dry-run``): the webhook events and their
``action`` values that lead to it, the Trigger, TriggerTemplate and Task that carry it out, the check run it
reports, and the GitHub App permissions it needs. Everything else is derived from :data:`ACTIONS`:

- ``tekton/interceptor/decision.py``: which event and ``action`` means which of ours, the check-run names a
  rerequest is recognised by, the actions a Trigger may name;
- ``tekton/steps/report.py``: the check-run names ``report --name`` accepts and their wording;
- ``generator/render.py`` and its templates: one Trigger, TriggerTemplate and Task per wired row, named from
  the row, with the row's event types for Tekton's core GitHub interceptor;
- ``generator/app_manifest.py``: the App's webhook events and permissions.

Adding a row (with a values key under ``events``) reaches all of them; ``tests/core/test_actions.py``
checks that it does. Pure data and lookups: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

INSTALL, UNINSTALL, SYNC, DRY_RUN = "install", "uninstall", "sync", "dry-run"

INSTALLATION_KEYS = ("installation_id", "org", "secret_name", "delivery_id")
"""Extension keys every decision that proceeds sets (``extensions.peribolos.<key>``); TaskRun params and
TriggerBindings are named after them."""
CONFIG_KEYS = ("repo", "revision", "ref", "config_path")
"""Extension keys an action that reads the org's config sets besides those."""
CHECK_RUN_WHEN_PARAM = "check_run_when"
ALWAYS, CHANGED_OR_FAILED = "always", "changed-or-failed"
CHECK_RUN_WHEN = (ALWAYS, CHANGED_OR_FAILED)
"""The config Tasks' param ``check_run_when``: ``always`` (webhooks: in progress, then completed; the
default) or ``changed-or-failed`` (scheduled drift repair: one completed check run, only when peribolos
changed something or anything failed, within GitHub's content-creation limits)."""
EXTENSION_KEYS = frozenset({"action", *INSTALLATION_KEYS, *CONFIG_KEYS})
"""The contract with the TriggerBindings the generator renders: nothing else is ever set."""
TASKRUN_NAME_LIMIT = 59
"""A TaskRun's name is at most this long: Tekton names its Pod ``<name>-pod`` and labels it with the name,
and both must fit Kubernetes' 63 characters."""

CHECK_RUN = "check_run"
"""The event whose rows are told apart by the check run's name, not by its ``action``."""
ALWAYS_DELIVERED = frozenset({"installation", "installation_repositories"})
"""Events GitHub sends every App: they cannot (and need not) be subscribed to in the App manifest."""
PERMISSION_LEVELS = ("read", "write")
"""GitHub's access levels, weakest first."""


def stronger(a: str | None, b: str | None) -> str | None:
    """The stronger of two access levels (``write`` beats ``read``; None is no access)."""
    if a is None or b is None:
        return a or b
    return max(a, b, key=PERMISSION_LEVELS.index)


@dataclass(frozen=True)
class Event:
    """A webhook event and the values of its ``action`` field that lead to a row (none: the event has no
    ``action`` field, like ``push``)."""

    name: str
    actions: tuple[str, ...] = ()
    also: bool = False
    """It leads here besides the row that owns it (one event, two TaskRuns): ``installation_repositories``
    ``added`` re-mints the token (install) and, when the config repository is among those added, syncs it."""


@dataclass(frozen=True)
class Action:
    name: str
    """``extensions.peribolos.action``, the Trigger's ``actions`` param, the TaskRuns'
    ``peribolos.dev/action`` label."""
    values_key: str
    """``events.<key>`` in the generator's values: true wires the row (Trigger, template, Task)."""
    events: tuple[Event, ...]
    """What leads to it, in the order Tekton's GitHub interceptor lists them as ``eventTypes``."""
    summary: str
    """What its Task does (the Task's description)."""
    check_run: str | None = None
    """The check run its Task reports; a rerequest of it runs the action again."""
    title: str = ""
    """How a check run names the action ("peribolos dry run succeeded")."""
    reads_config: bool = False
    """Its TaskRun reads the org's config at a revision: the config keys, binding and params; the Task runs
    ensure-token, fetch-config, peribolos and report."""
    confirm: bool = False
    """peribolos runs with ``--confirm``: it changes the org, and the TaskRun fails when peribolos does."""
    mints: bool = False
    """Its Task mints a token (the App private key is mounted into that step)."""
    permissions: Mapping[str, str] = field(default_factory=dict)
    """App permissions it needs beyond ``metadata: read`` (peribolos' own follow its ``--fix-*`` flags,
    :mod:`peribolos_core.scopes`)."""
    identity: str = ""
    """The ServiceAccount its TaskRuns run as, ``peribolos-<identity>`` (default: the action's name)."""
    token_secrets: tuple[str, ...] = ()
    """The verbs its Task needs on the installations' token Secrets (in the token namespace, where the App
    key is not); none for the Tasks that read the config: they touch no Secret at all."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "permissions", MappingProxyType(dict(self.permissions)))

    @property
    def resource(self) -> str:
        """``peribolos-<name>``: its Trigger, TriggerTemplate and Task (and its TaskRuns' names)."""
        return f"peribolos-{self.name}"

    @property
    def service_account(self) -> str:
        """The ServiceAccount its TaskRuns run as: each identity gets only what its Task does."""
        return f"peribolos-{self.identity or self.name}"

    @property
    def locks(self) -> bool:
        """Its TaskRuns hold the org's Lease while they run (one sync per org at a time) and apply a
        revision only while it is the default branch's head."""
        return self.confirm

    def taskrun_name(self, delivery_id: str) -> str:
        """``peribolos-<action>-<delivery id>``: a redelivered webhook names the same TaskRun, which the
        API server then refuses (409)."""
        return f"{self.resource}-{delivery_id}"

    @property
    def event_types(self) -> tuple[str, ...]:
        return tuple(event.name for event in self.events)

    def handles(self, event: str, action: str | None, *, also: bool = False) -> bool:
        """Whether webhook ``event`` with ``action`` (None: no action field) leads here (``also``: as an
        event another row owns, see :attr:`Event.also`)."""
        return any(
            e.name == event and (not e.actions or action in e.actions) and e.also == also for e in self.events
        )


class ActionTable:
    """The rows, checked for what makes the contract ambiguous, with the lookups the consumers need."""

    def __init__(self, rows: Iterable[Action]) -> None:
        self.rows = tuple(rows)
        problems = _problems(self.rows)
        if problems:
            raise ValueError("action table: " + "; ".join(problems))
        self.names = tuple(row.name for row in self.rows)
        self.event_names = frozenset(event.name for row in self.rows for event in row.events)
        self.check_run_names = tuple(row.check_run for row in self.rows if row.check_run)
        self.delivery_id_limit = TASKRUN_NAME_LIMIT - 1 - max(len(row.resource) for row in self.rows)
        """The longest delivery id a TaskRun name can hold for every row."""

    def __iter__(self) -> Iterator[Action]:
        return iter(self.rows)

    def __repr__(self) -> str:
        return f"ActionTable({', '.join(self.names)})"

    def get(self, name: str) -> Action | None:
        return next((row for row in self.rows if row.name == name), None)

    def for_event(self, event: str, action: str | None = None) -> Action | None:
        """The row webhook ``event`` with ``action`` leads to (check runs: :meth:`for_check_run`)."""
        if event == CHECK_RUN:
            return None
        return next((row for row in self.rows if row.handles(event, action)), None)

    def also_for(self, event: str, action: str | None = None) -> list[Action]:
        """The rows ``event`` with ``action`` leads to besides its own (:attr:`Event.also`)."""
        return [row for row in self.rows if row.handles(event, action, also=True)]

    def for_check_run(self, name: str, action: str) -> Action | None:
        """The row whose check run ``name`` had ``action`` (``rerequested``) happen to it."""
        return next((row for row in self.rows if row.check_run == name and row.handles(CHECK_RUN, action)),
                    None)

    def wired(self, events: Mapping[str, bool]) -> list[Action]:
        """The rows the generator's ``events`` values turn on, in table order."""
        return [row for row in self.rows if events.get(row.values_key)]


def _problems(rows: tuple[Action, ...]) -> list[str]:
    out = []
    for what, values in (
        ("action names", [r.name for r in rows]),
        ("values keys", [r.values_key for r in rows]),
        ("check-run names", [r.check_run for r in rows if r.check_run]),
    ):
        repeated = sorted({v for v in values if values.count(v) > 1})
        if repeated:
            out.append(f"{what} repeated: {', '.join(repeated)}")
    leads = [(e.name, a) for r in rows for e in r.events if e.name != CHECK_RUN and not e.also
             for a in (e.actions or (None,))]
    repeated_leads = sorted({f"{e} {a or ''}".strip() for e, a in leads if leads.count((e, a)) > 1})
    if repeated_leads:
        out.append(f"events leading to two actions: {', '.join(repeated_leads)}")
    for row in rows:
        if (row.check_run is None) == (CHECK_RUN in row.event_types):
            out.append(f"{row.name}: a check_run event needs a check-run name, a check-run name the event")
        for level in row.permissions.values():
            if level not in PERMISSION_LEVELS:
                out.append(f"{row.name}: permission level {level!r} is not {' or '.join(PERMISSION_LEVELS)}")
    return out


ACTIONS = ActionTable([
    Action(
        INSTALL,
        values_key="install",
        events=(
            Event("installation", ("created", "unsuspend", "new_permissions_accepted")),
            # The token's repository list changed: mint a new one.
            Event("installation_repositories", ("added", "removed")),
        ),
        summary="Mint an installation token and store it in its Secret.",
        mints=True,
        # The bootstrap step (bootstrap.enabled): read the org's members and teams, push a branch with the
        # exported config and open a pull request on the config repository (with tokens of its own).
        permissions={"members": "read", "contents": "write", "pull_requests": "write"},
        token_secrets=("get", "create", "update", "patch"),  # patch: the suspended mark
    ),
    Action(
        UNINSTALL,
        values_key="uninstall",
        events=(Event("installation", ("deleted", "suspend")),),
        summary="Delete the installation's token Secret (a missing Secret is success.)",
        token_secrets=("delete",),
    ),
    Action(
        SYNC,
        values_key="sync",
        events=(
            Event("push"),
            Event(CHECK_RUN, ("rerequested",)),
            # The config repository was added to the App's selected repositories: sync its head.
            Event("installation_repositories", ("added",), also=True),
        ),
        summary="Apply the org's peribolos config at the pushed commit, or at the default branch's head when "
                "no revision is given (peribolos --confirm), one sync per org at a time, and report a check "
                "run.",
        check_run="peribolos/sync",
        title="sync",
        reads_config=True,
        confirm=True,
        mints=True,
        permissions={"contents": "read", "checks": "write"},
    ),
    Action(
        DRY_RUN,
        values_key="dryRun",
        events=(
            Event("pull_request", ("opened", "synchronize", "reopened")),
            Event(CHECK_RUN, ("rerequested",)),
        ),
        summary="Run peribolos without --confirm on the pull request's head commit and report the result as "
                "a check run.",
        check_run="peribolos/dry-run",
        title="dry run",
        reads_config=True,
        mints=True,
        permissions={"contents": "read", "checks": "write", "pull_requests": "read"},
        identity="sync",  # the same steps as a sync, and nothing a sync may not do
    ),
])
"""The table every consumer reads (they take another one in tests)."""
