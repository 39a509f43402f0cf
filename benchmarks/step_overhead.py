"""How much a call step costs with and without Redis, and what sealing the call's state adds.

Run: .venv/bin/python benchmarks/step_overhead.py   (starts its own private redis-server)
Prints milliseconds per webhook step (median of many) for: the normal path (Redis), the offline
path (state from the sealed URL, no Redis), and sealing + carrying state alone.
"""

from __future__ import annotations

import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ivr import create_app  # noqa: E402
from ivr.config import load_settings  # noqa: E402
from ivr.twilio_sim.phone import SimulatedCall  # noqa: E402
from tests.conftest import AUTH_TOKEN, BASE_URL, FlaskTransport, RedisServer  # noqa: E402

KEYS = ["1", "1", "1", "1", "1", "2", "0", "2", "2", "3", "2", "1", "1", "1", "0", "4"]


def run_calls(app, count: int) -> list[float]:
    per_step = []
    for _ in range(count):
        call = SimulatedCall(FlaskTransport(app.test_client()), BASE_URL, AUTH_TOKEN).dial()
        for key in KEYS:
            if call.ended:
                break
            started = time.perf_counter()
            call.press(key)
            per_step.append((time.perf_counter() - started) * 1000)
        call.hang_up()
    return per_step


def main() -> None:
    with tempfile.TemporaryDirectory() as directory:
        server = RedisServer(Path(directory))
        server.start()
        try:
            settings = load_settings(
                environ={},
                env="test",
                redis_url=server.url,
                twilio_auth_token=AUTH_TOKEN,
                secret_key="x" * 40,
                journal_dir=str(Path(directory) / "journal"),
                opening_time="00:00",
                closing_time="23:59",
                holiday_subdivision="",
                calls_per_minute=0,
                callbacks_per_day=0,
            )
            app = create_app(settings)
            logging.disable(logging.ERROR)  # every offline call logs the outage once
            normal = run_calls(app, 40)
            server.stop()
            offline = run_calls(app, 40)
        finally:
            server.stop()
        with app.test_request_context():
            from ivr.line import degraded

            engine = app.extensions["ivr.engine"]
            from ivr.line.engine import utc_now

            outcome = engine.start("CA" + "a" * 32, "+447700900123", utc_now())
            started = time.perf_counter()
            for _ in range(2000):
                text = degraded.with_state(outcome, "CA" + "a" * 32, 1)
            seal_ms = (time.perf_counter() - started) * 1000 / 2000
        print(f"normal step (Redis):        median {statistics.median(normal):.2f} ms")
        print(f"offline step (sealed URL):  median {statistics.median(offline):.2f} ms")
        print(
            f"seal + carry state alone:   {seal_ms:.3f} ms; longest step URL {longest(text)} chars"
        )
        app.extensions["ivr.deliverer"].stop()


def longest(twiml: str) -> int:
    import re

    return max(len(u) for u in re.findall(r"step\?[^\"<]*", twiml))


if __name__ == "__main__":
    main()
