"""The service's Twilio number, read and set through Twilio's REST API (the twilio library, via
ivr.clients.twilio_rest): what this deployment wants on it, what it has, and the change.

Twilio's IncomingPhoneNumber resource has no list of status-callback events: Twilio calls a
number's status callback once, when the call has ended, which is the one /voice/status records.
"""

from __future__ import annotations

from twilio.base.exceptions import TwilioException

from ivr.clients.twilio_rest import configured, twilio_client
from ivr.config import Settings

# What `ivr number configure` sets and `ivr number check` compares, in Twilio's field names.
FIELDS = (
    "voice_url",
    "voice_method",
    "voice_fallback_url",
    "voice_fallback_method",
    "status_callback",
    "status_callback_method",
    "voice_application_sid",  # a TwiML app on the number would override voice_url: cleared
)


class NumberError(RuntimeError):
    """The number cannot be read or changed; the message says why and what to do."""


def wanted(settings: Settings) -> dict[str, str]:
    """The number's voice set-up that points it at this deployment."""
    base = settings.public_base_url.rstrip("/")
    return {
        "voice_url": f"{base}/voice/incoming",
        "voice_method": "POST",
        "voice_fallback_url": settings.fallback_url,
        # A static host (or a TwiML Bin) serves the document to GET; many refuse POST.
        "voice_fallback_method": "GET",
        "status_callback": f"{base}/voice/status",
        "status_callback_method": "POST",
        "voice_application_sid": "",
    }


def _number_resource(settings: Settings):
    if not configured(settings):
        raise NumberError("set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN (the account's own)")
    client = twilio_client(settings)
    try:
        found = client.incoming_phone_numbers.list(phone_number=settings.service_number, limit=2)
    except TwilioException as exc:
        raise NumberError(f"Twilio refused to list the account's numbers: {exc}") from exc
    except OSError as exc:
        raise NumberError(
            f"cannot reach Twilio's API at {settings.twilio_api_base}: {exc}"
        ) from exc
    if not found:
        raise NumberError(
            f"IVR_SERVICE_NUMBER {settings.service_number} is not a number on account"
            f" {settings.twilio_account_sid}: check both settings"
        )
    return found[0]


def read(settings: Settings) -> dict[str, str]:
    """The number's current voice set-up (Twilio's field names; empty string when unset)."""
    resource = _number_resource(settings)
    current = {name: getattr(resource, name, None) or "" for name in FIELDS}
    current["trunk_sid"] = getattr(resource, "trunk_sid", None) or ""
    return current


def configure(settings: Settings, dry_run: bool = False) -> list[tuple[str, str, str]]:
    """Point the number at this deployment; returns (field, was, now) for what changed (or, with
    dry_run, what would)."""
    problems = []
    if not settings.public_base_url.startswith("https://"):
        problems.append("IVR_PUBLIC_BASE_URL must be this deployment's https:// address")
    if not settings.fallback_url.startswith("https://"):
        problems.append(
            "IVR_FALLBACK_URL must be the https:// address of the fallback TwiML, hosted outside"
            " this app (write it with `ivr flows fallback-twiml -o fallback.xml`)"
        )
    if problems:
        raise NumberError("; ".join(problems))
    resource = _number_resource(settings)
    current = {name: getattr(resource, name, None) or "" for name in FIELDS}
    todo = [(n, current[n], v) for n, v in wanted(settings).items() if current[n] != v]
    if todo and not dry_run:
        try:
            resource.update(**{name: value for name, _, value in todo})
        except TwilioException as exc:
            raise NumberError(f"Twilio refused the change: {exc}") from exc
        except OSError as exc:
            raise NumberError(f"cannot reach Twilio's API: {exc}") from exc
    return todo
