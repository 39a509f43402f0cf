"""The reference by text message: sent through Twilio's REST API from IVR_SERVICE_NUMBER, on a
thread of its own, so a slow or failing Twilio never holds up or breaks the call. The caller has
already been told their reference aloud. Nothing about the number goes in a log."""

from __future__ import annotations

import logging
import threading

from ivr.clients.twilio_rest import configured, twilio_client
from ivr.config import Settings

log = logging.getLogger(__name__)


def send(settings: Settings, to: str, body: str) -> bool:
    """Send one text; False (and a log line without the number) if it could not be sent."""
    if not configured(settings):
        log.warning("reference text not sent: no Twilio account configured")
        return False
    try:
        twilio_client(settings).messages.create(to=to, from_=settings.service_number, body=body)
    except Exception as exc:  # noqa: BLE001 (any failure: the caller has heard the reference)
        log.warning("reference text not sent", extra={"error": type(exc).__name__})
        return False
    return True


def send_in_background(settings: Settings, to: str, body: str) -> threading.Thread:
    thread = threading.Thread(target=send, args=(settings, to, body), daemon=True)
    thread.start()
    return thread
