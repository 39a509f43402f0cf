"""The words a prompt may fill in ({service_name}, {reference}, ...), and how numbers are read.

The wording itself lives in call_flows/; this module only works out the values it names.
"""

from __future__ import annotations

from ivr import phone


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
        if name == "callback_when":
            phrases = run.flow.phrases
            text = (
                phrases.get("callback_when_open", "soon")
                if hours.is_open(run.moment)
                else phrases.get("callback_when_closed", "{next_opening}")
            )
            return text.format(
                next_opening=hours.spoken_next_opening(run.moment),
                target_working_days=self["target_working_days"],
            )
        if name == "target_working_days":  # the intake team's target, as the queue holds it
            days = settings.callback_target_working_days
            return f"{days} working day{'' if days == 1 else 's'}"
        if name == "caller_last_digits":
            return ", ".join(phone.last_digits(data.get("caller_number") or ""))
        if name == "keyed_number":
            return phone.spoken_digits(phone.national(data.get("pending_number") or ""))
        if name == "reference":
            return spoken_reference(data.get("callback_ref") or "")
        return ""
