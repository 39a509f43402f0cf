"""Cross-site request forgery protection for the staff pages.

Each session holds one random token; every form carries it in a hidden field `csrf_token` (or a
script sends it as the X-CSRF-Token header). Every POST, PUT, PATCH or DELETE outside /voice
(signed by Twilio) and /api (bearer tokens, no cookies) must carry the session's token.
"""

from __future__ import annotations

import hmac
import secrets

from flask import Flask, render_template, request, session
from markupsafe import Markup

UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
EXEMPT_PREFIXES = ("/voice/", "/api/")
FIELD = "csrf_token"


def csrf_token() -> str:
    """This session's token, made on first use."""
    token = session.get(FIELD)
    if not token:
        token = session[FIELD] = secrets.token_urlsafe(32)
    return token


def csrf_field() -> Markup:
    """The hidden form field, for templates: {{ csrf_field() }}."""
    return Markup('<input type="hidden" name="{}" value="{}">').format(FIELD, csrf_token())


def _token_sent() -> str:
    return request.headers.get("X-CSRF-Token") or request.form.get(FIELD) or ""


def _check():
    if request.method not in UNSAFE_METHODS or request.path.startswith(EXEMPT_PREFIXES):
        return None
    if request.path == "/logout" and "username" not in session:
        return None  # nobody to sign out (the cookie expired under an open page): nothing to forge
    expected = session.get(FIELD)
    sent = _token_sent()
    if expected and sent and hmac.compare_digest(expected.encode(), sent.encode()):
        return None
    message = (
        "This form has expired or did not come from this site, so nothing was changed. "
        "Go back, reload the page and try again."
    )
    return render_template("error.html", title="Form expired", message=message), 400


def init_app(app: Flask) -> None:
    app.before_request(_check)
    app.jinja_env.globals.update(csrf_token=csrf_token, csrf_field=csrf_field)
