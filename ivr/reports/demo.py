"""`ivr demo`: realistic calls for trying the reports, made by the code live calls use.

Each simulated call runs through the real flow engine and is saved step by step with
`Store.save_turn` and closed with `calls.close_call`, exactly what the webhooks do below HTTP
(signature checks and TwiML parsing are the only parts skipped), on a simulated clock spread
over past weeks. Callers are a mix: listeners, screeners, people who ask straight for a
callback, hang-ups, silences and withheld numbers. The intake team's part (claims, attempts,
outcomes) is played through the intake service (`ivr.intake.Intake`) on the same clock.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from ivr.intake.service import Intake
from ivr.line.calls import close_call
from ivr.line.engine import Engine, Turn
from ivr.store.redis_store import CallState, Store
from ivr.twilio_sim.phone import new_call_sid

PERSONAS = (
    ("listener", 30),
    ("screener", 25),
    ("callback", 25),
    ("early_hang_up", 12),
    ("quiet", 8),
)
HANG_UP_EACH_STEP = 0.025
# Calls per hour of the day, roughly: busiest in the morning and early evening.
HOUR_WEIGHTS = [1, 1, 1, 1, 1, 1, 2, 4, 8, 10, 10, 9, 8, 8, 8, 7, 7, 8, 9, 8, 6, 4, 3, 2]


def demo_number(rng: random.Random) -> str:
    """A number from Ofcom's drama range (07700 900000-900999): never a real person's."""
    return f"+447700900{rng.randrange(1000):03d}"


def choose(node: str, persona: str, rng: random.Random) -> Turn | None:
    """What this caller does at this prompt; None hangs up."""
    if persona == "quiet":
        return Turn("silence")
    if node == "main_menu":
        if persona == "early_hang_up":
            return None
        return Turn("digits", {"listener": "1", "screener": "2", "callback": "3"}[persona])
    if node.startswith("info_"):
        if node == "info_referral":
            return Turn("digits", rng.choice("233")) if rng.random() < 0.5 else None
        return Turn("digits", "1") if rng.random() < 0.8 else Turn("silence")
    if node in ("phq_interest", "phq_down"):
        return Turn("digits", rng.choice("12234444#"))
    if node == "risk_question":
        return Turn("digits", rng.choices("123", weights=[8, 85, 7])[0])
    if node == "risk_call_notice":  # the team will call to check they are safe; a few say no
        return Turn("digits", "1" if rng.random() < 0.85 else "2")
    if node == "risk_number":
        return Turn("digits", "0" + demo_number(rng)[3:] + "#") if rng.random() < 0.7 else None
    if node in ("risk_number_confirm", "offer_callback", "offer_callback_keyed"):
        return Turn("digits", "1")
    if node == "risk_options":
        return Turn("digits", rng.choice("1223"))
    if node == "crisis_dial":
        return Turn("dial_done", dial_status=rng.choice(["completed", "completed", "no-answer"]))
    if node == "after_crisis_offer":
        return Turn("digits", "1") if rng.random() < 0.6 else None
    if node in ("difficulty", "mood_pattern", "sessions_possible"):
        keys = {"difficulty": "1234#", "mood_pattern": "112#", "sessions_possible": "11123"}
        return Turn("digits", rng.choice(keys[node]))
    if node == "screen_done":
        return Turn("digits", "1") if rng.random() < 0.85 else None
    if node == "confirm_caller_id":
        return Turn("digits", "1" if rng.random() < 0.9 else "2")
    if node == "enter_number":
        return Turn("digits", "0" + demo_number(rng)[3:] + "#")
    if node in ("confirm_keyed_number", "voicemail_consent"):
        return Turn("digits", rng.choice("1112"))
    if node == "preferred_time":
        return Turn("digits", rng.choice("123"))
    if node.startswith("callback_confirmed"):
        return None if rng.random() < 0.7 else Turn("silence")
    return Turn("silence")


def simulate_call(engine: Engine, store: Store, start: datetime, rng: random.Random) -> str:
    """One call from dialling to its status callback; returns its CallSid."""
    sid, moment = new_call_sid(), start
    persona = rng.choices([p for p, _ in PERSONAS], weights=[w for _, w in PERSONAS])[0]
    caller = "anonymous" if rng.random() < 0.1 else demo_number(rng)
    state = CallState(sid=sid)
    outcome = engine.start(sid, caller, moment)
    for _ in range(60):
        after = CallState(sid, state.step + 1, outcome.node, outcome.data, str(outcome.response))
        store.save_turn(
            state, after, outcome.events, outcome.log, outcome.callback, withdraw=outcome.withdraw
        )
        state = CallState(sid, after.step, after.node, after.data, after.twiml, exists=True)
        if outcome.ended:
            break
        turn = choose(state.node, persona, rng)
        if turn is None or rng.random() < HANG_UP_EACH_STEP:
            break
        moment += timedelta(seconds=rng.randint(6, 40))
        outcome = engine.handle(sid, state.data, state.node, state.step + 1, turn, moment)
    moment += timedelta(seconds=rng.randint(1, 5))
    duration = str(int((moment - start).total_seconds()))
    close_call(store, sid, "completed", duration, moment)
    return sid


# The intake team's results on each attempt, roughly.
ATTEMPT_OUTCOMES = (
    ("reached_booked", 45),
    ("reached_not_suitable", 8),
    ("reached_declined", 4),
    ("no_answer", 30),
    ("voicemail_left", 10),
    ("wrong_number", 3),
)


def play_intake(intake: Intake, ref: str, rng: random.Random, now: datetime) -> None:
    """The intake team works a callback request through the intake service, on the simulated
    clock: first attempt after a while (sooner when urgent), further attempts as scheduled."""
    cb = intake.get(ref, "demo", action=None, now=now.timestamp())
    at = float(cb["created_at"]) + 60 * (
        rng.randint(5, 90) if cb.get("urgent") else rng.choice([20, 60, 180, 600, 1500, 2800])
    )
    names = [n for n, _ in ATTEMPT_OUTCOMES]
    weights = [w for _, w in ATTEMPT_OUTCOMES]
    while at < now.timestamp():
        name = rng.choices(names, weights=weights)[0]
        if name == "voicemail_left" and not cb.get("voicemail_ok"):
            name = "no_answer"
        worker = rng.choice(["intake1", "intake2", "intake3"])
        intake.claim(ref, worker, now=at)
        cb = intake.record_outcome(ref, worker, name, "", now=at + 120)
        if cb["status"] == "closed" or not cb.get("next_attempt_at"):
            return
        at = cb["next_attempt_at"] + 60 * rng.randint(0, 90)


def random_start(rng: random.Random, now: datetime, weeks: int) -> datetime:
    day = now - timedelta(days=rng.randrange(weeks * 7) + 1)
    hour = rng.choices(range(24), weights=HOUR_WEIGHTS)[0]
    return day.replace(hour=hour, minute=rng.randrange(60), second=rng.randrange(60))


def fill(engine: Engine, store: Store, calls: int, weeks: int, seed: int | None = None) -> int:
    """Make `calls` calls spread over the past `weeks` weeks, and let the intake team work the
    callback requests they make up to now; returns how many calls were made."""
    rng = random.Random(seed)
    now = datetime.now(UTC).replace(microsecond=0)
    intake = Intake(store, engine.settings, engine.hours)
    for _ in range(calls):
        sid = simulate_call(engine, store, random_start(rng, now, weeks), rng)
        ref = store.call_log(sid).get("callback_id")
        if ref and rng.random() < 0.95:
            play_intake(intake, ref, rng, now)
    return calls
