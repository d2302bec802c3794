"""Workers survive Redis: killed and restarted under a worker holding hundreds of tasks.

The crash this guards against (celery 5.7.0, kombu 5.7.0; whatsapp_saas/broker_fixes.py has the
root cause): "Connection to broker lost", "Restoring N unacknowledged message(s)", then
`AttributeError: 'NoneType' object has no attribute 'hostname'` and the worker exits for good.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from kombu import Connection, Exchange, Queue
from rest_framework.test import APIClient

from instances.models import Number
from messaging.models import Message
from whatsapp_saas import broker_fixes
from whatsapp_saas.celery import app

from .processes import Celery, RedisServer, app_env, wait_for

pytestmark = pytest.mark.django_db(transaction=True)
PROBE = "whatsapp_saas.tests.probe_tasks"
HELD = 300  # countdown tasks the worker holds unacknowledged when Redis goes


def test_a_channel_whose_redis_died_mid_poll_closes_the_way_celery_closes_it(
    redis_server: RedisServer,
) -> None:
    # What the worker's consumer does on a lost connection: collect(), then close() (celery 5.7).
    # A BRPOP in flight, unacknowledged messages, and a remote-control (pidbox) fanout channel.
    conn = Connection(redis_server.url)
    work = Queue("work", Exchange("work"), "work")
    with conn.Producer() as producer:
        producer.publish({"n": 1}, exchange=work.exchange, routing_key="work", declare=[work])
    channel: Any = conn.default_channel  # kombu's Redis channel (its internals are the point)
    held: list[Any] = []
    conn.Consumer(work, channel=channel, callbacks=[lambda body, msg: held.append(msg)]).consume()
    box = Queue("node.pidbox", Exchange("pidbox", type="fanout"), auto_delete=True)
    conn.Consumer(box, channel=conn.channel(), callbacks=[lambda body, msg: None]).consume()

    def delivered() -> bool:
        conn.drain_events(timeout=5)
        return bool(held)

    wait_for(delivered, 10, "the message delivered")
    assert len(held) == 1 and channel.qos._delivered
    channel._brpop_start()  # the event loop waits for the next message
    redis_server.kill()

    conn.collect(socket_timeout=5)
    conn.close()  # raised AttributeError(...'hostname') before the fix

    assert channel.closed
    assert broker_fixes.apply(), "kombu changed: re-check broker_fixes.py against its close()"


def held_unacknowledged(server: RedisServer) -> int:
    """Messages delivered to a worker and not yet acknowledged."""
    try:
        return int(server.client().hlen("unacked"))
    except Exception:
        return 0


def reconnected(worker: Celery) -> bool:
    """The worker logged its second connection: the one after the restart."""
    return worker.text().count("Connected to redis://") >= 2


def test_a_worker_holding_hundreds_of_tasks_outlives_a_redis_restart_and_drains_the_work(
    redis_server: RedisServer, tmp_path: Path, api: APIClient, linked: Number, sandbox: Any
) -> None:
    env = app_env(redis_server.url)
    # Default worker options on purpose: remote control and gossip add the fanout sockets that
    # reported the loss first in the crash.
    worker = Celery.worker(
        tmp_path / "w1.log", env, "send,events,notify,maintenance", 2, "-I", PROBE
    )
    beat = Celery(tmp_path / "beat.log", env, "beat", "-s", str(tmp_path / "beat-schedule"))
    try:
        tokens = tmp_path / "tokens.txt"
        tokens.touch()
        with app.connection_for_write(redis_server.url) as conn:
            for i in range(HELD):
                app.send_task(
                    "probe.record", (str(tokens), f"eta{i}"), countdown=900, connection=conn
                )
            # One task runs through the outage; the other pool process is free, so a BRPOP is in
            # flight when Redis dies: the condition of the crash (it crashed 6 times in 6 so).
            app.send_task("probe.record", (str(tokens), "through", 15.0), connection=conn)
        wait_for(lambda: held_unacknowledged(redis_server) > HELD, 60, f"{HELD} tasks held")
        accepted = [
            api.post(
                "/api/v1/messages/",
                {
                    "number": linked.pk,
                    "to": f"55119777700{i:02d}",
                    "type": "text",
                    "text": f"before {i}",
                },
                format="json",
            )
            for i in range(20)
        ]
        assert {r.status_code for r in accepted} == {202}

        redis_server.kill()
        time.sleep(5)
        redis_server.start()

        # The worker reconnects by itself; its pool keeps working; new tasks are consumed.
        wait_for(lambda: reconnected(worker) or worker.exited(), 60, "reconnect")
        assert not worker.exited(), worker.text()[-4000:]
        with app.connection_for_write(redis_server.url) as conn:
            for i in range(10):
                app.send_task("probe.record", (str(tokens), f"after{i}"), connection=conn)
        after = {f"after{i}" for i in range(10)} | {"through"}
        wait_for(lambda: after <= set(tokens.read_text().split()), 60, "tasks sent after restart")
        # Everything accepted before the outage is sent: the rows are the jobs, beat's sweep
        # re-drives them (their Celery messages died with that Redis).
        ids = [r.json()["id"] for r in accepted]
        wait_for(
            lambda: Message.objects.filter(pk__in=ids, status="sent").count() == len(ids),
            120,
            "the 20 messages accepted before the outage to be sent",
        )
        assert not worker.exited(), worker.text()[-3000:]
        assert "Unrecoverable error" not in worker.text()
        assert worker.text().count(" ready.") == 1  # one start: the worker never restarted
        assert not beat.exited(), beat.text()[-3000:]
    finally:
        beat.stop()
        worker.stop()
