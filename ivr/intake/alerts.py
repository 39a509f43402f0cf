"""What the duty contacts are told about urgent requests, and when (the sweeper asks each round):

- an urgent request that arrived in working hours: at once, one message each;
- urgent requests that arrived out of hours: one summary, once the team is working again;
- an urgent target 30 minutes (or less) from being missed, nobody having reached the caller yet;
- an urgent request escalated (attempts used up: a manager must decide).

Each alert is planned once per request (a mark in Redis) and queued in the outbox
(ivr/intake/outbox.py) for every duty contact. Messages carry the reference and a link to the
request page, never a phone number or an answer.
"""

from __future__ import annotations

from datetime import datetime

import redis

from ivr.config import Settings
from ivr.intake import outbox
from ivr.intake.outcomes import target_time
from ivr.line.hours import Hours
from ivr.store.keys import key

NEAR_MISS_SECONDS = 30 * 60


def urgent_open(client: redis.Redis) -> list[dict]:
    """Every open urgent request (the urgent band of the queue scores below zero), leaving out
    those made by test calls from /try: a rehearsal must not text the duty contacts."""
    refs = client.zrangebyscore(key("callback_queue"), "-inf", "(0")
    fields = ("status", "created_at", "contacted_at", "urgent", "test")
    with client.pipeline(transaction=False) as pipe:
        for ref in refs:
            pipe.hmget(key("callback", id=ref), fields)
        rows = pipe.execute()
    out = []
    for ref, values in zip(refs, rows, strict=True):
        cb = dict(zip(fields, values, strict=True))
        if cb["test"] == "1" or cb["urgent"] != "1":
            continue
        if cb["status"] and cb["status"] != "closed" and cb["created_at"]:
            out.append({"reference": ref, **cb, "created_at": float(cb["created_at"])})
    return out


def plan(client: redis.Redis, settings: Settings, hours: Hours, now: float) -> int:
    """Queue the alerts that are due now; returns how many alerts (not messages) were planned."""
    contacts = outbox.duty_contacts(settings)
    if not contacts:
        return 0
    planned = 0
    summary: list[dict] = []
    moment = datetime.fromtimestamp(now, hours.tz)
    for cb in urgent_open(client):
        ref, created = cb["reference"], datetime.fromtimestamp(cb["created_at"], hours.tz)
        if not _planned(client, "arrival", ref):
            if hours.is_open(created):
                planned += _queue(
                    client, settings, now, "arrival", [ref], *_arrival(settings, cb, hours)
                )
            elif hours.is_open(moment):
                summary.append(cb)
        target = target_time(cb["created_at"], hours, 0, settings.urgent_target_hours)
        near = now >= target.timestamp() - NEAR_MISS_SECONDS
        if near and not cb["contacted_at"] and not _planned(client, "target", ref):
            planned += _queue(
                client, settings, now, "target", [ref], *_near_miss(settings, ref, target)
            )
        if cb["status"] == "escalated" and not _planned(client, "escalated", ref):
            planned += _queue(client, settings, now, "escalated", [ref], *_escalated(settings, ref))
    if summary:
        refs = [cb["reference"] for cb in summary]
        planned += _queue(
            client, settings, now, "arrival", refs, *_summary(settings, summary, hours)
        )
    return planned


def _planned(client: redis.Redis, kind: str, ref: str) -> bool:
    return bool(client.exists(key("alert_planned", kind=kind, ref=ref)))


def _queue(client, settings: Settings, now: float, kind: str, refs, subject: str, body: str) -> int:
    """Mark the alert planned for each request and queue one message per duty contact, in one
    MULTI, so an alert is either planned and queued or neither."""
    ttl = settings.retention_days * 86400
    with client.pipeline(transaction=True) as pipe:
        for ref in refs:
            pipe.set(key("alert_planned", kind=kind, ref=ref), repr(now), ex=ttl)
        for channel, to in outbox.duty_contacts(settings):
            outbox.queue_message(pipe, now, channel, to, subject, body, ttl)
        pipe.execute()
    return 1


def link(settings: Settings, ref: str) -> str:
    return f"{settings.public_base_url.rstrip('/')}/intake/callbacks/{ref}"


def _arrival(settings: Settings, cb: dict, hours: Hours) -> tuple[str, str]:
    ref = cb["reference"]
    at = datetime.fromtimestamp(cb["created_at"], hours.tz)
    return (
        f"URGENT callback request {ref}",
        f"An urgent callback request ({ref}) came in at {at:%H:%M}. Open it: {link(settings, ref)}",
    )


def _summary(settings: Settings, cbs: list[dict], hours: Hours) -> tuple[str, str]:
    lines = []
    for cb in cbs:
        at = datetime.fromtimestamp(cb["created_at"], hours.tz)
        lines.append(
            f"{cb['reference']} (came in {at:%a %d %b %H:%M}): {link(settings, cb['reference'])}"
        )
    count = len(cbs)
    plural = "request" if count == 1 else "requests"
    return (
        f"URGENT: {count} callback {plural} from out of hours",
        f"{count} urgent callback {plural} came in while the team was closed. " + " ".join(lines),
    )


def _near_miss(settings: Settings, ref: str, target: datetime) -> tuple[str, str]:
    return (
        f"URGENT callback request {ref}: target {target:%H:%M}",
        f"Urgent callback request {ref} has not been reached and its target is {target:%H:%M}"
        f" ({target:%a %d %b}). Open it: {link(settings, ref)}",
    )


def _escalated(settings: Settings, ref: str) -> tuple[str, str]:
    return (
        f"ESCALATED urgent callback request {ref}",
        f"Urgent callback request {ref} has had every attempt without reaching the caller and is"
        f" escalated: a manager must decide what happens next. Open it: {link(settings, ref)}",
    )


def run(client: redis.Redis, settings: Settings, now: float) -> tuple[int, int, int]:
    """One round for the sweeper: plan due alerts, send due messages. (planned, sent, failed)"""
    planned = plan(client, settings, Hours.from_settings(settings), now)
    sent, failed = outbox.deliver(client, settings, now)
    return planned, sent, failed
