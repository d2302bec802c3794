"""Celery hooks: our logging configuration, and the multiprocess metrics folder (metrics_files)."""

from __future__ import annotations

import logging.config
import os
from typing import Any

from celery.signals import setup_logging, worker_init, worker_process_shutdown
from prometheus_client import multiprocess

from . import metrics_files


@worker_init.connect
def fold_previous_files(**kwargs: Any) -> None:
    """When a worker starts: fold files that exited processes of this host left."""
    metrics_files.compact()


@worker_process_shutdown.connect
def forget_live_gauges(**kwargs: Any) -> None:
    """A pool process is ending: its live gauges go (its counters are folded at the next start)."""
    if metrics_files.MULTIPROC_DIR:
        multiprocess.mark_process_dead(os.getpid())


@setup_logging.connect
def use_django_logging(**kwargs: Any) -> None:
    """Workers and beat log like web: our format, levels and masking filters (not Celery's own)."""
    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)
