"""Urgent requests (a caller who disclosed risk) on their own track: a target of
urgent_target_hours of working time, retries after urgent_retry_minutes of working time at the top
of the queue, escalation (never closing) when attempts run out; opening days from IVR_OPENING_DAYS,
across weekends and bank holidays."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from conftest import SCREENED_URGENT_KEYS

from ivr import create_app
from ivr.config import ConfigError, load_settings
from ivr.intake.outcomes import OUTCOMES, plan, target_time
from ivr.intake.service import Intake
from ivr.line.hours import Hours


def hours_for(days: str = "Mon-Fri") -> Hours:
    return Hours.from_settings(load_settings(environ={"IVR_OPENING_DAYS": days}))


def london(*parts) -> datetime:
    return datetime(*parts, tzinfo=hours_for().tz)


@pytest.fixture
def every_day(open_hours):
    """Open round the clock, every day, so these tests do not depend on today's date."""
    return replace(open_hours, opening_days="Mon-Sun")


@pytest.fixture
def service(every_day, redis_client):
    app = create_app(every_day)
    yield Intake(app.extensions["ivr.store"], every_day, Hours.from_settings(every_day))
    app.extensions["ivr.deliverer"].stop()


@pytest.fixture
def request_callback(every_day, redis_client):
    """A caller asks for a callback through the signed webhooks of an app open every day."""
    from conftest import phone_for

    app = create_app(every_day)
    dial = phone_for(app)

    def make(from_number: str = "+447700900123", keys: list[str] | None = None) -> str:
        call = dial(from_number=from_number)
        for pressed in keys or ["3", "1", "1", "3"]:
            call.press(pressed)
        ref = redis_client.get(f"ivr:callback:by_call:{call.call_sid}")
        assert ref, call.heard()
        call.hang_up()
        return ref

    yield make
    app.extensions["ivr.deliverer"].stop()


# --- problem 1: an urgent request has its own target and retry, and stays at the top ---------
def test_urgent_no_answer_retries_within_the_hour_and_stays_at_the_top(service, request_callback):
    routine = [request_callback(from_number=f"+4477009001{n:02d}") for n in range(3)]
    urgent = request_callback(from_number="+447700900999", keys=SCREENED_URGENT_KEYS)
    cb = service.get(urgent, "nia", action=None)
    # Four working hours (open round the clock here, but for the minute before midnight).
    assert cb["target_at"] - cb["created_at"] <= 4 * 3600 + 61
    assert cb["target_at"] < service.get(routine[0], "nia", action=None)["target_at"]

    service.claim(urgent, "nia")
    before = time.time()
    cb = service.record_outcome(urgent, "nia", "no_answer", "")
    assert cb["status"] == "scheduled"
    # 60 working minutes later (open round the clock here, but for the minute before midnight).
    assert before + 3600 <= cb["next_attempt_at"] <= time.time() + 3600 + 61
    # Not yet due, it still sits above every routine request.
    assert [r["reference"] for r in service.queue()] == [urgent, *routine]


def test_urgent_target_and_retry_fall_inside_working_hours():
    hours = hours_for()
    # The problem seen: an urgent request at 07:12 on a Monday got a 07:12 target.
    target = target_time(london(2026, 11, 30, 7, 12).timestamp(), hours, 2, urgent_hours=4)
    assert target == london(2026, 11, 30, 13, 0)
    # A routine one: two working days, ending at Tuesday's close.
    assert target_time(london(2026, 11, 30, 7, 12).timestamp(), hours, 2) == london(
        2026, 12, 1, 17, 0
    )
    late = plan(
        OUTCOMES["no_answer"], 0, "any", london(2026, 11, 30, 16, 40), hours, 3, urgent=True
    )
    assert datetime.fromtimestamp(late.next_attempt_at, hours.tz) == london(2026, 12, 1, 9, 40)


def test_an_urgent_target_in_summer_time_counts_from_the_local_clock():
    """15:30 on a July Tuesday is 14:30 UTC: the four working hours start from 15:30 London."""
    made = london(2026, 7, 14, 15, 30)
    assert target_time(made.timestamp(), hours_for(), 2, urgent_hours=4) == london(
        2026, 7, 15, 11, 30
    )


# --- across a weekend and a bank holiday, with IVR_OPENING_DAYS ------------------------------
def test_urgent_track_across_a_weekend_and_a_bank_holiday():
    friday = london(2026, 8, 28, 15, 0)  # Monday 31 August 2026 is the summer bank holiday
    weekdays, saturdays = hours_for("Mon-Fri"), hours_for("Mon-Sat")
    assert target_time(friday.timestamp(), weekdays, 2, 4) == london(2026, 9, 1, 11, 0)
    assert target_time(friday.timestamp(), saturdays, 2, 4) == london(2026, 8, 29, 11, 0)
    saturday_late = london(2026, 8, 29, 16, 0)
    assert target_time(saturday_late.timestamp(), saturdays, 2, 4) == london(2026, 9, 1, 12, 0)
    # No answer at 16:30 on the Friday: retried 60 working minutes on, past the weekend and the
    # bank holiday (Mon-Fri), or on the Saturday morning (Mon-Sat).
    no_answer = OUTCOMES["no_answer"]
    at = london(2026, 8, 28, 16, 30)
    for hours, expected in (
        (weekdays, london(2026, 9, 1, 9, 30)),
        (saturdays, london(2026, 8, 29, 9, 30)),
    ):
        step = plan(no_answer, 0, "any", at, hours, 3, urgent=True, retry_minutes=60)
        assert datetime.fromtimestamp(step.next_attempt_at, hours.tz) == expected
    # "When we open" follows the opening days too.
    assert saturdays.spoken_next_opening(london(2026, 8, 28, 18, 0)) == "tomorrow, from 9 am"
    assert weekdays.spoken_next_opening(london(2026, 8, 28, 18, 0)) == "on Tuesday, from 9 am"


@pytest.mark.parametrize(
    ("text", "days"),
    [
        ("Mon-Fri", {0, 1, 2, 3, 4}),
        ("Mon-Sat", set(range(6))),
        ("Mon,Tue,Thu", {0, 1, 3}),
        ("mon-wed, sat", {0, 1, 2, 5}),
        ("Sunday", {6}),
    ],
)
def test_opening_days_forms(text, days):
    assert hours_for(text).days == days


@pytest.mark.parametrize("text", ["", "weekdays", "Fri-Mon", "Mon-Tue-Wed", "Mon,,Tue", "1-5"])
def test_bad_opening_days_stop_start_up_with_a_clear_message(text):
    with pytest.raises(ConfigError, match="IVR_OPENING_DAYS"):
        load_settings(environ={"IVR_OPENING_DAYS": text})


# --- problem 3: attempts used up on an urgent request escalate it, never close it -------------
def test_urgent_request_out_of_attempts_is_escalated_not_closed(
    service, request_callback, redis_client
):
    urgent = request_callback(from_number="+447700900999", keys=SCREENED_URGENT_KEYS)
    for n in (1, 2, 3):
        service.claim(urgent, f"worker{n}")
        cb = service.record_outcome(urgent, f"worker{n}", "no_answer", "")
    assert cb["status"] == "escalated"
    assert not cb.get("close_reason") and not cb.get("closed_at")
    assert redis_client.zscore("ivr:callbacks:status:escalated", urgent) is not None
    assert redis_client.zscore("ivr:callbacks:status:closed", urgent) is None
    assert [r["reference"] for r in service.queue("escalated")] == [urgent]
    assert service.queue()[0]["reference"] == urgent  # still open, at the top
    assert "escalated to managers" in cb["audit"][-1]["detail"]
    # Nothing closes it by itself: not the sweep, not time passing.
    service.queue(now=time.time() + 30 * 86400)
    assert redis_client.hget(f"ivr:callback:{urgent}", "status") == "escalated"
    # A worker may still claim it; letting go puts it back as escalated.
    service.claim(urgent, "manager1")
    service.release(urgent, "manager1")
    assert redis_client.hget(f"ivr:callback:{urgent}", "status") == "escalated"
    # Reaching the caller closes it as usual.
    service.claim(urgent, "manager1")
    cb = service.record_outcome(urgent, "manager1", "reached_booked", "")
    assert cb["status"] == "closed"


def test_only_unanswered_attempts_count_towards_the_limit(service, request_callback):
    ref = request_callback()
    service.claim(ref, "nia")
    service.record_outcome(ref, "nia", "no_answer", "")
    service.claim(ref, "nia")
    later = datetime.now(service.hours.tz) + timedelta(days=1)
    service.record_outcome(ref, "nia", "asked_for_time", "", asked_for=later.isoformat())
    service.claim(ref, "nia")
    cb = service.record_outcome(ref, "nia", "no_answer", "")
    assert cb["status"] == "scheduled" and cb["attempts"] == 3  # two unanswered so far
    service.claim(ref, "nia")
    cb = service.record_outcome(ref, "nia", "no_answer", "")
    assert (cb["status"], cb["close_reason"]) == ("closed", "unreachable")


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"IVR_URGENT_ALERT_SMS": "07700900001"}, "is not an E.164 number"),
        ({"IVR_URGENT_ALERT_SMS": "+447700900001"}, "needs TWILIO_ACCOUNT_SID"),
        ({"IVR_URGENT_ALERT_EMAIL": "duty"}, "is not an email address"),
        ({"IVR_URGENT_ALERT_EMAIL": "duty@example.nhs.uk"}, "needs IVR_SMTP_URL"),
        ({"IVR_SMTP_URL": "mail.example.nhs.uk"}, "IVR_SMTP_URL must look like"),
        ({"IVR_URGENT_TARGET_HOURS": "0"}, "must be 1 or more"),
    ],
)
def test_bad_alert_settings_stop_start_up(environ, message):
    with pytest.raises(ConfigError, match=message):
        load_settings(environ=environ)


def test_an_urgent_request_is_overdue_after_its_hours_a_routine_one_after_its_days(
    service, request_callback
):
    """The queue's "overdue" flag: an urgent request once its urgent target (working hours) has
    passed, and not a moment before; a routine one made at the same time is not overdue yet."""
    urgent = service.get(request_callback(keys=SCREENED_URGENT_KEYS), "nia", action=None)
    routine = service.get(request_callback(from_number="+447700900770"), "nia", action=None)
    due = urgent["target_at"]
    assert due <= urgent["created_at"] + 4 * 3600 + 60  # round-the-clock hours: four hours
    assert not service.describe(urgent, now=due)["overdue"]
    assert service.describe(urgent, now=due + 1)["overdue"]
    assert not service.describe(routine, now=due + 1)["overdue"]
