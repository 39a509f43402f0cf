"""When the intake team works: opening hours in Europe/London on the opening days
(IVR_OPENING_DAYS, default Mon-Fri), closed on UK bank holidays; how to say when the next callback
can happen; and working-time arithmetic (urgent targets and retries count only working minutes)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

from ivr.config import Settings, opening_weekdays


@lru_cache(maxsize=8)
def _bank_holidays(country: str, subdivision: str) -> holidays.HolidayBase:
    return holidays.country_holidays(country, subdiv=subdivision or None)


def _clock(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


@dataclass(frozen=True)
class Hours:
    tz: ZoneInfo
    opens: time
    closes: time
    country: str
    subdivision: str
    days: frozenset[int] = frozenset(range(5))  # weekday numbers (Monday 0) the team works

    @classmethod
    def from_settings(cls, settings: Settings) -> Hours:
        return cls(
            ZoneInfo(settings.timezone),
            _clock(settings.opening_time),
            _clock(settings.closing_time),
            settings.holiday_country,
            settings.holiday_subdivision,
            opening_weekdays(settings.opening_days),
        )

    def is_working_day(self, day: date) -> bool:
        return day.weekday() in self.days and day not in _bank_holidays(
            self.country, self.subdivision
        )

    def is_open(self, moment: datetime) -> bool:
        local = moment.astimezone(self.tz)
        return self.is_working_day(local.date()) and self.opens <= local.time() < self.closes

    def next_opening(self, moment: datetime) -> datetime:
        """The next moment the team starts work (the current one's start if it is open now)."""
        local = moment.astimezone(self.tz)
        day = local.date()
        if local.time() >= self.opens:
            day += timedelta(days=1)
        while not self.is_working_day(day):
            day += timedelta(days=1)
        return datetime.combine(day, self.opens, tzinfo=self.tz)

    def add_working_days(self, moment: datetime, days: int) -> datetime:
        """The same clock time `days` working days later (used for overdue targets)."""
        local = moment.astimezone(self.tz)
        day = local.date()
        while days > 0:
            day += timedelta(days=1)
            if self.is_working_day(day):
                days -= 1
        return datetime.combine(day, local.timetz()).replace(tzinfo=self.tz)

    def working_from(self, moment: datetime) -> datetime:
        """`moment` itself if the team is working then, otherwise when it next starts."""
        return moment.astimezone(self.tz) if self.is_open(moment) else self.next_opening(moment)

    def add_working_time(self, moment: datetime, seconds: float) -> datetime:
        """The moment `seconds` of working time after `moment` (time outside opening hours, at
        weekends, on closed days and bank holidays does not count). Always inside working hours
        (or exactly at a closing time)."""
        start = self.working_from(moment)
        left = max(0.0, seconds)
        for _ in range(3700):  # ten years of days: a guard, never reached with real settings
            closing = datetime.combine(start.date(), self.closes, tzinfo=self.tz)
            room = (closing - start).total_seconds()
            if left <= room:
                return start + timedelta(seconds=left)
            left -= room
            start = self.next_opening(closing)
        raise ValueError("no working time ahead: check the opening days and hours")

    def working_seconds_between(self, start: datetime, end: datetime) -> float:
        """How much working time lies between two moments (0 if end is not after start)."""
        total, at = 0.0, self.working_from(start)
        while at < end:
            closing = datetime.combine(at.date(), self.closes, tzinfo=self.tz)
            total += (min(closing, end) - at).total_seconds()
            at = self.next_opening(closing)
        return total

    def day_seconds(self) -> float:
        """The length of one working day."""
        base = date(2000, 1, 3)
        opens = datetime.combine(base, self.opens)
        return (datetime.combine(base, self.closes) - opens).total_seconds()

    def spoken_next_opening(self, moment: datetime) -> str:
        """ "tomorrow, from 9 am" / "on Monday, from 9 am" / "on Tuesday the 2nd of January"."""
        local = moment.astimezone(self.tz)
        opening = self.next_opening(moment)
        clock = spoken_clock(opening.time())
        if opening.date() == local.date():
            return f"today, from {clock}"
        if opening.date() == local.date() + timedelta(days=1):
            return f"tomorrow, from {clock}"
        if (opening.date() - local.date()).days < 7:
            return f"on {opening:%A}, from {clock}"
        return f"on {opening:%A} the {_ordinal(opening.day)} of {opening:%B}, from {clock}"


def spoken_clock(moment: time) -> str:
    """9 am, 1:30 pm: a time of day as the voice should say it."""
    hour = moment.hour % 12 or 12
    suffix = "am" if moment.hour < 12 else "pm"
    return f"{hour} {suffix}" if moment.minute == 0 else f"{hour}:{moment.minute:02d} {suffix}"


def _ordinal(n: int) -> str:
    suffix = "th" if 11 <= n % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"
