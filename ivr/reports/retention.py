"""Retention: personal data and raw call events are deleted after `retention_days`; the anonymous
figures (figures.py) stay. Run by `ivr purge`, once or every N seconds (the Procfile's `clock`
process), together with the sweep that closes calls Twilio never sent a final status for.
"""

from __future__ import annotations

from datetime import datetime

from ivr.line.calls import OUTCOMES, sweep_unclosed
from ivr.store.keys import key
from ivr.store.redis_store import Store

CHUNK = 1000
# Call log fields that say something about the person; the rest (times, outcome, last prompt)
# are anonymous once these are gone and stay until the log's own expiry.
PERSONAL_LOG_FIELDS = ("from_masked", "caller_id_withheld", "callback_id", "urgent")
CLOSED_STATUSES = ("closed",)


def purge(store: Store, retention_days: int, moment: datetime) -> dict:
    """Delete what is older than the retention period. Safe to run again at any time."""
    cutoff = moment.timestamp() - retention_days * 86400
    done = store.redis.get(key("purged_until"))
    low = f"({done}" if done else "-inf"
    calls = 0
    while True:
        sids = store.redis.zrangebyscore(key("calls_by_start"), low, cutoff, start=0, num=CHUNK)
        sids = [s for s in sids if s]
        if not sids:
            break
        with store.redis.pipeline(transaction=False) as pipe:
            for sid in sids:
                pipe.exists(key("call_log", sid=sid))
            alive = pipe.execute()
        with store.redis.pipeline(transaction=True) as pipe:
            for sid, exists in zip(sids, alive, strict=True):
                pipe.delete(key("call_events", sid=sid), key("call_state", sid=sid))
                if exists:
                    pipe.hdel(key("call_log", sid=sid), *PERSONAL_LOG_FIELDS)
                    pipe.hset(key("call_log", sid=sid), "purged", "1")
                else:  # the log expired on its own: drop it from the index too
                    pipe.zrem(key("calls_by_start"), sid)
                    for outcome in OUTCOMES:
                        pipe.zrem(key("calls_by_outcome", outcome=outcome), sid)
            last = store.redis.zscore(key("calls_by_start"), sids[-1])
            pipe.execute()
        calls += len(sids)
        if last is not None:
            low = f"({last}"
        if len(sids) < CHUNK:
            break
    store.redis.set(key("purged_until"), repr(cutoff))
    return {"calls": calls, "callbacks": _purge_callbacks(store, cutoff)}


def _purge_callbacks(store: Store, cutoff: float) -> int:
    """Closed callback requests made before the cut-off go entirely, with their attempts, audit
    trail and counted-stages record (their reference stays used, never reissued). Entries in the
    capped global audit stream age out on their own."""
    removed = 0
    for status in CLOSED_STATUSES:
        index = key("callbacks_by_status", status=status)
        while refs := store.redis.zrangebyscore(index, "-inf", cutoff, start=0, num=CHUNK):
            with store.redis.pipeline(transaction=True) as pipe:
                for ref in refs:
                    pipe.delete(
                        key("callback", id=ref),
                        key("callback_attempts", id=ref),
                        key("callback_audit", id=ref),
                        key("fig_counted", id=ref),
                    )
                    pipe.zrem(key("callbacks_by_created"), ref)
                    pipe.zrem(key("callback_queue"), ref)
                    pipe.zrem(index, ref)
                pipe.execute()
            removed += len(refs)
    return removed


def housekeeping(store: Store, retention_days: int, unclosed_timeout: int, moment: datetime):
    """One round of the periodic job: close calls with no status, then purge."""
    swept = sweep_unclosed(store, moment.timestamp() - unclosed_timeout, moment)
    return {"swept": swept, **purge(store, retention_days, moment)}
