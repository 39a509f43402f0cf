"""App-wide security policy: response headers, the trusted-proxy mode, and error answers that
never show a traceback (JSON under /api/, plain text elsewhere)."""

from __future__ import annotations

import logging

from flask import Flask, Response, current_app, jsonify, request
from werkzeug.exceptions import HTTPException, InternalServerError
from werkzeug.middleware.proxy_fix import ProxyFix

from ivr.config import Settings

log = logging.getLogger(__name__)

# Pages may override this per response (Flask's setdefault keeps theirs): e.g. a page that
# really needs an inline style should use a nonce rather than widen the default.
CSP = "default-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",  # for browsers that predate frame-ancestors
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
}
HSTS = "max-age=31536000; includeSubDomains"


def init_app(app: Flask, settings: Settings) -> None:
    if settings.trust_proxy > 0:
        # Opt-in: IVR_TRUST_PROXY is how many proxies we run in front (each appends to
        # X-Forwarded-*); the client's address is read that many hops back, so sign-in
        # throttling counts each person, not the TLS terminator. With IVR_PUBLIC_BASE_URL set
        # (required in production) the Twilio signature is checked against it, never against a
        # forwarded or Host header (ivr/line/signature.py).
        hops = settings.trust_proxy
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)

    every = list(HEADERS.items())
    if settings.is_production:
        every.append(("Strict-Transport-Security", HSTS))
    # Staff pages, CSVs and API answers hold numbers and screening answers: no copy may stay in
    # a shared computer's browser cache or in a proxy.
    uncached = [*every, ("Cache-Control", "no-store")]

    @app.after_request
    def security_headers(response: Response) -> Response:
        # A page's own value wins (as setdefault would), read in one pass over its headers:
        # this runs on every webhook too.
        present = {name.lower() for name in response.headers.keys()}  # noqa: SIM118
        wanted = every if request.path.startswith("/static/") else uncached
        response.headers.extend([(n, v) for n, v in wanted if n.lower() not in present])
        return response

    # HTTP errors and Redis being down are answered by the site's error pages (staff/web.py: JSON
    # under /api, plain under /voice, HTML for staff); this turns anything else into a 500 there.
    @app.errorhandler(Exception)
    def unexpected_error(exc: Exception):
        if isinstance(exc, HTTPException):
            return _as_http_error(exc)
        log.exception("unhandled error", extra={"path": request.path})
        return _as_http_error(InternalServerError("Something went wrong; it has been logged."))


def _as_http_error(exc: HTTPException):
    if request.path.startswith("/api/"):
        return jsonify(error=exc.name, message=exc.description), exc.code
    return current_app.handle_http_exception(exc)
