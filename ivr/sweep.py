"""Closing call logs that never got a final status callback (Twilio lost it, or we were down).

A call that started longer ago than any call can last and still has no `ended_at` is closed
with status "unknown" and the outcome its events show. HSETNX on `ended_at` makes the close
atomic and once-only, so a late status callback or a second sweeper changes nothing.
"""

from __future__ import annotations

import time

from .calls import outcome_of
from .keys import key
from .store import Store

BATCH = 200


def sweep_unclosed_calls(store: Store, older_than: float, now: float | None = None) -> int:
    """Close every call started more than `older_than` seconds ago that is still open."""
    now = time.time() if now is None else now
    closed, offset = 0, 0
    while True:
        rows = store.redis.zrangebyscore(
            key("calls_by_start"),
            "-inf",
            now - older_than,
            start=offset,
            num=BATCH,
            withscores=True,
        )
        offset += len(rows)
        for sid, started in rows:
            log_key = key("call_log", sid=sid)
            if store.redis.hexists(log_key, "ended_at"):
                continue
            events = store.call_events(sid)
            ended = max([float(e.get("t", started)) for e in events] + [started])
            if not store.redis.hsetnx(log_key, "ended_at", ended):
                continue  # a status callback closed it just now
            log = store.call_log(sid)
            fields = {"call_status": "unknown", "outcome": outcome_of(log, events), "duration": ""}
            store.log_call(
                sid,
                [{"t": round(now, 3), "type": "status", "status": "unknown", "by": "sweep"}],
                fields,
                closed_log={**log, **fields},  # counts the ending in the figures (ivr/figures.py)
            )
            closed += 1
        if len(rows) < BATCH:
            return closed
