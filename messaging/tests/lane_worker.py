"""A send worker for tests that kill it: runs one number's lane in a loop, as Celery would.

`python -m messaging.tests.lane_worker <database> <number id> <sandbox url> <kill file> <seconds>`
If the kill file exists when a provider call returns, the worker removes it and SIGKILLs itself
right there: the provider performed the send, our record of it never happened (the crash window).
The provider's history is the sandbox's log (fixtures.sandbox_history).
"""

from __future__ import annotations

import os
import signal
import sys
import time
from typing import Any

import django
import requests


class RemoteSandbox:
    """The sandbox's control API over HTTP."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url

    def control(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """Call the control API and return its JSON."""
        response = requests.request(
            method, f"{self.base_url}/_sandbox{path}", json=body, timeout=10
        )
        response.raise_for_status()
        return response.json()


def main() -> None:
    """Run the lane until nothing is queued or the time is up (or a kill)."""
    database, number_id, sandbox_url, kill_file, seconds = sys.argv[1:6]
    django.setup()
    from django.conf import settings

    settings.DATABASES["default"]["NAME"] = database
    from messaging import lanes, sending
    from messaging.models import Message
    from providers.evolution import EvolutionGateway

    from .fixtures import sandbox_history

    EvolutionGateway.find_sent = sandbox_history(RemoteSandbox(sandbox_url))  # type: ignore[method-assign]
    call = sending.call_provider

    def dying(message: Any) -> Any:
        result = call(message)
        try:
            os.remove(kill_file)
        except FileNotFoundError:
            return result
        os.kill(os.getpid(), signal.SIGKILL)
        return result

    sending.call_provider = dying
    deadline = time.monotonic() + float(seconds)
    waiting = Message.objects.filter(number_id=number_id, status=Message.Status.QUEUED)
    while time.monotonic() < deadline and waiting.exists():
        lanes.run(number_id)
        time.sleep(0.02)


if __name__ == "__main__":
    main()
