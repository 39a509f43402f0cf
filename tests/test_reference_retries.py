"""One reference per call, whatever Twilio retries: two real gunicorn workers, Redis stopped or
dying between a step and its retries. Every answer to the confirming step reads the caller the
same reference, and that reference is the one queued (issue 11, finding 5)."""

from __future__ import annotations

import re
import urllib.parse

from ivr.twilio_sim.phone import HttpTransport, SimulatedCall
from tests.conftest import AUTH_TOKEN
from tests.test_outage_gunicorn import gunicorn  # noqa: F401 (the fixture)
from tests.test_redis_outage import wait_for

RETRIES = 8


def references_in(body: str) -> str:
    """The reference the TwiML reads out (its digits, over however many <Say>s)."""
    text = re.sub(r"<[^>]+>", " ", body)
    spoken = text.split("Your reference number is:")[1].split("Our team")[0]
    return "".join(re.findall(r"[0-9]", spoken))


def confirming_request(call: SimulatedCall) -> tuple[str, dict]:
    """The URL and fields Twilio posts when the caller presses 3 ("any time") to confirm."""
    gather = call.waiting
    assert gather is not None
    url = urllib.parse.urljoin(call._url or call.base_url, gather.action)
    return url, call.params({"Digits": "3", "msg": "Gather End"})


def retried(call: SimulatedCall, url: str, fields: dict) -> list[str]:
    """Twilio retrying the same request: each attempt a new connection, so any worker takes it."""
    heard = []
    for _ in range(RETRIES):
        status, body = call.signed_post(url, fields)
        assert status == 200, body
        heard.append(references_in(body))
    return heard


def test_retries_during_an_outage_read_one_reference_and_it_is_queued(
    gunicorn,  # noqa: F811
    redis_server,
    redis_client,
):
    base, _ = gunicorn
    call = SimulatedCall(HttpTransport(), base, AUTH_TOKEN, from_number="+447700900501").dial()
    call.press("3").press("1").press("1")  # callback, caller ID, voicemail ok: Redis is up
    url, fields = confirming_request(call)
    try:
        redis_server.stop()
        heard = retried(call, url, fields)
    finally:
        redis_server.start()
    assert len(set(heard)) == 1, heard
    wait_for(lambda: redis_client.zcard("ivr:callbacks:queue") == 1)
    assert redis_client.zrange("ivr:callbacks:queue", 0, -1) == heard[:1]


def test_a_step_saved_before_redis_died_keeps_its_reference_on_retries(
    gunicorn,  # noqa: F811
    redis_server,
    redis_client,
):
    base, _ = gunicorn
    call = SimulatedCall(HttpTransport(), base, AUTH_TOKEN, from_number="+447700900502").dial()
    call.press("3").press("1").press("1")
    url, fields = confirming_request(call)
    status, body = call.signed_post(url, fields)  # saved while Redis is up ...
    assert status == 200
    first = references_in(body)
    try:
        redis_server.stop()  # ... and the answer lost on its way, so Twilio retries
        heard = retried(call, url, fields)
    finally:
        redis_server.start()
    assert set(heard) == {first}, (first, heard)
    wait_for(lambda: redis_client.zcard("ivr:callbacks:queue") == 1)
    assert redis_client.zrange("ivr:callbacks:queue", 0, -1) == [first]
