"""How long the intake queue page and a contended claim take, against a real private redis-server.

Fills the queue with N open callback requests (written the way the phone line writes them), then
times GET /intake/ for a signed-in worker (the first page of the open view), claiming the next
request (the top of the queue, then the claim script), a page of GET /api/v1/callbacks, and many
threads racing to claim each request (one wins, the rest are told who has it).

    .venv/bin/python benchmarks/intake_queue.py [--requests 500] [--claimers 16]
    .venv/bin/python benchmarks/intake_queue.py --requests 100000 --claimers 4 [--urgent-every 20]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.private_redis import DURABLE, private_redis  # noqa: E402
from ivr import create_app  # noqa: E402
from ivr.api.tokens import create_token  # noqa: E402
from ivr.config import load_settings  # noqa: E402
from ivr.intake.finding import first_waiting  # noqa: E402
from ivr.intake.service import IntakeError, intake  # noqa: E402
from ivr.staff.users import create_user  # noqa: E402
from ivr.store.keys import key  # noqa: E402

PASSWORD = "benchmark password"  # noqa: S105 (a throwaway account in a throwaway Redis)


def fill_queue(store, count: int, urgent_every: int = 20) -> list[str]:
    refs, now = [], time.time()
    for chunk in range(0, count, 5000):
        with store.redis.pipeline(transaction=True) as pipe:
            for n in range(chunk, min(count, chunk + 5000)):
                ref = f"{100000 + n}"
                store._write_callback(
                    pipe,
                    {"id": ref, "reference": ref, "phone": f"+4477{n:07d}", "status": "queued",
                     "created_at": now - n * 60, "urgent": n % urgent_every == 0,
                     "voicemail_ok": True, "preferred_time": "any", "answers": {}, "heard": []},
                )  # fmt: skip
                refs.append(ref)
            pipe.execute()
    return refs


def redis_cpu(client) -> float:
    info = client.info("cpu")
    return info["used_cpu_user"] + info["used_cpu_sys"]


def timed(action, runs: int, client) -> tuple[list[float], list[float], float]:
    """Wall times, this process's CPU times, and redis-server's CPU per run (CPU is what the
    machine's other load cannot inflate much)."""
    times, cpu = [], []
    redis_before = redis_cpu(client)
    for _ in range(runs):
        started, started_cpu = time.perf_counter(), time.process_time()
        action()
        times.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
    return times, cpu, (redis_cpu(client) - redis_before) / runs


def line(name: str, measured: tuple[list[float], list[float], float]) -> str:
    times, cpu, redis_each = measured
    return (
        f"{name}: median {statistics.median(times) * 1000:.1f} ms, "
        f"p90 {pct(times, 0.9):.1f} ms, max {max(times) * 1000:.1f} ms ({len(times)} runs); "
        f"CPU median {statistics.median(cpu) * 1000:.1f} ms, "
        f"redis-server CPU {redis_each * 1000:.1f} ms"
    )


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(p * len(values)))] * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--claimers", type=int, default=16)
    # every Nth request is urgent (the strip lists the open urgent references, so this matters)
    parser.add_argument("--urgent-every", type=int, default=20)
    args = parser.parse_args()
    with private_redis(*DURABLE) as url:
        settings = load_settings(
            environ={}, env="test", redis_url=url, secret_key="b" * 40, redis_socket_timeout=30
        )
        app = create_app(settings)
        store = app.extensions["ivr.store"]
        started = time.perf_counter()
        refs = fill_queue(store, args.requests, args.urgent_every)
        print(f"filled {args.requests} in {time.perf_counter() - started:.0f} s", flush=True)
        create_user(store.redis, "bench", "intake", PASSWORD)
        client = app.test_client()
        client.get("/login")
        with client.session_transaction() as session:
            token = session["csrf_token"]
        client.post("/login", data={"username": "bench", "password": PASSWORD,
                                    "csrf_token": token})  # fmt: skip
        page_times = timed(
            lambda: client.get("/intake/").status_code == 200 or exit(1), 20, store.redis
        )
        api = app.test_client()
        with app.app_context():
            service = intake()
        headers = {"Authorization": "Bearer " + create_token(store.redis, "bench")}
        api_times = timed(
            lambda: (
                api.get("/api/v1/callbacks?limit=50", headers=headers).status_code == 200 or exit(1)
            ),
            20,
            store.redis,
        )

        def claim_next() -> None:
            with app.test_request_context():
                top = first_waiting(service)  # the claimed ones stay at the top: passed over
                service.claim(top, "bench")

        next_times = timed(claim_next, 20, store.redis)
        claim_times: list[float] = []
        held = [store.redis.hget(key("callback", id=r), "status") for r in refs[100:400]]
        waiting = [r for r, status in zip(refs[100:400], held, strict=True) if status == "queued"]
        for ref in waiting[:100]:
            barrier = threading.Barrier(args.claimers)
            winners = []

            def claim(name: str, ref: str = ref, barrier=barrier, winners=winners) -> None:
                barrier.wait()
                started = time.perf_counter()
                try:
                    service.claim(ref, name)
                    winners.append(name)
                except IntakeError:
                    pass
                claim_times.append(time.perf_counter() - started)

            threads = [
                threading.Thread(target=claim, args=(f"w{n}",)) for n in range(args.claimers)
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert len(winners) == 1, winners
    print(f"open requests: {args.requests}, one in {args.urgent_every} urgent")
    print(line("queue page (first page)", page_times))
    print(line("claim the next request", next_times))
    print(line("API list, 50 a page", api_times))
    print(
        f"claims: 100 requests x {args.claimers} racing threads, exactly one winner each; "
        f"per claim median {statistics.median(claim_times) * 1000:.2f} ms, "
        f"p99 {pct(claim_times, 0.99):.2f} ms"
    )


if __name__ == "__main__":
    main()
