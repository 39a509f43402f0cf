"""Key rotation for personal data kept inside list items and stream entries: attempt notes
(`callback:{id}:attempts`), screening answers or words said in call events
(`call:{sid}:events`) and audit details (`callback:{id}:audit`, `audit`). Each list or stream is
re-encrypted under the first data key in one WATCHed MULTI, so an item added meanwhile is never
lost. A stream cannot be edited in place: it is written again in order (entry ids change; each
entry's time is its `t` field)."""

from __future__ import annotations

import json
from collections.abc import Callable

import redis

from ivr.store.crypto import PREFIX, DataKeys
from ivr.store.keys import pattern
from ivr.store.special import SEALED_EVENT_FIELDS


def rotate_lists(client: redis.Redis, keys: DataKeys) -> int:
    """Re-encrypt every attempt note, event answer and audit detail with the first key; how many
    lists and streams changed."""
    count = 0
    for name in client.scan_iter(match=pattern("callback_attempts"), count=500):
        count += _rewrite(client, name, lambda item: _fields(keys, item, {"note"}))
    sealed = {"a", *SEALED_EVENT_FIELDS}
    for name in client.scan_iter(match=pattern("call_events"), count=500):
        count += _rewrite(client, name, lambda item: _fields(keys, item, sealed))
    for template in ("callback_audit", "audit"):
        for name in client.scan_iter(match=pattern(template), count=500):
            count += _rewrite_stream(client, name, lambda item: _fields(keys, item, {"detail"}))
    return count


def _rewrite_stream(client: redis.Redis, name: str, change: Callable[[dict], dict]) -> int:
    with client.pipeline(transaction=True) as pipe:
        while True:
            try:
                pipe.watch(name)
                if pipe.type(name) != "stream":
                    pipe.unwatch()
                    return 0
                entries = [fields for _, fields in pipe.xrange(name)]
                fresh = [change(fields) for fields in entries]
                if fresh == entries:
                    pipe.unwatch()
                    return 0
                ttl = pipe.ttl(name)
                pipe.multi()
                pipe.delete(name)
                for fields in fresh:
                    pipe.xadd(name, fields)
                if ttl and ttl > 0:
                    pipe.expire(name, ttl)
                pipe.execute()
                return 1
            except redis.WatchError:
                continue


def _fields(keys: DataKeys, item: dict, names: set[str]) -> dict:
    """Encrypted values re-encrypted; anything in clear left as it is (another writer's plain
    detail, such as a flow approval's hash in the audit stream, must stay readable)."""
    return {
        k: keys.rotate(v) if k in names and isinstance(v, str) and v.startswith(PREFIX) else v
        for k, v in item.items()
    }


def _rewrite(client: redis.Redis, name: str, change: Callable[[dict], dict]) -> int:
    with client.pipeline(transaction=True) as pipe:
        while True:
            try:
                pipe.watch(name)
                if pipe.type(name) != "list":
                    pipe.unwatch()
                    return 0
                items = pipe.lrange(name, 0, -1)
                fresh = [json.dumps(change(json.loads(i)), separators=(",", ":")) for i in items]
                pipe.multi()
                for index, (old, new) in enumerate(zip(items, fresh, strict=True)):
                    if old != new:
                        pipe.lset(name, index, new)
                pipe.execute()
                return 1
            except redis.WatchError:
                continue
