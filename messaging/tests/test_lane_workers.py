"""Lanes across worker processes: the rate holds, and SIGKILLed workers lose and repeat nothing."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection

from instances.models import Number
from messaging.models import Message

from .fixtures import sent_at_provider

pytestmark = pytest.mark.django_db(transaction=True)


def worker(
    sandbox: Any, number: Number, kill_file: Path, seconds: float
) -> subprocess.Popen[bytes]:
    """Start a lane worker process (messaging/tests/lane_worker.py) on the test database."""
    env = {
        "DJANGO_SETTINGS_MODULE": "whatsapp_saas.settings.test",
        "TEST_REDIS_DB": str(settings.TEST_REDIS_DB),
        "EVOLUTION_API_URL": sandbox.base_url,
        "EVOLUTION_API_KEY": settings.EVOLUTION_API_KEY,
        "LOG_LEVEL": "WARNING",
    }
    command = [
        sys.executable,
        "-m",
        "messaging.tests.lane_worker",
        connection.settings_dict["NAME"],
        str(number.pk),
        sandbox.base_url,
        str(kill_file),
        str(seconds),
    ]
    return subprocess.Popen(command, cwd=settings.BASE_DIR, env={**os.environ, **env})


def test_two_worker_processes_sending_one_numbers_queue_hold_its_rate(
    linked: Number, queue: Callable[..., Message], sandbox: Any, tmp_path: Path
) -> None:
    per_minute, count = 240, 14
    Number.objects.filter(pk=linked.pk).update(send_rate_per_minute=per_minute)
    for i in range(count):
        queue(f"m{i}")
    workers = [worker(sandbox, linked, tmp_path / "never", 30) for _ in range(2)]
    assert [w.wait(timeout=60) for w in workers] == [0, 0]
    stamps = sorted(m["createdAt"] for m in sent_at_provider(sandbox))
    assert len(stamps) == count and len({m["text"] for m in sent_at_provider(sandbox)}) == count
    rate, burst = per_minute / 60, 3
    for i, start in enumerate(stamps):
        assert sum(1 for s in stamps[i:] if s < start + 1) <= rate + burst, stamps
    assert stamps[-1] - stamps[0] >= (count - burst) / rate * 0.9


def test_forty_messages_to_one_chat_with_the_worker_sigkilled_twice_mid_call_go_once_in_order(
    linked: Number, queue: Callable[..., Message], sandbox: Any, tmp_path: Path
) -> None:
    per_minute, count = 600, 40
    Number.objects.filter(pk=linked.pk).update(send_rate_per_minute=per_minute)
    texts = [f"m{i:02d}" for i in range(count)]
    for text in texts:
        queue(text, to="5511977770000")
    kill_file, kills = tmp_path / "kill", 0
    started = time.monotonic()
    deadline = started + count / (per_minute / 60) + 20
    current = worker(sandbox, linked, kill_file, 60)
    try:
        while Message.objects.filter(status="queued").exists():
            assert time.monotonic() < deadline, "not drained within 40/rate + 20 s"
            if (
                kills < 2
                and not kill_file.exists()
                and len(sent_at_provider(sandbox)) >= 10 + 15 * kills
            ):
                kill_file.touch()
            if current.poll() is not None:
                kills += current.returncode == -9
                current = worker(sandbox, linked, kill_file, 60)
            time.sleep(0.05)
    finally:
        current.kill()
        current.wait(10)
    log = sorted(sent_at_provider(sandbox), key=lambda m: m["createdAt"])
    assert kills == 2
    assert [m["text"] for m in log] == texts
    assert set(Message.objects.values_list("status", flat=True)) == {"sent"}
    resolved = set(Message.objects.values_list("send_attempts__resolved_by", flat=True))
    assert resolved == {"answer", "history"}
