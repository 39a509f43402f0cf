"""The urgent alerts' outbox in Redis: messages waiting to go to the duty contacts by text (the
Twilio REST client) or email (ivr/clients/smtp.py), sent by the sweeper (`ivr callbacks sweep`),
never by a webhook. A message is leased while it is being sent (so a crash means it is tried again,
never lost), retried with a growing pause, and every failure is kept for managers to see.

Messages hold a reference and a link only: never a caller's number or answers.
"""

from __future__ import annotations

import json
import secrets

import redis
from twilio.base.exceptions import TwilioException

from ivr import metrics
from ivr.clients import smtp, twilio_rest
from ivr.config import Settings
from ivr.phone import mask
from ivr.store.keys import key

MAX_TRIES = 6  # then the message is given up (and shown to managers as such)
LEASE_SECONDS = 120  # a message being sent is not picked up again before this
FAILURES_KEPT = 200
BATCH = 50


def duty_contacts(settings: Settings) -> list[tuple[str, str]]:
    """(channel, address) for every duty contact: texts first, then email."""
    texts = [("sms", n.strip()) for n in settings.urgent_alert_sms.split(",") if n.strip()]
    mails = [("email", a.strip()) for a in settings.urgent_alert_email.split(",") if a.strip()]
    return texts + mails


def queue_message(pipe, now: float, channel: str, to: str, subject: str, body: str, ttl: int):
    """Queue one message on a (MULTI) pipeline."""
    mid = secrets.token_hex(8)
    pipe.hset(
        key("alert_message", id=mid),
        mapping={
            "channel": channel,
            "to": to,
            "subject": subject,
            "body": body,
            "created_at": repr(now),
            "attempts": 0,
            "state": "waiting",
        },
    )
    pipe.expire(key("alert_message", id=mid), ttl)
    pipe.zadd(key("alert_outbox"), {mid: now})


def deliver(client: redis.Redis, settings: Settings, now: float) -> tuple[int, int]:
    """Send what is due; returns (sent, failed this round)."""
    sent = failed = 0
    for mid in client.zrangebyscore(key("alert_outbox"), "-inf", now, start=0, num=BATCH):
        # Lease it: if this process dies mid-send, the message is tried again after the lease.
        client.zadd(key("alert_outbox"), {mid: now + LEASE_SECONDS}, xx=True)
        message = client.hgetall(key("alert_message", id=mid))
        if not message:
            client.zrem(key("alert_outbox"), mid)
            continue
        tries = int(message.get("attempts") or 0) + 1
        try:
            _send(settings, message)
        except (SendError, smtp.EmailError) as exc:
            failed += 1
            metrics.record_alert(message.get("channel", ""), ok=False)
            _failed(client, mid, message, tries, str(exc), now)
            continue
        sent += 1
        metrics.record_alert(message.get("channel", ""), ok=True)
        with client.pipeline(transaction=True) as pipe:
            pipe.hset(
                key("alert_message", id=mid),
                mapping={"state": "sent", "sent_at": repr(now), "attempts": tries},
            )
            pipe.zrem(key("alert_outbox"), mid)
            pipe.execute()
    return sent, failed


class SendError(Exception):
    """A text could not be sent (Twilio refused or could not be reached)."""


def _send(settings: Settings, message: dict) -> None:
    if message["channel"] == "email":
        if not smtp.configured(settings):
            raise smtp.EmailError("IVR_SMTP_URL is not set")
        smtp.send_email(settings, message["to"], message["subject"], message["body"])
        return
    if not twilio_rest.configured(settings):
        raise SendError("TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN are not set")
    try:
        twilio_rest.twilio_client(settings).messages.create(
            to=message["to"], from_=settings.service_number, body=message["body"]
        )
    except (TwilioException, OSError) as exc:
        raise SendError(f"{type(exc).__name__}: {str(exc)[:200]}") from exc


def _failed(client, mid: str, message: dict, tries: int, error: str, now: float) -> None:
    gave_up = tries >= MAX_TRIES
    retry_at = now + 60 * 2 ** (tries - 1)  # 1, 2, 4, 8, 16 minutes
    to = mask(message["to"]) if message["channel"] == "sms" else message["to"]
    record = {
        "t": now,
        "channel": message["channel"],
        "to": to,
        "subject": message.get("subject", ""),
        "error": error[:300],
        "attempts": tries,
        "gave_up": gave_up,
        "retry_at": None if gave_up else retry_at,
    }
    with client.pipeline(transaction=True) as pipe:
        pipe.hset(
            key("alert_message", id=mid),
            mapping={
                "attempts": tries,
                "error": error[:300],
                "state": "failed" if gave_up else "retrying",
            },
        )
        if gave_up:
            pipe.zrem(key("alert_outbox"), mid)
        else:
            pipe.zadd(key("alert_outbox"), {mid: retry_at}, xx=True)
        pipe.lpush(key("alert_failures"), json.dumps(record))
        pipe.ltrim(key("alert_failures"), 0, FAILURES_KEPT - 1)
        pipe.execute()


def recent_failures(client: redis.Redis, since: float, limit: int = 10) -> list[dict]:
    """Failures since a moment, newest first (for the managers' view)."""
    out = []
    for raw in client.lrange(key("alert_failures"), 0, FAILURES_KEPT - 1):
        entry = json.loads(raw)
        if entry["t"] >= since:
            out.append(entry)
    return out[:limit]


def waiting(client: redis.Redis) -> int:
    """Messages not yet sent (waiting, being sent or waiting for a retry)."""
    return client.zcard(key("alert_outbox"))
