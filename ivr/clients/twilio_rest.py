"""The twilio library's REST Client, pointed at `twilio_api_base` (tests: a local fake)."""

from __future__ import annotations

from twilio.rest import Client

from ivr.config import Settings


def configured(settings: Settings) -> bool:
    """Whether REST calls to Twilio can be made at all (an account SID and its auth token)."""
    return bool(settings.twilio_account_sid and settings.twilio_auth_token)


def twilio_client(settings: Settings) -> Client:
    client = Client(settings.twilio_account_sid, settings.twilio_auth_token)
    client.api.base_url = settings.twilio_api_base.rstrip("/")
    return client
