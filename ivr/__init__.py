"""The IPT referral line: a Flask app for Twilio's voice webhooks, intake staff and managers."""

from __future__ import annotations

import logging

from flask import Flask, jsonify

from ivr.config import Settings, load_settings
from ivr.line.engine import Engine
from ivr.line.flow import load_flow
from ivr.line.hours import Hours
from ivr.outage.journal import Journal
from ivr.outage.recovery import Deliverer, ReferencePool
from ivr.reports.figures import Figures
from ivr.store.crypto import DataKeys
from ivr.store.redis_store import Store, connect

__all__ = ["create_app"]


def create_app(settings: Settings | None = None) -> Flask:
    """Build the app. Settings come from the environment unless given (tests give their own)."""
    settings = settings or load_settings()
    app = Flask(__name__)
    app.config["SETTINGS"] = settings
    app.config["SECRET_KEY"] = settings.secret_key or None
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024  # no webhook or form is anywhere near this
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")

    data_keys = DataKeys.from_settings(settings)
    flow = load_flow(settings.flow_file)  # a broken flow stops start-up, with every problem listed
    store = Store(
        connect(settings.redis_url, settings.redis_socket_timeout),
        call_state_ttl=settings.call_state_ttl,
        retention_seconds=settings.retention_days * 86400,
        keys=data_keys,
    )
    app.extensions["ivr.store"] = store
    app.extensions["ivr.flow"] = flow
    hours = Hours.from_settings(settings)
    # Faults (ivr/recovery.py): references are remembered per call, so a step whose save timed
    # out after Redis applied it still reads the caller the reference Redis has.
    pool = ReferencePool(data_keys)
    app.extensions["ivr.engine"] = Engine(
        flow, settings, hours, allocate_reference=pool.allocator(store)
    )
    store.figures = Figures(flow, hours, settings.callback_target_working_days)
    app.extensions["ivr.degraded_engine"] = Engine(
        flow, settings, hours, allocate_reference=pool.take
    )
    app.extensions["ivr.keys"] = data_keys
    app.extensions["ivr.references"] = pool
    journal = Journal(settings.journal_dir, data_keys)
    app.extensions["ivr.journal"] = journal
    app.extensions["ivr.deliverer"] = Deliverer(store, journal, settings.journal_delivery_interval)
    if journal.files():  # requests left by an earlier or crashed process: deliver them
        app.extensions["ivr.deliverer"].ensure_running()

    from ivr.api import routes as api
    from ivr.line import voice
    from ivr.staff import security, web

    security.init_app(app, settings)

    app.register_blueprint(voice.bp)
    app.register_blueprint(api.bp)
    web.init_app(app)  # staff sign-in, CSRF, staff pages

    @app.get("/healthz")
    def healthz():
        return jsonify(status="ok")

    return app
