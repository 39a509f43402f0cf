"""How long the managers' report page and CSV exports take over a year of a million calls.

Starts its own private redis-server, then fills it in two stages:

1. `--seed-calls` calls (default 3000) made by `ivr demo`'s code: the real flow engine, saved
   step by step with `Store.save_turn` and closed with `calls.close_call` (what the webhooks do
   below HTTP), with live counters. Their rate is printed, to show what a faithful fill of a
   million would take on this machine.
2. The rest, up to `--calls` (default 1,000,000), as copies of those engine-made calls moved to
   other days of the past year (whole days, so local hours stay the same): each copy's events,
   call log, indexes and intake history are written with pipelined direct writes, and the daily
   counters are made by the same `Figures.tally` / `close_increments` / `intake_increments`
   functions the live path uses (summed per day, then one HSET per day, instead of one HINCRBY
   per event). Callback requests get a simulated intake history (first attempt, contact, outcome).

Then it times, through the Flask test client with a signed-in manager: the figures page over a
year, a table's CSV, the call log page, the call-log CSV for one month and (with --year-csv) for
the whole year.

    .venv/bin/python benchmarks/reports_million.py [--calls 1000000] [--year-csv]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import sys
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.private_redis import private_redis  # noqa: E402
from ivr import create_app  # noqa: E402
from ivr.config import load_settings  # noqa: E402
from ivr.reports import call_logs  # noqa: E402
from ivr.reports.demo import fill  # noqa: E402
from ivr.staff.users import create_user  # noqa: E402
from ivr.store.keys import key  # noqa: E402

PASSWORD = "benchmark password 123"  # noqa: S105


def seed_pool(client, sids: list[str]) -> list[tuple[dict, list[str], dict | None]]:
    pool = []
    for sid in sids:
        log = client.hgetall(key("call_log", sid=sid))
        events = client.lrange(key("call_events", sid=sid), 0, -1)
        cb = (
            client.hgetall(key("callback", id=log["callback_id"]))
            if log.get("callback_id")
            else None
        )
        pool.append((log, events, cb))
    return pool


def shift_event(raw: str, seconds: float) -> str:
    event = json.loads(raw)
    event["t"] = round(event["t"] + seconds, 3)
    return json.dumps(event, separators=(",", ":"))


def copy_calls(app, pool, total: int, rng: random.Random) -> None:
    store = app.extensions["ivr.store"]
    figures, client = store.figures, store.redis
    days: dict[str, Counter] = defaultdict(Counter)
    intake: dict[str, Counter] = defaultdict(Counter)
    pipe = client.pipeline(transaction=False)
    for n in range(total):
        log, events, cb = pool[n % len(pool)]
        shift = -86400.0 * rng.randrange(0, 330)  # seed calls cover the last 5 weeks
        sid = f"CA{n:032x}"
        started = float(log["started_at"]) + shift
        moved = {**log, "started_at": started, "ended_at": float(log["ended_at"]) + shift}
        if cb:
            ref = f"9{n:07d}"
            moved["callback_id"] = ref
            created = float(cb["created_at"]) + shift
            worked = {**cb, "id": ref, "reference": ref, "created_at": created}
            first = created + rng.choice([20, 45, 90, 240, 900, 1500, 2900]) * 60
            worked.update(first_attempt_at=first, attempts=rng.choice([1, 1, 1, 2, 2, 3]))
            if rng.random() < 0.8:
                worked["contacted_at"] = first + rng.choice([0, 0, 60, 600, 1500]) * 60
                worked["close_reason"] = rng.choice(
                    ["reached_booked"] * 5 + ["reached_not_suitable", "reached_declined"]
                )
            else:
                worked["close_reason"] = rng.choice(["no_answer", "wrong_number"])
            pipe.hset(key("callback", id=ref), mapping={k: str(v) for k, v in worked.items()})
            pipe.zadd(key("callbacks_by_created"), {ref: created})
            intake[figures.day(created)] += figures.intake_increments({}, worked)
        pipe.rpush(key("call_events", sid=sid), *(shift_event(e, shift) for e in events))
        pipe.hset(key("call_log", sid=sid), mapping={k: str(v) for k, v in moved.items()})
        pipe.zadd(key("calls_by_start"), {sid: started})
        pipe.zadd(key("calls_by_outcome", outcome=log["outcome"]), {sid: started})
        day = figures.day(started)
        days[day] += figures.tally([json.loads(e) for e in events], {}, started)
        days[day] += figures.close_increments(moved)
        if n % 2000 == 1999:
            pipe.execute()
    pipe.execute()
    for table, counted in (("fig_day", days), ("fig_intake", intake)):
        for day, counts in counted.items():
            for name, value in counts.items():
                pipe.hincrby(key(table, day=day), name, value)
    pipe.execute()


def timed(label: str, action, runs: int = 5) -> None:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        size = action()
        times.append(time.perf_counter() - started)
    print(
        f"{label:<44} median {statistics.median(times):8.3f} s  (best {min(times):.3f} s, "
        f"{runs} runs, {size:,} bytes)"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--seed-calls", type=int, default=3000)
    parser.add_argument("--year-csv", action="store_true")
    args = parser.parse_args()
    with private_redis() as url:  # no persistence: the figures, not the disk, are measured
        run(url, args)


def run(url: str, args) -> None:
    settings = load_settings(environ={}, env="test", redis_url=url, secret_key="b" * 40)
    app = create_app(settings)
    store = app.extensions["ivr.store"]
    started = time.perf_counter()
    fill(app.extensions["ivr.engine"], store, args.seed_calls, weeks=5, seed=1)
    took = time.perf_counter() - started
    rate = args.seed_calls / took
    print(
        f"engine + store fill: {args.seed_calls} calls in {took:.1f} s = {rate:.0f} calls/s "
        f"(a million this way: ~{1_000_000 / rate / 60:.0f} min)"
    )
    rng = random.Random(2)
    pool = seed_pool(store.redis, store.redis.zrange(key("calls_by_start"), 0, -1))
    started = time.perf_counter()
    copies = args.calls - args.seed_calls
    copy_calls(app, pool, copies, rng)
    print(
        f"copied fill: {copies} calls in {time.perf_counter() - started:.0f} s; "
        f"redis memory {store.redis.info('memory')['used_memory_human']}"
    )
    create_user(store.redis, "bench", "manager", PASSWORD)
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    client.post("/login", data={"username": "bench", "password": PASSWORD, "csrf_token": token})
    today = datetime.now(UTC).date()
    year = f"start={today - timedelta(days=364)}&end={today}"
    month = f"start={today - timedelta(days=30)}&end={today}"
    calls_in_year = store.redis.zcount(key("calls_by_start"), "-inf", "+inf")
    print(f"calls stored: {calls_in_year:,}")

    def get(path):
        def action():
            response = client.get(path)
            assert response.status_code == 200, (path, response.status_code)
            return len(response.get_data())

        return action

    timed("figures page, one year", get(f"/reports/?{year}"))
    timed("figures page, one month", get(f"/reports/?{month}"))
    timed(
        "figures CSV (calls per day), one year",
        get(f"/reports/figures.csv?table=calls_per_day&{year}"),
    )
    timed("call log page (50 newest), one year", get(f"/reports/calls?{year}"))
    timed(
        "call log CSV, one month (the longest allowed)", get(f"/reports/calls.csv?{month}"), runs=1
    )
    if args.year_csv:  # beyond the page's limit: the streaming function itself, for a year

        def year_rows():
            low = time.time() - 365 * 86400
            rows = call_logs.csv_rows(store.redis, low, time.time() + 1, None, store.figures.tz)
            return sum(len(",".join(map(str, r))) for r in rows)

        timed("call log CSV rows, one year (no HTTP)", year_rows, runs=1)


if __name__ == "__main__":
    main()
