"""Call logs: closing a call when Twilio reports its status (or when the sweep gives up waiting),
and naming how each call ended."""

from __future__ import annotations

from datetime import datetime

from ivr.store.keys import key
from ivr.store.redis_store import Store

FINAL_STATUSES = {"completed", "busy", "failed", "no-answer", "canceled"}
OUTCOMES = (
    "callback_requested",
    "crisis_route",
    "silence_timeout",
    "invalid_keys",
    "information_only",
    "hung_up",
)


def outcome_of(log: dict, events: list[dict]) -> str:
    """How a call ended, for the call logs and figures.

    callback_requested: a callback request was made; crisis_route: the caller reached the risk
    support prompts (and made no callback); silence_timeout / invalid_keys: the line ended the
    call; information_only: the caller heard part of the IPT explanation and left without
    starting the questions or a callback request; hung_up: any other call the caller ended
    (the prompt they left at is in `last_node`).
    """
    if log.get("callback_id"):
        return "callback_requested"
    sections = {e.get("section") for e in events if e.get("type") == "prompt"}
    if "crisis" in sections:
        return "crisis_route"
    if log.get("ended_reason") in ("silence", "invalid_keys"):
        return {"silence": "silence_timeout", "invalid_keys": "invalid_keys"}[log["ended_reason"]]
    if "info" in sections and not sections & {"screening", "callback"}:
        return "information_only"
    return "hung_up"


def record_status(store: Store, sid: str, form, moment: datetime) -> None:
    """Close the call log on Twilio's final status callback. Repeats change nothing."""
    status = (form.get("CallStatus") or "")[:20]
    if status not in FINAL_STATUSES:
        return
    close_call(store, sid, status, form.get("CallDuration", ""), moment)


def close_call(store: Store, sid: str, status: str, duration: str, moment: datetime) -> bool:
    """Give the call its outcome and count its ending, once; False if it was already closed."""
    log_key = key("call_log", sid=sid)
    if not store.redis.hsetnx(log_key, "ended_at", moment.timestamp()):
        return False  # already closed: a duplicate callback, or the sweep got there first
    log = store.call_log(sid)
    events = store.call_events(sid)
    fields = {
        "call_status": status,
        "outcome": outcome_of(log, events),
        "duration": int(duration) if duration.isdigit() and len(duration) < 7 else "",
    }
    if "started_at" not in log:
        fields["started_at"] = moment.timestamp() - (fields["duration"] or 0)
    store.log_call(
        sid,
        [{"t": round(moment.timestamp(), 3), "type": "status", "status": status}],
        fields,
        closed_log={**log, **fields},
    )
    return True


def sweep_unclosed(store: Store, older_than: float, moment: datetime) -> int:
    """Close calls that started before `older_than` and never got a final status from Twilio.

    Their outcome comes from where they were (the last prompt); the status is "no_status".
    """
    closed = 0
    for sid in store.redis.zrangebyscore(key("calls_open"), "-inf", older_than):
        if close_call(store, sid, "no_status", "", moment):
            closed += 1
        else:
            store.redis.zrem(key("calls_open"), sid)  # closed meanwhile; nothing else to do
    return closed
