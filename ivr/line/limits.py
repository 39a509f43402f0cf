"""Per-caller limits, so a robot dialler cannot flood the callback queue.

Counted per caller ID (a keyed hash of it, never the number): at most `calls_per_minute` calls
starting in any sixty seconds, and `callbacks_per_day` calls that made a callback request each
day (Europe/London dates do not matter here: UTC days). Withheld numbers are not counted
together, since many genuine callers share "anonymous". Each tally is a sorted set of CallSids,
so Twilio retrying a step counts once; each is read on the step's one read and joined atomically
(see `Tallies`). Over the limit
the caller hears the flow's polite message with the crisis numbers, and no request is queued.
The daily limit is asked by the flow (`callback_limit_reached`) as the callback section starts,
before any question; an urgent request (a risk answer of yes or rather not say) is never refused.
Whatever a number with an open urgent request asks for again is merged into that request
(`reference_for`, `merged`), so a caller in crisis ringing five times makes one urgent request
that intake sees was rung about five times, not five that crowd out everyone else.
"""

from __future__ import annotations

from datetime import datetime

from twilio.twiml.voice_response import VoiceResponse

from ivr.line.engine import Engine, Outcome
from ivr.phone import caller_id_number
from ivr.store.keys import key
from ivr.store.redis_store import Store

MINUTE, DAY = 60, 86400


class Tallies:
    """One step's view of its caller's tallies, read on the step's one read (Store.read_step).

    Both tallies are only read there (and whether the call is a softphone test call, which no
    limit counts). A call joins a tally inside its step's save script (a guard: `guard`), which
    ranks it again, so two calls at the same moment cannot both slip past a limit: the first
    webhook joins calls-a-minute, the step that books joins callbacks-a-day. A call that was
    refused joins too (a robot dialler that keeps trying stays refused).
    """

    def __init__(
        self, store: Store, settings, from_field: str, sid: str, moment: datetime, first: bool
    ):
        digest = _caller_hash(store, from_field)
        self.sid, self.now, self.first = sid, moment.timestamp(), first
        self.limits = {
            "calls": (key("calls_per_minute", hash=digest), MINUTE, settings.calls_per_minute),
            "callbacks": (
                key("callbacks_per_day", hash=digest, day=moment.strftime("%Y%m%d")),
                DAY,
                settings.callbacks_per_day,
            ),
        }
        self.counted = [
            name
            for name, (_, _, limit) in self.limits.items()
            if digest and limit > 0 and (first or name == "callbacks")
        ]
        self.calls_key = self.limits["calls"][0]
        self.test_call = self.too_many_calls = self.too_many_callbacks = False

    def read(self, pipe):
        """Queue this step's reads on the read pipeline; returns what reads the results."""
        if self.first:
            pipe.exists(key("test_call", sid=self.sid))
        for name in self.counted:
            tally, window, _ = self.limits[name]
            pipe.zremrangebyscore(tally, "-inf", self.now - window)
            pipe.zrank(tally, self.sid)
            pipe.zcard(tally)
        return self._take

    def _take(self, results: list) -> None:
        if self.first:
            self.test_call, results = bool(results[0]), results[1:]
        for n, name in enumerate(self.counted):
            rank, count = results[3 * n + 1], results[3 * n + 2]
            over = (rank if rank is not None else count) >= self.limits[name][2]
            setattr(self, f"too_many_{name}", over)

    def guard(self, name: str, enforce: bool = True) -> dict | None:
        """For the save script: join the tally `name`; refused past its limit if `enforce`."""
        if name not in self.counted:
            return None
        tally, window, limit = self.limits[name]
        return {
            "key": tally,
            "member": self.sid,
            "score": repr(self.now),
            "cutoff": repr(self.now - window),
            "limit": str(limit if enforce else -1),
            "ttl": str(window * 2),
        }


def _caller_hash(store: Store, from_field: str) -> str | None:
    number = caller_id_number(from_field)
    if number is None or store.keys is None:
        return None
    return store.keys.phone_hash(number)


def keyed_number_guard(
    store: Store,
    settings,
    number: str | None,
    from_field: str,
    sid: str,
    moment: datetime,
    enforce: bool = True,
) -> dict | None:
    """A keyed-in number counts against its own daily tally (so a withheld caller cannot queue
    request after request for one number): the guard that joins it in the step's save script,
    which refuses the step there when the number is past its limit (voice.py's OverLimit path).
    Nothing when it is the caller ID (already counted)."""
    limit = settings.callbacks_per_day
    if not number or limit <= 0 or store.keys is None or number == caller_id_number(from_field):
        return None
    tally = key(
        "callbacks_per_day", hash=store.keys.phone_hash(number), day=moment.strftime("%Y%m%d")
    )
    now = moment.timestamp()
    return {"key": tally, "member": sid, "score": repr(now), "cutoff": repr(now - DAY),
            "limit": str(limit if enforce else -1), "ttl": str(DAY * 2)}  # fmt: skip


# --- repeat requests from someone at risk: merged, never refused, never duplicated -------------
# KEYS[1] the caller's subject index (hash: "callback:<ref>" members); ARGV[1] the callback key
# with an empty id (key("callback", id="")). Read only. Returns a flat list ref1, call_sid1,
# ref2, call_sid2, ... of this number's open urgent requests (urgent "1", a status not
# "closed", not a test), by reference. The callback keys are not declared in KEYS: fine on one
# Redis, not on Cluster (docs/scaling.md), as with SAVE_STEP.
OPEN_URGENT = """
local refs = {}
for _, member in ipairs(redis.call('HKEYS', KEYS[1])) do
  if string.sub(member, 1, 9) == 'callback:' then table.insert(refs, string.sub(member, 10)) end
end
table.sort(refs)
local found = {}
for _, ref in ipairs(refs) do
  local f = redis.call('HMGET', ARGV[1] .. ref, 'urgent', 'status', 'test', 'call_sid')
  if f[1] == '1' and f[2] and f[2] ~= 'closed' and f[3] ~= '1' then
    table.insert(found, ref)
    table.insert(found, f[4] or '')
  end
end
return found
"""


class OpenUrgent:
    """This caller ID's open urgent requests (reference -> the call that made it) and the
    reference this call already has in Redis, read on the step's one read (Store.read_step),
    so `reference_for` and `merged` ask Redis nothing. A withheld number reads nothing."""

    def __init__(self, store: Store, from_field: str, sid: str):
        number = caller_id_number(from_field)
        self.index = (
            key("subject_index", hash=store.keys.phone_hash(number))
            if number and store.keys is not None
            else None
        )
        self.sid = sid
        self.requests: dict[str, str] = {}
        self.for_call: str | None = None

    def read(self, pipe):
        if self.index is not None:
            pipe.eval(OPEN_URGENT, 1, self.index, key("callback", id=""))
            pipe.get(key("callback_for_call", sid=self.sid))
        return self._take

    def _take(self, results: list) -> None:
        if results:
            found, self.for_call = results
            self.requests = dict(zip(found[::2], found[1::2], strict=True))

    @property
    def target(self) -> str | None:
        """The reference of this number's open urgent request, if it has one."""
        return next(iter(self.requests), None)


def reference_for(open_urgent: OpenUrgent, number: str | None, allocate):
    """The allocator for a call from `number`: its open urgent request's reference if it has
    one (so whatever the caller asks for now joins the request intake is already working),
    otherwise a new one. Remembered per call, like every reference (ivr/outage/recovery.py):
    the step's save records a joined reference as the call's (`joined`) unless it has one."""

    def choose(sid: str) -> str:
        target = open_urgent.target if number else None
        return (open_urgent.for_call or target) if target else allocate(sid)

    return choose


def joined(open_urgent: OpenUrgent, ref: str | None) -> str | None:
    """The reference to record as this call's in the save (SET NX), if it joins another's."""
    return ref if ref and ref == open_urgent.target and not open_urgent.for_call else None


def merged(open_urgent: OpenUrgent, callback: dict) -> dict:
    """A new request whose reference is another call's open request (see reference_for): an
    update to that request, kept urgent, counted as a repeat call; never a second request."""
    owner = open_urgent.requests.get(callback["id"])
    if not owner or owner == callback["call_sid"] or callback.get("test"):
        return callback
    return {**callback, "is_update": True, "merged": True, "urgent": True}


def refusal(engine: Engine, outcome: Outcome, phrase: str, moment: datetime) -> Outcome:
    """The polite goodbye instead of what the caller would have got; no callback is made."""
    settings, flow = engine.settings, engine.flow
    response = VoiceResponse()
    lines = flow.phrases.get(phrase) or []
    for line in [lines] if isinstance(lines, str) else lines:
        response.say(str(line), voice=settings.voice, language=settings.language)
    response.hangup()
    data = {k: v for k, v in outcome.data.items() if k != "callback_ref"}
    events = [e for e in outcome.events if e.get("type") != "callback_requested"]
    events.append({"t": round(moment.timestamp(), 3), "type": "rate_limited", "limit": phrase})
    log = {k: v for k, v in outcome.log.items() if k not in ("callback_id", "urgent")}
    log.update(ended_reason="rate_limited", ended_by_line_at=moment.timestamp())
    end = flow.settings["silence_end"]
    return Outcome(response=response, node=end, data=data, events=events, log=log, ended=True)


def callback_checker(store: Store, limit: int):
    """The engine's `callback_limit`: has this caller ID had its callbacks for today? Answered
    from the tallies the webhook's one read already took (voice.py puts it on `g`), so asking
    costs no round trip; the call joins the tally when it books (the save guard)."""

    def over(sid: str, number: str, moment: datetime) -> bool:
        from flask import g, has_app_context

        return bool(limit > 0 and has_app_context() and g.get("callbacks_over", False))

    return over
