"""The TwiML verbs the engine builds for a prompt that waits: where the answer goes, how long
Twilio listens, and the put-through. Wording is not here (call_flows/ and words.py)."""

from __future__ import annotations

from urllib.parse import urlencode

from twilio.twiml.voice_response import Dial, Gather, VoiceResponse

from ivr import phone

# Relative to the document Twilio is playing (always under /voice/), which Twilio resolves the
# way a browser does: so a line served under a path prefix (https://host/ipt/voice/...) keeps it.
STEP_URL = "step?"


def step_url(step: int, node: str, **extra: str) -> str:
    return STEP_URL + urlencode({"s": step, "n": node, **extra})


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
