"""Two web instances (two gunicorns, as two hosts behind a load balancer would run them), one
Redis: one call's webhooks alternate between them, a retry of a step lands on the other one, and
the caller hears one unbroken call with one reference, queued once."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from ivr.store.keys import key
from ivr.twilio_sim.phone import HttpTransport, SimulatedCall
from tests.conftest import AUTH_TOKEN
from tests.test_outage_gunicorn import ROOT, _healthy, free_port
from tests.test_redis_outage import _ref, wait_for

PUBLIC = "https://line.example.org"  # the address Twilio uses: the load balancer's


class LoadBalancer(HttpTransport):
    """Sends each webhook to the next instance in turn (round robin), as Twilio sees one URL."""

    def __init__(self, bases: list[str]):
        super().__init__()
        self.bases, self.turn, self.served = bases, 0, []

    def post(self, url: str, params: dict, headers: dict) -> tuple[int, str]:
        base = self.bases[self.turn % len(self.bases)]
        self.turn += 1
        self.served.append(base)
        return super().post(base + url.removeprefix(PUBLIC), params, headers)


@pytest.fixture
def two_instances(redis_server, redis_client, tmp_path):
    binary = shutil.which("gunicorn", path=str(Path(sys.executable).parent))
    processes, bases = [], []
    for host in ("host-a", "host-b"):
        port = free_port()
        env = {
            **os.environ,
            "IVR_ENV": "test",
            "REDIS_URL": redis_server.url,
            "SECRET_KEY": "y" * 40,
            "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
            "IVR_PUBLIC_BASE_URL": PUBLIC,
            "IVR_JOURNAL_DIR": str(tmp_path / host / "journal"),  # each host its own disk
            "IVR_OPENING_TIME": "00:00",
            "IVR_CLOSING_TIME": "23:59",
            "IVR_HOLIDAY_SUBDIVISION": "",
        }
        processes.append(
            subprocess.Popen(
                [binary, "--workers", "1", "--bind", f"127.0.0.1:{port}", "wsgi:app"],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        bases.append(f"http://127.0.0.1:{port}")
    try:
        for base in bases:
            wait_for(lambda base=base: _healthy(base))
        yield bases
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            process.wait(20)


def test_one_call_alternating_between_two_instances_is_one_call(two_instances, redis_client):
    balancer = LoadBalancer(two_instances)
    call = SimulatedCall(balancer, PUBLIC, AUTH_TOKEN, from_number="+447700900515").dial()
    for keys in ("3", "1", "1"):
        call.press(keys)
    call.press("3")  # booked on one instance...
    booked = call.heard()
    status, again = call.signed_post(*call.requests[-1][:2])  # ...Twilio retries it: the other
    assert {balancer.served[-1], balancer.served[-2]} == set(two_instances)
    assert status == 200 and "Your callback request is booked" in again
    ref = redis_client.get(key("callback_for_call", sid=call.call_sid))
    spoken_again = re.sub(r"<[^>]+>", " ", again)  # the words of the TwiML, without its tags
    assert ref and _ref(booked) == _ref(spoken_again) == ref
    assert set(balancer.served) == set(two_instances)
    assert redis_client.zrange(key("callback_queue"), 0, -1) == [ref]
    steps = redis_client.lrange(key("call_events", sid=call.call_sid), 0, -1)
    assert sum('"callback_requested"' in e for e in steps) == 1
    call.hang_up()
    assert redis_client.hget(key("call_log", sid=call.call_sid), "outcome") == "callback_requested"
