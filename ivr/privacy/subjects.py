"""Data-protection requests and key rotation: everything held about one phone number (subject
access), erasing it, and re-encrypting personal data under a new data key.

Records are found through the keyed-hash index `subject:{hash}` (ivr/store/keys.py), so no number is
ever stored in clear. Anonymous counters (figures, rate-limit tallies) are not personal data and
are kept; the reference a request had stays "used" so it is never given to someone else.
"""

from __future__ import annotations

import redis

from ivr.line.calls import OUTCOMES
from ivr.store.callbacks import ENCRYPTED_FIELDS, decode_callback
from ivr.store.crypto import DataKeys, install_data_keys
from ivr.store.keys import key

KNOWN_STATUSES = ("queued", "claimed", "scheduled", "escalated", "closed")


def _members(client: redis.Redis, keys: DataKeys, number: str) -> tuple[list[str], set[str]]:
    """The index keys and "callback:{id}" / "call:{sid}" members held about this number."""
    indexes = [key("subject_index", hash=h) for h in keys.phone_hashes(number)]
    members: set[str] = set()
    for index in indexes:
        members |= {m for m in client.hkeys(index) if m != "number"}
    return indexes, members


def export_subject(client: redis.Redis, keys: DataKeys, number: str) -> dict:
    """Everything held about a number: its callback requests and the logs of its calls."""
    install_data_keys(keys)
    _, members = _members(client, keys, number)
    callbacks, sids = [], {m.partition(":")[2] for m in members if m.startswith("call:")}
    for member in sorted(m for m in members if m.startswith("callback:")):
        raw = client.hgetall(key("callback", id=member.partition(":")[2]))
        if raw:
            callback = decode_callback(raw)
            callbacks.append(callback)
            if callback.get("call_sid"):
                sids.add(callback["call_sid"])
    calls = []
    for sid in sorted(sids):
        log = client.hgetall(key("call_log", sid=sid))
        events = client.lrange(key("call_events", sid=sid), 0, -1)
        if log or events:
            calls.append({"call_sid": sid, "log": log, "events": events})
    return {"phone": number, "callbacks": callbacks, "calls": calls}


def erase_subject(client: redis.Redis, keys: DataKeys, number: str) -> dict:
    """Delete every record held about a number, in one MULTI. Returns how many of each."""
    found = export_subject(client, keys, number)
    indexes, _ = _members(client, keys, number)
    with client.pipeline(transaction=True) as pipe:
        for callback in found["callbacks"]:
            ref = callback["id"]
            pipe.delete(key("callback", id=ref), key("fig_counted", id=ref))
            pipe.zrem(key("callbacks_by_created"), ref)
            pipe.zrem(key("callback_queue"), ref)
            for status in {*KNOWN_STATUSES, callback.get("status") or "queued"}:
                pipe.zrem(key("callbacks_by_status", status=status), ref)
            if callback.get("call_sid"):
                pipe.delete(key("callback_for_call", sid=callback["call_sid"]))
        for call in found["calls"]:
            sid = call["call_sid"]
            pipe.delete(
                key("call_log", sid=sid), key("call_events", sid=sid), key("call_state", sid=sid)
            )
            pipe.zrem(key("calls_by_start"), sid)
            # Reports' indexes (ivr/reports/call_logs.py); the anonymous daily counters stay.
            pipe.zrem(key("calls_open"), sid)
            for outcome in OUTCOMES:
                pipe.zrem(key("calls_by_outcome", outcome=outcome), sid)
        for digest in keys.phone_hashes(number):
            pipe.delete(key("calls_per_minute", hash=digest))
        pipe.delete(*indexes)
        pipe.execute()
    return {"callbacks": len(found["callbacks"]), "calls": len(found["calls"])}


def rotate_all(client: redis.Redis, keys: DataKeys) -> int:
    """Re-encrypt callback requests and call states with the first key; re-file the index."""
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
