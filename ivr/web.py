"""The staff site's wiring: sign-in, CSRF, admin pages and friendly error pages.

Error pages are HTML for people, JSON under /api and plain text under /voice (Twilio reads only
the status there), so bad input never shows a traceback.
"""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from . import admin, auth, csrf


def _error_page(exc: HTTPException):
    if request.path.startswith("/api/"):
        return jsonify(error=exc.name, message=exc.description), exc.code
    if request.path.startswith("/voice/"):
        return exc
    return render_template("error.html", title=exc.name, message=exc.description), exc.code


def init_app(app: Flask) -> None:
    csrf.init_app(app)
    auth.init_app(app)
    app.register_blueprint(admin.bp)
    auth.register_nav(app, "admin.users", "Staff accounts", "admin")
    app.register_error_handler(HTTPException, _error_page)
