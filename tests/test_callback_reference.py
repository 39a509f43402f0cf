"""A call's callback reference is made once: whoever asks again for the same call (a retried or
racing step, journal delivery) gets the reference the caller heard, and
`callback:by_call:{sid}` always names a request that was saved."""

from __future__ import annotations

import threading
from urllib.parse import urljoin

from twilio.request_validator import RequestValidator

from ivr.store.keys import key
from tests.conftest import AUTH_TOKEN, FlaskTransport


def heard_reference(heard: str) -> str:
    after = heard.split("Your reference number is:")[1]
    return "".join(ch for ch in after.split("Our team")[0] if ch.isdigit())


def test_asking_again_for_a_calls_reference_gives_the_one_the_caller_heard(
    phone, store, redis_client
):
    call = phone(from_number="+447700900123")
    for keys in ("3", "1", "1", "3"):
        call.press(keys)
    ref = heard_reference(call.heard())
    references_used = redis_client.scard(key("callback_refs"))

    assert store.allocate_reference(call.call_sid) == ref
    assert store.allocate_reference(call.call_sid) == ref
    assert redis_client.get(key("callback_for_call", sid=call.call_sid)) == ref
    assert store.callback(ref)["call_sid"] == call.call_sid
    assert redis_client.scard(key("callback_refs")) == references_used  # none used up


def test_racing_confirmations_leave_by_call_naming_the_saved_request(app, phone, redis_client):
    """Eight copies of the confirming step at once (Twilio retrying a slow answer): one request,
    the one the caller hears, and the call's pointer names it (journal delivery relies on it)."""
    call = phone(from_number="+447700900123")
    for keys in ("3", "1", "1"):
        call.press(keys)
    url = urljoin(call.requests[-1][0], call.waiting.action)
    params = call.params({"Digits": "3", "msg": "Gather End"})
    start = threading.Barrier(8)
    bodies: list[str] = []

    def confirm():
        twilio = FlaskTransport(app.test_client())
        start.wait()
        signature = RequestValidator(AUTH_TOKEN).compute_signature(url, params)
        bodies.append(twilio.post(url, params, {"X-Twilio-Signature": signature})[1])

    threads = [threading.Thread(target=confirm) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(bodies) == 8 and len(set(bodies)) == 1
    saved = redis_client.zrange(key("callbacks_by_created"), 0, -1)
    assert len(saved) == 1
    [ref] = saved
    assert ref in bodies[0].replace(", ", "").replace(". ", "")  # the one read to the caller
    assert redis_client.get(key("callback_for_call", sid=call.call_sid)) == ref


def test_booking_callbacks_uses_up_one_reference_each_not_twenty(app, phone, redis_client):
    """References are never reissued (there are 900,000): the pool of spare ones each process
    keeps must reserve only what it hands out. It used to reserve twice its size whenever one was
    taken and keep only one of them, so every booking used up about twenty: the space would run
    out after some 45,000 bookings instead of 900,000."""
    from ivr.outage.recovery import POOL_SIZE

    booked = set()
    for n in range(6):
        call = phone(from_number=f"+44770090012{n}")
        for keys in ("3", "1", "1", "3"):
            call.press(keys)
        booked.add(heard_reference(call.heard()))
    assert len(booked) == 6
    spare = len(app.extensions["ivr.references"]._spare)
    assert spare <= POOL_SIZE
    # every reserved reference was heard by a caller or waits in the pool
    assert redis_client.scard(key("callback_refs")) <= len(booked) + POOL_SIZE
