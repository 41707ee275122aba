"""bootstrap: a first config on install. When the org's config repository has no config file, export the
org as it is (:mod:`.org_export`) and open a pull request adding it; merging it changes nothing.

Never twice for one org: the file on the default branch, or any pull request from the branch
:data:`BRANCH` (open, merged, or closed by an admin who did not want it), means there is nothing to do.
A missing config repository is created only when the operator allows it (``--create-repo``), and a
public one gets no export unless allowed (``--allow-public-repo``): the file names every member, also
those who keep their membership private, and every secret team.

The decisions (:func:`repo_step`, :func:`pull_step`, :func:`notes`, :func:`pull_request_text`) are pure;
:func:`bootstrap` does the I/O with tokens it mints for each job (:func:`token_scopes`):

- ``read``: the org's members and teams (``members: read``), repository metadata, and with ``--fix-repos``
  or ``--fix-collaborators`` the repositories' settings (``administration: read``). Not narrowed to
  repositories: a narrowed token lists only those, and a team's other repository grants would be lost.
- ``create`` (only with ``--create-repo`` and a missing repository): ``administration: write``.
- ``write``: ``contents: write`` and ``pull_requests: write`` on the config repository alone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from peribolos_core.errors import ConfigError, GitHubRequestError, PeribolosError
from peribolos_core.github import GitHubInstallationClient, PullRequest, Repository, check_org, check_repo
from peribolos_core.tokens import Minter

from . import org_export
from .org_export import ExportOptions, OrgState

__all__ = ["BRANCH", "ExportOptions", "Outcome", "Request", "bootstrap"]
from .peribolos_config import PERIBOLOS_MIN_ADMINS, check

BRANCH = "peribolos/bootstrap"
"""The branch the pull request comes from; a pull request from it marks the org as bootstrapped."""
TITLE = "Manage this organisation as code: add {path} (its current state)"
COMMIT_MESSAGE = "Add {path}: {org} as it is on GitHub now\n\nExported by the peribolos App on install."
README = (
    "# {org}/{repo}\n\nThis repository holds `{path}`, the peribolos config of {org}: its members, teams "
    "and repositories as code.\n"
)
NEEDS_ATTENTION = frozenset({"no-repo", "public-repo", "not-granted"})
"""Outcomes an operator or org admin may want to act on (logged as warnings)."""


class BootstrapError(PeribolosError):
    """The export or the pull request could not be made (the message says why and what to do)."""


@dataclass(frozen=True)
class Request:
    """What the step was asked to do (the command's flags)."""

    installation_id: int
    org: str
    repo: str
    """``ORG/REPO`` of the config repository."""
    path: str = "peribolos.yaml"
    create_repo: bool = False
    allow_public_repo: bool = False
    export: ExportOptions = field(default_factory=ExportOptions)
    min_admins: int = PERIBOLOS_MIN_ADMINS
    required_admins: tuple[str, ...] = ()
    docs_url: str = ""

    def __post_init__(self) -> None:
        check_org(self.org)
        owner = check_repo(self.repo).split("/", 1)[0]
        if owner.lower() != self.org.lower():
            raise ConfigError(f"--repo {self.repo} is not a repository of --org {self.org}")
        if self.min_admins < PERIBOLOS_MIN_ADMINS:
            raise ConfigError(f"--min-admins must be at least {PERIBOLOS_MIN_ADMINS} (as peribolos'), got "
                              f"{self.min_admins}")

    @property
    def repo_name(self) -> str:
        return self.repo.split("/", 1)[1]


@dataclass(frozen=True)
class Outcome:
    """What the step did: ``opened`` a pull request, or nothing, and why (``reason``)."""

    action: str
    """``opened``, or why nothing: ``file-exists``, ``pull-open``, ``pull-merged``, ``pull-closed``,
    ``no-repo``, ``public-repo``, ``not-granted``, ``not-an-org``."""
    message: str
    url: str = ""
    created_repo: bool = False

    @property
    def log_fields(self) -> dict[str, object]:
        return {"outcome": self.action, "pull_request": self.url, "created_repo": self.created_repo}


# -- the decisions (pure) ---------------------------------------------------------------------------------


def token_scopes(request: Request) -> dict[str, dict[str, str]]:
    """The permissions of each token the step mints (see the module's docstring)."""
    read = {"members": "read", "metadata": "read"}
    if request.export.lists_repos:
        read["administration"] = "read"
    return {
        "read": read,
        "create": {"administration": "write"},
        "write": {"contents": "write", "pull_requests": "write"},
    }


def repo_step(repo: Repository | None, request: Request) -> str | Outcome:
    """``use`` the config repository, ``create`` it, or stop with an :class:`Outcome` saying why not."""
    if repo is not None:
        return "use"
    if request.create_repo:
        return "create"
    return Outcome(
        "no-repo",
        f"{request.repo} does not exist (or the App cannot reach it) and creating it is off "
        "(bootstrap.createRepo): create the repository and give the App access to it, then reinstall "
        f"the App, or write {request.path} by hand (docs/org-admins.md)",
    )


def pull_step(
    file_exists: bool, pulls: Sequence[PullRequest], public: bool, request: Request
) -> Outcome | None:
    """None: open the pull request. An :class:`Outcome` when there is nothing to do (or nothing allowed)."""
    if file_exists:
        return Outcome("file-exists", f"{request.path} exists in {request.repo}: nothing to bootstrap")
    for pull in pulls:  # newest first
        if pull.state == "open":
            return Outcome("pull-open", f"the bootstrap pull request is open: {pull.html_url}", pull.html_url)
        if pull.merged:
            return Outcome(
                "pull-merged",
                f"the bootstrap pull request was merged ({pull.html_url}) and {request.path} removed since: "
                "not proposing it again",
                pull.html_url,
            )
    if pulls:
        url = pulls[0].html_url
        return Outcome(
            "pull-closed",
            f"the bootstrap pull request was closed without merging ({url}): not proposing it again; "
            "reopen it on GitHub to use it",
            url,
        )
    if public and not request.allow_public_repo:
        return Outcome(
            "public-repo",
            f"{request.repo} is public: an export would show everyone the org's members, also those who "
            "keep their membership private, and its secret teams; make the repository private and "
            f"reinstall the App, or write {request.path} by hand (docs/org-admins.md)",
        )
    return None


def notes(state: OrgState, request: Request, public: bool) -> list[str]:
    """What the org's admins should know before merging (the pull request's body lists them)."""
    out = []
    admins = len(state.admins) + sum(1 for role in state.invitations.values() if role == "admin")
    if admins < request.min_admins:
        out.append(
            f"The org has {admins} owner{'' if admins == 1 else 's'}; this service runs peribolos with "
            f"`--min-admins={request.min_admins}`, which refuses fewer: add owners under `admins` (they "
            "are invited when merged) or the checks on this pull request fail."
        )
    listed = {login.lower() for login in (*state.admins, *state.invitations)}
    missing = [login for login in request.required_admins if login.lower() not in listed]
    if missing:
        out.append(
            f"This service requires {', '.join(f'`{m}`' for m in missing)} as admin(s) "
            "(`--required-admins`): add them under `admins`, or the checks fail."
        )
    invited = list(org_export.pending(state))
    if invited:
        out.append(
            f"{len(invited)} pending invitation(s) are listed ({', '.join(f'`{x}`' for x in invited[:10])}"
            f"{', ...' if len(invited) > 10 else ''}): peribolos waits for them to accept; remove a login "
            "to cancel its invitation."
        )
    secret = org_export.secret_teams(state)
    if secret:
        shown = ", ".join(f"`{name}`" for name in secret[:10])
        out.append(
            f"The file names {len(secret)} secret team(s) ({shown}{', ...' if len(secret) > 10 else ''}) and "
            f"their members: everyone who can read {request.repo} sees them."
        )
    if public:
        out.append(
            f"{request.repo} is public: the file shows every member, also those who keep their "
            "membership private."
        )
    return out


def file_header(request: Request) -> list[str]:
    """The comment lines the file starts with."""
    guide = request.docs_url or "docs/org-admins.md of the service"
    return [
        f"peribolos config of {request.org}, exported from GitHub when the App was installed.",
        "Each change merged into the default branch is applied to the org (pull requests get a dry run).",
        f"What each key means: the org admins' guide, {guide}",
    ]


def pull_request_text(request: Request, default_branch: str, found: list[str]) -> tuple[str, str]:
    """The pull request's title and body (Markdown)."""
    path, org = request.path, request.org
    listed = ["its admins and members (pending invitations included)", "its teams with their maintainers, "
              "members, privacy, description, parent team and repositories"]
    if request.export.repos:
        listed.append("its repositories' settings")
    if request.export.collaborators:
        listed.append("their direct collaborators")
    unlisted = "" if request.export.lists_repos else (
        " Repositories are not listed: this service does not manage their settings."
    )
    lines = [
        f"This pull request adds `{path}`: **{org} as it is on GitHub now**, written in "
        "[peribolos](https://docs.prow.k8s.io/docs/components/cli-tools/peribolos/)' format by the App "
        f"your organisation just installed. It lists {'; '.join(listed[:-1])}; and {listed[-1]}.{unlisted}",
        "",
        "### What merging it does",
        "",
        "Nothing changes on GitHub: the file says what is already there, and the `peribolos/dry-run` check "
        "on this pull request shows that peribolos finds nothing to change. From then on, `"
        f"{path}` on `{default_branch}` is the truth: every change merged here is applied to {org}, and "
        "changes made by hand in GitHub's settings are undone at the next sync, so make them in the file.",
        "",
        "### How to use it",
        "",
        f"- Change `{path}` by pull request; the check on each one lists what would change (members "
        "added or removed, teams, team members and repositories) before you merge.",
        "- Add someone to the org: list their login under `members` (or `admins`); they are invited when "
        "merged. Remove a login to remove them.",
        "- A team: its name is the key; `maintainers`, `members`, `privacy` (`closed` or `secret`), `repos` "
        "(repository: `read`, `triage`, `write`, `maintain` or `admin`), child teams under `teams`. "
        "Rename one with `previously: [old name]`.",
        f"- Check the file on your machine: `peribolos-step check-config {path} --org {org}`.",
        "- Not ready? Leave this pull request open, or close it: it is not proposed again.",
    ]
    guide = (
        f"[the org admins' guide]({request.docs_url})" if request.docs_url
        else "the org admins' guide of this service (docs/org-admins.md)"
    )
    lines.append(f"\nEvery key, the checks and the safety limits are explained in {guide}.")
    if found:
        lines += ["", "### Before merging", "", *(f"- {note}" for note in found)]
    return TITLE.format(path=path), "\n".join(lines) + "\n"


# -- the step (I/O) ---------------------------------------------------------------------------------------

ClientFor = Callable[[str], GitHubInstallationClient]
"""Builds an installation client from a token (:func:`peribolos_core.clients.installation_client`)."""


def bootstrap(minter: Minter, client_for: ClientFor, request: Request) -> Outcome:
    """Open the bootstrap pull request if the org has no config yet; what happened, or why nothing."""
    installation = minter.app.get_installation(request.installation_id)
    if installation.account_login.lower() != request.org.lower():
        raise ConfigError(
            f"installation {request.installation_id} is on {installation.account_login}, "
            f"not --org {request.org}"
        )
    if installation.account_type != "Organization":
        return Outcome("not-an-org", f"{request.org} is a {installation.account_type}, not an organisation")
    try:
        return _bootstrap(minter, client_for, request)
    except NotGranted as exc:
        wanted = ", ".join(f"{k}: {v}" for k, v in sorted(token_scopes(request)[exc.job].items()))
        return Outcome(
            "not-granted",
            f"GitHub refused a token with {wanted}{' on ' + request.repo if exc.job == 'write' else ''} "
            f"({exc}): an org owner accepts the App's new permissions (Settings, GitHub Apps) and gives it "
            f"access to {request.repo}; the install runs again then",
        )


class NotGranted(PeribolosError):
    """GitHub refused to mint a token of that scope (422): the installation lacks a permission or the
    repository."""

    def __init__(self, job: str, message: str) -> None:
        super().__init__(message)
        self.job = job


def _mint(
    minter: Minter, client_for: ClientFor, request: Request, job: str, repo: str | None = None
) -> GitHubInstallationClient:
    """A client with a new token for ``job`` (:func:`token_scopes`), on ``repo`` alone when given."""
    scopes = token_scopes(request)
    try:
        token = minter.mint(
            request.installation_id, permissions=scopes[job], repositories=[repo] if repo else None
        )
    except GitHubRequestError as exc:
        if exc.status_code == 422:
            raise NotGranted(job, exc.message) from exc
        raise
    return client_for(token.token)


def _bootstrap(minter: Minter, client_for: ClientFor, request: Request) -> Outcome:
    reader = _mint(minter, client_for, request, "read")
    repo = reader.get_repo(request.repo)
    step = repo_step(repo, request)
    if isinstance(step, Outcome):
        return step
    created = repo is None
    if repo is None:
        repo = _create_repo(_mint(minter, client_for, request, "create"), request)
    writer = _mint(minter, client_for, request, "write", repo.name)
    base = repo.default_branch
    head = writer.branch_head(request.repo, base)
    exists = head is not None and writer.file_sha(request.repo, request.path, base) is not None
    stop = pull_step(exists, writer.list_pulls(request.repo, BRANCH), not repo.private, request)
    if stop is not None:
        return stop
    state = org_export.read_org(reader, request.org, request.export)
    content = export_file(state, request)
    if head is None:  # an empty repository: a branch needs a first commit to start from
        head = writer.put_file(
            request.repo,
            "README.md",
            README.format(org=request.org, repo=request.repo_name, path=request.path).encode(),
            f"Start {request.repo}",
            base,
        )
    _branch_at(writer, request.repo, head)
    writer.put_file(
        request.repo,
        request.path,
        content,
        COMMIT_MESSAGE.format(path=request.path, org=request.org),
        BRANCH,
        writer.file_sha(request.repo, request.path, BRANCH),
    )
    title, body = pull_request_text(request, base, notes(state, request, public=not repo.private))
    pull = _open_pull(writer, request, title, base, body)
    return Outcome("opened", f"opened {pull.html_url}", pull.html_url, created)


def export_file(state: OrgState, request: Request) -> bytes:
    """The file, checked with the schema check peribolos' runs get; a problem in it is this code's bug."""
    content = org_export.export(state, request.export, file_header(request)).encode("utf-8")
    result = check(content, org=request.org)
    if result.problems:
        shown = "; ".join(problem.format(request.path) for problem in result.problems[:5])
        raise BootstrapError(f"the exported config does not pass the config check, not proposing it: {shown}")
    return content


def _create_repo(creator: GitHubInstallationClient, request: Request) -> Repository:
    try:
        return creator.create_org_repo(
            request.org,
            request.repo_name,
            description=f"The peribolos config of {request.org} ({request.path}): the org as code",
        )
    except GitHubRequestError as exc:
        if exc.status_code == 422:
            raise BootstrapError(
                f"creating {request.repo} failed ({exc}): it may exist where the App cannot reach it; add it "
                "to the App's repositories"
            ) from exc
        raise


def _branch_at(writer: GitHubInstallationClient, repo: str, sha: str) -> None:
    """:data:`BRANCH` at ``sha``: created, or moved there when a run that stopped half-way left it."""
    if writer.branch_head(repo, BRANCH) is not None:
        writer.move_branch(repo, BRANCH, sha)
        return
    try:
        writer.create_branch(repo, BRANCH, sha)
    except GitHubRequestError as exc:
        if exc.status_code != 422:  # "Reference already exists": a concurrent run made it
            raise
        writer.move_branch(repo, BRANCH, sha)


def _open_pull(
    writer: GitHubInstallationClient, request: Request, title: str, base: str, body: str
) -> PullRequest:
    try:
        return writer.create_pull(request.repo, title, BRANCH, base, body)
    except GitHubRequestError as exc:
        if exc.status_code != 422:
            raise
        # "A pull request already exists": a concurrent run opened it first.
        opened = writer.list_pulls(request.repo, BRANCH, "open")
        if not opened:
            raise
        return opened[0]
