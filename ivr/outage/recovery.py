"""Getting journalled callback requests into Redis, exactly once, with no one lifting a finger.

References while Redis is down: the caller must hear the reference their request will finally
have. Each process keeps a small pool of references reserved in Redis while it was reachable
(SADD into the set of every reference ever given out, so nobody else can ever use them); a
request confirmed during an outage takes one from the pool. A process that started during the
outage (or used its pool up) falls back to a reference derived from the CallSid in a range the
normal allocator never uses (a leading 0), which every process computes alike, so retries agree.
There are only 100,000 of those, so two calls can hash alike (a busy outage gives hundreds):
within a process a derived reference is never given twice (the next derivation is taken
instead). Two processes, or an old delivered one, can still clash; delivery then gives the
later request a new reference and marks both requests with the one the caller heard, so intake
searching for it finds both and is told to check the caller's number (hazard F15-1).

Delivery is idempotent per call: `callback:by_call:{sid}` names the request a call made; if it
already points at a request that exists, the record was delivered before (or the call made its
request while Redis was up) and nothing is written again.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import threading
import time
from collections import OrderedDict, deque

import redis

from ivr.outage.journal import Journal
from ivr.store.callbacks import REFERENCE_DIGITS
from ivr.store.crypto import DataKeys
from ivr.store.erasures import is_erased
from ivr.store.keys import key
from ivr.store.redis_store import Store

log = logging.getLogger(__name__)
POOL_SIZE = 10  # per process; wasted on restart, so small (there are 900,000)
FOR_CALL_TTL = 86400 * 30  # as in store.ALLOCATE_REFERENCE


class ReferencePool:
    """References this process may hand out without asking Redis, and the ones it handed out."""

    def __init__(self, keys: DataKeys, size: int = POOL_SIZE):
        self.keys, self.size = keys, size
        self._spare: deque[str] = deque()
        self._given: OrderedDict[str, str] = OrderedDict()  # CallSid -> reference, recent calls
        self._derived: set[str] = set()  # fallback references given by this process
        self._lock = threading.Lock()

    def remember(self, sid: str, ref: str) -> str:
        with self._lock:
            self._given[sid] = ref
            self._given.move_to_end(sid)
            while len(self._given) > 2000:
                self._given.popitem(last=False)
        return ref

    def allocator(self, store: Store):
        """The normal allocator, remembering what it gave (a step may save yet time out).

        It takes a spare reference (already reserved in Redis, so the booking step needs no
        round trip of its own; the step's save records it as the call's) and only asks Redis
        when the pool is empty."""

        def allocate(sid: str) -> str:
            with self._lock:
                ref = self._spare.popleft() if self._spare else None
            return self.remember(sid, ref or store.allocate_reference(sid))

        return allocate

    def take(self, sid: str) -> str:
        """A reference for this call while Redis is down (the same one on every retry)."""
        with self._lock:
            if sid in self._given:
                return self._given[sid]
            ref = self._spare.popleft() if self._spare else self.fallback(sid)
        return self.remember(sid, ref)

    def fallback(self, sid: str) -> str:
        """A reference derived from the CallSid (called with the lock held). Another process
        derives the same one for a retry of this call; this process never gives one twice."""
        salt = self.keys.phone_hash("pool").encode()
        for n in range(10 ** (REFERENCE_DIGITS - 1)):
            message = sid.encode() + (b"#%d" % n if n else b"")
            digest = int(hmac.new(salt, message, hashlib.sha256).hexdigest(), 16)
            ref = f"0{digest % 10 ** (REFERENCE_DIGITS - 1):0{REFERENCE_DIGITS - 1}d}"
            if ref not in self._derived:
                self._derived.add(ref)
                return ref
        raise RuntimeError("every fallback reference is taken in this process")

    def top_up_reader(self, store: Store):
        """A reader for Store.read_step: tops the pool up on the step's own read, if it needs it."""

        def read(pipe):
            # Only as many as the pool lacks: a reserved reference is never reissued, so one
            # reserved and not kept is lost for good (a candidate already taken just leaves the
            # pool short until the next step).
            with self._lock:
                lacking = self.size - len(self._spare)
            candidates = [store.new_reference_candidate() for _ in range(max(0, lacking))]
            for ref in candidates:
                pipe.sadd(key("callback_refs"), ref)

            def take(added: list) -> None:
                with self._lock:
                    for ref, new in zip(candidates, added, strict=True):
                        if new and len(self._spare) < self.size:
                            self._spare.append(ref)

            return take

        return read


# Sections from which a caller can confirm a callback request (screening: a risk answer makes an
# urgent one). The call's reference is fixed on entering one, while Redis answers if it can.
RESERVE_SECTIONS = ("screening", "crisis", "callback")


def reserve_reference(outcome, flow, sid: str, allocate) -> None:
    """Fix the call's reference before the caller can confirm a request, and keep it in the
    call's data, which is saved in Redis and sealed into every step URL. Every later answer (a
    Twilio retry on another worker, with Redis up, down or dying between the two) then reads the
    same reference, and delivery of a journalled copy finds the request made with it.

    `allocate` is the store's allocator while Redis answers (atomic per CallSid) and this
    process's offline pool while it does not (only when nothing was reserved before)."""
    data = outcome.data
    if data.get("callback_ref") or data.get("reserved_ref"):
        return
    if (flow.nodes.get(outcome.node) or {}).get("section") in RESERVE_SECTIONS:
        data["reserved_ref"] = allocate(sid)


def deliver_record(store: Store, record: dict) -> str:
    """Put one journalled callback request into Redis. Returns what happened (for logs/tests)."""
    callback = dict(record["callback"])
    sid = callback["call_sid"]
    if store.keys is not None and is_erased(
        store.redis, store.keys, callback.get("phone") or "", float(callback["created_at"])
    ):
        log.info("a journalled request of an erased subject was dropped")
        return "erased"
    for_call = key("callback_for_call", sid=sid)
    for _ in range(10):
        ref = callback["id"]
        cb_key = key("callback", id=ref)
        # A clash (below): the request the caller's reference already names, to be marked.
        told_key = (
            key("callback", id=callback["told_reference"]) if "told_reference" in callback else None
        )
        with store.redis.pipeline(transaction=True) as pipe:
            try:
                pipe.watch(for_call, cb_key, *([told_key] if told_key else []))
                existing = pipe.get(for_call)
                if existing and pipe.exists(key("callback", id=existing)):
                    # An update journalled under the reference its caller heard, which delivery
                    # changed after a clash, belongs to the request under its new reference.
                    told = pipe.hget(key("callback", id=existing), "told_reference")
                    if callback.get("is_update") and ref in (existing, told):
                        events = _not_logged(pipe, sid, record.get("events") or [])
                        pipe.multi()
                        store.write_callback(
                            pipe, {**callback, "id": existing, "reference": existing}
                        )
                        # The steps join the call's log. Of its fields only what the manager
                        # must not miss: the live line and the status callback own the rest,
                        # and may have written later values since (an update is mid-call).
                        store.log_call_in(pipe, sid, events, _update_log(callback))
                        pipe.execute()
                        return "updated"
                    if existing != ref:
                        log.warning("a journalled request's call already has one in Redis")
                    return "already_delivered"
                owner = pipe.hget(cb_key, "call_sid")
                if owner and owner != sid:
                    pipe.unwatch()
                    new_ref = store.allocate_reference(sid)
                    log.warning("journal reference clashed; the request got a new reference")
                    callback.setdefault("told_reference", ref)  # what its caller heard
                    callback["id"] = callback["reference"] = new_ref
                    continue
                shared = pipe.hget(told_key, "also_told_to") if told_key else None
                told_there = bool(told_key) and pipe.exists(told_key)
                pipe.multi()
                pipe.set(for_call, ref, ex=FOR_CALL_TTL)
                pipe.sadd(key("callback_refs"), ref)
                store.write_callback(pipe, {**callback, "is_update": False})
                store.log_call_in(pipe, sid, record.get("events") or [], record.get("log") or {})
                if told_there:  # the other caller's request: its reference was told twice
                    also = sorted({*(shared or "").split(), ref})
                    pipe.hset(told_key, "also_told_to", " ".join(also))
                pipe.execute()
                return "delivered"
            except redis.WatchError:
                continue
    raise RuntimeError("could not deliver a journalled request after 10 tries")


def _not_logged(pipe, sid: str, events: list[dict]) -> list[dict]:
    """The events not in the call's log yet: after a crash mid-delivery a journal file is
    delivered again from its start, and an update (unlike a new request) is written again."""
    logged = {_event_id(json.loads(e)) for e in pipe.lrange(key("call_events", sid=sid), 0, -1)}
    return [e for e in events if _event_id(e) not in logged]


def _event_id(event: dict) -> tuple:
    return event.get("t"), event.get("step"), event.get("type"), event.get("node")


def _update_log(callback: dict) -> dict:
    """An update's call log fields: kept through an outage, once urgent always urgent."""
    return {"degraded": True, **({"urgent": True} if callback.get("urgent") else {})}


class Deliverer:
    """A background thread per process that empties the journal directory into Redis."""

    def __init__(self, store: Store, journal: Journal, interval: float):
        self.store, self.journal, self.interval = store, journal, max(interval, 0.05)
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._last_look = float("-inf")
        self._start_lock = threading.Lock()
        self._stopped = threading.Event()
        # Files with a line the data keys cannot open (a key was dropped too soon): kept on disk
        # for an operator (`ivr journal status`), reported once, not retried every second.
        self._stuck: set[str] = set()

    def waiting(self) -> list:
        """Journal files this process could still deliver."""
        return [p for p in self.journal.files() if p.name not in self._stuck]

    def stop(self) -> None:
        """Stop delivering in this process (tests; what is waiting stays on disk)."""
        self._stopped.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(10)
        self.journal.seal_live_file()

    def start_if_waiting(self) -> None:
        """Start delivering if a journal file waits. Called after healthy webhook steps, so it
        looks at the disk at most once per delivery interval, and not while already delivering."""
        now = time.monotonic()
        if now - self._last_look < self.interval or self._running_here():
            return
        self._last_look = now
        if self.waiting():
            self.ensure_running()

    def _running_here(self) -> bool:
        alive = self._thread is not None and self._thread.is_alive()
        return alive and self._pid == os.getpid()

    def ensure_running(self) -> None:
        with self._start_lock:
            if self._running_here() or self._stopped.is_set():
                return
            self._pid = os.getpid()
            self._thread = threading.Thread(target=self._loop, name="ivr-journal", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        while not self._stopped.wait(self.interval):
            try:
                self.run_once()
            except Exception:  # keep trying: a request on disk must not be given up on
                log.exception("journal delivery failed; will retry")
            if not self.waiting() and not self.journal.has_live_file():
                return  # nothing waiting; the next journal write starts the thread again

    def run_once(self) -> int:
        """Deliver every file nobody else holds. Returns how many records were delivered."""
        if not self.waiting():
            return 0
        try:
            self.store.redis.ping()
        except redis.RedisError:
            return 0
        self.journal.seal_live_file()  # Redis is back: hand our own file over for delivery
        delivered = 0
        for path in self.waiting():
            with self.journal.claimed(path) as mine:
                if mine:
                    delivered += self._deliver_file(path)
        return delivered

    def _deliver_file(self, path) -> int:
        entries = self.journal.entries(path)
        records = [self.journal.open_record(entry) for entry in entries]
        if any(record is None for record in records):
            self._stuck.add(path.name)
            log.error(
                "a journal file cannot be opened with the data keys; kept on disk",
                extra={"file": path.name},
            )
            return 0
        delivered = 0
        for entry, record in zip(entries, records, strict=True):
            if (
                entry.get("kind") == "callback"
                and deliver_record(self.store, record) == "delivered"
            ):
                delivered += 1
        if not self.store.replicated():  # a failover now could lose them: keep the file
            log.warning("journal file delivered but not yet on a replica; kept")
            return delivered
        path.unlink()
        log.info("journal file delivered", extra={"file": path.name})
        return delivered


def after_healthy_step(extensions: dict) -> None:
    """After a step Redis answered: deliver anything waiting. (The step's own read keeps the
    pool of spare references full: ReferencePool.top_up_reader.)"""
    extensions["ivr.deliverer"].start_if_waiting()
