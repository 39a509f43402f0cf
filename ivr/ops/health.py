"""What the line's health is made of, read cheaply at request time: Redis, the journal and the
callback queue by band. Used by /healthz?deep=1 and by the scrape-time gauges of /metrics."""

from __future__ import annotations

import os
import time

import redis

from ivr import metrics
from ivr.outage.journal import Journal
from ivr.store.callbacks import SCHEDULED, TEST_FROM, URGENT, queue_created
from ivr.store.keys import key
from ivr.store.redis_store import Store

BANDS = ("urgent", "routine")


def queue_bands(client: redis.Redis, now: float) -> dict[str, tuple[int, float]]:
    """Open callback requests (not yet closed, not from test calls) per band: (how many, seconds
    the oldest has waited). Each band: ready to call, then scheduled; oldest first (queue_score)."""
    queue, out = key("callback_queue"), {}
    parts = {
        "urgent": [("-inf", f"({URGENT + SCHEDULED}"), (URGENT + SCHEDULED, "(0")],
        "routine": [(0, f"({SCHEDULED}"), (SCHEDULED, f"({TEST_FROM}")],
    }
    with client.pipeline(transaction=False) as pipe:
        for ranges in parts.values():
            for low, high in ranges:
                pipe.zcount(queue, low, high)
                pipe.zrangebyscore(queue, low, high, start=0, num=1, withscores=True)
        found = iter(pipe.execute())
    for band, ranges in parts.items():
        count, firsts = 0, []
        for _ in ranges:
            count += next(found)
            firsts += [queue_created(score) for _, score in next(found)]
        out[band] = (count, max(now - min(firsts), 0.0) if firsts else 0.0)
    return out


def journal_waiting(journal: Journal) -> int:
    """Callback requests on disk waiting to be delivered into Redis."""
    return sum(1 for row in journal.status() if row.get("kind") == "callback")


def journal_writable(journal: Journal) -> bool:
    directory = journal.directory
    target = directory if directory.exists() else directory.parent
    return os.access(target, os.W_OK | os.X_OK)


def deep(store: Store, journal: Journal) -> tuple[dict, bool]:
    """/healthz?deep=1: each part's state, and whether the line is fully well."""
    report: dict = {"status": "ok"}
    healthy = True
    try:
        store.redis.ping()
        report["redis"] = "ok"
        bands = queue_bands(store.redis, time.time())
        report["queue"] = {
            band: {"open": count, "oldest_wait_seconds": round(age)}
            for band, (count, age) in bands.items()
        }
    except redis.RedisError as exc:
        metrics.record_redis_error("health")
        report["redis"] = f"unavailable ({type(exc).__name__})"
        healthy = False
    report["journal"] = {"waiting": journal_waiting(journal), "writable": journal_writable(journal)}
    if not report["journal"]["writable"]:
        healthy = False
    if not healthy:
        report["status"] = "degraded"
    return report, healthy


def live_families(store: Store, journal: Journal):
    """The gauges a scrape reads afresh (they are the same whichever worker answers)."""
    up = 1.0
    try:
        bands = queue_bands(store.redis, time.time())
    except redis.RedisError:
        metrics.record_redis_error("metrics")
        up, bands = 0.0, {}
    yield metrics.gauge("ivr_redis_up", "1 if Redis answered this scrape.", {(): up})
    if bands:
        yield metrics.gauge(
            "ivr_callbacks_open",
            "Callback requests not yet closed, by band.",
            {(band,): count for band, (count, _) in bands.items()},
            labels=("band",),
        )
        yield metrics.gauge(
            "ivr_callbacks_oldest_wait_seconds",
            "How long the oldest open callback request has waited, by band (0 if none).",
            {(band,): age for band, (_, age) in bands.items()},
            labels=("band",),
        )
    yield metrics.gauge(
        "ivr_journal_waiting",
        "Callback requests on disk waiting for Redis (should be 0 while Redis is up).",
        {(): float(journal_waiting(journal))},
    )
