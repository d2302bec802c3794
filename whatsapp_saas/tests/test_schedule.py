"""Every periodic task in the beat schedule exists and is registered with the worker."""

from __future__ import annotations

from whatsapp_saas.celery import app


def test_every_scheduled_task_is_registered() -> None:
    app.loader.import_default_modules()
    scheduled = {entry["task"] for entry in app.conf.beat_schedule.values()}
    assert scheduled and scheduled <= set(app.tasks)
