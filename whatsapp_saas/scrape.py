"""Gauges computed at scrape time from our tables and Redis (whatsapp_saas.figures)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from django.db import DatabaseError
from prometheus_client.core import GaugeMetricFamily, Metric
from redis import RedisError

from instances.health import CACHE_KEY as PROVIDER_HEALTH_KEY

from . import figures

logger = logging.getLogger(__name__)


class DatabaseCollector:
    """Numbers by status, queue depth and age, breaker states, provider reachability."""

    def collect(self) -> Iterator[Metric]:
        """Each family on its own: a failing one is logged and left out, the others still answer."""
        for family in (self.numbers, self.queues, self.breakers, self.providers):
            try:
                yield from family()
            except (DatabaseError, RedisError) as exc:
                logger.warning("metrics: %s unavailable: %s", family.__name__, exc)

    def numbers(self) -> Iterator[Metric]:
        """wa_numbers{provider,status}."""
        gauge = GaugeMetricFamily(
            "wa_numbers", "Live numbers by status", labels=["provider", "status"]
        )
        for (provider, status), n in sorted(figures.numbers_by_status().items()):
            gauge.add_metric([provider, status], n)
        yield gauge

    def queues(self) -> Iterator[Metric]:
        """wa_queue_depth{queue} and wa_queue_oldest_due_age_seconds{queue}."""
        depth = GaugeMetricFamily("wa_queue_depth", "Rows due now per work queue", labels=["queue"])
        age = GaugeMetricFamily(
            "wa_queue_oldest_due_age_seconds",
            "How long the oldest due row of each work queue has waited",
            labels=["queue"],
        )
        for figure in figures.queues():
            depth.add_metric([figure.queue], figure.depth)
            age.add_metric([figure.queue], figure.oldest_due_seconds)
        yield depth
        yield age

    def breakers(self) -> Iterator[Metric]:
        """wa_provider_breaker_state{provider,host}: 0 closed, 1 half-open, 2 open."""
        gauge = GaugeMetricFamily(
            "wa_provider_breaker_state",
            "Circuit breaker per provider host: 0 closed, 1 half-open, 2 open",
            labels=["provider", "host"],
        )
        for provider, host, state in figures.breakers():
            gauge.add_metric([provider, host], figures.BREAKER_STATES.get(state, 2))
        yield gauge

    def providers(self) -> Iterator[Metric]:
        """wa_provider_reachable{provider} from the last periodic health check."""
        from django.core.cache import cache

        stored = cache.get(PROVIDER_HEALTH_KEY) or {"providers": {}}
        gauge = GaugeMetricFamily(
            "wa_provider_reachable",
            "Whether the last health check reached the provider",
            labels=["provider"],
        )
        for name, probe in sorted(stored["providers"].items()):
            gauge.add_metric([name], 1 if probe.get("reachable") else 0)
        yield gauge
