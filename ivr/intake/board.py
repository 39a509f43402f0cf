"""The queue page's live strip (what a worker takes in at a glance) and what managers are shown
above the queue: escalated requests, urgent alerts that failed to send, missing duty contacts."""

from __future__ import annotations

import time
from datetime import datetime

from ivr.intake import outbox, outcomes
from ivr.store.callbacks import SCHEDULED, TEST_FROM, URGENT, queue_created, queue_score
from ivr.store.keys import key


def live(service, now: float | None = None) -> dict:
    """The live strip for the open queue (real requests, not test calls'): waiting now (ready
    to call), urgent waiting, overdue, the oldest wait, escalated, and who is working what.
    Counted from the queue's score ranges (queue_score) without reading every request: only
    the claimed and escalated requests are read, and the urgent band's references."""
    now = now or time.time()
    service.transitions.sweep(now)
    queue, client = key("callback_queue"), service.redis
    ready = [("-inf", f"({URGENT + SCHEDULED}"), (0, f"({SCHEDULED}")]
    scheduled = [(URGENT + SCHEDULED, "(0"), (SCHEDULED, f"({TEST_FROM}")]
    claimed = client.zrange(key("callbacks_by_status", status="claimed"), 0, -1)
    escalated = client.zrange(key("callbacks_by_status", status="escalated"), 0, -1)
    cutoffs = {band: _overdue_before(service, now, band) for band in (True, False)}
    with client.pipeline(transaction=False) as pipe:
        for low, high in ready + scheduled:
            pipe.zcount(queue, low, high)
            pipe.zrangebyscore(queue, low, high, 0, 1, withscores=True)
        pipe.zrangebyscore(queue, "-inf", "(0")
        for low, high in ready + scheduled:  # overdue: the oldest of each part, up to a cutoff
            band = low == "-inf" or low == URGENT + SCHEDULED
            offset = queue_score(0, band, scheduled=(low, high) in scheduled)
            pipe.zcount(queue, low, f"({offset + cutoffs[band]}")
        for ref in claimed + escalated:
            pipe.hmget(key("callback", id=ref), ["test", "claimed_by"])
            pipe.zscore(queue, ref)
        found = pipe.execute()
    parts, found = found[:8], found[8:]
    urgent_refs, found = set(found[0]), found[1:]
    overdue, found = sum(found[:4]), found[4:]
    held = {}  # claimed or escalated real requests: ref -> (claimed_by, queue score)
    for i, ref in enumerate(claimed + escalated):
        (flag, who), score = found[2 * i], found[2 * i + 1]
        if flag != "1" and score is not None:
            held[ref] = (who, score)
    mine = sorted((r for r in claimed if r in held), key=lambda r: held[r][1])
    working: dict[str, list[str]] = {}
    for ref in mine:
        working.setdefault(held[ref][0] or "?", []).append(ref)
    firsts = [queue_created(score) for first in parts[1::2] for _, score in first]
    urgent = urgent_refs - set(mine)
    return {
        "waiting": sum(parts[0:4:2]) - len(held),
        "urgent": len(urgent),
        "urgent_refs": sorted(urgent),
        "overdue": overdue,
        "escalated": sum(1 for r in escalated if r in held),
        "oldest_seconds": max(0, now - min(firsts)) if firsts else None,
        "working": sorted(working.items()),
    }


def _overdue_before(service, now: float, urgent: bool) -> float:
    """The creation time before which an open request of the band is overdue: its target
    (outcomes.target_time) only grows with the creation time, so search for where it passes
    now, to a millisecond."""
    hours, settings = service.hours, service.settings
    band_hours = settings.urgent_target_hours if urgent else None

    def overdue(created: float) -> bool:
        target = outcomes.target_time(
            created, hours, settings.callback_target_working_days, band_hours
        )
        return datetime.fromtimestamp(now, hours.tz) > target

    low, high = now - 10 * 365 * 86400, now  # overdue at low (assumed), not at high
    if overdue(high):
        return high
    while high - low > 0.001:
        middle = (low + high) / 2
        low, high = (middle, high) if overdue(middle) else (low, middle)
    return high


def manager_notices(client, settings, now: float | None = None) -> dict:
    """What only managers see on the queue page."""
    now = now or time.time()
    return {
        "alert_failures": outbox.recent_failures(client, now - 7 * 86400),
        "alerts_waiting": outbox.waiting(client),
        "no_duty_contacts": not outbox.duty_contacts(settings),
    }
