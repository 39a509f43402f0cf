"""`ivr reports rebuild`: recount the figures from the raw call events, call logs and callback
requests, compare them with the live counters, and (if asked) replace the live ones.

The recount folds each call's stored events through the same `Figures.tally` the live path uses,
so the two can only disagree if a write was lost or the code changed. Days at or before the
retention cut-off have lost their raw events; their counters are kept as they are.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from ivr.reports.call_logs import ranked_chunks
from ivr.reports.figures import Figures, is_test
from ivr.store.keys import key
from ivr.store.redis_store import Store

CHUNK = 1000


@dataclass
class Recount:
    days: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    intake: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    calls: int = 0
    callbacks: int = 0


def _members(store: Store, index: str, low: float):
    """Every member of a sorted set scored above `low`, a chunk at a time."""
    bound = low if low == float("-inf") else low + 1e-6
    yield from ranked_chunks(store.redis, index, bound, float("inf"), CHUNK)


def recount(store: Store, figures: Figures, after: float) -> Recount:
    """Recount every call and callback request made after timestamp `after`."""
    result = Recount()
    for sids in _members(store, key("calls_by_start"), after):
        with store.redis.pipeline(transaction=False) as pipe:
            for sid in sids:
                pipe.hgetall(key("call_log", sid=sid))
                pipe.lrange(key("call_events", sid=sid), 0, -1)
            replies = pipe.execute()
        for log, raw_events in zip(replies[::2], replies[1::2], strict=True):
            started = log.get("started_at")
            if not started or is_test(log):
                continue
            events = [json.loads(e) for e in raw_events]
            day = figures.day(float(started))
            result.days[day] += figures.tally(events, {}, float(started))
            result.days[day] += figures.close_increments(log)
            result.calls += 1
    for refs in _members(store, key("callbacks_by_created"), after):
        with store.redis.pipeline(transaction=False) as pipe:
            for ref in refs:
                pipe.hgetall(key("callback", id=ref))
                pipe.lrange(key("callback_attempts", id=ref), 0, -1)
            replies = pipe.execute()
        for callback, raw_attempts in zip(replies[::2], replies[1::2], strict=True):
            if callback.get("created_at") and not is_test(callback):
                day = figures.day(float(callback["created_at"]))
                attempts = [json.loads(a) for a in raw_attempts]
                result.intake[day] += figures.intake_increments({}, callback, attempts)
                result.callbacks += 1
    return result


def first_whole_day(store: Store, figures: Figures) -> tuple[float, str | None]:
    """(timestamp, local day) up to which raw data was purged; only later days are recounted."""
    purged = store.redis.get(key("purged_until"))
    if not purged:
        return float("-inf"), None
    return float(purged), figures.day(float(purged))


def rebuild(store: Store, figures: Figures, apply: bool) -> dict:
    """Recount, compare with the live counters, and replace them if `apply`.

    Returns {"calls", "callbacks", "days", "differences": [(table, day, field, live, recount)]}.
    """
    purged_ts, purged_day = first_whole_day(store, figures)
    # Recount from the start of the day after the cut-off, so no day is half counted.
    after = purged_ts
    if purged_day is not None:
        next_day = date.fromisoformat(purged_day) + timedelta(days=1)
        after = datetime.combine(next_day, time(0), tzinfo=figures.tz).timestamp() - 0.001
    result = recount(store, figures, after)
    differences = []
    for table, counted in (("fig_day", result.days), ("fig_intake", result.intake)):
        live_days = {
            k.rsplit(":", 1)[-1] for k in store.redis.scan_iter(key(table, day="*"), count=1000)
        }
        days = sorted(d for d in live_days | set(counted) if purged_day is None or d > purged_day)
        for day in days:
            hash_key = key(table, day=day)
            live = Counter({f: int(v) for f, v in store.redis.hgetall(hash_key).items()})
            fresh = +counted.get(day, Counter())
            for name in sorted(set(live) | set(fresh)):
                if live[name] != fresh[name]:
                    differences.append((table, day, name, live[name], fresh[name]))
            if apply and live != fresh:
                with store.redis.pipeline(transaction=True) as pipe:
                    pipe.delete(hash_key)
                    if fresh:
                        pipe.hset(hash_key, mapping=dict(fresh))
                    pipe.execute()
    return {
        "calls": result.calls,
        "callbacks": result.callbacks,
        "days": len(result.days),
        "differences": differences,
    }
