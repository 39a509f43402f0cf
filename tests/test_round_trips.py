"""Redis round trips per webhook step, counted by a proxy between the app and a real
redis-server: one read (a pipeline) and one atomic write (a script) per step, whatever the step
does (a first webhook with the per-caller limits, a menu choice, booking a callback)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from ivr import create_app
from ivr.store.keys import key
from ivr.twilio_sim.phone import SimulatedCall
from tests.conftest import BASE_URL, FlaskTransport
from tests.counting_proxy import CountingProxy


class CountingTransport(FlaskTransport):
    """Posts through the Flask test client, noting the Redis round trips each webhook took."""

    def __init__(self, client, proxy: CountingProxy):
        super().__init__(client)
        self.proxy, self.trips = proxy, []

    def post(self, url, params, headers):
        before = self.proxy.count
        answer = super().post(url, params, headers)
        self.trips.append((url.split("?")[0].rsplit("/", 1)[-1], self.proxy.count - before))
        return answer


@pytest.fixture
def proxy(redis_server):
    proxy = CountingProxy(str(redis_server.socket))
    yield proxy
    proxy.close()


@pytest.fixture
def counted_app(open_hours, redis_client, proxy):
    # The limits on, as in production, so their tallies are counted too.
    settings = replace(open_hours, redis_url=proxy.url, calls_per_minute=5, callbacks_per_day=3)
    app = create_app(settings)
    yield app
    app.extensions["ivr.deliverer"].stop()


def book_callback(app, proxy, from_number: str) -> tuple[SimulatedCall, CountingTransport]:
    transport = CountingTransport(app.test_client(), proxy)
    token = app.config["SETTINGS"].twilio_auth_token
    call = SimulatedCall(transport, BASE_URL, token, from_number=from_number).dial()
    for keys in ("3", "1", "1", "3"):  # callback, this number, voicemail ok, any time
        call.press(keys)
    return call, transport


def test_every_step_of_a_booked_callback_takes_at_most_two_round_trips(
    counted_app, proxy, redis_client
):
    book_callback(counted_app, proxy, "+447700900111")  # warm: connections made, script loaded
    call, transport = book_callback(counted_app, proxy, "+447700900222")
    assert "Your callback request is booked" in call.all_heard()
    assert redis_client.zcard(key("callback_queue")) == 2
    steps = [(name, trips) for name, trips in transport.trips if name in ("incoming", "step")]
    assert len(steps) == 5
    assert all(trips <= 2 for _, trips in steps), steps


def test_a_replayed_step_takes_one_round_trip(counted_app, proxy):
    book_callback(counted_app, proxy, "+447700900111")
    call, transport = book_callback(counted_app, proxy, "+447700900333")
    url, params, _ = call.requests[-1]
    call.signed_post(url, params)  # Twilio retries the booking step
    assert transport.trips[-1] == ("step", 1)


def test_calls_from_one_number_booking_at_the_same_moment_cannot_pass_the_daily_limit(
    counted_app, proxy, redis_client
):
    """The limit is read on the step's read but enforced again inside the save script, so
    several calls from one number booking at once still queue at most the limit (3 here)."""
    import threading
    from urllib.parse import urljoin

    from twilio.request_validator import RequestValidator

    from tests.conftest import AUTH_TOKEN

    calls = []
    # Each waits at "use this number?", from the same number: the request is made when the
    # number is confirmed (issue 9), so that is the step that races.
    for _ in range(5):
        transport = CountingTransport(counted_app.test_client(), proxy)
        call = SimulatedCall(transport, BASE_URL, AUTH_TOKEN, from_number="+447700900444")
        call.dial()
        call.press("3")
        calls.append(call)
    start, answers = threading.Barrier(len(calls)), []

    def book(call) -> None:
        url = urljoin(call.requests[-1][0], call.waiting.action)  # as Twilio resolves it
        params = call.params({"Digits": "1", "msg": "Gather End"})
        signature = RequestValidator(AUTH_TOKEN).compute_signature(url, params)
        start.wait()
        answers.append(call.transport.post(url, params, {"X-Twilio-Signature": signature})[1])

    threads = [threading.Thread(target=book, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    booked = [a for a in answers if "If we cannot reach you" in a]
    refused = [a for a in answers if "cannot take another callback request" in a]
    assert len(booked) == 3 and len(refused) == 2
    assert redis_client.zcard(key("callback_queue")) == 3


def test_the_final_status_callback_takes_two_round_trips_and_a_repeat_one(
    counted_app, proxy, redis_client
):
    """Twilio's status callback closes the call log (read what the call did, then write its
    outcome and count its ending): two round trips, and a repeat of it only one."""
    book_callback(counted_app, proxy, "+447700900111")
    call, transport = book_callback(counted_app, proxy, "+447700900444")
    call.hang_up()
    url, params, _ = call.requests[-1]
    call.signed_post(url, params)  # Twilio sends it again
    statuses = [trips for name, trips in transport.trips if name == "status"]
    assert statuses[-2:] == [2, 1], transport.trips
    log = redis_client.hgetall(key("call_log", sid=call.call_sid))
    assert log["outcome"] == "callback_requested" and log["call_status"] == "completed"
