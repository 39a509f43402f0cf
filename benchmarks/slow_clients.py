"""Webhook latency while slow clients hold connections open on the web port (issue 12).

Starts the Procfile's web process (gunicorn with gunicorn.conf.py) against a private redis-server,
then places calls (dial, a key press, the fallback URL: three signed webhooks each) with no slow
client, and again while N connections dribble their headers a line a second and never finish.

    .venv/bin/python benchmarks/slow_clients.py [--slow 50] [--calls 40]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.private_redis import DURABLE, private_redis  # noqa: E402
from ivr.twilio_sim.phone import HttpTransport, SimulatedCall  # noqa: E402
from tests.conftest import AUTH_TOKEN  # noqa: E402
from tests.web_process import SlowClients, line_env, procfile_web  # noqa: E402


def place_calls(base: str, calls: int) -> list[float]:
    times = []
    for _ in range(calls):
        call = SimulatedCall(HttpTransport(timeout=15), base, AUTH_TOKEN)
        for step in (call.dial, lambda c=call: c.press("4")):
            started = time.perf_counter()
            step()
            times.append(time.perf_counter() - started)
        started = time.perf_counter()
        status, _ = call.signed_post(base + "/voice/fallback", call.params())
        times.append(time.perf_counter() - started)
        assert status == 200
        call.hang_up()
    return times


def report(label: str, times: list[float]) -> None:
    ms = sorted(t * 1000 for t in times)
    p95 = ms[int(len(ms) * 0.95) - 1]
    print(
        f"{label}: {len(ms)} webhooks, median {statistics.median(ms):.1f} ms,"
        f" p95 {p95:.1f} ms, max {ms[-1]:.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--slow", type=int, default=50)
    parser.add_argument("--calls", type=int, default=40)
    args = parser.parse_args()
    with (
        private_redis(*DURABLE) as url,
        tempfile.TemporaryDirectory() as tmp,
        procfile_web(line_env(url, Path(tmp)), Path(tmp) / "web.log") as base,
    ):
        place_calls(base, 2)  # warm both workers
        report("no slow clients", place_calls(base, args.calls))
        with SlowClients(base, args.slow) as slow:
            time.sleep(1.5)
            report(f"{args.slow} slow connections held", place_calls(base, args.calls))
            print(f"slow connections still open at the end: {slow.still_open()}/{args.slow}")


if __name__ == "__main__":
    main()
