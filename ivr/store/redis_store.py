"""Redis access for the phone line: a call's state, its log and events.

Callback requests are written by the same transactions (their half lives in callbacks.py).

One webhook is one optimistic transaction: WATCH the call's state, read it, decide, then
write state, events, call log and any callback in a single MULTI/EXEC. If Twilio retried the
same step while we were deciding, EXEC fails and the caller gets the answer the first request
already saved, so every step takes effect exactly once.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

import redis

from ivr.store.callbacks import ALLOCATE_REFERENCE, CallbackRecords, _flat
from ivr.store.crypto import DataKeys, install_data_keys
from ivr.store.crypto import open_field as _open
from ivr.store.crypto import seal_field as _seal
from ivr.store.keys import key


class StepConflict(Exception):
    """Another request for the same call saved first; reload and use its answer."""


@dataclass
class CallState:
    """What the line knows about one call in progress (personal data: it expires)."""

    sid: str
    step: int = 0
    node: str = ""
    data: dict = field(default_factory=dict)
    twiml: str = ""  # the last answer, replayed when Twilio retries the same step
    exists: bool = False

    def get(self, name: str, default=None):
        return self.data.get(name, default)


def connect(url: str, socket_timeout: float) -> redis.Redis:
    return redis.Redis.from_url(
        url,
        socket_timeout=socket_timeout,
        socket_connect_timeout=socket_timeout,
        decode_responses=True,
        health_check_interval=30,
    )


class Store(CallbackRecords):
    """Calls in progress (here) and callback requests (`CallbackRecords`)."""

    def __init__(
        self,
        client: redis.Redis,
        call_state_ttl: int,
        retention_seconds: int,
        keys: DataKeys | None = None,
    ):
        self.redis = client
        self.call_state_ttl = call_state_ttl
        self.retention_seconds = retention_seconds
        self._allocate = client.register_script(ALLOCATE_REFERENCE)
        if keys is not None:
            install_data_keys(keys)
        self.keys = keys
        # Service figures (ivr/reports/figures.py), counted in the same MULTI as each step; set by
        # create_app. None means no counting (e.g. a bare Store in a script).
        self.figures = None

    # --- a call in progress ---------------------------------------------------------------
    def load_call(self, sid: str) -> CallState:
        raw = self.redis.hgetall(key("call_state", sid=sid))
        if not raw:
            return CallState(sid=sid)
        data = json.loads(_open(raw.get("data") or "{}"))
        return CallState(
            sid=sid,
            step=int(raw.get("step", 0)),
            node=raw.get("node", ""),
            data=data,
            twiml=_open(raw.get("twiml", "")),
            exists=True,
        )

    def save_turn(
        self,
        before: CallState,
        after: CallState,
        events: list[dict],
        log_fields: dict,
        callback: dict | None = None,
    ) -> None:
        """Write one step of a call atomically, or raise StepConflict if it was already taken."""
        state_key = key("call_state", sid=before.sid)
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.watch(state_key)
            current = pipe.hget(state_key, "step")
            if (current is not None) != before.exists or int(current or 0) != before.step:
                pipe.unwatch()
                raise StepConflict(before.sid)
            pipe.multi()
            if self.figures is not None:  # first: it records its marks in the state's data
                self.figures.count_turn(pipe, after.data, events)
            pipe.hset(
                state_key,
                mapping={
                    "step": after.step,
                    "node": after.node,
                    # Both hold numbers (the TwiML reads a keyed number back).
                    "data": _seal(json.dumps(after.data)),
                    "twiml": _seal(after.twiml),
                },
            )
            pipe.expire(state_key, self.call_state_ttl)
            if not before.exists and after.data.get("caller_number"):
                self._index_subject(pipe, after.data["caller_number"], "call:" + before.sid)
            self._log_call(pipe, before.sid, events, log_fields)
            if callback:
                self._write_callback(pipe, callback)
                if self.figures is not None and not callback.get("is_update"):
                    self.figures.count_intake(pipe, {}, callback)
            try:
                pipe.execute()
            except redis.WatchError as exc:
                raise StepConflict(before.sid) from exc

    def _log_call(self, pipe, sid: str, events: list[dict], log_fields: dict) -> None:
        log_key, events_key = key("call_log", sid=sid), key("call_events", sid=sid)
        if events:
            pipe.rpush(events_key, *(json.dumps(e, separators=(",", ":")) for e in events))
            pipe.expire(events_key, self.retention_seconds)
        if log_fields:
            started = log_fields.get("started_at")
            if started is not None:
                pipe.zadd(key("calls_by_start"), {sid: started}, nx=True)
                if "outcome" not in log_fields:  # open until its final status (or the sweep)
                    pipe.zadd(key("calls_open"), {sid: started}, nx=True)
            pipe.hset(log_key, mapping={k: _flat(v) for k, v in log_fields.items()})
            pipe.expire(log_key, self.retention_seconds)

    def log_call(
        self, sid: str, events: list[dict], log_fields: dict, closed_log: dict | None = None
    ) -> None:
        """Record events outside a step (status callbacks), in one round trip.

        `closed_log` (the whole call log once the call has ended) counts its ending in the figures.
        """
        with self.redis.pipeline(transaction=True) as pipe:
            self._log_call(pipe, sid, events, log_fields)
            if closed_log is not None:
                pipe.zrem(key("calls_open"), sid)
                if closed_log.get("outcome") and closed_log.get("started_at") not in (None, ""):
                    index = key("calls_by_outcome", outcome=closed_log["outcome"])
                    pipe.zadd(index, {sid: float(closed_log["started_at"])})
                if self.figures is not None:
                    self.figures.count_close(pipe, closed_log)
            pipe.execute()

    def call_log(self, sid: str) -> dict:
        return self.redis.hgetall(key("call_log", sid=sid))

    def call_events(self, sid: str) -> list[dict]:
        return [json.loads(e) for e in self.redis.lrange(key("call_events", sid=sid), 0, -1)]


def now() -> float:
    return time.time()
