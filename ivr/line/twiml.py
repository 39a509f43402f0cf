"""The TwiML verbs the engine builds for a prompt that waits: where the answer goes, how long
Twilio listens, and the put-through. Wording is not here (call_flows/ and words.py)."""

from __future__ import annotations

import json
from urllib.parse import quote_plus

from twilio.twiml import TwiML
from twilio.twiml.voice_response import Dial, Gather, VoiceResponse

from ivr import phone

# Relative to the document Twilio is playing (always under /voice/), which Twilio resolves the
# way a browser does: so a line served under a path prefix (https://host/ipt/voice/...) keeps it.
STEP_URL = "step?"


def step_url(step: int, node: str, **extra: str) -> str:
    """What urlencode({"s": step, "n": node, **extra}) gives, without its per-call checks."""
    query = {"s": step, "n": node, **extra}
    return STEP_URL + "&".join(f"{k}={quote_plus(str(v))}" for k, v in query.items())


# Twilio's class token for a string of digits: helps it hear a phone number said aloud.
DIGITS_HINT = "$OOV_CLASS_DIGIT_SEQUENCE"


def gather(
    node_id: str, step: int, one_key: bool, flow_settings: dict, hints: str, settings
) -> Gather:
    """A menu takes one key (# and * included) or words; a number is keyed up to the hash key
    (or said). Speech is always on: some callers cannot use a keypad at all."""
    return Gather(
        input="dtmf speech",
        language=settings.language,
        hints=hints or None,
        speech_timeout="auto",
        num_digits=1 if one_key else phone.MAX_KEYED_DIGITS,
        timeout=flow_settings["gather_timeout" if one_key else "number_timeout"],
        finish_on_key="" if one_key else "#",
        action=step_url(step, node_id),
        method="POST",
        action_on_empty_result=False,
    )


def put_through_caller_id(data: dict, settings) -> str:
    """The caller ID a put-through shows: the number the caller rang (always one of ours), or
    IVR_SERVICE_NUMBER when Twilio's `To` was not E.164. See CALLER_ID_RULE."""
    return data.get("called_number") or settings.service_number


CALLER_ID_RULE = (
    "Put-throughs (<Dial>) show the number the caller rang as caller ID; when Twilio's To is not"
    " E.164 they fall back to IVR_SERVICE_NUMBER ({number}). Twilio accepts only the calling"
    " number, the called number or a number verified on the account (error 13214): make sure"
    " {number} is a Twilio number of this account or a verified caller ID, or put-throughs fail."
)


def caller_id_rule(settings) -> str:
    return CALLER_ID_RULE.format(number=settings.service_number)


def dial(response: VoiceResponse, node_id: str, step: int, caller_id: str | None) -> Dial:
    """The put-through; Twilio posts its DialCallStatus back to the same node."""
    return response.dial(
        action=step_url(step, node_id, dial="1"),
        method="POST",
        timeout=30,
        caller_id=caller_id or None,
    )


def safe_message(phrases: list[str], voice: str, language: str) -> VoiceResponse:
    """The answer that needs nothing but the flow file: the crisis numbers, then goodbye.

    Served at /voice/fallback and on any fault, and written out by `ivr flows fallback-twiml`
    as the static document the number's fallback URL points at (hosted outside this app)."""
    response = VoiceResponse()
    for line in phrases:
        response.say(line, voice=voice, language=language)
    response.hangup()
    return response


# --- writing TwiML out -------------------------------------------------------------------------
# What xml.etree's serializer escapes, in text and in attribute values.
_TEXT = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
_ATTRIBUTE = str.maketrans(
    {
        "&": "&amp;",
        "<": "&lt;",
        ">": "&gt;",
        '"': "&quot;",
        "\r": "&#13;",
        "\n": "&#10;",
        "\t": "&#09;",
    }
)


def to_xml(response: TwiML) -> str:
    """The same text as str(response), character for character, written directly.

    The twilio library builds an ElementTree and serialises it, which was a tenth of a webhook's
    CPU (benchmarks/RESULTS.md, issue 14). This walks the library's own objects (name, sorted
    attributes, value, verbs) with ElementTree's rules: text after a child is that child's tail,
    a later string replaces an earlier one, and an element with no text or children is `<X />`.
    tests/test_twiml_verbs.py compares the two for every prompt of every flow."""
    out = ['<?xml version="1.0" encoding="UTF-8"?>']
    _write(response, out)
    return "".join(out)


def _write(node: TwiML, out: list[str]) -> None:
    out.append("<" + node.name)
    for name in sorted(node.attrs):
        value = node.attrs[name]
        text = str(value).lower() if isinstance(value, bool) else str(value)
        out.append(f' {name}="{text.translate(_ATTRIBUTE)}"')
    value = json.dumps(node.value) if isinstance(node.value, dict) else node.value
    text = value or None
    children: list[list] = []  # [verb, tail]
    for verb in node.verbs:
        if isinstance(verb, str):
            if children:
                children[-1][1] = verb
            else:
                text = verb
        else:
            children.append([verb, None])
    if not text and not children:
        out.append(" />")
        return
    out.append(">")
    if text:
        out.append(text.translate(_TEXT))
    for child, tail in children:
        _write(child, out)
        if tail:
            out.append(tail.translate(_TEXT))
    out.append(f"</{node.name}>")
