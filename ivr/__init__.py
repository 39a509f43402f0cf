"""The IPT referral line: a Flask app for Twilio's voice webhooks, intake staff and managers."""

from __future__ import annotations

import logging

from flask import Flask, jsonify

from .config import Settings, load_settings
from .engine import Engine
from .figures import Figures
from .flow import load_flow
from .hours import Hours
from .store import Store, connect

__all__ = ["create_app"]


def create_app(settings: Settings | None = None) -> Flask:
    """Build the app. Settings come from the environment unless given (tests give their own)."""
    settings = settings or load_settings()
    app = Flask(__name__)
    app.config["SETTINGS"] = settings
    app.config["SECRET_KEY"] = settings.secret_key or None
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024  # no webhook or form is anywhere near this
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")

    flow = load_flow(settings.flow_file)  # a broken flow stops start-up, with every problem listed
    store = Store(
        connect(settings.redis_url, settings.redis_socket_timeout),
        call_state_ttl=settings.call_state_ttl,
        retention_seconds=settings.retention_days * 86400,
    )
    app.extensions["ivr.store"] = store
    app.extensions["ivr.flow"] = flow
    hours = Hours.from_settings(settings)
    app.extensions["ivr.engine"] = Engine(
        flow, settings, hours, allocate_reference=store.allocate_reference
    )
    store.figures = Figures(flow, hours, settings.callback_target_working_days)

    from . import api, voice, web

    app.register_blueprint(voice.bp)
    app.register_blueprint(api.bp)
    web.init_app(app)  # staff sign-in, CSRF, staff pages

    @app.get("/healthz")
    def healthz():
        return jsonify(status="ok")

    return app
