"""How callback requests read as text: times and ages for the pages, and the short plain-text
summary a worker pastes into the clinical record."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from ivr.intake import outcomes
from ivr.phone import national


def when(epoch: float | None, tz: ZoneInfo) -> str:
    """ "Wed 25 Nov 2026, 14:05" in local time ("" for none)."""
    if not epoch:
        return ""
    return datetime.fromtimestamp(float(epoch), tz).strftime("%a %d %b %Y, %H:%M")


def age(seconds: float) -> str:
    """A rough age: "40 min", "5 h", "3 days"."""
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h"
    return f"{minutes // 1440} days"


def summary_text(cb: dict, tz: ZoneInfo) -> str:
    """A short plain-text summary of one request, for the clinical record."""
    answers = cb.get("answers") or {}
    lines = [
        f"IPT referral line: callback request {cb['reference']}",
        f"Requested: {when(cb.get('created_at'), tz)}",
        f"Phone: {national(cb.get('phone', ''))}"
        + (" (keyed in by caller)" if cb.get("number_source") == "keyed" else ""),
        f"Voicemail naming the service OK: {'yes' if cb.get('voicemail_ok') else 'no'}",
        f"Preferred time: {outcomes.PREFERRED_LABELS.get(cb.get('preferred_time'), 'Any time')}",
        f"Urgent (risk): {'YES' if cb.get('urgent') else 'no'}",
    ]
    if answers:
        lines += [
            "Screening by keypad (screening only, not a diagnosis):",
            f"  PHQ-2 little interest: {outcomes.phq_item(answers.get('phq2_interest'))}",
            f"  PHQ-2 feeling down: {outcomes.phq_item(answers.get('phq2_down'))}",
            f"  PHQ-2 total: {outcomes.phq2_meaning(cb.get('phq2_total'))}",
            f"  Thoughts of self-harm: {outcomes.answer('risk', answers.get('risk'))}",
            f"  Difficulty: {outcomes.answer('difficulty', answers.get('difficulty'))}",
            f"  Mood: {outcomes.answer('mood_pattern', answers.get('mood_pattern'))}",
            "  About eight weekly sessions possible: "
            + outcomes.answer("sessions_possible", answers.get("sessions_possible")),
        ]
    else:
        lines.append("Screening: not done")
    heard = [outcomes.TOPIC_LABELS.get(t, t) for t in cb.get("heard") or []]
    lines.append("Heard about: " + (", ".join(heard) if heard else "none of the information"))
    lines.append(f"Attempts: {cb.get('attempts', 0)}")
    for attempt in cb.get("attempt_list", []):
        label = outcomes.OUTCOMES[attempt["outcome"]].label
        note = f": {attempt['note']}" if attempt.get("note") else ""
        lines.append(f"  {attempt['n']}. {when(attempt['at'], tz)} {attempt['by']}, {label}{note}")
    if cb.get("status") == "closed":
        reason = outcomes.CLOSE_REASONS.get(cb.get("close_reason"), cb.get("close_reason"))
        lines.append(f"Closed {when(cb.get('closed_at'), tz)}: {reason}")
    return "\n".join(lines) + "\n"
