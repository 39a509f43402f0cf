"""Service figures kept up to date as calls happen: anonymous counters by local day.

Every webhook step adds to one hash per local (Europe/London) day of the call's start, in the
same save script (SAVE_STEP) that saves the step, so the figures are never ahead of or behind
the call logs. The counting is a fold over a call's events (`tally`), so `ivr reports rebuild`
replays exactly the same function over the stored events and must arrive at the same numbers.

"Once per call" figures (heard a topic, reached a prompt, started screening) remember what the
call has already been counted for in the call's working state (`data["figures"]`), which a
rebuild reproduces by folding the call's events from the start.

Intake figures are counted by day of the callback request, from the change between the callback
hash before and after an intake action (`intake_increments(before, after)`); a rebuild is the
same function applied to ({}, the callback as it is now).

Test calls placed from /try (marked `test` on the call and its callback request) count nowhere.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from ivr.intake.outcomes import OUTCOMES
from ivr.line.flow import Flow
from ivr.line.hours import Hours
from ivr.line.words import phq2_total
from ivr.store.keys import key
from ivr.store.special import pressed_key

# How a call ended that counts as "reached an end of the flow"; the rest are abandonments.
FINISHED_OUTCOMES = {
    "callback_requested",
    "crisis_put_through",
    "crisis_route",
    "rate_limited",
    "number_refused",
    "silence_timeout",
    "invalid_keys",
    "line_ended",
}
MINUTE = 60


class Figures:
    """Counts figures for one flow, by local day in `timezone`."""

    def __init__(self, flow: Flow, hours: Hours, target_working_days: int):
        self.flow = flow
        self.hours = hours
        self.tz: ZoneInfo = hours.tz
        self.target_working_days = target_working_days

    def local(self, timestamp: float) -> datetime:
        return datetime.fromtimestamp(timestamp, UTC).astimezone(self.tz)

    def day(self, timestamp: float) -> str:
        return self.local(timestamp).date().isoformat()

    # --- calls ------------------------------------------------------------------------------
    def tally(self, events: list[dict], marks: dict, started_at: float) -> Counter:
        """Counter increments for these events; `marks` (what this call was already counted for)
        is updated in place. Pure: the live path and the rebuild both call it."""
        seen = marks.setdefault("seen", [])
        answers = marks.setdefault("ans", {})
        out: Counter = Counter()

        def once(mark: str, field: str | None = None) -> bool:
            """Count `mark` (as `field`) if this call has not been counted for it yet."""
            if mark in seen:
                return False
            seen.append(mark)
            out[field or mark] += 1  # again after a lost state (the rebuild: one Counter)
            return True

        for event in events:
            kind, node = event.get("type"), event.get("node")
            if kind == "state_lost":  # the call's working state was lost: so were its marks
                seen.clear()
                answers.clear()
            elif kind == "call_started" and once("calls"):
                out[f"hour:{self.local(started_at).hour}"] += 1
                if event.get("out_of_hours"):
                    out["out_of_hours"] += 1
                if event.get("caller_id") != "usable":
                    out["withheld"] += 1
            elif kind == "prompt":
                once(f"reached:{node}")
                spec = self.flow.nodes.get(node, {})
                if spec.get("topic"):
                    once(f"topic:{spec['topic']}")
                section = event.get("section")
                if section == "screening":
                    once("screening_started")
                if section == "crisis":
                    once("crisis_heard")
                if node == "screen_done":
                    once("screening_completed")
            elif kind == "key":
                options = self.flow.nodes.get(node, {}).get("options") or {}
                option = options.get(pressed_key(event))
                for name, value in ((option or {}).get("record") or {}).items():
                    answers[name] = value
                    if name == "risk":
                        once("risk", f"risk:{value}")
                total = phq2_total(answers)
                if total is not None:
                    once("phq2", f"phq2:{total}")
            elif kind == "callback_requested":
                once("callback", "callbacks")
                if event.get("urgent"):
                    once("callback_urgent", "callbacks_urgent")
            elif kind == "dial_ended":
                once("crisis_dialled")
            elif kind == "number_rejected":
                out["numbers_rejected"] += 1
        return out

    def count_turn(self, pipe, data: dict, events: list[dict]) -> None:
        """Queue this step's counters on `pipe` (inside the step's MULTI); updates data's marks."""
        started = data.get("started_at")
        if not events or started is None or is_test(data):
            return
        marks = data.setdefault("figures", {})
        increments = self.tally(events, marks, started)
        add(pipe, key("fig_day", day=self.day(started)), increments)

    def close_increments(self, log: dict) -> Counter:
        """Counters for a call's ending, from its closed call log (outcome, last_node, duration)."""
        out: Counter = Counter()
        outcome = log.get("outcome")
        if not outcome:
            return out
        out[f"outcome:{outcome}"] += 1
        # (Every ending the line chose, ended_by_line_at, is one of FINISHED_OUTCOMES.)
        if outcome not in FINISHED_OUTCOMES:
            out["abandoned"] += 1
            out[f"dropoff:{log.get('last_node') or 'before_first_prompt'}"] += 1
        duration = str(log.get("duration", ""))
        if duration.isdigit():
            out["duration_total"] += int(duration)
            out["duration_calls"] += 1
        return out

    def count_close(self, pipe, log: dict) -> None:
        started = _float(log.get("started_at"))
        if started is not None and not is_test(log):
            add(pipe, key("fig_day", day=self.day(started)), self.close_increments(log))

    # --- callback requests and intake ---------------------------------------------------------
    def intake_stages(self, cb: dict, attempts: list[dict] = ()) -> dict[str, Counter]:
        """What a callback request counts for, by stage (each stage is counted once, when it is
        first reached): requested, first_attempt, contact, close, and attempt:N for each attempt
        (`attempts`, oldest first) by the worker who made it."""
        stages: dict[str, Counter] = {}
        created = _float(cb.get("created_at"))
        if created is None:
            return stages
        stages["requested"] = Counter(requested=1)
        first = _float(cb.get("first_attempt_at"))
        if first is not None:  # only ever set on the request as Redis holds it: flags are "1"
            minutes = max(0, int((first - created) // MINUTE))
            counts = {"first_attempted": 1, f"to_first_attempt:{minutes}": 1}
            # Urgent as it is now: a later risk answer can make a request urgent after it was made.
            if cb.get("urgent") == "1":
                counts[f"urgent_to_first_attempt:{minutes}"] = 1
            if attempts:
                counts[f"worker_first:{_worker(attempts[0])}:{minutes}"] = 1
            stages["first_attempt"] = Counter(counts)
        for attempt in attempts:
            outcome = OUTCOMES.get(attempt.get("outcome"))
            who = _worker(attempt)
            stages[f"attempt:{attempt.get('n')}"] = +Counter(
                {
                    f"worker_attempts:{who}": 1,
                    f"worker_reached:{who}": int(bool(outcome and outcome.reached)),
                }
            )
        contacted = _float(cb.get("contacted_at"))
        if contacted is not None:
            target = self.hours.add_working_days(self.local(created), self.target_working_days)
            minutes = max(0, int((contacted - created) // MINUTE))
            stages["contact"] = +Counter(
                {
                    "contacted": 1,
                    f"to_contact:{minutes}": 1,
                    # The attempt that reached the caller is the last one made.
                    f"attempts_to_contact:{cb.get('attempts') or 0}": 1,
                    "contacted_in_target": int(contacted <= target.timestamp()),
                }
            )
        if cb.get("close_reason"):
            stages["close"] = Counter({f"outcome:{cb['close_reason']}": 1})
        return stages

    def intake_increments(self, before: dict, after: dict, attempts: list[dict] = ()) -> Counter:
        """Counters for the stages `after` (and its `attempts`) reached that `before` had not."""
        done = self.intake_stages(before)
        out: Counter = Counter()
        for stage, counts in self.intake_stages(after, attempts).items():
            if stage not in done:
                out += counts
        return out

    def count_intake(self, pipe, before: dict, after: dict) -> None:
        """Queue intake counters on `pipe`; for use inside a MULTI that changes the callback."""
        created = _float(after.get("created_at"))
        if created is not None and not is_test(after):
            add(
                pipe,
                key("fig_intake", day=self.day(created)),
                self.intake_increments(before, after),
            )

    def record_intake(self, client, ref: str) -> None:
        """Count the intake stages this callback request has newly reached, exactly once each.

        Called after an intake action's own script (ivr/intake/queue.py) has run: the stages already
        counted are remembered per request, so a repeat or a retry counts nothing twice.
        """
        cb = client.hgetall(key("callback", id=ref))
        created = _float(cb.get("created_at"))
        if created is None or is_test(cb):
            return
        attempts = attempts_of(client, ref)
        stages = {k: v for k, v in self.intake_stages(cb, attempts).items() if k != "requested"}
        if stages:
            script = client.register_script(COUNT_STAGES_ONCE)
            script(
                keys=[key("fig_counted", id=ref), key("fig_intake", day=self.day(created))],
                args=[json.dumps({k: dict(v) for k, v in stages.items()})],
            )


# KEYS[1] hash of the stages already counted for one callback request, KEYS[2] the day's intake
# counters. ARGV[1] JSON {stage: {counter: amount}}. Adds each stage's counters the first time
# that stage is seen, atomically, so repeats never count twice.
COUNT_STAGES_ONCE = """
local stages = cjson.decode(ARGV[1])
for stage, counters in pairs(stages) do
  if redis.call('HSETNX', KEYS[1], stage, '1') == 1 then
    for name, amount in pairs(counters) do
      redis.call('HINCRBY', KEYS[2], name, amount)
    end
  end
end
return 1
"""


def is_test(record: dict) -> bool:
    """A test call from the softphone at /try, or its callback request: never counted.
    (`record` is a call's data or log, or a callback request, stored or not.)"""
    return record.get("test") in (True, "1")  # in call data, or as Redis holds it


def attempts_of(client, ref: str) -> list[dict]:
    """A callback request's attempts, oldest first (who made each, and what came of it)."""
    return [json.loads(a) for a in client.lrange(key("callback_attempts", id=ref), 0, -1)]


def add(pipe, hash_key: str, increments: Counter) -> None:
    for name, amount in increments.items():
        if amount:
            pipe.hincrby(hash_key, name, amount)


def _worker(attempt: dict) -> str:
    """Who made an attempt; "unknown" for one recorded without a name (still counted)."""
    return attempt.get("by") or "unknown"


def _float(value) -> float | None:
    try:  # None, "" and anything else not a number: no value
        return float(value)
    except (TypeError, ValueError):
        return None
