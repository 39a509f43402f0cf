"""Per-caller limits, so a robot dialler cannot flood the callback queue.

Counted per caller ID (a keyed hash of it, never the number): at most `calls_per_minute` calls
starting in any sixty seconds, and `callbacks_per_day` calls that made a callback request each
day (Europe/London dates do not matter here: UTC days). Withheld numbers are not counted
together, since many genuine callers share "anonymous". Each tally is a sorted set of CallSids,
so Twilio retrying a step counts once, and one MULTI adds and ranks atomically. Over the limit
the caller hears the flow's polite message with the crisis numbers, and no request is queued.
An urgent request (a risk answer of yes or rather not say) is never refused (ivr/line/voice.py).
"""

from __future__ import annotations

from datetime import datetime

from twilio.twiml.voice_response import VoiceResponse

from ivr.line.engine import Engine, Outcome
from ivr.phone import caller_id_number
from ivr.store.keys import key
from ivr.store.redis_store import Store


def _over(store: Store, tally: str, sid: str, now: float, limit: int, window: float) -> bool:
    with store.redis.pipeline(transaction=True) as pipe:
        pipe.zadd(tally, {sid: now}, nx=True)
        pipe.zremrangebyscore(tally, "-inf", now - window)
        pipe.zrank(tally, sid)
        pipe.expire(tally, int(window) * 2)
        rank = pipe.execute()[2]
    return rank is not None and rank >= limit


def _caller_hash(store: Store, from_field: str) -> str | None:
    number = caller_id_number(from_field)
    if number is None or store.keys is None:
        return None
    return store.keys.phone_hash(number)


def too_many_calls(store: Store, from_field: str, sid: str, limit: int, moment: datetime) -> bool:
    digest = _caller_hash(store, from_field)
    if digest is None or limit <= 0:
        return False
    tally = key("calls_per_minute", hash=digest)
    return _over(store, tally, sid, moment.timestamp(), limit, 60)


def too_many_callbacks(
    store: Store, from_field: str, sid: str, limit: int, moment: datetime
) -> bool:
    digest = _caller_hash(store, from_field)
    if digest is None or limit <= 0:
        return False
    tally = key("callbacks_per_day", hash=digest, day=moment.strftime("%Y%m%d"))
    return _over(store, tally, sid, moment.timestamp(), limit, 86400)


def refusal(engine: Engine, outcome: Outcome, phrase: str, moment: datetime) -> Outcome:
    """The polite goodbye instead of what the caller would have got; no callback is made."""
    settings, flow = engine.settings, engine.flow
    response = VoiceResponse()
    lines = flow.phrases.get(phrase) or []
    for line in [lines] if isinstance(lines, str) else lines:
        response.say(str(line), voice=settings.voice, language=settings.language)
    response.hangup()
    data = {k: v for k, v in outcome.data.items() if k != "callback_ref"}
    events = [e for e in outcome.events if e.get("type") != "callback_requested"]
    events.append({"t": round(moment.timestamp(), 3), "type": "rate_limited", "limit": phrase})
    log = {k: v for k, v in outcome.log.items() if k not in ("callback_id", "urgent")}
    log.update(ended_reason="rate_limited", ended_by_line_at=moment.timestamp())
    end = flow.settings["silence_end"]
    return Outcome(response=response, node=end, data=data, events=events, log=log, ended=True)
