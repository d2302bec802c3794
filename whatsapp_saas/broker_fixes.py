"""A targeted fix of kombu's Redis channel close, which crashed workers when Redis restarted.

Root cause (kombu 5.7.0 with celery 5.7.0; reproduced in whatsapp_saas/tests/test_broker_loss.py):
`kombu.transport.redis.Channel.close()` talks to Redis *before* it marks the channel closed: it
reads the reply of a BRPOP still in flight (kombu#1733, so a popped message is not lost) and deletes
the bindings of auto-delete fanout queues (the worker's `celery@host.celery.pidbox`, gossip's
`celeryev.*`). With Redis gone either raises ConnectionError and the close stops half-way: the
channel stays open and its unacknowledged messages unrestored. `Transport.close_connection` stops
at the first channel that fails, and `Connection.collect()` then detaches the transport
(`transport.client = None`). Celery 5.7 closes that connection once more
(`Consumer.on_connection_error_after_connected`); the half-closed channel now reaches
`QoS.restore_unacked()`, which builds a new pool from `transport.client.hostname` — None — and the
AttributeError, not being a connection error, ends the worker ("Unrecoverable error"). It needs a
worker holding unacknowledged messages (reserved, countdown or ETA tasks) with a BRPOP in flight
when another socket (remote control, gossip) reports the loss first: hence "sometimes".

The fix finishes the close without Redis when Redis is gone. Settings do not reach it: disabling
remote control and gossip removes the fanout queues whose failed deletion stops the loop, but costs
`celery inspect ping` and still leaves the first close half-done. Versions: kombu 5.6.2 has the same
close(); celery 5.6.2 does not close the collected connection a second time (new in 5.7.0), so it
does not crash but leaves the half-closed channel to the garbage collector. The fix applies to
kombu 5.7.0 only, so an upgrade is re-checked by the test rather than silently patched.
"""

from __future__ import annotations

import contextlib
from importlib.metadata import version
from queue import Empty
from typing import Any

from kombu.transport import redis as redis_transport
from kombu.transport import virtual

PATCHED_VERSIONS = {"5.7.0"}


def close_without_redis(channel: Any) -> None:
    """kombu's Channel.close, where a lost connection no longer stops the close half-way."""
    channel._closing = True
    if channel._in_poll:
        try:
            channel._brpop_read()
        except (Empty, *channel.connection_errors):
            # Gone with the connection; a message Redis popped for it is re-driven by the sweeps.
            pass
    if not channel.closed:
        channel.connection.cycle.discard(channel)
        client = channel.__dict__.get("client")
        if client is not None:
            for queue in channel._fanout_queues:
                # A stale fanout binding is harmless and replaced when the worker reconnects.
                with contextlib.suppress(*channel.connection_errors):
                    if queue in channel.auto_delete_queues:
                        channel.queue_delete(queue, client=client)
        channel._disconnect_pools()
        channel._close_clients()
    # Marks the channel closed, then restores the unacknowledged messages while the transport
    # still knows its server; with Redis down that raises a connection error callers expect.
    virtual.Channel.close(channel)


def apply() -> bool:
    """Install the fix for the kombu versions that need it; True when installed."""
    if version("kombu") not in PATCHED_VERSIONS:
        return False
    redis_transport.Channel.close = close_without_redis  # type: ignore[method-assign,assignment]
    return True
