"""Every value in Redis as text, key by key: what someone with a copy of the store would read."""

from __future__ import annotations

import json

# Anonymous counters by day (figures:day/intake): field names like "risk:yes" count calls, and
# name nobody. Every other key is scanned.
ANONYMOUS_PREFIXES = ("ivr:figures:day:", "ivr:figures:intake:")


def dump(client) -> dict[str, str]:
    out = {}
    for name in client.scan_iter(count=1000):
        if name.startswith(ANONYMOUS_PREFIXES):
            continue
        kind = client.type(name)
        if kind == "string":
            value = client.get(name)
        elif kind == "hash":
            value = client.hgetall(name)
        elif kind == "list":
            value = client.lrange(name, 0, -1)
        elif kind == "set":
            value = sorted(client.smembers(name))
        elif kind == "zset":
            value = client.zrange(name, 0, -1, withscores=True)
        elif kind == "stream":
            value = [fields for _, fields in client.xrange(name)]
        else:
            value = None
        out[name] = name + " " + json.dumps(value, sort_keys=True)
    return out


def findings(client, needles: list[str]) -> list[str]:
    """Every key whose name or value holds one of the needles, with the needle."""
    return [
        f"{name}: {needle!r}"
        for name, text in dump(client).items()
        for needle in needles
        if needle in text
    ]
