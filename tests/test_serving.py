"""The line keeps answering while slow clients hold connections open (issue 12, problem 1).

The web process runs exactly as the Procfile starts it. Fifty connections dribble a request's
headers, one line every second, and are held open; meanwhile callers ring in with signed webhooks
(each must be answered, as valid TwiML, within a second) and Twilio's fallback URL answers too.
Everything is on loopback and bounded in time; every socket and process is closed at the end.
"""

from __future__ import annotations

import socket
import threading
import time

import pytest

from ivr.twilio_sim.phone import HttpTransport, SimulatedCall
from tests.conftest import AUTH_TOKEN
from tests.web_process import line_env, procfile_web

SLOW_CONNECTIONS = 50
HOLD_SECONDS = 8


@pytest.fixture
def web(redis_server, redis_client, tmp_path):
    with procfile_web(line_env(redis_server.url, tmp_path), tmp_path / "web.log") as base:
        yield base


class SlowClients:
    """Connections that send a request line, then one header line a second, and never finish."""

    def __init__(self, base: str, count: int):
        host, port = base.removeprefix("http://").split(":")
        self.address = (host, int(port))
        self.count = count
        self.sockets: list[socket.socket] = []
        self.refused = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._dribble, daemon=True)

    def __enter__(self):
        for _ in range(self.count):
            sock = socket.create_connection(self.address, timeout=2)
            sock.sendall(b"POST /voice/incoming HTTP/1.1\r\nHost: line\r\n")
            self.sockets.append(sock)
        self._thread.start()
        return self

    def _dribble(self):
        n = 0
        while not self._stop.wait(1.0):
            n += 1
            for sock in self.sockets:
                try:
                    sock.sendall(f"X-Slow-{n}: still here\r\n".encode())
                except OSError:
                    self.refused += 1

    def still_open(self) -> int:
        """How many of them the server has not closed."""
        open_now = 0
        for sock in self.sockets:
            sock.setblocking(False)
            try:
                open_now += sock.recv(1) != b""  # data would mean the server answered early
            except BlockingIOError:
                open_now += 1
            except OSError:
                pass
        return open_now

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(5)
        for sock in self.sockets:
            sock.close()


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
