"""The callback queue's state changes, each one Lua script: claim, release, lease expiry, a
scheduled attempt falling due, recording an attempt's outcome, a manager reassigning or releasing
someone's claim, and merging a repeat request into another.

Every script keeps the request's `status` field, the `callbacks_by_status` indexes, the lease and
schedule sorted sets and the audit streams in step, so no reader ever sees them disagree and no
two workers can both win a claim. Claims are leases (like rq's StartedJobRegistry): a sorted set
scored by expiry; an expired lease is swept back into the queue by whoever reads it next.

Every script shares one layout:
  KEYS[1] the callback hash            KEYS[2] leases zset        KEYS[3] scheduled zset
  KEYS[4] callback_queue zset          KEYS[5..8] callbacks_by_status for queued, claimed,
  scheduled, closed                    KEYS[9] the attempts list
  KEYS[10] the callback's audit stream KEYS[11] the global audit stream
  KEYS[12] callbacks_by_status for escalated (urgent, attempts used up; never closed by itself)
  KEYS[13] another request's hash     KEYS[14] its audit stream (MERGE only; else the same again)
  ARGV[1] callback id, ARGV[2] now (epoch seconds), ARGV[3] who is acting; then per script.
Each returns a list whose first item is "ok" or the reason it did nothing.
"""

from __future__ import annotations

import redis

from ivr.store.callbacks import SCHEDULED, TEST, URGENT
from ivr.store.keys import key

STATUSES = ("queued", "claimed", "scheduled", "escalated", "closed")
AUDIT_MAXLEN = 100_000  # the global stream is capped; each request's own stream is complete

_PRELUDE = """
local id, now, actor = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local STATUS_KEYS = {queued = KEYS[5], claimed = KEYS[6], scheduled = KEYS[7], closed = KEYS[8],
                     escalated = KEYS[12]}
local function field(name) return redis.call('HGET', KEYS[1], name) or '' end
-- The open queue's score for a request in a status (queue_score in ivr/store/callbacks.py).
local function queue_score(hash, st)
  local s = tonumber(redis.call('HGET', hash, 'created_at')) or 0
  if redis.call('HGET', hash, 'urgent') == '1' then s = s + @URGENT@ end
  if st == 'scheduled' then s = s + @SCHEDULED@ end
  if redis.call('HGET', hash, 'test') == '1' then s = s + @TEST@ end
  return string.format('%.17g', s)
end
local function set_status(new)
  local old = field('status')
  if STATUS_KEYS[old] then redis.call('ZREM', STATUS_KEYS[old], id) end
  redis.call('ZADD', STATUS_KEYS[new], field('created_at'), id)
  redis.call('HSET', KEYS[1], 'status', new)
  redis.call('ZADD', KEYS[4], 'XX', queue_score(KEYS[1], new), id)
end
local function audit(action, detail, stream, about)
  local entry = {'t', ARGV[2], 'who', actor, 'action', action, 'detail', detail,
                 'callback', about or id}
  redis.call('XADD', stream or KEYS[10], '*', unpack(entry))
  redis.call('XADD', KEYS[11], 'MAXLEN', '~', @MAXLEN@, '*', unpack(entry))
end
-- Back to waiting: "escalated" if it was, "scheduled" while its next attempt is still ahead,
-- otherwise "queued".
local function unclaim()
  redis.call('ZREM', KEYS[2], id)
  redis.call('HDEL', KEYS[1], 'claimed_by', 'claimed_at', 'lease_until')
  local next_at = tonumber(field('next_attempt_at'))
  if field('escalated_at') ~= '' then
    set_status('escalated')
  elseif next_at and next_at > now then
    set_status('scheduled')
    redis.call('ZADD', KEYS[3], next_at, id)
  else
    set_status('queued')
  end
end
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return {'missing'} end
"""
_CONSTANTS = {"MAXLEN": AUDIT_MAXLEN, "URGENT": URGENT, "SCHEDULED": SCHEDULED, "TEST": TEST}
for _name, _value in _CONSTANTS.items():
    _PRELUDE = _PRELUDE.replace(f"@{_name}@", repr(_value))

# ARGV[4] lease expiry. The same worker claiming again renews the lease.
CLAIM = (
    _PRELUDE
    + """
if status == 'closed' then return {'closed'} end
local holder = field('claimed_by')
local lease = tonumber(redis.call('ZSCORE', KEYS[2], id) or '0')
if status == 'claimed' and holder ~= actor and lease > now then
  return {'taken', holder, tostring(lease)}
end
redis.call('ZREM', KEYS[3], id)
set_status('claimed')
redis.call('HSET', KEYS[1], 'claimed_by', actor, 'claimed_at', ARGV[2], 'lease_until', ARGV[4])
redis.call('ZADD', KEYS[2], ARGV[4], id)
if status == 'claimed' and holder == actor then audit('claim_renewed', '')
elseif status == 'claimed' then audit('claimed', 'after the claim by ' .. holder .. ' lapsed')
else audit('claimed', '') end
return {'ok'}
"""
)

# ARGV[4] "mine" (the holder lets go) or "expired" (the sweep, only once the lease is over).
RELEASE = (
    _PRELUDE
    + """
local lease = tonumber(redis.call('ZSCORE', KEYS[2], id) or '0')
if status ~= 'claimed' then
  if ARGV[4] == 'expired' then redis.call('ZREM', KEYS[2], id) end
  return {'not_claimed'}
end
local holder = field('claimed_by')
if ARGV[4] == 'expired' then
  if lease > now then return {'live'} end
  actor = 'system'
  unclaim()
  audit('lease_expired', 'the claim by ' .. holder .. ' lapsed')
  return {'ok'}
end
if holder ~= actor then return {'taken', holder} end
unclaim()
audit('released', '')
return {'ok'}
"""
)

# A scheduled attempt whose time has come goes back to "queued". No ARGV beyond the common three.
DUE = (
    _PRELUDE
    + """
local due = tonumber(redis.call('ZSCORE', KEYS[3], id) or '')
if not due or due > now then return {'not_due'} end
redis.call('ZREM', KEYS[3], id)
if status ~= 'scheduled' then return {'not_scheduled'} end
actor = 'system'
set_status('queued')
audit('due', 'the next attempt is due')
return {'ok'}
"""
)

# ARGV[4] attempts the caller saw (optimistic check), ARGV[5] outcome, ARGV[6] new status
# ("closed" or "scheduled"), ARGV[7] next attempt time or "", ARGV[8] close reason or "",
# ARGV[9] the attempt as JSON, ARGV[10] "1" if the caller was reached, ARGV[11] audit detail.
OUTCOME = (
    _PRELUDE
    + """
local holder = field('claimed_by')
if status ~= 'claimed' or holder ~= actor then return {'not_yours', holder} end
local attempts = tonumber(field('attempts')) or 0
if attempts ~= tonumber(ARGV[4]) then return {'conflict'} end
redis.call('HSET', KEYS[1], 'attempts', attempts + 1, 'last_outcome', ARGV[5],
           'last_attempt_at', ARGV[2])
redis.call('RPUSH', KEYS[9], ARGV[9])
redis.call('HSETNX', KEYS[1], 'first_attempt_at', ARGV[2])
if ARGV[10] == '1' then redis.call('HSETNX', KEYS[1], 'contacted_at', ARGV[2]) end
redis.call('ZREM', KEYS[2], id)
redis.call('HDEL', KEYS[1], 'claimed_by', 'claimed_at', 'lease_until')
if ARGV[6] == 'closed' then
  set_status('closed')
  redis.call('HSET', KEYS[1], 'closed_at', ARGV[2], 'close_reason', ARGV[8])
  redis.call('HDEL', KEYS[1], 'next_attempt_at')
  redis.call('ZREM', KEYS[4], id)
  redis.call('ZREM', KEYS[3], id)
elseif ARGV[6] == 'escalated' then
  set_status('escalated')
  redis.call('HSET', KEYS[1], 'escalated_at', ARGV[2])
  redis.call('HDEL', KEYS[1], 'next_attempt_at')
  redis.call('ZREM', KEYS[3], id)
else
  redis.call('HDEL', KEYS[1], 'escalated_at')
  set_status('scheduled')
  redis.call('HSET', KEYS[1], 'next_attempt_at', ARGV[7])
  redis.call('ZADD', KEYS[3], ARGV[7], id)
end
audit('outcome', ARGV[11])
return {'ok'}
"""
)

# A manager takes over someone's claim for another worker, or releases it. ARGV[4] the worker
# who should have it ("" releases it), ARGV[5] the new lease's expiry.
REASSIGN = (
    _PRELUDE
    + """
if status ~= 'claimed' then return {'not_claimed'} end
local holder = field('claimed_by')
if ARGV[4] == '' then
  unclaim()
  audit('claim_released_by_manager', 'released the claim by ' .. holder)
  return {'ok'}
end
if holder == ARGV[4] then return {'same', holder} end
redis.call('HSET', KEYS[1], 'claimed_by', ARGV[4], 'claimed_at', ARGV[2], 'lease_until', ARGV[5])
redis.call('ZADD', KEYS[2], ARGV[5], id)
audit('reassigned', 'from ' .. holder .. ' to ' .. ARGV[4])
return {'ok'}
"""
)

# A repeat request (KEYS[1]) is closed as merged into another from the same number (KEYS[13]),
# which keeps the urgent flag if either had it. ARGV[4] the other request's id.
MERGE = (
    _PRELUDE
    + """
local into = ARGV[4]
if into == id then return {'same'} end
local into_status = redis.call('HGET', KEYS[13], 'status')
if not into_status then return {'missing_other'} end
if status == 'closed' or into_status == 'closed' then return {'closed'} end
local holder = field('claimed_by')
if status == 'claimed' and holder ~= actor then return {'taken', holder} end
redis.call('ZREM', KEYS[2], id)
redis.call('ZREM', KEYS[3], id)
redis.call('ZREM', KEYS[4], id)
redis.call('HDEL', KEYS[1], 'claimed_by', 'claimed_at', 'lease_until', 'next_attempt_at')
set_status('closed')
redis.call('HSET', KEYS[1], 'closed_at', ARGV[2], 'close_reason', 'merged', 'merged_into', into)
local merged = redis.call('HGET', KEYS[13], 'merged_from')
if merged and merged ~= '' then merged = merged .. ',' .. id else merged = id end
redis.call('HSET', KEYS[13], 'merged_from', merged)
if field('urgent') == '1' and redis.call('HGET', KEYS[13], 'urgent') ~= '1' then
  redis.call('HSET', KEYS[13], 'urgent', '1')
  redis.call('ZADD', KEYS[4], 'XX', queue_score(KEYS[13], into_status), into)
end
audit('merged', 'into ' .. into)
audit('merged_in', id .. ' merged into this one', KEYS[14], into)
return {'ok'}
"""
)


def script_keys(ref: str, other: str | None = None) -> list[str]:
    """KEYS for every script above, in the documented order."""
    other = other or ref
    return [
        key("callback", id=ref),
        key("callback_leases"),
        key("callback_scheduled"),
        key("callback_queue"),
        *(
            key("callbacks_by_status", status=s)
            for s in ("queued", "claimed", "scheduled", "closed")
        ),
        key("callback_attempts", id=ref),
        key("callback_audit", id=ref),
        key("audit"),
        key("callbacks_by_status", status="escalated"),
        key("callback", id=other),
        key("callback_audit", id=other),
    ]


class Transitions:
    """The scripts, registered once per Redis client."""

    def __init__(self, client: redis.Redis):
        self.redis = client
        self._scripts = {
            name: client.register_script(body)
            for name, body in (
                ("claim", CLAIM),
                ("release", RELEASE),
                ("due", DUE),
                ("outcome", OUTCOME),
                ("reassign", REASSIGN),
                ("merge", MERGE),
            )
        }

    def run(
        self, name: str, ref: str, now: float, actor: str, *args: object, other: str | None = None
    ) -> list[str]:
        keys = script_keys(ref, other)
        result = self._scripts[name](keys=keys, args=[ref, repr(now), actor, *args])
        return [str(part) for part in result]

    def sweep(self, now: float) -> int:
        """Return lapsed claims and due attempts to the queue; how many moved."""
        moved = 0
        for ref in self.redis.zrangebyscore(key("callback_leases"), "-inf", now):
            moved += self.run("release", ref, now, "system", "expired")[0] == "ok"
        for ref in self.redis.zrangebyscore(key("callback_scheduled"), "-inf", now):
            moved += self.run("due", ref, now, "system")[0] == "ok"
        return moved
