"""Callback requests in Redis: their reference, how they are written and read back.

A callback request is written on the MULTI pipeline of the step that confirmed it (see
`ivr.store.redis_store.Store.save_turn`) or of journal delivery, so it is never half-saved.
"""

from __future__ import annotations

import json
import secrets

from ivr.store.crypto import open_field as _open
from ivr.store.crypto import seal_field as _seal
from ivr.store.keys import key

# KEYS[1] callback id already made by this call (string), KEYS[2] set of references ever used.
# ARGV: candidate references. Returns this call's reference: the existing one, or the first
# candidate never used before (nil if all were taken). Atomic, so two requests for one call
# always agree on one reference.
ALLOCATE_REFERENCE = """
local existing = redis.call('GET', KEYS[1])
if existing then return existing end
for _, candidate in ipairs(ARGV) do
  if redis.call('SADD', KEYS[2], candidate) == 1 then
    redis.call('SET', KEYS[1], candidate, 'EX', 86400 * 30)
    return candidate
  end
end
return false
"""

REFERENCE_DIGITS = 6


class CallbackRecords:
    """The callback half of `Store`: needs `self.redis`, `self.keys`, `self.retention_seconds`
    and `self._allocate` (the registered ALLOCATE_REFERENCE script)."""

    def allocate_reference(self, sid: str) -> str:
        """This call's callback reference: the same one every time it is asked for."""
        for _ in range(5):
            candidates = [self.new_reference_candidate() for _ in range(8)]
            ref = self._allocate(
                keys=[key("callback_for_call", sid=sid), key("callback_refs")], args=candidates
            )
            if ref:
                return ref
        raise RuntimeError("no free callback reference after 40 tries")

    @staticmethod
    def new_reference_candidate() -> str:
        """A random reference that never starts with 0: that range is the journal's fallback."""
        low = 10 ** (REFERENCE_DIGITS - 1)
        return str(low + secrets.randbelow(10**REFERENCE_DIGITS - low))

    def write_callback(self, pipe, callback: dict) -> None:
        """Queue the writes of a callback request on a MULTI pipeline (journal delivery)."""
        self._write_callback(pipe, callback)

    def log_call_in(self, pipe, sid: str, events: list[dict], log_fields: dict) -> None:
        """Queue the writes of call events and log fields on a MULTI pipeline."""
        self._log_call(pipe, sid, events, log_fields)

    def _write_callback(self, pipe, callback: dict) -> None:
        """Create a callback request, or update the caller's answers if this call made it already.

        Fields the intake team owns (status, attempts) are only ever set when it is created.
        """
        ref = callback["id"]
        cb_key = key("callback", id=ref)
        created = callback["created_at"]
        pipe.hset(
            cb_key,
            mapping={
                k: _seal(_flat(v)) if k in ENCRYPTED_FIELDS else _flat(v)
                for k, v in callback.items()
                if k not in ("status", "created_at", "is_update", "merged", "call_sid")
                # Once urgent, always urgent: an update never takes a risk disclosure back.
                and not (k == "urgent" and not v and callback.get("is_update"))
            },
        )
        pipe.hsetnx(cb_key, "call_sid", callback["call_sid"])  # the call that made it
        if callback.get("merged"):  # a repeat call (ivr/line/limits.py merged): counted
            pipe.hincrby(cb_key, "repeat_calls", 1)
            pipe.hset(cb_key, "last_repeat_at", _flat(created))
        if callback.get("phone"):
            self._index_subject(pipe, callback["phone"], "callback:" + ref)
        pipe.hsetnx(cb_key, "created_at", created)
        pipe.hsetnx(cb_key, "status", callback["status"])
        pipe.zadd(key("callbacks_by_created"), {ref: created}, nx=True)
        if not callback.get("is_update"):  # an update must not re-list a claimed one as queued
            pipe.zadd(
                key("callbacks_by_status", status=callback["status"]), {ref: created}, nx=True
            )
        # The queue's score is its display order (see queue_score).
        score = queue_score(created, bool(callback.get("urgent")), test=bool(callback.get("test")))
        if callback.get("merged"):
            pass  # a repeat joining an open urgent request: already urgent, keeps its place
        elif callback.get("is_update"):
            pipe.zadd(key("callback_queue"), {ref: score}, xx=True, lt=True)
        else:
            pipe.zadd(key("callback_queue"), {ref: score}, nx=True)

    def _withdraw_callback(self, pipe, ref: str, number: str | None) -> None:
        """Remove a request its caller refused (the urgent safety call), number and all. The
        refusal itself is kept only as a call event, without the number."""
        pipe.delete(key("callback", id=ref))
        pipe.zrem(key("callbacks_by_created"), ref)
        pipe.zrem(key("callback_queue"), ref)
        for status in ("queued", "claimed", "scheduled", "closed", "escalated"):
            pipe.zrem(key("callbacks_by_status", status=status), ref)
        if number and self.keys is not None:
            pipe.hdel(key("subject_index", hash=self.keys.phone_hash(number)), "callback:" + ref)

    def _index_subject(self, pipe, number: str, member: str) -> None:
        """Remember, under a keyed hash of the number, a record held about that person."""
        if self.keys is None:
            return
        index = key("subject_index", hash=self.keys.phone_hash(number))
        # The number itself, encrypted, lets `ivr keys rotate` re-file the entry under a new key.
        pipe.hset(index, mapping={"number": self.keys.encrypt(number), member: "1"})
        pipe.expire(index, self.retention_seconds)

    def callback(self, ref: str) -> dict | None:
        raw = self.redis.hgetall(key("callback", id=ref))
        return decode_callback(raw) if raw else None

    def list_callbacks(
        self, status: str | None, cursor: str | None, limit: int
    ) -> tuple[list[dict], str | None]:
        """Callback requests newest first, `limit` at a time; the cursor is opaque to callers."""
        index = key("callbacks_by_status", status=status) if status else key("callbacks_by_created")
        high = "+inf"
        if cursor:
            score, _, after_id = cursor.partition(":")
            high = f"({score}" if not after_id else score
        # Fetch one extra to know whether there is another page; members with the same score as
        # the cursor are skipped up to and including the cursor's own id.
        rows = self.redis.zrevrangebyscore(
            index, high, "-inf", start=0, num=limit + 50, withscores=True
        )
        if cursor and after_id:
            score_f = float(score)
            rows = [r for r in rows if not (r[1] == score_f and r[0] >= after_id)]
        page = rows[:limit]
        with self.redis.pipeline(transaction=False) as pipe:
            for ref, _ in page:
                pipe.hgetall(key("callback", id=ref))
            found = pipe.execute()
        items = [decode_callback(raw) for raw in found if raw]
        next_cursor = None
        if len(rows) > limit and page:
            last_ref, last_score = page[-1]
            next_cursor = f"{last_score!r}:{last_ref}"
        return items, next_cursor


# The open queue's score puts it in the order the queue page shows it, so one page is one ZRANGE:
# the urgent band first; in each band those ready to call, then those scheduled (their next
# attempt not yet due); in each of those, oldest first. Requests from test calls (/try) come after
# every real one, in the same order. A creation time is below SCHEDULED (until the year 3554).
URGENT, SCHEDULED, TEST = -1e11, 5e10, 2e11
TEST_FROM = 1e11  # every real request scores below this, every test call's request above


def queue_score(created_at: float, urgent: bool, scheduled: bool = False, test: bool = False):
    """Where a request sits in the open queue (the Lua twin is in ivr/intake/queue.py)."""
    shift = (URGENT if urgent else 0) + (SCHEDULED if scheduled else 0) + (TEST if test else 0)
    return created_at + shift


def rescore_queue(client, batch: int = 1000) -> tuple[int, int]:
    """Set every open request's queue score from its hash (ivr callbacks rescore): (checked,
    moved). The members are listed once first (paging by rank while scores change would skip
    some), then a batch at a time: one round trip to read, one to write. ZADD XX never brings
    back a request that left the queue meanwhile."""
    queue = key("callback_queue")
    members = client.zrange(queue, 0, -1, withscores=True)
    moved = 0
    for start in range(0, len(members), batch):
        page = members[start : start + batch]
        with client.pipeline(transaction=False) as pipe:
            for ref, _ in page:
                pipe.hmget(key("callback", id=ref), "created_at", "urgent", "status", "test")
            fields = pipe.execute()
        with client.pipeline(transaction=False) as pipe:
            for (ref, score), (created, urgent, status, test) in zip(page, fields, strict=True):
                if created is None:
                    continue  # no hash (erased meanwhile): the queue's own sweep drops it
                wanted = queue_score(
                    float(created), urgent == "1", status == "scheduled", test == "1"
                )
                if wanted != score:
                    pipe.zadd(queue, {ref: wanted}, xx=True)
                    moved += 1
            pipe.execute()
    return len(members), moved


def queue_created(score: float) -> float:
    """The creation time a queue score was made from."""
    return score % SCHEDULED


def _flat(value) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    return "" if value is None else str(value)


CALLBACK_BOOLS = {
    "urgent",
    "voicemail_ok",
    "caller_id_withheld",
    "out_of_hours",
    "caller_finished",
    "test",
}
CALLBACK_NUMBERS = {"created_at", "phq2_total", "attempts", "repeat_calls"}
CALLBACK_JSON = {"answers", "heard"}
# Personal and health data: encrypted at rest. `urgent` stays readable (the queue sorts and the
# figures count by it; the queue's order shows it anyway), and so do the intake team's fields.
ENCRYPTED_FIELDS = {
    "phone",
    "answers",
    "phq2_total",
    # What a caller said or asked for (speech results, an interpreter's language).
    "speech",
    "transcript",
    "transcripts",
    "language",
    "interpreter_language",
}


def decode_callback(raw: dict) -> dict:
    """A stored callback request as plain values (encrypted fields decrypted)."""
    out: dict = {}
    for name, value in raw.items():
        if name in ENCRYPTED_FIELDS:
            value = _open(value)
        if name in CALLBACK_BOOLS:
            out[name] = value == "1"
        elif name in CALLBACK_NUMBERS:
            out[name] = None if value == "" else float(value) if "." in value else int(value)
        elif name in CALLBACK_JSON:
            out[name] = json.loads(value) if value else None
        else:
            out[name] = value
    # Requests made before the line could make one mid-call were all finished by the caller.
    out.setdefault("caller_finished", True)
    return out
