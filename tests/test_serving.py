"""The line keeps answering while slow clients hold connections open (issue 12, problem 1).

The web process runs exactly as the Procfile starts it. Fifty connections dribble a request's
headers, one line every second, and are held open; meanwhile callers ring in with signed webhooks
(each must be answered, as valid TwiML, within a second) and Twilio's fallback URL answers too.
Everything is on loopback and bounded in time; every socket and process is closed at the end.
"""

from __future__ import annotations

import time

import pytest

from ivr.twilio_sim.phone import HttpTransport, SimulatedCall
from tests.conftest import AUTH_TOKEN
from tests.web_process import SlowClients, line_env, procfile_web

SLOW_CONNECTIONS = 50
HOLD_SECONDS = 8


@pytest.fixture
def web(redis_server, redis_client, tmp_path):
    with procfile_web(line_env(redis_server.url, tmp_path), tmp_path / "web.log") as base:
        yield base


def test_webhooks_are_answered_while_fifty_slow_connections_are_held(web):
    # A first call warms both workers' imports, so the figures below are about serving only.
    SimulatedCall(HttpTransport(timeout=10), web, AUTH_TOKEN).dial().hang_up()
    answered = []
    with SlowClients(web, SLOW_CONNECTIONS) as slow:
        time.sleep(1.5)  # every slow connection has started dribbling its headers
        deadline = time.monotonic() + HOLD_SECONDS
        while time.monotonic() < deadline:
            # Each webhook must come back within a second, or the transport raises.
            call = SimulatedCall(HttpTransport(timeout=1.0), web, AUTH_TOKEN).dial()
            assert "not for emergencies" in call.heard(), call.heard()
            call.press("4")  # the urgent help numbers again
            assert "1 1 6, 1 2 3" in call.heard()
            status, twiml = call.signed_post(web + "/voice/fallback", call.params())
            assert status == 200 and "1 1 6, 1 2 3" in twiml
            answered.append(call.call_sid)
            call.hang_up()
        assert slow.still_open() == SLOW_CONNECTIONS  # held open the whole time, not dropped
        assert slow.refused == 0
    assert len(answered) >= 5
