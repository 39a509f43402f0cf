"""The intake service: what staff pages and the JSON API both do with callback requests.

Listing the queue, opening a request (written to its audit trail), claiming, releasing and
recording outcomes. Each change is one script in ivr/intake/queue.py; this layer decides what to ask
for and turns refusals into IntakeError with a message fit to show a worker.
"""

from __future__ import annotations

import json
import re
import time
from datetime import datetime

from flask import current_app

from ivr.config import Settings
from ivr.intake import audit, notes, outcomes
from ivr.intake.queue import Transitions
from ivr.line.hours import Hours
from ivr.phone import mask, national
from ivr.store.callbacks import decode_callback
from ivr.store.crypto import open_field, seal_field
from ivr.store.keys import key
from ivr.store.redis_store import Store

REFERENCE = re.compile(r"^[0-9]{6}$")
ASKED_DAYS = 60  # "caller asked for a time": at most this far ahead


class IntakeError(Exception):
    """An action that could not be done; `status` is the HTTP status, the message says why."""

    def __init__(self, status: int, message: str, **details: object):
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = details


class Intake:
    def __init__(self, store: Store, settings: Settings, hours: Hours):
        self.store = store
        self.redis = store.redis
        self.settings = settings
        self.hours = hours
        self.transitions = Transitions(store.redis)

    # --- reading ------------------------------------------------------------------------
    def queue(
        self,
        status: str | None = None,
        search: str = "",
        now: float | None = None,
        test: bool = False,
    ):
        """Every request in a view, in its order (ivr/intake/finding.py), unpaged."""
        from ivr.intake.finding import find  # it reads requests through this service

        return find(self, status, search, now=now, test=test).rows

    def _load(self, refs: list[str]) -> list[dict]:
        with self.redis.pipeline(transaction=False) as pipe:
            for ref in refs:
                pipe.hgetall(key("callback", id=ref))
            return [decode_callback(raw) for raw in pipe.execute() if raw]

    def describe(self, cb: dict, now: float) -> dict:
        """A request plus what staff need to see at a glance (age, overdue, masked number)."""
        moment = datetime.fromtimestamp(now, self.hours.tz)
        days = self.settings.callback_target_working_days
        cb = dict(cb)
        cb["attempts"] = int(cb.get("attempts") or 0)
        cb["next_attempt_at"] = float(cb.get("next_attempt_at") or 0)
        cb["age_seconds"] = max(0, now - float(cb.get("created_at") or now))
        urgent_hours = self.settings.urgent_target_hours
        cb["overdue"] = outcomes.is_overdue(cb, moment, self.hours, days, urgent_hours)
        if cb.get("created_at"):
            target = outcomes.target_time(
                cb["created_at"], self.hours, days, urgent_hours if cb.get("urgent") else None
            )
            cb["target_at"] = target.timestamp()
        cb["phone_masked"] = mask(national(cb.get("phone", "")))
        cb["preferred_label"] = outcomes.PREFERRED_LABELS.get(cb.get("preferred_time"), "Any time")
        cb["lease_until"] = float(cb.get("lease_until") or 0)
        return cb

    def get(
        self, ref: str, actor: str, *, action: str | None = "viewed", now: float | None = None
    ) -> dict:
        """One request with its attempts and audit trail; the look is itself audited.

        `now` is for simulations (`ivr demo`), which play the team's part on a simulated clock.
        """
        if not REFERENCE.match(ref or ""):
            raise IntakeError(404, "A reference is six digits.")
        now = now or time.time()
        self.transitions.sweep(now)
        raw = self.redis.hgetall(key("callback", id=ref))
        if not raw:
            raise IntakeError(404, f"There is no callback request {ref}.")
        if action:
            audit.record(self.redis, ref, now, actor, action)
        cb = self.describe(decode_callback(raw), now)
        cb["attempt_list"] = [
            _opened(json.loads(a))
            for a in self.redis.lrange(key("callback_attempts", id=ref), 0, -1)
        ]
        for attempt in cb["attempt_list"]:  # notes saved before controls were taken out
            attempt["note"] = notes.clean(attempt.get("note"))
        cb["audit"] = audit.entries(self.redis, ref)
        return cb

    # --- changing -----------------------------------------------------------------------
    def claim(self, ref: str, actor: str, now: float | None = None) -> dict:
        now = now or time.time()
        self.get(ref, actor, action=None, now=now)
        lease = now + self.settings.claim_lease_minutes * 60
        result = self.transitions.run("claim", ref, now, actor, repr(lease))
        if result[0] == "taken":
            raise IntakeError(
                409, f"{result[1]} is already working on this request.", claimed_by=result[1]
            )
        if result[0] == "closed":
            raise IntakeError(409, "This request is closed.")
        self._check(result)
        return self.get(ref, actor, action=None, now=now)

    def release(self, ref: str, actor: str) -> dict:
        self.get(ref, actor, action=None)
        result = self.transitions.run("release", ref, time.time(), actor, "mine")
        if result[0] == "taken":
            raise IntakeError(409, f"{result[1]} has this request, not you.", claimed_by=result[1])
        if result[0] == "not_claimed":
            raise IntakeError(409, "This request is not claimed.")
        self._check(result)
        return self.get(ref, actor, action=None)

    def record_outcome(
        self,
        ref: str,
        actor: str,
        outcome_name: str,
        note: str,
        now: float | None = None,
        asked_for: str = "",
    ) -> dict:
        """Record one attempt; it closes the request, schedules the next attempt (at the time the
        caller asked for, for that outcome) or, for an urgent one out of attempts, escalates it."""
        outcome = outcomes.OUTCOMES.get(outcome_name or "")
        if outcome is None:
            names = ", ".join(outcomes.OUTCOMES)
            raise IntakeError(400, f"Choose an outcome: one of {names}.")
        when_asked = None
        if outcome.asks_for_time:
            when_asked = self.asked_time(asked_for, now or time.time())
        elif (asked_for or "").strip():
            raise IntakeError(
                400,
                "A date and time for the next attempt goes with the outcome"
                f' "{outcomes.OUTCOMES["asked_for_time"].label}" only.',
            )
        try:
            note = notes.checked(note)
        except notes.NoteTooLong as exc:
            raise IntakeError(400, str(exc), max_length=notes.MAX_NOTE) from exc
        at = now
        for _ in range(3):  # the optimistic check only fails if the same worker raced themself
            cb = self.get(ref, actor, action=None, now=at)
            if outcome.needs_voicemail_consent and not cb.get("voicemail_ok"):
                raise IntakeError(400, "The caller did not agree to a voicemail; do not leave one.")
            now = at or time.time()
            step = outcomes.plan(
                outcome,
                outcomes.unanswered(cb["attempt_list"]),
                cb.get("preferred_time") or "any",
                datetime.fromtimestamp(now, self.hours.tz),
                self.hours,
                self.settings.max_callback_attempts,
                urgent=bool(cb.get("urgent")),
                retry_minutes=self.settings.urgent_retry_minutes,
                asked_for=when_asked,
            )
            attempt = {
                "n": cb["attempts"] + 1,
                "at": now,
                "by": actor,
                "outcome": outcome.name,
                "note": seal_field(note),  # health data: encrypted at rest
                "next_attempt_at": step.next_attempt_at,
                "close_reason": step.close_reason,
            }
            result = self.transitions.run(
                "outcome", ref, now, actor,
                cb["attempts"], outcome.name, step.status,
                repr(step.next_attempt_at) if step.next_attempt_at else "",
                step.close_reason, json.dumps(attempt),
                "1" if outcome.reached else "0",
                seal_field(_audit_detail(attempt["n"], outcome.label, step)),
            )  # fmt: skip
            if result[0] == "conflict":
                continue
            if result[0] == "not_yours":
                holder = result[1] if len(result) > 1 else ""
                who = f"{holder} has it now" if holder else "it is not claimed"
                raise IntakeError(409, f"Claim this request before recording an attempt ({who}).")
            self._check(result)
            if self.store.figures is not None:  # reports/figures.py, once per stage
                self.store.figures.record_intake(self.redis, ref)
            return self.get(ref, actor, action=None, now=now)
        raise IntakeError(409, "This request changed while saving; reload and try again.")

    def asked_time(self, text: str, now: float) -> datetime:
        """The time a caller asked to be called back at (outcomes.asked_time), or IntakeError."""
        try:
            return outcomes.asked_time(text, now, self.hours.tz, ASKED_DAYS)
        except ValueError as exc:
            raise IntakeError(400, str(exc)) from None

    @staticmethod
    def _check(result: list[str]) -> None:
        if result[0] == "missing":
            raise IntakeError(404, "There is no such callback request.")
        if result[0] != "ok":
            raise IntakeError(409, f"That could not be done ({result[0]}).")


def _opened(attempt: dict) -> dict:
    """An attempt as stored, with its note decrypted."""
    return {**attempt, "note": open_field(attempt.get("note") or "")}


def _audit_detail(n: int, label: str, step: outcomes.Plan) -> str:
    if step.status == "escalated":
        return f"attempt {n}: {label}; urgent, attempts used up: escalated to managers"
    reason = step.close_reason
    closed = f"; closed: {outcomes.CLOSE_REASONS.get(reason, reason)}"
    return f"attempt {n}: {label}" + (closed if reason else "")


def intake() -> Intake:
    """The app's intake service (one per app, made on first use)."""
    app = current_app
    service = app.extensions.get("ivr.intake")
    if service is None:
        settings = app.config["SETTINGS"]
        service = Intake(app.extensions["ivr.store"], settings, Hours.from_settings(settings))
        app.extensions["ivr.intake"] = service
    return service
