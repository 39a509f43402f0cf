""" "Call me and connect": Twilio rings the intake worker's phone and, when they answer, dials the
caller with the service's number as caller ID, so the caller sees who is ringing.

The REST call goes through the twilio library's Client, pointed at `twilio_api_base` (tests use
a local fake). The bridging TwiML comes from /voice/bridge, which like every /voice route only
answers requests signed by Twilio, and only for a short-lived random token naming the request.
"""

from __future__ import annotations

import secrets

import redis
from flask import Blueprint, Response, current_app, request
from twilio.base.exceptions import TwilioException
from twilio.twiml.voice_response import VoiceResponse

from ivr.clients.twilio_rest import configured, twilio_client
from ivr.config import Settings
from ivr.line.signature import twilio_only
from ivr.phone import NumberProblem, normalise_uk, spoken_digits
from ivr.store.keys import key

bp = Blueprint("bridge", __name__, url_prefix="/voice")
BRIDGE_TTL = 600  # seconds the worker has to answer their phone


class ConnectError(Exception):
    """The call could not be placed; the message says why, for the worker."""


def worker_number(raw: str) -> str:
    try:
        return normalise_uk(raw)
    except NumberProblem as exc:
        raise ConnectError("Enter your own UK phone number, for example 07700 900123.") from exc


def ring_worker(
    settings: Settings, redis_client, ref: str, worker_phone: str, base_url: str
) -> str:
    """Ask Twilio to ring the worker; returns Twilio's CallSid."""
    if not configured(settings):
        raise ConnectError("Twilio is not configured, so use the phone link instead.")
    token = secrets.token_urlsafe(24)
    redis_client.set(key("bridge", token=token), ref, ex=BRIDGE_TTL)
    base = (settings.public_base_url or base_url).rstrip("/")
    try:
        call = twilio_client(settings).calls.create(
            to=worker_phone,
            from_=settings.service_number,
            url=f"{base}/voice/bridge?t={token}",
            timeout=30,
        )
    except (TwilioException, OSError) as exc:
        raise ConnectError(
            "Twilio did not place the call; try again or use the phone link."
        ) from exc
    return call.sid


@bp.post("/bridge")
@twilio_only
def bridge():
    """The worker has answered: tell them who they are calling, then dial the caller."""
    settings = current_app.config["SETTINGS"]
    store = current_app.extensions["ivr.store"]
    token = request.args.get("t", "")[:64]
    response = VoiceResponse()
    say = {"voice": settings.voice, "language": settings.language}
    try:
        ref = store.redis.get(key("bridge", token=token)) if token else None
        # The number is encrypted at rest; store.callback decrypts it (ivr/store/crypto.py).
        phone = (store.callback(ref) or {}).get("phone") if ref else None
    except redis.RedisError:
        ref, phone = None, None
    if not phone:
        response.say("This connection has expired. Please start it again from the queue.", **say)
        response.hangup()
    else:
        response.say(f"Connecting you to the caller for reference {spoken_digits(ref)}.", **say)
        dial = response.dial(caller_id=settings.service_number, timeout=30)
        dial.number(phone)
    return Response(str(response), mimetype="text/xml")
