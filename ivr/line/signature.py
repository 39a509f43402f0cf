"""Checking that a /voice/* request really came from Twilio (X-Twilio-Signature).

Enforced in every environment: there is no debug bypass. The signature is computed over the URL
Twilio requested, which behind a proxy or TLS terminator is not the one Flask sees, so a configured
public base URL takes precedence.
"""

from __future__ import annotations

import hmac
import logging
from functools import wraps

from flask import abort, current_app, request
from twilio.request_validator import (
    SIGNATURE_SETTINGS_HEADER,
    RequestValidator,
    get_signature_algorithm,
)

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
    """Whether the request carries a valid Twilio signature: HMAC-SHA1 with the account's auth
    token, or, when it carries X-Twilio-Webhooks-Signature-Settings (key=<id>,algorithm=...),
    the named algorithm with that SharedKey's secret (TWILIO_WEBHOOK_SHARED_KEYS). An unknown
    key id, or an algorithm the twilio library does not know, is refused."""
    settings = current_app.config["SETTINGS"]
    signature = request.headers.get("X-Twilio-Signature", "")
    if not signature or len(signature) > 200:
        return False
    signing = request.headers.get(SIGNATURE_SETTINGS_HEADER)
    if signing is None:
        secret, algorithm = settings.twilio_auth_token, None
    else:
        secret = shared_keys(settings.twilio_webhook_shared_keys).get(_key_id(signing), "")
        algorithm = get_signature_algorithm(signing)
    if not secret:
        return False
    validator, url = RequestValidator(secret), public_url()
    # One HMAC over the URL as received settles nearly every request (issue 14: a webhook's CPU);
    # the library's validate computes two, over the URL with and without its port, and decides
    # whenever this one does not match (it also refuses an algorithm it does not know).
    try:
        computed = validator.compute_signature(url, request.form, algorithm)
    except ValueError:  # an algorithm the library does not know: validate says no
        computed = ""
    if computed and signature.isascii() and hmac.compare_digest(computed, signature):
        return True
    return validator.validate(url, request.form, signature, algorithm)


def shared_keys(setting: str) -> dict[str, str]:
    """TWILIO_WEBHOOK_SHARED_KEYS as {key id: secret} (comma-separated <id>=<secret> pairs, so
    a key can be rotated: add the new one, switch Twilio over, then drop the old)."""
    pairs = (part.strip().partition("=") for part in setting.split(",") if part.strip())
    return {name.strip(): secret.strip() for name, _, secret in pairs}


def _key_id(signing: str) -> str:
    for part in signing.split(","):
        name, _, value = part.partition("=")
        if name.strip() == "key":
            return value.strip()
    return ""


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
