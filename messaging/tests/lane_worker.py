"""A send worker for tests that kill it: runs one number's lane in a loop, as Celery would.

`python -m messaging.tests.lane_worker <database> <number id> <sandbox url> <kill file> <seconds>`
If the kill file exists when a provider call returns, the worker removes it and SIGKILLs itself
right there: the provider performed the send, our record of it never happened (the crash window).
The provider's history is the sandbox's own answer to chat/findMessages.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from typing import Any

import django


def main() -> None:
    """Run the lane until nothing is queued or the time is up (or a kill)."""
    database, number_id, sandbox_url, kill_file, seconds = sys.argv[1:6]
    django.setup()
    from django.conf import settings

    settings.DATABASES["default"]["NAME"] = database
    from messaging import lanes, sending
    from messaging.models import Message

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
