"""Every periodic task in the beat schedule exists and is registered with the worker."""

from __future__ import annotations

from whatsapp_saas.celery import app


def test_every_scheduled_task_is_registered():
    app.loader.import_default_modules()
    scheduled = {entry["task"] for entry in app.conf.beat_schedule.values()}
    assert scheduled and scheduled <= set(app.tasks)


def test_short_period_tasks_expire_within_their_period():
    for entry in app.conf.beat_schedule.values():
        if isinstance(entry["schedule"], (int, float)):
            assert entry["options"]["expires"] <= entry["schedule"]
