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


def gather(node_id: str, step: int, one_key: bool, flow_settings: dict) -> Gather:
    """A menu takes one key (# and * included); a number is keyed up to the hash key."""
    return Gather(
        input="dtmf",
        num_digits=1 if one_key else phone.MAX_KEYED_DIGITS,
        timeout=flow_settings["gather_timeout" if one_key else "number_timeout"],
        finish_on_key="" if one_key else "#",
        action=step_url(step, node_id),
        method="POST",
        action_on_empty_result=False,
    )


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
