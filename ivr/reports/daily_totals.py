"""Summing the daily counter hashes (ivr/reports/figures.py) for a date range on the Redis server.

A year is ~730 hashes of up to a hundred counters each; sending them all to Python costs more
in reply parsing than everything else on the report page, so one read-only Lua script adds
them up where they are and returns only the sums.
"""

from __future__ import annotations

from collections import Counter

# KEYS: the day hashes, in date order. ARGV[1..#KEYS]: a label per key that "hour:<h>" counters
# are also summed under (the weekday), as "<label>:<h>"; ARGV after those: counter names to
# return for each day separately. Returns {totals, per_day, by_label_hour}: totals and
# by_label_hour are flat name/value lists, per_day a list (one per key) of the asked values.
SUM_DAYS = """
local n = #KEYS
local totals, by_hour, per_day = {}, {}, {}
for i = 1, n do
  local flat = redis.call('HGETALL', KEYS[i])
  local here = {}
  for j = 1, #flat, 2 do
    local name, value = flat[j], tonumber(flat[j + 1])
    totals[name] = (totals[name] or 0) + value
    here[name] = value
    if string.sub(name, 1, 5) == 'hour:' then
      local slot = ARGV[i] .. ':' .. string.sub(name, 6)
      by_hour[slot] = (by_hour[slot] or 0) + value
    end
  end
  local row = {}
  for k = n + 1, #ARGV do row[#row + 1] = here[ARGV[k]] or 0 end
  per_day[i] = row
end
local function flatten(map)
  local out = {}
  for name, value in pairs(map) do out[#out + 1] = name; out[#out + 1] = value end
  return out
end
return {flatten(totals), per_day, flatten(by_hour)}
"""


def _pairs(flat: list) -> Counter:
    return Counter({_text(flat[i]): int(flat[i + 1]) for i in range(0, len(flat), 2)})


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else value


def sum_days(
    redis, keys: list[str], labels: list[str], per_day_fields: list[str]
) -> tuple[Counter, list[Counter], Counter]:
    """(totals, the asked counters for each day, "<label>:<hour>" sums) over `keys`."""
    if not keys:
        return Counter(), [], Counter()
    script = redis.register_script(SUM_DAYS)
    totals, per_day, by_hour = script(keys=keys, args=[*labels, *per_day_fields])
    days = [Counter(dict(zip(per_day_fields, map(int, row), strict=True))) for row in per_day]
    return _pairs(totals), days, _pairs(by_hour)
