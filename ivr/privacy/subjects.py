"""Data-protection requests and key rotation: everything held about one phone number (subject
access), erasing it, and re-encrypting personal data under a new data key.

Records are found through the keyed-hash index `subject:{hash}` (ivr/store/keys.py), so no
number is ever stored in clear; what else belongs to the person is found by walking every key
template's declaration (`HOLDS`: callback, call, number, index, audit), so a new kind of key
cannot be forgotten. Anonymous counters are kept; the reference a request had stays "used" so
it is never given to someone else; audit entries about an erased request keep who, when and
what. Requests still in the journal on disk are removed from files no process is writing, and
the erasure is recorded (`privacy:erased`) so any other is dropped at delivery.
"""

from __future__ import annotations

import json
import time

import redis

from ivr.intake.queue import AUDIT_MAXLEN
from ivr.privacy.lists import rotate_lists
from ivr.store.callbacks import ENCRYPTED_FIELDS, decode_callback
from ivr.store.crypto import DataKeys, install_data_keys
from ivr.store.keys import HOLDS, key, pattern
from ivr.store.special import SEALED_EVENT_FIELDS

AUDIT_KEPT = ("t", "who", "action", "callback")  # what an erased request's audit entries keep


class Subject:
    """Where one person's entries are: the keyed hashes of their number, their callback
    requests (ids) and the calls made from their number or that made their requests."""

    def __init__(self, client: redis.Redis, keys: DataKeys, number: str):
        self.number = number
        self.hashes = keys.phone_hashes(number)
        members: set[str] = set()
        for digest in self.hashes:
            members |= {m for m in client.hkeys(key("subject_index", hash=digest)) if m != "number"}
        self.refs = sorted(m.partition(":")[2] for m in members if m.startswith("callback:"))
        sids = {m.partition(":")[2] for m in members if m.startswith("call:")}
        for ref in self.refs:  # a request keyed in on someone else's phone: that call too
            sid = client.hget(key("callback", id=ref), "call_sid")
            if sid:
                sids.add(sid)
        self.sids = sorted(sids)

    def keys_of(self, client: redis.Redis, name: str) -> list[str]:
        """The Redis keys of one template that belong to this person (found_by callback, call
        or number); for an index or audit template, the keys that may name them."""
        found_by = HOLDS[name].found_by
        if found_by == "callback":
            return [key(name, id=ref) for ref in self.refs]
        if found_by == "call":
            return [key(name, sid=sid) for sid in self.sids]
        if found_by == "number":
            return [k for h in self.hashes for k in client.scan_iter(match=pattern(name, hash=h))]
        if found_by in ("index", "audit"):
            return list(client.scan_iter(match=pattern(name)))
        return []


def _read(client: redis.Redis, name: str):
    kind = client.type(name)
    if kind == "hash":
        return client.hgetall(name)
    if kind == "list":
        return client.lrange(name, 0, -1)
    if kind == "zset":
        return client.zrange(name, 0, -1, withscores=True)
    if kind == "set":
        return sorted(client.smembers(name))
    if kind == "stream":
        return client.xrange(name)
    return client.get(name) if kind == "string" else None


def _opened(keys: DataKeys, name: str, value):
    """A stored value as its subject may read it: encrypted parts decrypted."""
    if name == "callback":
        return decode_callback(value)
    if name == "callback_attempts":
        return [_open_fields(keys, json.loads(a), {"note"}) for a in value]
    if name == "call_events":
        events = [_open_fields(keys, json.loads(e), SEALED_EVENT_FIELDS) for e in value]
        return [{**e, "key": keys.decrypt(e.pop("a"))} if "a" in e else e for e in events]
    if name == "call_state":
        return _open_fields(keys, value, {"data", "twiml"})
    if name == "subject_index":
        return _open_fields(keys, value, {"number"})
    return value


def _open_fields(keys: DataKeys, record: dict, names) -> dict:
    return {
        k: keys.decrypt(v) if k in names and isinstance(v, str) else v for k, v in record.items()
    }


def _audit_entries(client, keys: DataKeys, name: str, refs: set[str], lists: bool = False):
    """(entry id, fields) of a stream's entries about these requests; with `lists`, also the
    entries of reads that listed one of them among others (API pages: refs only)."""
    return [
        (entry_id, fields)
        for entry_id, fields in client.xrange(name)
        if fields.get("callback") in refs
        or (lists and refs & set((fields.get("refs") or "").split(",")))
    ]


def export_subject(client: redis.Redis, keys: DataKeys, number: str, journal=None) -> dict:
    """Everything held about a number, found by walking every key template's declaration
    (ivr/store/keys.py HOLDS): requests, notes, audit entries, calls, index entries, the
    journal on disk. Encrypted values are decrypted: this is the subject's own copy."""
    install_data_keys(keys)
    subject = Subject(client, keys, number)
    members = {*subject.refs, *subject.sids}
    held: dict[str, dict] = {}
    for name, holds in HOLDS.items():
        for found in subject.keys_of(client, name):
            if holds.found_by == "index":
                scores = {m: client.zscore(found, m) for m in members}
                hits = {m: s for m, s in scores.items() if s is not None}
                if hits:
                    held.setdefault(name, {})[found] = hits
            elif holds.found_by == "audit":
                entries = _audit_entries(client, keys, found, set(subject.refs), lists=True)
                if entries:
                    held.setdefault(name, {})[found] = [
                        _open_fields(keys, fields, {"detail"}) for _, fields in entries
                    ]
            elif (value := _read(client, found)) is not None:
                held.setdefault(name, {})[found] = _opened(keys, name, value)
    callbacks = list((held.get("callback") or {}).values())
    calls = []
    for sid in subject.sids:
        log = (held.get("call_log") or {}).get(key("call_log", sid=sid))
        events = (held.get("call_events") or {}).get(key("call_events", sid=sid))
        if log or events:
            calls.append({"call_sid": sid, "log": log or {}, "events": events or []})
    waiting = journal.records_where(_about(subject)) if journal is not None else []
    return {"phone": number, "callbacks": callbacks, "calls": calls, "journal": waiting,
            "held": held}  # fmt: skip


def _about(subject: Subject):
    def match(record: dict) -> bool:
        return (record.get("callback") or {}).get("phone") == subject.number

    return match


def erase_subject(
    client: redis.Redis,
    keys: DataKeys,
    number: str,
    *,
    retention_seconds: int = 90 * 86400,
    journal=None,
    actor: str = "ivr subject-erase",
    now: float | None = None,
) -> dict:
    """Erase everything held about a number, walking every key template's declaration, in one
    MULTI: its keys deleted, its members taken out of indexes, audit entries about its requests
    cut to who/when/what, and the erasure recorded so a journalled request of theirs is dropped
    at delivery. Anonymous counters and used references stay. Returns how many of each."""
    install_data_keys(keys)
    now = time.time() if now is None else now
    subject = Subject(client, keys, number)
    members, refs = [*subject.refs, *subject.sids], set(subject.refs)
    found_calls = [s for s in subject.sids if client.exists(key("call_log", sid=s))]
    plan = {name: subject.keys_of(client, name) for name in HOLDS}
    audits = {
        found: _audit_entries(client, keys, found, refs)
        for name in HOLDS
        if HOLDS[name].found_by == "audit"
        for found in plan[name]
    }
    with client.pipeline(transaction=True) as pipe:
        for name, found in plan.items():
            how = HOLDS[name].found_by
            if how in ("callback", "call", "number") and found:
                pipe.delete(*found)
            elif how == "index" and members:
                for index in found:
                    pipe.zrem(index, *members)
        for stream, entries in audits.items():
            _redact(pipe, stream, entries, retention_seconds)
        for ref in subject.refs:
            entry = {
                "t": repr(now),
                "who": actor,
                "action": "erased",
                "callback": ref,
            }
            pipe.xadd(key("callback_audit", id=ref), entry)
            pipe.expire(key("callback_audit", id=ref), retention_seconds)
        tombstones = key("erased_subjects")
        pipe.zadd(tombstones, dict.fromkeys(subject.hashes, now))
        pipe.zremrangebyscore(tombstones, "-inf", now - retention_seconds)
        pipe.execute()
    removed, waiting = journal.remove_where(_about(subject)) if journal is not None else (0, 0)
    return {
        "callbacks": len(subject.refs),
        "calls": len(found_calls),
        "journal_removed": removed,
        "journal_dropped_at_delivery": waiting,
    }


def _redact(pipe, stream: str, entries: list, retention_seconds: int) -> None:
    """Audit entries about an erased request: who, when and what stay; any detail goes."""
    if not entries:
        return
    pipe.xdel(stream, *(entry_id for entry_id, _ in entries))
    for _, fields in entries:
        kept = {k: fields.get(k, "") for k in AUDIT_KEPT}
        if stream == key("audit"):
            pipe.xadd(stream, kept, maxlen=AUDIT_MAXLEN, approximate=True)
        else:
            pipe.xadd(stream, kept)
    if stream != key("audit"):
        pipe.expire(stream, retention_seconds)  # its request is gone: retention cannot find it


def rotate_all(client: redis.Redis, keys: DataKeys) -> int:
    """Re-encrypt callback requests, call states, notes and event answers with the first key;
    re-file the index."""
    count = 0
    for name in client.scan_iter(match=key("callback", id="*"), count=500):
        if client.type(name) != "hash":
            continue  # callback:by_call:{sid} strings share the prefix
        _rewrite(client, name, keys, ENCRYPTED_FIELDS)
        count += 1
    for name in client.scan_iter(match=key("call_state", sid="*"), count=500):
        _rewrite(client, name, keys, {"data", "twiml"})
    for name in client.scan_iter(match=key("subject_index", hash="*"), count=500):
        _refile(client, name, keys)
    rotate_lists(client, keys)  # attempt notes, answers in call events
    return count


def _rewrite(client: redis.Redis, name: str, keys: DataKeys, fields: set[str]) -> None:
    with client.pipeline(transaction=True) as pipe:
        while True:
            try:
                pipe.watch(name)
                values = dict(zip(fields, pipe.hmget(name, *fields), strict=True))
                fresh = {f: keys.rotate(v) for f, v in values.items() if v}
                pipe.multi()
                if fresh:
                    pipe.hset(name, mapping=fresh)
                pipe.execute()
                return
            except redis.WatchError:
                continue


def _refile(client: redis.Redis, name: str, keys: DataKeys) -> None:
    """Move an index entry written under an older key to the first key's hash."""
    with client.pipeline(transaction=True) as pipe:
        while True:
            try:
                pipe.watch(name)  # a call indexed meanwhile must not be dropped by the DEL
                members = pipe.hgetall(name)
                if not members.get("number"):
                    return
                number = keys.decrypt(members["number"])
                target = key("subject_index", hash=keys.phone_hash(number))
                ttl = pipe.ttl(name)
                pipe.multi()
                pipe.hset(target, mapping={**members, "number": keys.encrypt(number)})
                if ttl and ttl > 0:
                    pipe.expire(target, ttl)
                if target != name:
                    pipe.delete(name)
                pipe.execute()
                return
            except redis.WatchError:
                continue
