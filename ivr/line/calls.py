"""Call logs: closing a call when Twilio reports its status (or when the sweep gives up waiting),
and naming how each call ended."""

from __future__ import annotations

import json
from datetime import datetime

from ivr.store.keys import key
from ivr.store.redis_store import Store

FINAL_STATUSES = {"completed", "busy", "failed", "no-answer", "canceled"}
# How a call can end, in the order they are decided (the first that fits), each with the words
# managers see. "Line ended it" outcomes are the line's own hang-ups; the rest the caller's.
OUTCOME_LABELS = {
    "rate_limited": "Line ended it: too many calls or requests from this number",
    "crisis_put_through": "Put through to the crisis line",
    "callback_requested": "Callback booked",
    "crisis_route": "Heard the crisis support, then hung up",
    "number_refused": "Line ended it: phone number refused three times",
    "silence_timeout": "Line ended it: no response",
    "invalid_keys": "Line ended it: wrong keys",
    "line_ended": "Line ended it",
    "information_only": "Heard about IPT only, then hung up",
    "hung_up": "Caller hung up",
}
OUTCOMES = tuple(OUTCOME_LABELS)
# Twilio's DialCallStatus for a <Dial> that connected.
_CONNECTED = {"completed", "answered"}


def outcome_label(outcome: str | None) -> str:
    """The words managers see for an outcome ("In progress" for a call not yet closed)."""
    if not outcome:
        return "In progress"
    return OUTCOME_LABELS.get(outcome, outcome.replace("_", " ").capitalize())


def outcome_of(log: dict, events: list[dict], dial_nodes: frozenset[str] = frozenset()) -> str:
    """How a call ended, for the call logs and figures, from what the line already recorded.

    rate_limited: refused by a per-number limit (ivr/line/limits.py); crisis_put_through: a
    <Dial> to the crisis line connected, or the call ended while being put through (at a node in
    `dial_nodes`); callback_requested: a callback request was made; crisis_route: reached the
    risk support prompts and made no callback; number_refused: the line ended the call after
    refusing the keyed number (the input that ended it was a refused number); silence_timeout /
    invalid_keys: the line ended it for no response / wrong keys; line_ended: any other ending
    the line chose (`ended_by_line_at`); information_only: heard part of the IPT explanation and
    left without starting the questions or a callback request; hung_up: any other call the
    caller ended (the prompt they left at is in `last_node`).
    """
    reason = log.get("ended_reason")
    if reason == "rate_limited":
        return "rate_limited"
    dialled = any(e.get("type") == "dial_ended" and e.get("status") in _CONNECTED for e in events)
    if dialled or (log.get("last_node") in dial_nodes and not log.get("ended_by_line_at")):
        return "crisis_put_through"
    if log.get("callback_id"):
        return "callback_requested"
    sections = {e.get("section") for e in events if e.get("type") == "prompt"}
    if "crisis" in sections:
        return "crisis_route"
    if reason in ("silence", "invalid_keys"):
        return {"silence": "silence_timeout", "invalid_keys": "invalid_keys"}[reason]
    if log.get("ended_by_line_at"):
        last_input = next((e for e in reversed(events) if e.get("type") not in _NOT_INPUT), {})
        return "number_refused" if last_input.get("type") == "number_rejected" else "line_ended"
    if "info" in sections and not sections & {"screening", "callback"}:
        return "information_only"
    return "hung_up"


# Events that record what the line did rather than what the caller did.
_NOT_INPUT = {"prompt", "passed", "ended", "status"}


def record_status(store: Store, sid: str, form, moment: datetime) -> None:
    """Close the call log on Twilio's final status callback. Repeats change nothing."""
    status = (form.get("CallStatus") or "")[:20]
    if status not in FINAL_STATUSES:
        return
    close_call(store, sid, status, form.get("CallDuration", ""), moment)


# A close that marked a call and wrote no outcome this long ago failed (it takes milliseconds).
STALE_CLOSE_SECONDS = 60


def close_call(store: Store, sid: str, status: str, duration: str, moment: datetime) -> bool:
    """Give the call its outcome and count its ending, once; False if it was already closed."""
    log_key = key("call_log", sid=sid)
    # One round trip marks it closed and reads what the call did; one more writes its outcome.
    with store.redis.pipeline(transaction=False) as pipe:
        pipe.hsetnx(log_key, "ended_at", moment.timestamp())
        pipe.hgetall(log_key)
        pipe.lrange(key("call_events", sid=sid), 0, -1)
        closed_here, log, stored_events = pipe.execute()
    if not closed_here:
        # Already closed (a duplicate callback, or the sweep got there first), or being closed
        # right now, unless its closer marked it and then failed to write the outcome (the link
        # dropped between the two round trips): then this try, a while later, closes it.
        marked_at = float(log.get("ended_at") or 0)
        if "outcome" in log or moment.timestamp() - marked_at < STALE_CLOSE_SECONDS:
            return False
        store.redis.hset(log_key, "ended_at", moment.timestamp())
    events = [json.loads(e) for e in stored_events]
    flow = store.figures.flow if store.figures is not None else None
    dial_nodes = frozenset(
        n for n, spec in (flow.nodes.items() if flow else ()) if spec.get("type") == "dial"
    )
    fields = {
        "call_status": status,
        "outcome": outcome_of(log, events, dial_nodes),
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
        elif store.redis.hexists(key("call_log", sid=sid), "outcome"):
            store.redis.zrem(key("calls_open"), sid)  # closed meanwhile; nothing else to do
        # (else being closed right now, or a failed close to take over at the next sweep)
    return closed
