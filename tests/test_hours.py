"""Opening hours in Europe/London, weekends and UK bank holidays."""

from datetime import datetime
from zoneinfo import ZoneInfo

from ivr.config import load_settings
from ivr.line.hours import Hours

LONDON = ZoneInfo("Europe/London")
hours = Hours.from_settings(load_settings(environ={}))


def at(*parts) -> datetime:
    return datetime(*parts, tzinfo=LONDON)


def test_open_on_a_weekday_afternoon_and_closed_after_five():
    assert hours.is_open(at(2026, 11, 25, 14, 0))
    assert not hours.is_open(at(2026, 11, 25, 17, 0))
    assert hours.spoken_next_opening(at(2026, 11, 25, 18, 30)) == "tomorrow, from 9 am"


def test_weekend_and_bank_holidays_are_closed():
    assert not hours.is_open(at(2026, 11, 28, 11, 0))  # Saturday
    assert hours.spoken_next_opening(at(2026, 11, 28, 11, 0)) == "on Monday, from 9 am"
    assert not hours.is_open(at(2026, 12, 25, 11, 0))  # Christmas Day
    # Boxing Day falls on a Saturday in 2026, so Monday 28th is the bank holiday.
    assert hours.spoken_next_opening(at(2026, 12, 24, 17, 30)) == "on Tuesday, from 9 am"


def test_before_opening_says_today():
    assert hours.spoken_next_opening(at(2026, 11, 25, 7, 15)) == "today, from 9 am"


def test_utc_input_is_judged_in_london_time():
    # 08:30 UTC in summer is 09:30 in London: open.
    assert hours.is_open(datetime(2026, 7, 1, 8, 30, tzinfo=ZoneInfo("UTC")))


def test_working_days_skip_weekends_and_holidays():
    assert hours.add_working_days(at(2026, 12, 24, 10, 0), 2).date().isoformat() == "2026-12-30"


def test_the_out_of_hours_promise_says_today_tomorrow_a_weekday_or_a_date():
    """{opening_at} in the out-of-hours promise ("we will call you ... when we open")."""
    from ivr.line.words import spoken_opening_at

    assert spoken_opening_at(hours, at(2026, 11, 23, 20, 0)) == "tomorrow at 9 am"  # Monday
    assert spoken_opening_at(hours, at(2026, 11, 27, 18, 0)) == "on Monday at 9 am"  # Friday
    # 23:30 UTC on a summer Monday is already Tuesday in London: "today", not "tomorrow".
    late = datetime(2026, 7, 13, 23, 30, tzinfo=ZoneInfo("UTC"))
    assert spoken_opening_at(hours, late) == "today at 9 am"
    # A week or more away (a team open on Mondays only): said with its date.
    mondays = Hours.from_settings(load_settings(environ={"IVR_OPENING_DAYS": "Mon"}))
    assert spoken_opening_at(mondays, at(2026, 11, 23, 18, 0)) == (
        "on Monday the 30 November at 9 am"
    )
    assert spoken_opening_at(mondays, at(2026, 11, 24, 9, 0)) == "on Monday at 9 am"
