"""How long one webhook step takes inside the app, against a real private redis-server.

Places whole calls (screening + callback, about 14 signed webhook requests each) through the
Flask test client with the Twilio stand-in, and prints per-request latency percentiles. This is
the app's own cost per step (signature check, state load, flow engine, one MULTI/EXEC, TwiML);
network time to Twilio is not included.

    .venv/bin/python benchmarks/webhook_steps.py [--calls 300]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.private_redis import DURABLE, private_redis  # noqa: E402
from ivr import create_app  # noqa: E402
from ivr.config import load_settings  # noqa: E402
from ivr.twilio_sim.phone import SimulatedCall, Transport  # noqa: E402

TOKEN = "benchmark-token"  # noqa: S105 (a test signing key)


class TimedTransport(Transport):
    def __init__(self, client):
        self.client = client
        self.timings: list[float] = []

    def post(self, url, params, headers):
        path = url.removeprefix("http://localhost")
        started = time.perf_counter()
        response = self.client.post(path, data=params, headers=headers)
        self.timings.append(time.perf_counter() - started)
        return response.status_code, response.get_data(as_text=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args()
    with private_redis(*DURABLE) as url:
        settings = load_settings(
            environ={},
            env="test",
            redis_url=url,
            twilio_auth_token=TOKEN,
            secret_key="b" * 40,
            opening_time="00:00",
            closing_time="23:59",
        )
        app = create_app(settings)
        transport = TimedTransport(app.test_client())
        started = time.perf_counter()
        for n in range(args.calls):
            call = SimulatedCall(
                transport, "http://localhost", TOKEN, from_number=f"+4477009{n % 100000:05d}"
            ).dial()
            for keys in ("2", "3", "2", "2", "1", "1", "1", "1", "1", "1", "3", "*"):
                call.press(keys)
            call.silence()
        elapsed = time.perf_counter() - started
    timings = sorted(transport.timings)
    pct = lambda p: timings[min(len(timings) - 1, int(p * len(timings)))] * 1000  # noqa: E731
    print(f"calls: {args.calls}, webhook requests: {len(timings)}, wall time {elapsed:.1f} s")
    print(
        f"per request: median {statistics.median(timings) * 1000:.2f} ms, "
        f"p90 {pct(0.90):.2f} ms, p99 {pct(0.99):.2f} ms, max {timings[-1] * 1000:.2f} ms"
    )
    print(f"throughput, one process: {len(timings) / elapsed:.0f} requests/s")


if __name__ == "__main__":
    main()
