"""The line's Prometheus metrics, and the functions the rest of the code calls to count things.

Counters and the latency histogram live in each process; under gunicorn every worker writes them
to PROMETHEUS_MULTIPROC_DIR (set by gunicorn.conf.py) and a scrape adds them up. Queue and journal
figures are read afresh at each scrape (ivr/ops/health.py), so they are right whichever worker
answers. Names and labels are what docs/operations.md's alerts use: keep them.

Others count through these functions only: `record_fallback`, `record_redis_error`,
`record_callback`, `record_alert` (urgent alerts to duty contacts: call it once per message).
"""

from __future__ import annotations

import os
import time

from flask import Flask, g, request
from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily

WEBHOOK_SECONDS = Histogram(
    "ivr_webhook_seconds",
    "Time to answer a Twilio webhook, by route (Twilio gives up after 15 s).",
    ["route"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 15.0),
)
FALLBACK_ANSWERS = Counter(
    "ivr_fallback_answers",
    "Callers who heard the safe message (crisis numbers, goodbye) instead of the flow, by route.",
    ["route"],
)
REDIS_ERRORS = Counter(
    "ivr_redis_errors", "Redis errors the line handled, by where they happened.", ["where"]
)
CALLBACKS_CREATED = Counter(
    "ivr_callbacks_created",
    "Callback requests made by callers; source: redis, or journal (made while Redis was down).",
    ["urgent", "source"],
)
ALERTS = Counter(
    "ivr_alerts",
    "Urgent alerts to the duty contacts, by channel and result.",
    ["channel", "result"],
)


def record_fallback(route: str) -> None:
    FALLBACK_ANSWERS.labels(route=route or "unknown").inc()


def record_redis_error(where: str) -> None:
    REDIS_ERRORS.labels(where=where).inc()


def record_callback(urgent: bool, source: str = "redis") -> None:
    CALLBACKS_CREATED.labels(urgent="yes" if urgent else "no", source=source).inc()


def record_alert(channel: str, ok: bool) -> None:
    """One urgent alert message to a duty contact: channel "sms" or "email"; ok if it was sent."""
    ALERTS.labels(channel=channel, result="sent" if ok else "failed").inc()


def init_app(app: Flask) -> None:
    """Time every Twilio webhook (the /voice/* routes), labelled by the route's rule."""

    @app.before_request
    def _start_clock():
        if request.path.startswith("/voice/"):
            g.ivr_started = time.perf_counter()

    @app.after_request
    def _observe(response):
        started = g.pop("ivr_started", None)
        if started is not None:
            route = request.url_rule.rule if request.url_rule else "unknown"
            WEBHOOK_SECONDS.labels(route=route).observe(time.perf_counter() - started)
        return response


class _Live:
    """Figures read at scrape time (a prometheus_client custom collector)."""

    def __init__(self, families):
        self.families = families

    def collect(self):
        yield from self.families()


class _ThisProcess:
    def collect(self):
        yield from REGISTRY.collect()


def exposition(live_families) -> bytes:
    """The text a scrape gets: every worker's counters added up, plus the live figures."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
    else:  # one process (the tests, `flask run`): its own counters
        registry.register(_ThisProcess())
    registry.register(_Live(live_families))
    return generate_latest(registry)


def gauge(name: str, documentation: str, rows: dict[tuple, float], labels=()) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation, labels=list(labels))
    for values, value in rows.items():
        family.add_metric(list(values), value)
    return family
