"""Redis access for the phone line: a call's state, its log and events; and `connect`, the one
place a Redis client is built (plain, TLS with rediss://, or through Sentinel).

Callback requests are written by the same scripts (their half lives in callbacks.py).

One webhook step is two round trips: one pipeline reads the call's state (and whatever else the
step needs: per-caller tallies, spare references), then the engine decides, then one script
(SAVE_STEP) checks that the state is still at the step read and, only if so, writes state,
events, call log and any callback. If Twilio retried the same step while we were deciding, the
script writes nothing and the caller gets the answer the first request already saved, so every
step takes effect exactly once. When replicas are configured, a step that books a callback sends
WAIT on the same round trip, and reports whether a replica has the write.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from redis.sentinel import Sentinel

from ivr.config import sentinel_addresses
from ivr.store.callbacks import ALLOCATE_REFERENCE, CallbackRecords, _flat
from ivr.store.crypto import DataKeys, install_data_keys
from ivr.store.crypto import open_field as _open
from ivr.store.crypto import seal_field as _seal
from ivr.store.keys import key
from ivr.store.special import stored_event


class StepConflict(Exception):
    """Another request for the same call saved first; reload and use its answer."""


class OverLimit(Exception):
    """The step's guard tally (ivr/line/limits.py) was over its limit: nothing was written."""


# KEYS[1] the call's state hash. ARGV[1] the step the state must be at ("" = no state yet);
# ARGV[2] JSON list of commands (each a list of strings) to run if it is; ARGV[3] "" or a JSON
# list of guards {key, member, score, cutoff, limit, ttl}: per-caller tallies the member joins,
# refused when it ranks at or past the limit (a limit of -1 never refuses). Returns "ok",
# "conflict" (another request saved this step first) or "over_limit:<key>"; on either of the
# last two nothing is written but the tallies.
# The commands' keys are not declared in KEYS: fine on one Redis, not on Cluster (docs/scaling.md).
SAVE_STEP = """
local step = redis.call('HGET', KEYS[1], 'step')
if (step or '') ~= ARGV[1] then return 'conflict' end
if ARGV[3] ~= '' then
  for _, g in ipairs(cjson.decode(ARGV[3])) do
    local added = redis.call('ZADD', g.key, 'NX', g.score, g.member)
    redis.call('ZREMRANGEBYSCORE', g.key, '-inf', g.cutoff)
    redis.call('EXPIRE', g.key, g.ttl)
    -- How many joined before it: by arrival for a newcomer (its clock may be behind another
    -- request's), by rank for one already in (a refused call trying again).
    local ahead = redis.call('ZCARD', g.key) - 1
    if added == 0 then ahead = redis.call('ZRANK', g.key, g.member) end
    local limit = tonumber(g.limit)
    if limit >= 0 and ahead >= limit then return 'over_limit:' .. g.key end
  end
end
for _, command in ipairs(cjson.decode(ARGV[2])) do
  redis.call(unpack(command))
end
return 'ok'
"""
SAVE_STEP_SHA = hashlib.sha1(SAVE_STEP.encode()).hexdigest()  # noqa: S324 (Redis's script id)
FOR_CALL_TTL = 86400 * 30  # as in callbacks.ALLOCATE_REFERENCE


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


def connect(url: str, socket_timeout: float, sentinels: str, service: str) -> redis.Redis:
    """A Redis client: from REDIS_URL (redis://, rediss:// for TLS, unix://), or, when
    `sentinels` ("host:port,host:port") is set, the current primary of `service` as those
    Sentinels name it, followed across a failover. REDIS_URL then gives only the password,
    database and TLS."""
    options = dict(
        socket_timeout=socket_timeout,
        socket_connect_timeout=socket_timeout,
        decode_responses=True,
        health_check_interval=30,
    )
    if not sentinels.strip():
        return redis.Redis.from_url(url, **options)
    parts = urlsplit(url)
    database = parts.path.strip("/")
    sentinel = Sentinel(
        sentinel_addresses(sentinels),
        # Each sentinel is asked once, within the timeout, before the next: redis-py's own
        # clients for them retry with backoff, so a sentinel that is down (often on the host
        # of the primary that just failed) cost the step seconds of silence on a new connection.
        sentinel_kwargs={
            "socket_timeout": socket_timeout,
            "socket_connect_timeout": socket_timeout,
            "retry": Retry(NoBackoff(), 0),
        },
        username=parts.username or None,
        password=parts.password or None,
        db=int(database) if database.isdigit() else 0,
        ssl=parts.scheme == "rediss",
        **options,
    )
    return sentinel.master_for(service)


def client_for(settings, socket_timeout: float | None = None) -> redis.Redis:
    """The Redis client for these settings (the app and every CLI command use this)."""
    return connect(
        settings.redis_url,
        settings.redis_socket_timeout if socket_timeout is None else socket_timeout,
        settings.redis_sentinels,
        settings.redis_sentinel_service,
    )


class Store(CallbackRecords):
    """Calls in progress (here) and callback requests (`CallbackRecords`)."""

    def __init__(
        self,
        client: redis.Redis,
        call_state_ttl: int,
        retention_seconds: int,
        keys: DataKeys | None = None,
        wait_replicas: int = 0,
        wait_ms: int = 0,
    ):
        self.redis = client
        # A step that books a callback waits (WAIT) for this many replicas, at most wait_ms.
        self.wait_replicas, self.wait_ms = wait_replicas, wait_ms
        self.call_state_ttl = call_state_ttl
        self.retention_seconds = retention_seconds
        self._allocate = client.register_script(ALLOCATE_REFERENCE)
        if keys is not None:
            install_data_keys(keys)
        self.keys = keys
        # Service figures (ivr/reports/figures.py), counted in the same MULTI as each step; set by
        # create_app. None means no counting (e.g. a bare Store in a script).
        self.figures = None
        # Prompts whose answers are health data: their keys are stored encrypted (special.py).
        self.private_nodes: frozenset[str] = frozenset()
        self.urgent_aliases: dict[str, str] = {}  # urgent-only prompts -> their ordinary twin

    # --- a call in progress ---------------------------------------------------------------
    def load_call(self, sid: str) -> CallState:
        return self._state(sid, self.redis.hgetall(key("call_state", sid=sid)))

    def read_step(self, sid: str, readers: list[Callable]) -> CallState:
        """A step's one read: the call's state, plus what each reader queues on the same
        pipeline. A reader is called with the pipeline and returns a function that takes the
        results of the commands it queued."""
        with self.redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(key("call_state", sid=sid))
            takers = []
            for reader in readers:
                start = len(pipe)
                takers.append((reader(pipe), start, len(pipe)))
            results = pipe.execute()
        for take, start, end in takers:
            take(results[start:end])
        return self._state(sid, results[0])

    @staticmethod
    def _state(sid: str, raw: dict) -> CallState:
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
        guards: list[dict] | None = None,
        withdraw: str | None = None,
        joins: str | None = None,
    ) -> bool:
        """Write one step of a call atomically in one round trip, or raise StepConflict if it
        was already taken (OverLimit(sid, tally key) if a guard's tally refuses it; nothing is
        written then).

        Returns False only when a callback was written and the replicas it must reach (WAIT)
        did not confirm it in time: the caller must not rely on Redis alone for it.
        `withdraw` names a callback request this call made and the caller then refused.
        `joins` names another call's open urgent request this call's reference now is
        (ivr/line/limits.py reference_for): recorded as the call's unless it has one already.
        """
        state_key = key("call_state", sid=before.sid)
        with self.redis.pipeline(transaction=False) as pipe:  # records commands, never sent
            # A refused request is uncounted too, so live figures match a recount.
            withdrawn_at = before.data.get("callback_made_at") if withdraw else None
            if withdrawn_at and self.figures is not None:
                day = self.figures.day(float(withdrawn_at))
                pipe.hincrby(key("fig_intake", day=day), "requested", -1)
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
            if joins:
                pipe.set(key("callback_for_call", sid=before.sid), joins, nx=True, ex=FOR_CALL_TTL)
            if withdraw:
                self._withdraw_callback(pipe, withdraw, after.data.get("caller_number"))
            if callback:
                if not callback.get("is_update"):  # which request this call made (journal)
                    for_call = key("callback_for_call", sid=before.sid)
                    pipe.set(for_call, callback["id"], ex=FOR_CALL_TTL)
                self._write_callback(pipe, callback)
                if self.figures is not None and not callback.get("is_update"):
                    self.figures.count_intake(pipe, {}, callback)
            commands = self._commands(pipe)
        args = [
            str(before.step) if before.exists else "",
            commands,
            json.dumps(guards) if guards else "",
        ]
        wait = bool(callback) and self.wait_replicas > 0
        result, acked = self._run_save(state_key, args, wait)
        if result == "conflict":
            raise StepConflict(before.sid)
        if result.startswith("over_limit:"):
            raise OverLimit(before.sid, result.removeprefix("over_limit:"))
        return not wait or acked >= self.wait_replicas

    def replicated(self) -> bool:
        """Whether the replicas to wait for (if any) have every write made so far, from any
        client: a write of our own, then WAIT, which covers everything before it."""
        if self.wait_replicas <= 0:
            return True
        with self.redis.pipeline(transaction=False) as pipe:
            pipe.set(key("replication_fence"), repr(time.time()), ex=3600)
            pipe.wait(self.wait_replicas, self.wait_ms)
            return pipe.execute()[1] >= self.wait_replicas

    def _commands(self, pipe) -> str:
        """The recorded pipeline's commands as JSON string lists, encoded as redis-py would
        (str as is, int with str, float with repr), without its per-argument checks."""
        encoder = self.redis.get_encoder()

        def text(arg) -> str:
            kind = type(arg)
            if kind is str:
                return arg
            if kind is int:
                return str(arg)
            return encoder.encode(arg).decode()

        return json.dumps(
            [[text(a) for a in args] for args, _ in pipe.command_stack], separators=(",", ":")
        )

    def _run_save(self, state_key: str, args: list[str], wait: bool) -> tuple[str, int]:
        """SAVE_STEP (and WAIT) on one pipeline; loads the script once if Redis lacks it."""
        with self.redis.pipeline(transaction=False) as pipe:
            pipe.evalsha(SAVE_STEP_SHA, 1, state_key, *args)
            if wait:
                pipe.wait(self.wait_replicas, self.wait_ms)
            results = pipe.execute(raise_on_error=False)
        if isinstance(results[0], redis.exceptions.NoScriptError):  # nothing ran: load, again
            self.redis.script_load(SAVE_STEP)
            return self._run_save(state_key, args, wait)
        for result in results:
            if isinstance(result, Exception):
                raise result
        return results[0], (results[1] if wait else 0)

    def _log_call(self, pipe, sid: str, events: list[dict], log_fields: dict) -> None:
        log_key, events_key = key("call_log", sid=sid), key("call_events", sid=sid)
        if events:
            kept = (stored_event(e, self.private_nodes) for e in events)
            pipe.rpush(events_key, *(json.dumps(e, separators=(",", ":")) for e in kept))
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
