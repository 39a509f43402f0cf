"""The served line under load: the Procfile's web process against a bare-Flask floor.

Starts a private redis-server (AOF, fsync every second, as in production), then two servers with
the Procfile's own `web:` command (read at run time, so a change of worker class is measured as
it is): A = the line (`wsgi:app`), B = the floor (`benchmarks.floor_app:app`, fixed TwiML), both
with the same worker count. Runs them interleaved A B A B (A first) for each measurement:

    closed: N callers each booking callbacks back to back (incoming, 4 key presses), as fast
            as answers come; throughput in webhooks a second, and the A/B ratio.
    Each segment also reports the CPU its servers used per webhook (from /proc): on a shared
    machine the wall-clock figures move with everyone else's load; CPU per webhook does not.

    open:   a fixed rate of webhooks a second, paced by the clock, whatever the answers do:
            `first` = new calls' first webhooks; `whole` = whole booking calls, a new call
            every 5/rate s, its steps 0.2 s apart. p50/p99 latency, and the generator's own
            pacing lag (how late a webhook left against its schedule) so a slow generator shows.

Callers are lean (signed posts, the next URL taken from the TwiML); each caller has its own
caller ID. For A, callbacks confirmed to callers are checked against callbacks queued.

    .venv/bin/python benchmarks/load_line.py closed --callers 16 --seconds 8
    .venv/bin/python benchmarks/load_line.py open --rate 300 --kind first --seconds 6
    .venv/bin/python benchmarks/load_line.py ... --before /tmp/main   (main's line as A0, too)
"""

from __future__ import annotations

import argparse
import heapq
import os
import random
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.load_client import Caller, Recorder, summary  # noqa: E402
from benchmarks.load_servers import Servers  # noqa: E402

KEYS = ("3", "1", "1", "3")  # a callback, on this number, voicemail OK, any time
GAP = 0.2  # seconds between one open-loop caller's steps
GIVE_UP = 2.0  # seconds late after which the open loop drops a webhook (the server is saturated)


def closed(base: str, callers: int, seconds: float, recorder: Recorder) -> None:
    stop = time.monotonic() + seconds

    def run() -> None:
        while time.monotonic() < stop:
            Caller(base, recorder).book(KEYS)

    threads = [threading.Thread(target=run) for _ in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def open_loop(base: str, rate: float, kind: str, seconds: float, recorder: Recorder) -> None:
    """Send `rate` webhooks a second by the clock, on a pool of worker threads."""
    due: list = []  # heap of (when, n, caller, step)
    ready = threading.Condition()
    busy = [0]  # webhooks in flight (each may schedule its call's next step)
    start = time.monotonic() + 0.2
    interval = (1 if kind == "first" else len(KEYS) + 1) / rate
    for n in range(int(seconds / interval)):
        heapq.heappush(due, (start + n * interval, n, None, 0))

    def worker() -> None:
        while True:
            with ready:
                while not due or due[0][0] > time.monotonic():
                    if not due and not busy[0]:
                        ready.notify_all()
                        return
                    ready.wait(max(0.0, due[0][0] - time.monotonic()) if due else 0.05)
                when, order, caller, step = heapq.heappop(due)
                busy[0] += 1
            late = time.monotonic() - when
            recorder.lag(late)
            if late > GIVE_UP:  # the server is saturated: count it, do not stretch the run
                with ready:
                    recorder.dropped += 1
                    busy[0] -= 1
                    ready.notify_all()
                continue
            caller = caller or Caller(base, recorder)
            if step == 0:
                caller.incoming()
            else:
                caller.press(KEYS[step - 1])
            with ready:
                busy[0] -= 1
                if kind == "whole" and step < len(KEYS) and caller.url:
                    heapq.heappush(due, (when + GAP, order, caller, step + 1))
                ready.notify_all()

    threads = [threading.Thread(target=worker) for _ in range(48)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=("closed", "open"))
    parser.add_argument("--callers", type=int, default=16)
    parser.add_argument("--rate", type=float, default=100)
    parser.add_argument("--kind", choices=("first", "whole"), default="first")
    parser.add_argument("--seconds", type=float, default=6)
    parser.add_argument("--rounds", type=int, default=2, help="A B pairs")
    parser.add_argument("--line-dir", default=str(Path(__file__).resolve().parent.parent))
    parser.add_argument("--before", help="another checkout, served as A0 beside A and B")
    parser.add_argument(
        "--warm", type=float, default=3, help="seconds of the same load first, not measured"
    )
    args = parser.parse_args()
    random.seed(os.getpid())
    with Servers(args.line_dir, args.before) as servers:
        print(f"procfile: {servers.command}")
        # A server warms to the load it gets: Redis connections, worker threads and the
        # interpreter's caches grow with concurrency, so each gets the same load first, as a
        # server in service has had; a first measured round otherwise pays for it.
        for name in servers.names if args.warm > 0 else ():
            if args.mode == "closed":
                closed(servers.base(name), args.callers, args.warm, Recorder())
            else:
                open_loop(servers.base(name), args.rate, args.kind, args.warm, Recorder())
        results: dict[str, list] = {name: [] for name in servers.names}
        for n in range(args.rounds):
            for name in servers.names:
                base = servers.base(name)
                queued_before = servers.queued()
                cpu_before = servers.cpu_seconds(name), servers.cpu_seconds("redis")
                recorder = Recorder()
                began = time.monotonic()
                if args.mode == "closed":
                    closed(base, args.callers, args.seconds, recorder)
                else:
                    open_loop(base, args.rate, args.kind, args.seconds, recorder)
                took = time.monotonic() - began
                line = summary(recorder, took)
                done = max(1, len(recorder.times))
                web_cpu = (servers.cpu_seconds(name) - cpu_before[0]) / done * 1000
                redis_cpu = (servers.cpu_seconds("redis") - cpu_before[1]) / done * 1000
                line += f"; CPU per webhook: web {web_cpu:.2f} ms, redis {redis_cpu:.2f} ms"
                if name != "B":
                    queued = servers.queued() - queued_before
                    line += f"; confirmed {recorder.confirmed}, queued {queued}"
                print(f"round {n + 1} {name}: {line}", flush=True)
                results[name].append(len(recorder.times) / took)
        if args.mode == "closed":
            for name in servers.names:
                if name != "B":
                    ratios = [a / b for a, b in zip(results[name], results["B"], strict=True)]
                    print(
                        f"throughput ratio {name}/B per round: "
                        + ", ".join(f"{r:.2f}" for r in ratios)
                    )


if __name__ == "__main__":
    main()
