"""Twilio's voice webhooks: /voice/incoming, /voice/step, /voice/status and /voice/fallback.

A webhook's way through: signature check -> one read (the call's state, the caller's tallies)
-> the engine decides -> one script saves state, events and any callback -> TwiML. Whatever
arrives, the caller gets valid TwiML: junk and out-of-order steps hear the current prompt
again, retries hear the answer already given, and a fault anywhere falls back to the safety
message.
"""

from __future__ import annotations

import logging
import re

import redis
from flask import Blueprint, Response, current_app, g, request
from twilio.twiml.voice_response import VoiceResponse

from ivr import metrics
from ivr.line import calls, degraded, limits, texts
from ivr.line.engine import Engine, Outcome, Turn, utc_now
from ivr.line.signature import twilio_only
from ivr.line.twiml import safe_message
from ivr.outage import recovery
from ivr.store.redis_store import CallState, OverLimit, StepConflict, Store

log = logging.getLogger(__name__)
bp = Blueprint("voice", __name__, url_prefix="/voice")

CALL_SID = re.compile(r"^CA[0-9a-fA-F]{32}$")


def _twiml(response: VoiceResponse | str) -> Response:
    return Response(str(response), mimetype="text/xml")


def _store() -> Store:
    return current_app.extensions["ivr.store"]


def _engine() -> Engine:
    return current_app.extensions["ivr.engine"]


def now():
    """The current time; tests set app.extensions["ivr.clock"] to call at a chosen moment."""
    return current_app.extensions.get("ivr.clock", utc_now)()


def fallback_twiml() -> VoiceResponse:
    """The safe answer that needs nothing but this process: crisis numbers, then goodbye."""
    settings = current_app.config["SETTINGS"]
    metrics.record_fallback(request.endpoint or "")
    phrases = current_app.extensions["ivr.flow"].phrases["fallback"]
    return safe_message(phrases, settings.voice, settings.language)


def _call_sid() -> str | None:
    sid = request.form.get("CallSid", "")
    return sid if CALL_SID.match(sid) else None


@bp.post("/incoming")
@twilio_only
def incoming():
    sid = _call_sid()
    if sid is None:
        return _twiml(fallback_twiml())
    return _answer(sid, turn=None)


@bp.post("/step")
@twilio_only
def step():
    sid = _call_sid()
    if sid is None:
        return _twiml(fallback_twiml())
    return _answer(sid, _turn(request.form, request.args))


def _turn(form, args) -> Turn:
    """What the caller did, from Twilio's fields: keys (Digits), words (SpeechResult with its
    Confidence), nothing, or the end of a put-through (DialCallStatus)."""
    if args.get("dial"):
        return Turn("dial_done", dial_status=form.get("DialCallStatus", ""))
    if args.get("silence"):
        return Turn("silence")
    if form.get("Digits"):
        return Turn("digits", digits=form["Digits"][:32])
    said = form.get("SpeechResult", "").strip()[:200]
    if said:
        return Turn("speech", speech=said, confidence=_confidence(form.get("Confidence")))
    return Turn("silence")


def _confidence(raw: str | None) -> float:
    """Twilio's 0-1 Confidence. A missing or junk one is not held against the caller, and nor
    is 0: speech services use 0.0 for "no confidence given" (Google's speech-to-text, one that
    Twilio may choose, documents it so), and a caller who cannot use a keypad must not be asked
    again at every prompt."""
    try:
        value = float(raw) if raw not in (None, "") else 1.0
    except ValueError:
        return 1.0
    return value if 0.0 < value <= 1.0 else 1.0


def _answer(sid: str, turn: Turn | None) -> Response:
    if request.args.get("offline"):  # this call already runs without Redis (ivr/line/degraded.py)
        return _without_redis(sid, turn)
    try:
        for _ in range(3):  # a conflict means a retry of this step saved first; look again
            try:
                twiml = _take_step(sid, turn)
                recovery.after_healthy_step(current_app.extensions)
                return _twiml(twiml)
            except StepConflict:
                continue
    except redis.RedisError as exc:
        log.error("redis unavailable during a call step", extra={"error": type(exc).__name__})
        metrics.record_redis_error("call_step")
        return _without_redis(sid, turn)
    except Exception:  # never a 5xx to a caller: log it and play the safe message
        log.exception("error during a call step")
    return _twiml(fallback_twiml())


def _without_redis(sid: str, turn: Turn | None) -> Response:
    try:
        return _twiml(degraded.answer(sid, turn))
    except Exception:  # the journal disk failed too: the safe message, never dead air
        log.exception("error during a call step without redis")
        return _twiml(fallback_twiml())


def _take_step(sid: str, turn: Turn | None) -> str:
    store, engine, moment = _store(), _engine(), now()
    from_field = request.form.get("From", "")
    tallies = limits.Tallies(store, engine.settings, from_field, sid, moment, first=turn is None)
    pool = current_app.extensions["ivr.references"]
    open_urgent = limits.OpenUrgent(store, from_field, sid)  # a repeat joins its open request
    state = store.read_step(sid, [tallies.read, pool.top_up_reader(store), open_urgent.read])
    # What the flow's `callback_limit_reached` asks (limits.callback_checker): already read.
    g.callbacks_over = tallies.too_many_callbacks
    guards: list[dict | None] = []  # per-caller tallies the save joins (ivr/line/limits.py)
    asked_step = _int(request.args.get("s"))
    asked_node = request.args.get("n", "")
    if turn is None:  # /voice/incoming
        if state.exists:  # Twilio retried the first request: same answer again
            return state.twiml or degraded.with_state(
                engine.render_again(sid, state.data, state.node, state.step, moment),
                sid,
                state.step,
            )
        outcome = engine.start(sid, from_field, moment, request.form.get("To", ""))
        # A test call from the softphone at /try (ivr/softphone): kept out of the figures and
        # the default queue, and not counted against the robot-dialler limits.
        if tallies.test_call:
            outcome.data["test"] = outcome.log["test"] = True
        elif tallies.too_many_calls:
            outcome = limits.refusal(engine, outcome, "too_many_calls", moment)
            guards.append(tallies.guard("calls", enforce=False))  # refused calls count too
        else:
            guards.append(tallies.guard("calls"))
    elif not state.exists:
        # The state expired or was lost mid-call: carry on from where the caller is.
        outcome = engine.handle(
            sid,
            engine.fresh_data(from_field, moment, request.form.get("To", "")),
            asked_node,
            step=1,
            turn=turn,
            moment=moment,
        )
        outcome.events.insert(0, {"t": moment.timestamp(), "type": "state_lost"})
    elif asked_step == state.step - 1 and state.twiml:
        return state.twiml  # Twilio retried a step we already answered
    elif asked_step != state.step:
        # Out of order or junk: say the current prompt again, change nothing.
        again = engine.render_again(sid, state.data, state.node, state.step, moment)
        return degraded.with_state(again, sid, state.step)
    else:
        outcome = engine.handle(sid, state.data, state.node, state.step + 1, turn, moment)
    callback = outcome.callback or {}
    if callback and not callback.get("is_update"):  # a repeat joins its open urgent request
        outcome.callback = callback = limits.merged(open_urgent, callback)
    # The daily limit is against robot diallers; it never turns away a caller at risk.
    limited = not (callback.get("is_update") or callback.get("urgent") or callback.get("test"))
    if callback and limited:
        caller_over = tallies.too_many_callbacks
        # A keyed-in number's own tally is checked in the save (OverLimit below if past it).
        keyed = limits.keyed_number_guard(
            store, engine.settings, callback.get("phone"), from_field, sid, moment, not caller_over
        )
        if caller_over:
            outcome = limits.refusal(engine, outcome, "too_many_callbacks", moment)
        guards += [tallies.guard("callbacks", enforce=not caller_over), keyed]
    # A test call from /try never joins a real caller's request.
    number = None if outcome.data.get("test") else outcome.data.get("caller_number")
    allocate = limits.reference_for(open_urgent, number, engine.allocate_reference)
    reserved = outcome.data.get("reserved_ref")
    recovery.reserve_reference(outcome, engine.flow, sid, allocate)
    reserved = None if reserved else outcome.data.get("reserved_ref")
    joins = limits.joined(open_urgent, reserved) if number else None
    try:
        return _save(store, state, outcome, [g for g in guards if g], joins)
    except OverLimit as over:  # past a limit (another call from this number got in first, or
        # the keyed-in number's own daily tally): the calls tally's key, or a callbacks one
        phrase = "too_many_calls" if over.args[1] == tallies.calls_key else "too_many_callbacks"
        return _save(store, state, limits.refusal(engine, outcome, phrase, moment), None, joins)


def _save(
    store: Store,
    state: CallState,
    outcome: Outcome,
    guards: list[dict] | None = None,
    joins: str | None = None,
) -> str:
    twiml = degraded.with_state(outcome, state.sid, state.step + 1)
    after = CallState(
        sid=state.sid,
        step=state.step + 1,
        node=outcome.node,
        data=outcome.data,
        twiml=twiml,
        exists=True,
    )
    replicated = store.save_turn(
        state, after, outcome.events, outcome.log, outcome.callback, guards, outcome.withdraw, joins
    )
    if outcome.callback and not outcome.callback.get("is_update"):
        metrics.record_callback(bool(outcome.callback.get("urgent")))
    if not replicated:
        # No replica confirmed the request in time: a failover now could lose it, so it goes to
        # the journal too (delivery finds it in Redis, or puts it back) before the caller hears
        # the reference.
        degraded.journal_callback(
            outcome, state.sid, request.form.get("From", ""), in_metrics=False
        )
    if outcome.text:  # only once the step is saved, and never in the caller's way
        texts.send_in_background(current_app.config["SETTINGS"], **outcome.text)
    return twiml


def _int(text: str | None) -> int | None:
    return int(text) if text and text.isdigit() and len(text) < 9 else None


@bp.post("/status")
@twilio_only
def status():
    sid = _call_sid()
    if sid is not None:
        try:
            calls.record_status(_store(), sid, request.form, now())
        except redis.RedisError as exc:
            # Twilio retries nothing here; the sweep closes calls that never got a status.
            log.error(
                "redis unavailable for a status callback", extra={"error": type(exc).__name__}
            )
            metrics.record_redis_error("status_callback")
    return _twiml(VoiceResponse())


@bp.post("/fallback")
@twilio_only
def fallback():
    """Twilio's fallback URL, used when our main webhook failed. Needs nothing but this process."""
    return _twiml(fallback_twiml())
