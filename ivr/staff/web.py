"""The staff site's wiring: sign-in, CSRF, the admin pages, and friendly error pages.

Error pages are HTML for people, JSON under /api and plain text under /voice (Twilio reads only
the status there), so bad input never shows a traceback.
"""

from __future__ import annotations

import logging

import redis
from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from ivr.staff import admin, auth, csrf

log = logging.getLogger(__name__)


def _error_page(exc: HTTPException):
    if request.path.startswith("/api/"):
        return jsonify(error=exc.name, message=exc.description), exc.code
    if request.path.startswith("/voice/"):
        return exc
    return render_template("error.html", title=exc.name, message=exc.description), exc.code


def _store_unreachable(exc: redis.RedisError):
    """Redis down: say so plainly (webhooks have their own fallback in ivr/line/voice.py)."""
    log.error("staff request failed: Redis unavailable", extra={"path": request.path})
    message = "The queue's database cannot be reached just now. Please try again in a minute."
    if request.path.startswith("/api/"):
        return jsonify(error="Service Unavailable", message=message), 503
    return render_template("error.html", title="Temporarily unavailable", message=message), 503


def init_app(app: Flask) -> None:
    """Sign-in, CSRF and error pages. Areas register their own pages after this (create_app)."""
    csrf.init_app(app)
    auth.init_app(app)
    app.register_blueprint(admin.bp)
    app.register_error_handler(HTTPException, _error_page)
    app.register_error_handler(redis.RedisError, _store_unreachable)


def finish_nav(app: Flask) -> None:
    """The admin link goes last in the navigation, after every area's own links."""
    auth.register_nav(app, "admin.users", "Staff accounts", "admin")
