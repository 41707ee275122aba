"""The project's one error tree. Code outside ``peribolos_core`` never catches a third-party exception.

::

    PeribolosError                      .temporary: a retry may help
    ├── ConfigError                     bad settings, missing or malformed key            (permanent)
    ├── MintDeferred                    the mint budget has no slot before the deadline   (temporary)
    ├── LockBusy(holder)                another sync of the org held its Lease all along   (temporary)
    ├── GitHubError(status_code, message)
    │   ├── BadCredentials              401: bad JWT, wrong app id, clock skew, bad token  (permanent)
    │   ├── InstallationGone            404 on an installation endpoint                    (permanent)
    │   ├── InstallationSuspended       403 "suspended"                                    (permanent)
    │   ├── RateLimited(retry_after)    429, or 403 with retry-after / x-ratelimit-remaining: 0  (temporary)
    │   ├── GitHubUnavailable           5xx, timeouts, connection errors after retries     (temporary)
    │   └── GitHubRequestError          any other 4xx                                      (permanent)
    └── KubeError(status_code, message)
        ├── KubeNotFound                404                                                (permanent)
        ├── KubeConflict                409: someone else wrote first; re-read and retry   (temporary)
        ├── KubeGone                    410: a watch's resourceVersion is too old; list again (temporary)
        ├── KubeForbidden               401/403: RBAC                                      (permanent)
        └── KubeUnavailable             5xx, 429, timeouts, connection errors              (temporary)

Messages name what failed and what to do; they never hold a token, JWT, key or header value.
"""

from __future__ import annotations


class PeribolosError(Exception):
    """Base of every error this project raises on purpose."""

    temporary: bool = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class ConfigError(PeribolosError):
    """Settings are missing or wrong (a flag, an environment variable, the private key file)."""


class MintDeferred(PeribolosError):
    """The App's mint budget grants no slot before the caller's deadline; nothing was sent to GitHub."""

    temporary = True


class LockBusy(PeribolosError):
    """Another sync of the same org held the org's Lease for as long as this one could wait."""

    temporary = True

    def __init__(self, holder: str, message: str) -> None:
        super().__init__(message)
        self.holder = holder


class GitHubError(PeribolosError):
    """GitHub answered with an error, or could not be reached. ``status_code`` is None without a response."""

    def __init__(self, status_code: int | None, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status_code={self.status_code!r}, message={self.message!r})"


class BadCredentials(GitHubError):
    """401: the app JWT was refused (wrong key or app id, clock skew) or the installation token is invalid."""


class InstallationGone(GitHubError):
    """404 on an installation endpoint: the app was uninstalled; its Secret can go."""


class InstallationSuspended(GitHubError):
    """403 "suspended": the org suspended the app; stop minting until it is unsuspended."""


class RateLimited(GitHubError):
    """Primary or secondary rate limit; wait ``retry_after`` seconds before the next request."""

    temporary = True

    def __init__(self, status_code: int | None, message: str, retry_after: float) -> None:
        super().__init__(status_code, message)
        self.retry_after = retry_after

    def __repr__(self) -> str:
        return (
            f"RateLimited(status_code={self.status_code!r}, message={self.message!r}, "
            f"retry_after={self.retry_after!r})"
        )


class GitHubUnavailable(GitHubError):
    """5xx, timeout or connection error, still failing after the transport's retries."""

    temporary = True


class GitHubRequestError(GitHubError):
    """Any other 4xx: the request is wrong (or the file/repo does not exist); retrying will not help."""


class KubeError(PeribolosError):
    """The Kubernetes API refused or failed a call."""

    def __init__(self, status_code: int | None, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status_code={self.status_code!r}, message={self.message!r})"


class KubeNotFound(KubeError):
    """404: the object (or the namespace) does not exist."""


class KubeConflict(KubeError):
    """409: already exists, or resourceVersion changed under us. Re-read and try again."""

    temporary = True


class KubeGone(KubeError):
    """410: the resourceVersion a watch started from is too old (compacted): list again, then watch."""

    temporary = True


class KubeForbidden(KubeError):
    """401/403: the ServiceAccount lacks a role (see the generator's RBAC manifests)."""


class KubeUnavailable(KubeError):
    """5xx, 429, timeout or connection error talking to the kube-apiserver."""

    temporary = True
