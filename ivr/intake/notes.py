"""Notes staff write on callback attempts: how long they may be and what is taken out.

A note is clinical record material, so it is never cut short: one over the limit is refused and
the worker keeps their text to shorten. Bidirectional control characters (Unicode's Bidi_Control
set: U+061C, U+200E, U+200F, U+202A-U+202E, U+2066-U+2069) are removed before a note is stored
or shown: pasted from elsewhere, they reverse or reorder text on the page and in the summary
("Trojan Source", CVE-2021-42574), so a note could read as something it does not say.
"""

from __future__ import annotations

import re

MAX_NOTE = 2000
BIDI_CONTROLS = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


class NoteTooLong(ValueError):
    """The note is over MAX_NOTE characters; the message says by how much."""


def clean(note: str | None) -> str:
    """The note as it is shown and stored: bidirectional controls out, ends trimmed."""
    return BIDI_CONTROLS.sub("", note or "").strip()


def checked(note: str | None) -> str:
    """`clean(note)`, or NoteTooLong if it is longer than MAX_NOTE characters."""
    text = clean(note)
    if len(text) > MAX_NOTE:
        raise NoteTooLong(
            f"The note is {len(text):,} characters; notes hold at most {MAX_NOTE:,}. "
            "Nothing was saved: shorten the note and record the attempt again."
        )
    return text
