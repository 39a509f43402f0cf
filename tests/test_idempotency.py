"""Twilio retries and duplicates: the same step posted again, at the same moment from several
threads, or out of order, and status callbacks duplicated or out of order, each take effect once."""

from __future__ import annotations

import threading
from urllib.parse import urljoin

from twilio.request_validator import RequestValidator

from ivr.store.keys import key
from tests.conftest import AUTH_TOKEN, BASE_URL, FlaskTransport
from tests.hooked_pipelines import HookedPipelines


def to_preferred_time(phone):
    """A call waiting at "when is the best time for us to call?" (phone() dials)."""
    call = phone()
    for keys in ("3", "1", "1"):
        call.press(keys)
    return call


def confirm_request(call) -> tuple[str, dict]:
    """The request that would confirm the callback (Digits 3 at the preferred-time menu)."""
    # Step URLs are relative to the document Twilio is playing, as Twilio resolves them.
    return urljoin(call.requests[-1][0], call.waiting.action), call.params(
        {"Digits": "3", "msg": "Gather End"}
    )


def test_the_same_step_from_many_threads_at_once_has_one_effect(app, phone, store, redis_client):
    call = to_preferred_time(phone)
    url, params = confirm_request(call)
    start = threading.Barrier(8)
    answers: list[tuple[int, str]] = []

    def post():
        twilio = FlaskTransport(app.test_client())
        start.wait()
        signature = RequestValidator(AUTH_TOKEN).compute_signature(url, params)
        answers.append(twilio.post(url, params, {"X-Twilio-Signature": signature}))

    threads = [threading.Thread(target=post) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert [status for status, _ in answers] == [200] * 8
    assert len({body for _, body in answers}) == 1  # every retry hears the very same answer
    assert "Your callback request is booked" in answers[0][1]
    assert redis_client.zcard(key("callback_queue")) == 1
    events = [e["type"] for e in store.call_events(call.call_sid)]
    assert events.count("callback_requested") == 1


def test_a_retry_of_an_earlier_step_after_later_ones_changes_nothing(phone, store):
    call = to_preferred_time(phone)
    url, params = confirm_request(call)
    status, first = call.signed_post(url, params)
    call2_status, _ = call.signed_post(url.replace("s=4", "s=2"), {**params, "Digits": "2"})
    assert status == call2_status == 200
    state = store.load_call(call.call_sid)
    assert state.data["answers"]["preferred_time"] == "any"
    assert len(store.list_callbacks(None, None, 10)[0]) == 1


def test_a_call_saved_loads_back_as_that_call_with_its_answers(phone, store):
    call = to_preferred_time(phone)
    state = store.load_call(call.call_sid)
    assert state.sid == call.call_sid and state.exists
    assert state.get("answers") == state.data["answers"] != {}
    assert state.get("no_such_field", "unset") == "unset"


class StepTakenBeforeEachSave(HookedPipelines):
    """The store's Redis client, with the call's step moved on by another writer between a
    request's read and its save (then put back, as if that write were undone), `times` times
    running: each of those saves finds its step taken."""

    def __init__(self, client, sid: str, times: int):
        super().__init__(client)
        self.state_key, self.left = key("call_state", sid=sid), times

    def execute(self, real, *args, **kwargs):
        saving = any(command[0] == "EVALSHA" for command, _ in real.command_stack)
        if not (saving and self.left):
            return real.execute(*args, **kwargs)
        self.left -= 1
        step = self.client.hget(self.state_key, "step")
        self.client.hset(self.state_key, "step", int(step) + 1)
        try:
            return real.execute(*args, **kwargs)
        finally:
            self.client.hset(self.state_key, "step", step)


def test_a_step_that_finds_its_step_taken_three_times_running_hears_the_safe_message(
    app, phone, store, monkeypatch
):
    """A conflict means another request saved first: the step looks again. It looks three times
    at most, then the caller hears the safe message (never an endless loop), and nothing of
    that step is saved."""
    call = to_preferred_time(phone)
    assert "best time" in call.heard()
    monkeypatch.setattr(store, "redis", StepTakenBeforeEachSave(store.redis, call.call_sid, 3))
    call.press("1")  # mornings
    fallback = app.extensions["ivr.flow"].phrases["fallback"]
    assert call.heard() == " ".join(fallback) and call.ended
    # The request made when the number was confirmed is as it was: no time chosen.
    (request,) = store.list_callbacks(None, None, 10)[0]
    assert request["preferred_time"] == "any"
    assert "preferred_time" not in store.load_call(call.call_sid).data["answers"]


def status_post(call, status: str, duration: str = "42"):
    return call.signed_post(
        BASE_URL + "/voice/status",
        call.params({"CallStatus": status, "CallDuration": duration, "SequenceNumber": "1"}),
    )


def test_duplicated_status_callbacks_close_the_call_once(phone, store):
    call = to_preferred_time(phone)
    call.press("3")
    for _ in range(3):
        assert status_post(call, "completed")[0] == 200
    log = store.call_log(call.call_sid)
    assert log["outcome"] == "callback_requested" and log["duration"] == "42"
    statuses = [e for e in store.call_events(call.call_sid) if e["type"] == "status"]
    assert len(statuses) == 1


def test_status_callbacks_out_of_order_keep_the_final_one(phone, store):
    call = phone()
    call.press("1")
    assert status_post(call, "completed", "30")[0] == 200
    for late in ("ringing", "in-progress", "busy"):
        assert status_post(call, late, "99")[0] == 200
    log = store.call_log(call.call_sid)
    assert log["call_status"] == "completed" and log["duration"] == "30"
    # A webhook arriving after the call was closed still answers valid TwiML.
    status, body = call.signed_post(
        BASE_URL + "/voice/step?s=1&n=main_menu", call.params({"Digits": "4"})
    )
    assert status == 200 and body.startswith("<?xml")


def test_a_status_callback_for_a_call_we_never_saw_is_logged(phone, store):
    call = phone()
    other = call.params({"CallSid": "CA" + "b" * 32, "CallStatus": "no-answer"})
    status, _ = call.signed_post(BASE_URL + "/voice/status", other)
    assert status == 200
    log = store.call_log("CA" + "b" * 32)
    assert log["call_status"] == "no-answer" and "started_at" in log


def test_calls_that_never_got_a_status_are_closed_by_the_sweep(phone, store):
    import time
    from datetime import UTC, datetime

    from ivr.line.calls import sweep_unclosed

    lost = phone()
    lost.press("3").press("1").press("1").press("3")  # Twilio's status callback never comes
    closed = phone()
    closed.press("1")
    status_post(closed, "completed", "12")
    now = datetime.now(UTC)
    cutoff = time.time() - 4 * 3600
    assert sweep_unclosed(store, cutoff, now) == 0  # too recent: may be ongoing
    assert "ended_at" not in store.call_log(lost.call_sid)
    assert sweep_unclosed(store, time.time() + 1, now) == 1
    log = store.call_log(lost.call_sid)
    assert log["call_status"] == "no_status" and log["outcome"] == "callback_requested"
    assert store.call_log(closed.call_sid)["call_status"] == "completed"
    assert sweep_unclosed(store, time.time() + 1, now) == 0
    status_post(lost, "completed", "80")  # a very late status changes nothing
    assert store.call_log(lost.call_sid)["call_status"] == "no_status"


def test_a_redeploy_mid_call_carries_on_in_the_new_process(app, open_hours, store):
    from ivr import create_app

    call = to_preferred_time(lambda: _dial(app))
    new_process = create_app(open_hours)  # same Redis, nothing in memory from the old one
    call.transport = FlaskTransport(new_process.test_client())
    call.press("3")
    assert "Your callback request is booked" in call.heard()
    assert len(store.list_callbacks(None, None, 10)[0]) == 1
    new_process.extensions["ivr.deliverer"].stop()


def _dial(app):
    from ivr.twilio_sim.phone import SimulatedCall

    return SimulatedCall(FlaskTransport(app.test_client()), BASE_URL, AUTH_TOKEN).dial()


def test_a_retried_incoming_webhook_hears_the_very_same_answer(phone, store):
    """Twilio retries /voice/incoming when our first answer was slow: the caller hears the
    welcome they were given, byte for byte, and the call is not started twice."""
    call = phone()
    url, params, _ = call.requests[0]
    first = call.heard()
    status, again = call.signed_post(url, params)
    assert status == 200 and again == store.load_call(call.call_sid).twiml
    assert first.startswith("Thank you for calling") and "Thank you for calling" in again
    events = [e["type"] for e in store.call_events(call.call_sid)]
    assert events.count("call_started") == 1


def test_a_retried_incoming_webhook_whose_saved_answer_is_missing_hears_its_prompt_again(
    app, phone, store, redis_client
):
    """The call's state is there but not the answer it gave (a state written by an older
    release, or half-written): a late retry hears the prompt the call is at, rendered afresh,
    and its step URLs carry this call's state at this step (used if Redis is lost next)."""
    import html
    import re
    from urllib.parse import parse_qs, urlparse

    call = phone(from_number="+447700900123")
    url, params, _ = call.requests[0]
    call.press("3")  # a callback: the line reads back the caller's number
    asked = call.heard()
    assert "ending in 0, 1, 2, 3" in asked
    redis_client.hdel(key("call_state", sid=call.call_sid), "twiml")
    status, again = call.signed_post(url, params)  # a late retry of the first webhook
    assert status == 200 and "ending in 0, 1, 2, 3" in again, again
    [action] = re.findall(r'<Gather[^>]* action="([^"]+)"', again)
    query = parse_qs(urlparse(html.unescape(action)).query)
    sealed = app.extensions["ivr.keys"].unseal(query["d"][0])
    assert (sealed["sid"], sealed["step"]) == (call.call_sid, 2)
    assert query["s"] == ["2"]  # the caller's next key is taken as the next step
    assert [e["type"] for e in store.call_events(call.call_sid)].count("call_started") == 1
