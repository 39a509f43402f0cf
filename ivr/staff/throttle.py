"""Slowing down password guessing without letting a stranger lock a worker out.

Failed sign-ins are counted per (username, address) and per address. After
`login_max_failures` failures for one username from one address, or
`login_max_failures_per_address` from one address whatever the usernames, sign-ins from that
address (for that username, or for all) are refused for a pause that starts at
`login_lock_seconds` and doubles with every further failure, up to `login_lock_max_seconds`.
Nothing is counted per username alone: failing `ian`'s username from elsewhere pauses only
that elsewhere, and `ian` signs in from his own address as usual. The address is the client's
as seen through `IVR_TRUST_PROXY` trusted proxy hops (ivr/staff/security.py), so behind the
TLS terminator staff do not all share the terminator's address. Counters expire by themselves.
"""

from __future__ import annotations

import redis

from ivr.config import Settings
from ivr.store.keys import key

# KEYS[1] failure counter, KEYS[2] lock key.
# ARGV[1] failures allowed before a pause, ARGV[2] first pause (s), ARGV[3] longest pause (s).
# Counts one failure and, at or past the limit, starts a pause that doubles each time.
# Returns the pause in seconds (0 if none). One script so concurrent guesses all count.
RECORD_FAILURE = """
local n = redis.call('INCR', KEYS[1])
local limit, first, longest = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local pause = 0
if n >= limit then
  pause = math.min(first * 2 ^ (n - limit), longest)
  redis.call('SET', KEYS[2], '1', 'EX', math.floor(pause))
end
redis.call('EXPIRE', KEYS[1], math.max(longest * 2, 3600))
return math.floor(pause)
"""


def _keys(username: str, address: str) -> list[tuple[str, str]]:
    pair = f"{username}@{address}"
    return [
        (
            key("login_failures", kind="user", who=pair),
            key("login_lock", kind="user", who=pair),
        ),
        (key("login_failures", kind="ip", who=address), key("login_lock", kind="ip", who=address)),
    ]


def seconds_to_wait(client: redis.Redis, username: str, address: str) -> int:
    """How long sign-ins for this username from this address, or from this address at all, are
    paused (0 = go ahead)."""
    with client.pipeline(transaction=False) as pipe:
        for _, lock in _keys(username, address):
            pipe.ttl(lock)
        ttls = pipe.execute()
    return max([0, *ttls])


def record_failure(client: redis.Redis, settings: Settings, username: str, address: str) -> int:
    """Count a failed sign-in; returns the pause now in force (seconds, 0 if none)."""
    limits = (settings.login_max_failures, settings.login_max_failures_per_address)
    pauses = [
        client.eval(
            RECORD_FAILURE,
            2,
            counter,
            lock,
            limit,
            settings.login_lock_seconds,
            settings.login_lock_max_seconds,
        )
        for (counter, lock), limit in zip(_keys(username, address), limits, strict=True)
    ]
    return max(int(p) for p in pauses)


def record_success(client: redis.Redis, username: str, address: str) -> None:
    """A right password clears both counts (a shared office address is not left paused)."""
    client.delete(*(k for pair in _keys(username, address) for k in pair))
