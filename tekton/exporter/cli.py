"""``peribolos-exporter``: serve ``/metrics`` for this service's TaskRuns, the refresher and the mint budget.

One process per install (a Deployment with one replica): it lists and watches the TaskRuns of its
namespace (labels ``app.kubernetes.io/component=taskrun`` and ``peribolos.dev/action``), and at each scrape
reads the refresher's status ConfigMap, the refresher's Jobs and the mint budget's ConfigMap. It needs no
Secret and calls nothing but the kube-apiserver. ``GET /healthz`` 200 while it serves, ``/readyz`` 200
once the first list of TaskRuns succeeded, anything else the metrics. SIGTERM stops it (exit 0).

Exit codes: 0 stopped, 2 bad configuration or it cannot listen.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, NoReturn
from wsgiref.simple_server import WSGIRequestHandler, make_server

import click
from kubernetes import client
from prometheus_client import make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer

from peribolos_core.actions import ACTIONS
from peribolos_core.config_maps import ConfigMaps
from peribolos_core.errors import ConfigError, KubeError, KubeGone
from peribolos_core.kube import default_namespace, load_api_client
from peribolos_core.kube_objects import NamespacedObjects
from peribolos_core.options import log_options, version_option
from peribolos_core.run_status import RunStatusStore
from peribolos_core.settings import (
    DEFAULT_MINT_BUDGET_PER_MINUTE,
    check_namespace,
    check_object_name,
)

from .metrics import ExporterMetrics, Sources
from .taskruns import ACTION_LABEL, TaskRunBook

PROG = "peribolos-exporter"
log = logging.getLogger("peribolos.exporter")
TASKRUN_SELECTOR = f"app.kubernetes.io/component=taskrun,{ACTION_LABEL}"
REFRESHER_JOB_SELECTOR = "app.kubernetes.io/component=refresher"
WATCH_SECONDS = 300
RETRY_SECONDS = 5.0


@dataclass(frozen=True)
class Settings:
    namespace: str
    kubeconfig: str | None = None
    mint_budget: str = ""
    """The budget's ConfigMap; "" leaves the budget's series out."""
    mint_budget_per_minute: int = DEFAULT_MINT_BUDGET_PER_MINUTE
    refresher_status: str = ""
    """The refresher's status ConfigMap; "" leaves the refresher's series out."""

    def __post_init__(self) -> None:
        check_namespace(self.namespace)
        if self.mint_budget:
            check_object_name(self.mint_budget, "--mint-budget / MINT_BUDGET")
        if self.refresher_status:
            check_object_name(self.refresher_status, "--refresher-status / REFRESHER_STATUS")


def _fail(message: str) -> NoReturn:
    log.error(message, extra={"event": "aborted"})
    click.echo(f"{PROG}: {message}", err=True)
    sys.exit(2)


class _QuietHandler(WSGIRequestHandler):
    """No line per scrape on stderr."""

    def log_message(self, format: str, *args: Any) -> None:
        return None


def application(metrics_app: Callable[..., Iterable[bytes]], ready: threading.Event) -> Callable[..., Any]:
    """``/healthz``, ``/readyz`` and, for every other path, the metrics."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/healthz":
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"ok\n"]
        if path == "/readyz":
            ok = ready.is_set()
            start_response("200 OK" if ok else "503 Service Unavailable", [("Content-Type", "text/plain")])
            return [b"ready\n" if ok else b"listing TaskRuns\n"]
        return metrics_app(environ, start_response)

    return app


def follow(objects: NamespacedObjects, book: TaskRunBook, ready: threading.Event, stop: threading.Event,
           sleep: Callable[[float], None] = time.sleep, watch_seconds: int = WATCH_SECONDS) -> None:
    """List, then watch from the list's version, for ever: a 410 lists again, another error waits a few
    seconds and lists again (and is logged), so the counts heal after an apiserver restart."""
    while not stop.is_set():
        try:
            items, version = objects.list()
            book.replace(items)
            ready.set()
            while not stop.is_set():
                for kind, obj in objects.watch(version, watch_seconds):
                    book.apply(kind, obj)
                    version = (obj.get("metadata") or {}).get("resourceVersion") or version
        except KubeGone:
            continue
        except KubeError as exc:
            log.warning("cannot list or watch the TaskRuns: retrying",
                        extra={"error_type": type(exc).__name__, "error": str(exc),
                               "retry_in_s": RETRY_SECONDS})
            sleep(RETRY_SECONDS)


def build(settings: Settings) -> tuple[ExporterMetrics, NamespacedObjects]:
    """The metrics and the TaskRuns they follow; ConfigError when the kubeconfig is unusable."""
    api = load_api_client(settings.kubeconfig)
    maps = ConfigMaps(client.CoreV1Api(api), settings.namespace)
    status = RunStatusStore(maps, settings.refresher_status) if settings.refresher_status else None
    budget = (maps, settings.mint_budget, settings.mint_budget_per_minute) if settings.mint_budget else None
    jobs = NamespacedObjects(api, settings.namespace, "batch", "v1", "jobs", REFRESHER_JOB_SELECTOR)
    sources = Sources(refresher_status=status, refresher_jobs=jobs, mint_budget=budget)
    metrics = ExporterMetrics(ACTIONS.names, sources)
    metrics.book = TaskRunBook(ACTIONS.names, time.time(), metrics.completed)
    taskruns = NamespacedObjects(api, settings.namespace, "tekton.dev", "v1", "taskruns", TASKRUN_SELECTOR)
    return metrics, taskruns


@click.command(name=PROG, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@version_option
@log_options
@click.option("--host", default="0.0.0.0", show_default=True, help="Address to listen on.")  # noqa: S104
@click.option("--port", type=click.IntRange(0, 65535), default=9090, show_default=True,
              help="Port of /metrics (0: any free one).")
@click.option("--namespace", envvar="POD_NAMESPACE", default=None,
              help="Namespace of the TaskRuns, the refresher and the budget (env POD_NAMESPACE; default: the "
                   "pod's own).")
@click.option("--kubeconfig", envvar="KUBECONFIG", default=None,
              help="kubeconfig file (env KUBECONFIG); default: in-cluster ServiceAccount.")
@click.option("--mint-budget", envvar="MINT_BUDGET", default="",
              help="The App-wide mint budget's ConfigMap (env MINT_BUDGET); empty: no budget series.")
@click.option("--mint-budget-per-minute", envvar="MINT_BUDGET_PER_MINUTE", type=click.IntRange(min=1),
              default=DEFAULT_MINT_BUDGET_PER_MINUTE, show_default=True, help="Env MINT_BUDGET_PER_MINUTE.")
@click.option("--refresher-status", envvar="REFRESHER_STATUS", default="",
              help="The refresher's status ConfigMap (env REFRESHER_STATUS); empty: no refresher-run series.")
def cli(host: str, port: int, namespace: str | None, kubeconfig: str | None, mint_budget: str,
        mint_budget_per_minute: int, refresher_status: str) -> None:
    """Serve Prometheus metrics of this service's TaskRuns, its refresher and its mint budget."""
    try:
        settings = Settings(namespace or default_namespace(), kubeconfig or None, mint_budget.strip(),
                            mint_budget_per_minute, refresher_status.strip())
        metrics, taskruns = build(settings)
    except ConfigError as exc:
        _fail(str(exc))
    ready, stop = threading.Event(), threading.Event()
    try:
        server = make_server(host, port, application(make_wsgi_app(metrics.registry), ready),
                             ThreadingWSGIServer, handler_class=_QuietHandler)
    except OSError as exc:
        _fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}")
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    threading.Thread(target=server.serve_forever, name="http", daemon=True).start()
    assert metrics.book is not None
    watcher = threading.Thread(target=follow, args=(taskruns, metrics.book, ready, stop), name="watch",
                               daemon=True)
    watcher.start()
    log.info("serving metrics", extra={"event": "started", "port": server.server_port,
                                       "namespace": settings.namespace})
    stop.wait()
    server.shutdown()
    log.info("stopped", extra={"event": "stopped"})


def main() -> None:
    cli()
