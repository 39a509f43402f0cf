"""Phone numbers: reading caller ID, checking keyed-in UK numbers, masking, and speaking them.

Numbers are health data here (calling this line says something about you), so everything outside
the callback record itself sees a masked form.
"""

from __future__ import annotations

import re

# What Twilio sends in `From` when the caller withheld their number (anonymous, restricted,
# unavailable, blocked), and the words some carriers pass through instead.
WITHHELD_SENTINELS = {
    "+266696687",
    "+7378742833",
    "+86282452253",
    "+2562533",
    "266696687",
    "7378742833",
    "86282452253",
    "2562533",
}
WITHHELD_WORDS = {"", "anonymous", "restricted", "unavailable", "unknown", "private", "blocked"}

# A full international number, as Twilio sends and dials them.
E164 = re.compile(r"\+[1-9][0-9]{4,14}")

# Keyed numbers are short; anything past this is junk and is not looked at further.
MAX_KEYED_DIGITS = 16


class NumberProblem(ValueError):
    """A number we cannot call back; `reason` is a key into the flow's phrases."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def normalise_uk(raw: str) -> str:
    """A UK number in E.164 (+44...), or NumberProblem saying why it cannot be used.

    Reasons: empty, not_digits, international, too_short, too_long, all_zeros, premium,
    not_callable.
    """
    text = (raw or "").strip()
    if not text:
        raise NumberProblem("empty")
    text = re.sub(r"[\s\-()]", "", text)[: MAX_KEYED_DIGITS + 4]
    if text.startswith("+44"):
        text = "0" + text[3:]
    elif text.startswith("0044"):
        text = "0" + text[4:]
    elif text.startswith("44") and len(text) in (11, 12):
        text = "0" + text[2:]
    elif text.startswith("+") and text[1:].isdigit():
        raise NumberProblem("international")
    if not text.isdigit():
        raise NumberProblem("not_digits")
    if set(text) == {"0"}:
        raise NumberProblem("all_zeros")
    if text.startswith("00"):
        raise NumberProblem("international")
    if not text.startswith("0"):
        raise NumberProblem("international" if len(text) > 11 else "too_short")
    if len(text) < 10:
        raise NumberProblem("too_short")
    if len(text) > 11:
        raise NumberProblem("too_long")
    if text.startswith("09") or text.startswith(("0871", "0872", "0873")):
        raise NumberProblem("premium")
    # 070 personal numbers, 076 pagers, 05/06 and 04 are not numbers we can ring a person on.
    if text.startswith(("070", "076", "04", "05", "06", "0843", "0844", "0845", "0870")):
        raise NumberProblem("not_callable")
    if text[1] not in "123789":
        raise NumberProblem("not_callable")
    if len(text) == 10 and not text.startswith("01"):
        raise NumberProblem("too_short")
    return "+44" + text[1:]


def caller_id_number(from_field: str | None) -> str | None:
    """The caller's own UK number from Twilio's `From`, or None if withheld or not callable."""
    value = (from_field or "").strip()
    if value.lower() in WITHHELD_WORDS or value in WITHHELD_SENTINELS:
        return None
    if value.startswith("client:") or value.startswith("sip:"):
        return None
    try:
        return normalise_uk(value)
    except NumberProblem:
        return None


def dial_number(configured: str) -> str:
    """A number the line puts callers through to, in the E.164 form Twilio's <Dial> needs.

    Twilio refuses anything else (warning 13223) and the caller is not put through. UK numbers
    as dialled in the UK are accepted: "116 123" -> +44116123, "0800 123 4567" -> +448001234567.
    ValueError if it cannot be a phone number.
    """
    text = re.sub(r"[\s\-()]", "", configured or "")
    if text.startswith("00"):
        text = "+" + text[2:]
    elif text.startswith("0") or (text.isdigit() and 3 <= len(text) <= 6):
        text = "+44" + text.removeprefix("0")  # a UK national number or a UK short code
    if not E164.fullmatch(text):
        raise ValueError(f"not a number Twilio can dial: {configured!r}")
    return text


UK_MOBILE = re.compile(r"\+447[1-57-9][0-9]{8}")  # 07 mobiles; not 070 personal or 076 pagers


def is_uk_mobile(e164: str) -> bool:
    return bool(UK_MOBILE.fullmatch(e164 or ""))


def national(e164: str) -> str:
    """+447700900123 -> 07700900123."""
    return "0" + e164[3:] if e164.startswith("+44") else e164


def mask(number: str | None, keep: int = 3) -> str:
    """Show only the last `keep` digits: 07700900123 -> ********123."""
    digits = re.sub(r"\D", "", number or "")
    if not digits:
        return ""
    shown = digits[-keep:] if len(digits) > keep else ""
    return "*" * (len(digits) - len(shown)) + shown


def last_digits(number: str, count: int = 4) -> str:
    return re.sub(r"\D", "", number)[-count:]


def spoken_digits(digits: str) -> str:
    """Digits one at a time with pauses, in the groups people say UK numbers in.

    "07700900123" -> "0 7 7 0 0, 9 0 0, 1 2 3". Commas make the voice pause.
    """
    digits = re.sub(r"\D", "", digits)
    if len(digits) == 11:
        groups = [digits[:5], digits[5:8], digits[8:]]
    elif len(digits) > 6:
        groups = [digits[i : i + 3] for i in range(0, len(digits), 3)]
    else:
        groups = [digits]
    return ", ".join(" ".join(group) for group in groups)
