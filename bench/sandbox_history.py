"""Celery app of the send benchmark's workers when the provider's history is the sandbox's log.

Until the sandbox answers Evolution's findMessages (and the gateway implements `find_sent`),
`bench/send_throughput.py --sandbox-log-history` starts its workers with `-A bench.sandbox_history`:
the same app, with `find_sent` reading the sandbox's message log (messaging/tests/fixtures.py).
"""

from __future__ import annotations

import os
from typing import Any

from celery.signals import worker_process_init

from whatsapp_saas.celery import app

__all__ = ["app"]


@worker_process_init.connect
def read_history_from_the_sandbox_log(**_: Any) -> None:
    """Install the stand-in history in each worker process."""
    from messaging.tests.fixtures import sandbox_history
    from messaging.tests.lane_worker import RemoteSandbox
    from providers.evolution import EvolutionGateway

    sandbox = RemoteSandbox(os.environ["EVOLUTION_API_URL"])
    EvolutionGateway.find_sent = sandbox_history(sandbox)  # type: ignore[method-assign]
