"""Keeping PROMETHEUS_MULTIPROC_DIR small: fold the files of dead processes into one per host.

Every process writes `<type>_<host>-<pid>.db`. A recycled gunicorn or Celery child leaves its file
behind; deleting it would make its counters go backwards, so its values are added into
`<type>_<host>-archive.db` and the file is removed. Only this host's files are touched: another
container's pids mean nothing here.
"""

from __future__ import annotations

import fcntl
import glob
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client.mmap_dict import MmapedDict, mmap_key
from prometheus_client.multiprocess import MultiProcessCollector

from .metrics import MULTIPROC_DIR, PROCESS_ID

logger = logging.getLogger(__name__)
ARCHIVE = "archive"


def identifier(path: str) -> tuple[str, str, str]:
    """(type, host, pid or "archive") of a file name such as `counter_web1-42.db`."""
    parts = os.path.basename(path)[: -len(".db")].split("_")
    host, _, pid = parts[-1].rpartition("-")
    return parts[0], host, pid


def alive(pid: int) -> bool:
    """Whether a process with this id runs on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def dead_files(path: str, host: str = PROCESS_ID) -> list[str]:
    """This host's files whose process has exited."""
    found = []
    for name in glob.glob(os.path.join(path, "*.db")):
        _, file_host, pid = identifier(name)
        if file_host == host and pid.isdigit() and not alive(int(pid)):
            found.append(name)
    return sorted(found)


@contextmanager
def locked(path: str) -> Iterator[None]:
    """One compaction at a time per folder (web and workers may start together)."""
    with open(os.path.join(path, ".compact.lock"), "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def compact(path: str = MULTIPROC_DIR, host: str = PROCESS_ID) -> int:
    """Fold this host's dead processes' counters and histograms into its archive; files removed."""
    if not path or not os.path.isdir(path):
        return 0
    with locked(path):
        dead = dead_files(path, host)
        by_type: dict[str, list[str]] = {}
        for name in dead:
            by_type.setdefault(identifier(name)[0], []).append(name)
        for typ, names in by_type.items():
            if typ != "gauge":
                fold(path, typ, host, names)
        for name in dead:
            os.remove(name)
    if dead:
        logger.debug("metrics: folded %d files of exited processes", len(dead))
    return len(dead)


def fold(path: str, typ: str, host: str, names: list[str]) -> None:
    """Write the sum of `names` and the current archive into a new archive, atomically."""
    archive = os.path.join(path, f"{typ}_{host}-{ARCHIVE}.db")
    sources = [*names, archive] if os.path.exists(archive) else names
    merged = MultiProcessCollector.merge(sources, accumulate=False)
    partial = archive + ".tmp"
    target = MmapedDict(partial)
    try:
        for metric in merged:
            for sample in metric.samples:
                key = mmap_key(
                    metric.name,
                    sample.name,
                    list(sample.labels),
                    list(sample.labels.values()),
                    metric.documentation,
                )
                target.write_value(key, sample.value, sample.timestamp or 0.0)
    finally:
        target.close()
    os.replace(partial, archive)
