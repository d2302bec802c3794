"""gunicorn settings (`-c python:whatsapp_saas.gunicorn_conf`): metrics files, no access log.

The access line per request comes from whatsapp_saas.middleware.AccessMiddleware (JSON, masked,
with the request id), so gunicorn's own access log stays off.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import multiprocess

from whatsapp_saas import metrics_files

accesslog = None


def on_starting(server: Any) -> None:
    """Before the first worker: fold files that a previous run of this host left."""
    metrics_files.compact()


def child_exit(server: Any, worker: Any) -> None:
    """A worker exited (recycled or crashed): drop its live gauges, fold its counters."""
    if metrics_files.MULTIPROC_DIR:
        multiprocess.mark_process_dead(worker.pid)
        metrics_files.compact()
