"""Chaos with real processes: gunicorn with two workers, Redis stopped mid-call while several
callers confirm their requests at the same moment. Every reference heard ends up queued once."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from ivr.twilio_sim.phone import HttpTransport, SimulatedCall
from tests.conftest import AUTH_TOKEN
from tests.test_redis_outage import _ref, wait_for

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def gunicorn(redis_server, redis_client, tmp_path):
    binary = shutil.which("gunicorn", path=str(Path(sys.executable).parent))
    port = free_port()
    env = {
        **os.environ,
        "IVR_ENV": "test",
        "IVR_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "REDIS_URL": redis_server.url,
        "SECRET_KEY": "y" * 40,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "IVR_JOURNAL_DIR": str(tmp_path / "journal"),
        "IVR_JOURNAL_DELIVERY_INTERVAL": "0.1",
        "IVR_OPENING_TIME": "00:00",
        "IVR_CLOSING_TIME": "23:59",
        "IVR_HOLIDAY_SUBDIVISION": "",
        "IVR_CALLS_PER_MINUTE": "0",
        "IVR_CALLBACKS_PER_DAY": "0",
    }
    process = subprocess.Popen(
        [binary, "--workers", "2", "--threads", "4", "--bind", f"127.0.0.1:{port}", "wsgi:app"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _healthy(base))
    except AssertionError:
        process.kill()
        raise
    yield base, tmp_path / "journal"
    process.send_signal(signal.SIGTERM)
    process.wait(20)


def _healthy(base: str) -> bool:
    try:
        with urllib.request.urlopen(base + "/healthz", timeout=1) as response:  # noqa: S310
            return response.status == 200
    except OSError:
        return False


def test_two_workers_journal_and_deliver_every_request_once(gunicorn, redis_server, redis_client):
    base, journal_dir = gunicorn
    numbers = [f"+4477009004{n:02d}" for n in range(8)]
    calls = [
        SimulatedCall(HttpTransport(), base, AUTH_TOKEN, from_number=number).dial()
        for number in numbers
    ]
    for call in calls:
        call.press("3").press("1").press("1")
    try:
        redis_server.stop()
        start = threading.Barrier(len(calls))

        def confirm(call):
            start.wait()
            call.press("3")

        threads = [threading.Thread(target=confirm, args=(call,)) for call in calls]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert len(list(journal_dir.glob("*.jsonl"))) >= 1
    finally:
        redis_server.start()
    heard = {}
    for call, number in zip(calls, numbers, strict=True):
        text = call.all_heard()
        assert "Your callback request is booked" in text, text[-300:]
        heard[_ref(text)] = number
    assert len(heard) == len(calls)  # every caller heard a different reference
    wait_for(lambda: redis_client.zcard("ivr:callbacks:queue") == len(calls))
    assert sorted(redis_client.zrange("ivr:callbacks:queue", 0, -1)) == sorted(heard)
    wait_for(lambda: not list(journal_dir.glob("*.jsonl")))
    time.sleep(0.3)  # one more delivery round from each worker must not add anything
    assert redis_client.zcard("ivr:callbacks:queue") == len(calls)
    assert redis_client.zcard("ivr:callbacks:by_created") == len(calls)
