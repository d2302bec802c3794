"""Multiprocess mode: counters of separate processes (gunicorn, Celery) add up; exited ones fold."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest, multiprocess
from prometheus_client.parser import text_string_to_metric_families

from whatsapp_saas import metrics_files
from whatsapp_saas.metrics import PROCESS_ID

ROOT = Path(__file__).resolve().parents[2]
RECORD = """
import django, sys
django.setup()
from whatsapp_saas import metrics
for _ in range(int(sys.argv[1])):
    metrics.send_outcome("evolution", "sent")
metrics.webhook_received("greenapi", "accepted", 0.02)
if sys.argv[2] == "stay":
    print("recorded", flush=True)
    sys.stdin.readline()
"""


def worker(folder: Path, sends: int, stay: bool = False) -> subprocess.Popen[str]:
    """A separate process recording metrics into `folder`, as a web or Celery worker would."""
    env = {
        **os.environ,
        "PROMETHEUS_MULTIPROC_DIR": str(folder),
        "DJANGO_SETTINGS_MODULE": "whatsapp_saas.settings.test",
    }
    return subprocess.Popen(
        [sys.executable, "-c", RECORD, str(sends), "stay" if stay else "exit"],
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def scraped(folder: Path) -> dict[str, float]:
    """What a scrape of `folder` reports, by sample name and labels."""
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, str(folder))
    text = generate_latest(registry).decode()
    return {
        f"{s.name}{sorted(s.labels.items())}": s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


SENT = "wa_sends_total[('outcome', 'sent'), ('provider', 'evolution')]"
ACKS = "wa_webhook_ack_seconds_count[('provider', 'greenapi')]"


def test_processes_counters_add_up_in_one_scrape(tmp_path: Path) -> None:
    for sends in (2, 3):
        assert worker(tmp_path, sends).wait(timeout=60) == 0
    names = sorted(p.name for p in tmp_path.glob("*.db"))
    assert all(f"_{PROCESS_ID}-" in name for name in names)
    found = scraped(tmp_path)
    assert found[SENT] == 5
    assert found[ACKS] == 2


def test_exited_processes_fold_into_one_file_and_keep_their_counts(tmp_path: Path) -> None:
    for sends in (2, 3):
        assert worker(tmp_path, sends).wait(timeout=60) == 0
    live = worker(tmp_path, 4, stay=True)
    try:
        assert live.stdout is not None and live.stdout.readline().strip() == "recorded"
        before = scraped(tmp_path)
        assert metrics_files.compact(str(tmp_path)) == 4  # counter + histogram of each exited one
        after = scraped(tmp_path)
        assert after == before
        assert after[SENT] == 9
        files = {p.name for p in tmp_path.glob("*.db")}
        assert f"counter_{PROCESS_ID}-{live.pid}.db" in files
        assert f"counter_{PROCESS_ID}-archive.db" in files
        assert len(files) == 4
    finally:
        live.communicate("\n", timeout=30)
    # The next compaction folds the archive and the one that just exited together.
    assert metrics_files.compact(str(tmp_path)) == 2
    assert scraped(tmp_path)[SENT] == 9
    assert len(list(tmp_path.glob("*.db"))) == 2
