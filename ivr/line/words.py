"""The words a prompt may fill in ({service_name}, {reference}, ...), and how numbers are read.

The wording itself lives in call_flows/; this module only works out the values it names.
"""

from __future__ import annotations

from datetime import timedelta

from ivr import phone
from ivr.line.hours import spoken_clock


def phq2_total(answers: dict) -> int | None:
    """PHQ-2 total (0-6), or None unless both items were answered."""
    items = [answers.get("phq2_interest"), answers.get("phq2_down")]
    if all(isinstance(v, int) and not isinstance(v, bool) for v in items):
        return sum(items)
    return None


def spoken_reference(ref: str) -> str:
    """Read slowly, digit by digit, in two groups of three."""
    digits = list(ref)
    half = len(digits) // 2
    return ", ".join(digits[:half]) + ". " + ", ".join(digits[half:])


class Words(dict):
    """The words a prompt may fill in, worked out only when a prompt uses them."""

    def __init__(self, run):
        super().__init__()
        self.run = run

    def __missing__(self, name: str) -> str:
        run, settings, data = self.run, self.run.engine.settings, self.run.data
        hours = run.engine.hours
        if name == "service_name":
            return settings.service_name
        if name == "crisis_dial_name":
            return settings.crisis_dial_name
        if name == "next_opening":
            return hours.spoken_next_opening(run.moment)
        if name in ("callback_when", "urgent_when"):
            # The promise: the routine or the urgent target in hours, a true one out of hours.
            kind = name.split("_")[0]
            state = "open" if hours.is_open(run.moment) else "closed"
            text = run.flow.phrases.get(f"{kind}_when_{state}", "{opening_at}")
            return text.format_map(self)
        if name == "opening_at":  # "today at 9 am", "on Monday at 9 am"
            return spoken_opening_at(hours, run.moment)
        if name == "target_working_days":  # the intake team's target, as the queue holds it
            days = settings.callback_target_working_days
            return f"{days} working day{'' if days == 1 else 's'}"
        if name == "urgent_target_hours":  # intake's urgent target (IVR_URGENT_TARGET_HOURS)
            count = settings.urgent_target_hours
            return f"{count} working hour{'' if count == 1 else 's'}"
        if name == "language":
            return data.get("interpreter_language") or ""
        if name == "reference_digits":
            return data.get("callback_ref") or ""
        if name == "callback_last_digits":
            return ", ".join(phone.last_digits(data.get("callback_number") or ""))
        if name == "caller_last_digits":
            return ", ".join(phone.last_digits(data.get("caller_number") or ""))
        if name == "keyed_number":
            return phone.spoken_digits(phone.national(data.get("pending_number") or ""))
        if name == "reference":
            return spoken_reference(data.get("callback_ref") or "")
        return ""


def spoken_opening_at(hours, moment) -> str:
    """When the team next opens, said as a promise: "today at 9 am", "on Monday at 9 am"."""
    local = moment.astimezone(hours.tz)
    opening = hours.next_opening(moment)
    clock = spoken_clock(opening.time())
    if opening.date() == local.date():
        return f"today at {clock}"
    if opening.date() == local.date() + timedelta(days=1):
        return f"tomorrow at {clock}"
    if (opening.date() - local.date()).days < 7:
        return f"on {opening:%A} at {clock}"
    return f"on {opening:%A} the {opening.day} {opening:%B} at {clock}"
