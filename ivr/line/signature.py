"""Checking that a /voice/* request really came from Twilio (X-Twilio-Signature).

Enforced in every environment: there is no debug bypass. The signature is computed over the URL
Twilio requested, which behind a proxy or TLS terminator is not the one Flask sees, so a configured
public base URL takes precedence.
"""

from __future__ import annotations

import logging
from functools import wraps

from flask import abort, current_app, request
from twilio.request_validator import RequestValidator

log = logging.getLogger(__name__)


def public_url() -> str:
    """The URL Twilio used for this request."""
    base = current_app.config["SETTINGS"].public_base_url.rstrip("/")
    if not base:  # (with IVR_TRUST_PROXY=1, scheme and host come from X-Forwarded-*)
        base = request.host_url.rstrip("/") + request.root_path
    # The query exactly as sent: request.url re-quotes it, and Twilio signed the raw bytes.
    query = request.query_string.decode("latin-1")
    return base + request.path + ("?" + query if query else "")


def is_from_twilio() -> bool:
    token = current_app.config["SETTINGS"].twilio_auth_token
    signature = request.headers.get("X-Twilio-Signature", "")
    if not token or not signature or len(signature) > 200:
        return False
    return RequestValidator(token).validate(public_url(), request.form, signature)


def twilio_only(view):
    @wraps(view)
    def checked(*args, **kwargs):
        if not is_from_twilio():
            log.warning(
                "rejected an unsigned or forged voice request", extra={"path": request.path}
            )
            abort(403, "This address only answers signed requests from Twilio.")
        return view(*args, **kwargs)

    return checked
