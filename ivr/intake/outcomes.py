"""What an attempt to call back can end in, what happens next, and how requests read to staff.

Pure functions (no Redis): the outcomes and their rules, when the next attempt falls (routine: the
caller's preferred window on the next working day, skipping closed days and UK bank holidays;
urgent: urgent_retry_minutes of working time later; or the time the caller asked for), each
request's target (urgent: urgent_target_hours of working time; routine: working days), whether a
request is overdue, and the words staff see for a caller's keypad answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from ivr.line.hours import Hours


@dataclass(frozen=True)
class Outcome:
    name: str
    label: str
    closes: bool  # True: the request is finished; False: try again later
    reached: bool  # the caller was spoken to
    needs_voicemail_consent: bool = False
    asks_for_time: bool = False  # the worker gives the next attempt's date and time


OUTCOMES = {
    o.name: o
    for o in (
        Outcome("reached_booked", "Reached: assessment booked", closes=True, reached=True),
        Outcome(
            "reached_not_suitable", "Reached: not suitable, signposted", closes=True, reached=True
        ),
        Outcome("reached_declined", "Reached: declined", closes=True, reached=True),
        Outcome("no_answer", "No answer", closes=False, reached=False),
        Outcome(
            "voicemail_left",
            "Voicemail left",
            closes=False,
            reached=False,
            needs_voicemail_consent=True,
        ),
        Outcome(
            "asked_for_time",
            "Caller asked for a time: call back then",
            closes=False,
            reached=True,
            asks_for_time=True,
        ),
        Outcome("wrong_number", "Wrong number", closes=True, reached=False),
    )
}

CLOSE_REASONS = {
    "reached_booked": "Assessment booked",
    "reached_not_suitable": "Not suitable, signposted",
    "reached_declined": "Declined",
    "wrong_number": "Wrong number",
    "unreachable": "Unreachable after the maximum number of attempts",
    "merged": "Merged into another request from the same number",
}

# When each preferred time starts, local time. "any" starts when the team opens.
WINDOW_STARTS = {"morning": time(9, 0), "afternoon": time(12, 0)}
PREFERRED_LABELS = {
    "morning": "Morning (9am to 12 noon)",
    "afternoon": "Afternoon (12 noon to 5pm)",
    "any": "Any time",
}


@dataclass(frozen=True)
class Plan:
    status: str  # "closed", "scheduled" or "escalated" (urgent, attempts used up: managers act)
    next_attempt_at: float | None
    close_reason: str


def offered_outcomes(voicemail_ok: bool) -> list[Outcome]:
    """The outcomes a worker may record: voicemail only where the caller said it was OK."""
    return [o for o in OUTCOMES.values() if voicemail_ok or not o.needs_voicemail_consent]


def next_attempt_time(now: datetime, preferred: str, hours: Hours) -> datetime:
    """The start of the caller's preferred window on the next working day."""
    local = now.astimezone(hours.tz)
    day: date = local.date() + timedelta(days=1)
    while not hours.is_working_day(day):
        day += timedelta(days=1)
    start = WINDOW_STARTS.get(preferred, hours.opens)
    return datetime.combine(day, start, tzinfo=hours.tz)


def unanswered(attempt_list: list[dict]) -> int:
    """Attempts that did not reach the caller (a caller who asked for a time was reached)."""
    return sum(1 for a in attempt_list if not getattr(OUTCOMES.get(a.get("outcome")), "reached", 0))


def plan(
    outcome: Outcome,
    attempts_before: int,
    preferred: str,
    now: datetime,
    hours: Hours,
    limit: int,
    *,
    urgent: bool = False,
    retry_minutes: int = 60,
    asked_for: datetime | None = None,
) -> Plan:
    """What recording `outcome` does to a request that has had `attempts_before` unanswered
    attempts (the limit counts only those).

    An urgent request is never closed for want of an answer: it is retried after retry_minutes
    of working time, and once the attempts are used up it is escalated (a manager decides)."""
    if outcome.closes:
        return Plan("closed", None, outcome.name)
    if outcome.asks_for_time:
        if asked_for is None:
            raise ValueError("asked_for is needed for this outcome")
        return Plan("scheduled", asked_for.timestamp(), "")
    if attempts_before + 1 >= limit:
        return Plan("escalated", None, "") if urgent else Plan("closed", None, "unreachable")
    if urgent:
        retry = hours.add_working_time(now, retry_minutes * 60)
        return Plan("scheduled", retry.timestamp(), "")
    return Plan("scheduled", next_attempt_time(now, preferred, hours).timestamp(), "")


def asked_time(text: str, now: float, tz, within_days: int) -> datetime:
    """The date and time a caller asked to be called back at, from a form's "2026-11-27T14:30"
    (local time) or ISO 8601 with an offset: in the future and within `within_days` days, or
    ValueError with a message fit for a worker."""
    text = (text or "").strip()
    if not text:
        raise ValueError("Give the date and time the caller asked to be called back.")
    try:
        moment = datetime.fromisoformat(text[:40])
    except ValueError:
        raise ValueError(
            "The date and time was not understood: use the picker, e.g. 27/11/2026 14:30."
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    if moment.timestamp() <= now:
        raise ValueError("The time the caller asked for has already passed.")
    if moment.timestamp() > now + within_days * 86400:
        raise ValueError(f"Choose a time within {within_days} days.")
    return moment.astimezone(tz)


def target_time(
    created_at: float, hours: Hours, working_days: int, urgent_hours: float | None = None
) -> datetime:
    """When a request should have been dealt with, always inside working hours: an urgent one
    urgent_hours of working time after it came in, a routine one working_days working days."""
    created = datetime.fromtimestamp(float(created_at), hours.tz)
    if urgent_hours is not None:
        return hours.add_working_time(created, urgent_hours * 3600)
    return hours.add_working_time(created, working_days * hours.day_seconds())


def is_overdue(
    callback: dict, now: datetime, hours: Hours, working_days: int, urgent_hours: float = 4
) -> bool:
    if callback.get("status") == "closed" or not callback.get("created_at"):
        return False
    urgent = urgent_hours if callback.get("urgent") else None
    return now > target_time(float(callback["created_at"]), hours, working_days, urgent)


# --- how a caller's keypad answers read to staff ------------------------------------------
PHQ_ITEM_LABELS = {
    0: "Not at all",
    1: "Several days",
    2: "More than half the days",
    3: "Nearly every day",
}
ANSWER_LABELS = {
    "risk": {
        "yes": "Yes: thoughts of self-harm or ending their life",
        "no": "No",
        "prefer_not_to_say": "Preferred not to say",
    },
    "difficulty": {
        "disputes": "Disputes or conflict with someone close",
        "life_change": "A big life change",
        "grief": "Grief or loss",
        "relationships": "Starting or keeping relationships",
        "not_sure": "Not sure",
    },
    "mood_pattern": {
        "episodes": "Comes in episodes",
        "constant": "Low most of the time",
        "not_sure": "Not sure",
    },
    "sessions_possible": {"yes": "Yes", "no": "No", "not_sure": "Not sure"},
}
TOPIC_LABELS = {
    "what_it_is": "What IPT is",
    "four_difficulties": "The four kinds of difficulty",
    "who_it_is_for": "Who it is for",
    "what_it_involves": "What it involves",
    "what_it_asks": "What it asks of you",
    "how_to_be_referred": "How to be referred",
}


def phq_item(value) -> str:
    if value == "skipped":
        return "Skipped"
    if value is None:
        return "Not asked"
    return f"{PHQ_ITEM_LABELS.get(value, value)} ({value})"


def phq2_meaning(total: int | None) -> str:
    if total is None:
        return "Not scored (screening skipped or incomplete)"
    if total >= 3:
        return f"{total} of 6: suggests likely depression; screening only, not a diagnosis"
    return f"{total} of 6: below the usual threshold of 3; screening only"


def answer(name: str, value) -> str:
    if value is None:
        return "Not asked"
    return ANSWER_LABELS.get(name, {}).get(value, str(value))
