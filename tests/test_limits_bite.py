"""Limits that bite (issue 11, finding 7): a keyed-in number counts against its own daily limit,
and repeat urgent requests from one number merge into its open urgent request: never refused,
never duplicated, never crowding out everyone else."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from ivr import create_app
from ivr.store.keys import key as redis_key
from ivr.store.redis_store import FOR_CALL_TTL, CallState
from ivr.twilio_sim.phone import SimulatedCall
from tests.conftest import AUTH_TOKEN, BASE_URL, FlaskTransport
from tests.test_reference_retries import references_in

KEYED = "07700900999"
AT_RISK = "+447700900313"


@pytest.fixture
def limited(open_hours, redis_client):
    app = create_app(replace(open_hours, calls_per_minute=0, callbacks_per_day=3))
    yield lambda **kw: SimulatedCall(
        FlaskTransport(app.test_client()), BASE_URL, AUTH_TOKEN, **kw
    ).dial()
    app.extensions["ivr.deliverer"].stop()


def test_a_withheld_caller_cannot_queue_request_after_request_for_one_number(
    limited, redis_client, store
):
    heard = []
    for _ in range(10):
        call = limited(from_number="anonymous")
        for key in ("3", KEYED + "#", "1", "1", "3"):  # keyed number, confirmed, voicemail, time
            if not call.ended:  # a refused caller hears why and the call ends
                call.press(key)
        heard.append(call.all_heard())
    assert sum("Your callback request is booked" in h for h in heard) == 3
    assert all("cannot take another callback request" in h for h in heard[3:])
    assert redis_client.zcard("ivr:callbacks:queue") == 3


def at_risk_call(limited):
    call = limited(from_number=AT_RISK)
    # Risk yes (the request is made there and then), go on, then book: number, voicemail, time.
    for key in ("2", "4", "4", "1", "1", "2", "1", "1", "3"):
        call.press(key)
    return call


def test_repeat_urgent_requests_merge_into_the_open_one(limited, redis_client, store):
    genuine = limited(from_number="+447700900888")
    for key in "3113":
        genuine.press(key)
    calls = [at_risk_call(limited) for _ in range(5)]
    for call in calls:
        heard = call.all_heard()
        assert "marked as urgent" in heard and "cannot take another" not in heard
    refs = {references_in(" ".join(f"<Say>{t}</Say>" for t in c.transcript)) for c in calls}
    queue = redis_client.zrange("ivr:callbacks:queue", 0, -1)
    assert len(queue) == 2 and refs == {queue[0]}  # one urgent request, read to every call
    urgent = store.callback(queue[0])
    assert urgent["urgent"] is True and urgent["repeat_calls"] == 4
    assert urgent["call_sid"] == calls[0].call_sid
    # Each repeat call records the request it joined as its own (the journal's delivery reads it).
    assert {redis_client.get(f"ivr:callback:by_call:{c.call_sid}") for c in calls} == refs
    # ... for as long as a reference is kept for its call, not for ever.
    ttls = [redis_client.ttl(f"ivr:callback:by_call:{c.call_sid}") for c in calls]
    assert all(FOR_CALL_TTL - 60 < t <= FOR_CALL_TTL for t in ttls)
    assert store.callback(queue[1])["phone"] == "+447700900888"  # still in the queue


def test_a_later_request_never_takes_urgency_back(limited, redis_client, store):
    at_risk_call(limited)
    again = limited(from_number=AT_RISK)
    for key in "3113":  # a plain callback request this time
        again.press(key)
    queue = redis_client.zrange("ivr:callbacks:queue", 0, -1)
    assert len(queue) == 1 and store.callback(queue[0])["urgent"] is True


def test_a_test_call_never_joins_a_real_callers_urgent_request(limited, redis_client, store):
    real = at_risk_call(limited)
    rehearsal_sid = "CA" + "7" * 32
    redis_client.set(f"ivr:test_call:{rehearsal_sid}", "1", ex=600)  # a /try test call
    call = limited(from_number=AT_RISK, call_sid=rehearsal_sid)
    for key in ("2", "4", "4", "1", "1", "2", "1", "1", "3"):
        call.press(key)
    requests = [store.callback(r) for r in redis_client.smembers("ivr:callbacks:refs")]
    made = {cb["call_sid"]: cb for cb in requests if cb}
    assert set(made) == {real.call_sid, rehearsal_sid}  # two requests, one of them a test
    assert made[rehearsal_sid]["test"] is True and made[real.call_sid].get("test") is not True
    assert made[real.call_sid].get("repeat_calls") in (None, 0)


def test_a_save_that_joins_a_request_never_replaces_the_one_its_call_has(store, redis_client):
    """A call already holding a request (its own, or one it joined) keeps it: the joined
    reference is recorded only for a call that has none (the save's SET NX)."""
    sid = "CA" + "4" * 32
    by_call = redis_key("callback_for_call", sid=sid)
    redis_client.set(by_call, "234567")
    after = CallState(sid, 1, "main_menu", {}, "<Response/>")
    assert store.save_turn(CallState(sid), after, [], {}, joins="345678")
    assert redis_client.get(by_call) == "234567"
    other = "CA" + "3" * 32
    store.save_turn(CallState(other), CallState(other, 1, "main_menu"), [], {}, joins="345678")
    assert redis_client.get(redis_key("callback_for_call", sid=other)) == "345678"


def test_a_call_keeps_its_own_reference_when_its_state_is_lost(limited, redis_client, store):
    """A call that made its request before its number had an open urgent request keeps its
    reference: when its state is lost and the caller asks for a callback again, that is still
    its own request, not a repeat of the urgent one another call from the number made since."""
    call = limited(from_number=AT_RISK)
    for key in "3113":
        call.press(key)
    own = redis_client.get(f"ivr:callback:by_call:{call.call_sid}")
    urgent = at_risk_call(limited)
    urgent_ref = redis_client.get(f"ivr:callback:by_call:{urgent.call_sid}")
    assert own and urgent_ref and own != urgent_ref
    call.heard()
    redis_client.delete(f"ivr:call:{call.call_sid}:state")  # expired, or lost by Redis
    for key in "03113":  # the main menu, then the callback questions again
        call.press(key)
    heard = call.heard()
    assert "Your callback request is booked" in heard
    assert references_in(f"<Say>{heard}</Say>") == own
    assert redis_client.zrange("ivr:callbacks:queue", 0, -1) == [urgent_ref, own]
    assert store.callback(own)["call_sid"] == call.call_sid
    assert store.callback(urgent_ref).get("repeat_calls") in (None, 0)


def test_test_calls_are_never_held_to_the_daily_callback_limit(limited, redis_client):
    """Rehearsals from /try book as often as staff need: the daily limit is against robot
    diallers, so test calls neither are refused by it nor use up a real caller's allowance."""
    for n in range(4):  # past the limit of 3
        sid = f"CA{n:032d}"
        redis_client.set(f"ivr:test_call:{sid}", "1", ex=600)  # a /try test call
        rehearsal = limited(from_number=AT_RISK, call_sid=sid)
        for key in "3113":
            rehearsal.press(key)
        assert "Your callback request is booked" in rehearsal.heard()
    real = limited(from_number=AT_RISK)
    for key in "3113":
        real.press(key)
    assert "Your callback request is booked" in real.heard()


def test_a_request_made_before_midnight_can_still_be_finished_after_it(open_hours, redis_client):
    """The daily limit counts requests made, not their later answers: a caller who made their
    request just before midnight finishes it after, even once the new day's limit is reached
    by other calls from their number."""
    app = create_app(replace(open_hours, calls_per_minute=0, callbacks_per_day=3))
    clock = {"now": datetime(2026, 3, 4, 23, 58, tzinfo=UTC)}
    app.extensions["ivr.clock"] = lambda: clock["now"]

    def dial():
        return SimulatedCall(
            FlaskTransport(app.test_client()), BASE_URL, AUTH_TOKEN, from_number=AT_RISK
        ).dial()

    try:
        late = dial()
        late.press("3").press("1")  # this number: the request is made on the 4th
        assert "leave a voicemail" in late.heard()
        clock["now"] = datetime(2026, 3, 5, 0, 1, tzinfo=UTC)
        for _ in range(3):  # the 5th's limit, reached by other calls from the number
            call = dial()
            for key in "3113":
                call.press(key)
            assert "Your callback request is booked" in call.heard()
        late.press("1").press("3")  # voicemail OK, any time: answers to the 4th's request
        heard = late.heard()
        assert "Your callback request is booked" in heard and "cannot take another" not in heard
    finally:
        app.extensions["ivr.deliverer"].stop()
