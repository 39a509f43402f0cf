"""Which passwords staff may choose, as NIST SP 800-63B asks: at least 12 characters, not a
commonly used password, not repetitive or sequential, not built on the username or the service.

The guessing model is zxcvbn (Dropbox's estimator, the maintained Python port on PyPI): it ships
the lists (about 30,000 passwords from public breaches, English words, names, keyboard layouts)
and finds repeats ("aaaa", "abcabc"), sequences ("abcd", "6543") and keyboard walks ("qwerty")
inside a password. A password must need at least 10^8 guesses (zxcvbn score 3). No composition
rules (NIST advises against them): a few unrelated words pass.
"""

from __future__ import annotations

from zxcvbn import zxcvbn

MIN_LENGTH = 12
MAX_LENGTH = 1000
ENOUGH_SCORE = 3  # zxcvbn: at least 10^8 guesses
# Words an attacker would try first against this service's accounts.
CONTEXT_WORDS = ("ipt", "interpersonal", "psychotherapy", "referral", "intake", "nhs", "ivr")
# zxcvbn reads no further than this (its cost grows with length); the rest only adds strength.
ANALYSED = 72

# Why a weak password is weak, by what zxcvbn found in it (first match wins, longest first).
_REASONS = {
    "passwords": "it is on a list of commonly used passwords (or close to one)",
    "user_inputs": "it is built on the username or the service's name",
    "repeat": 'it repeats characters or words (like "aaaa" or "abcabc")',
    "sequence": 'it is a sequence (like "abcd" or "6543")',
    "spatial": 'it is a keyboard pattern (like "qwerty")',
    "date": "it is mostly a date",
}


class WeakPassword(ValueError):
    """A password staff may not use; the message says why and what to do instead."""


def check(password: str, username: str = "") -> None:
    """Raise WeakPassword unless `password` may be used for the account `username`."""
    password = password or ""
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"A password must be at least {MIN_LENGTH} characters long.")
    if len(password) > MAX_LENGTH:
        raise WeakPassword("That password is too long.")
    if not password.strip():
        raise WeakPassword("A password cannot be only spaces.")
    words = [w for w in (username or "").lower().replace("-", " ").split() if w]
    result = zxcvbn(password[:ANALYSED], user_inputs=[*CONTEXT_WORDS, *words], max_length=ANALYSED)
    if result["score"] >= ENOUGH_SCORE:
        return
    raise WeakPassword(
        f"That password is too easy to guess: {_reason(result['sequence'])}. "
        "Try three or four unrelated words."
    )


def _reason(matches: list[dict]) -> str:
    for match in sorted(matches, key=lambda m: -len(m.get("token", ""))):
        name = match.get("dictionary_name") if match["pattern"] == "dictionary" else None
        reason = _REASONS.get(name or match["pattern"])
        if reason:
            return reason
    return "it is made of common words or patterns"
