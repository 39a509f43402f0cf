"""The IPT referral line: a Flask app for Twilio's voice webhooks, intake staff and managers."""

from __future__ import annotations

import logging

from flask import Flask

from ivr.config import Settings, load_settings
from ivr.line.engine import Engine
from ivr.line.flow import load_flow
from ivr.line.hours import Hours
from ivr.line.limits import callback_checker
from ivr.line.twiml import caller_id_rule
from ivr.outage.journal import Journal
from ivr.outage.recovery import Deliverer, ReferencePool
from ivr.reports.figures import Figures
from ivr.store.crypto import DataKeys
from ivr.store.redis_store import Store, client_for
from ivr.store.special import private_nodes, urgent_aliases

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
        client_for(settings),
        call_state_ttl=settings.call_state_ttl,
        retention_seconds=settings.retention_days * 86400,
        keys=data_keys,
        wait_replicas=settings.wait_replicas,
        wait_ms=settings.redis_wait_ms,
    )
    app.extensions["ivr.store"] = store
    app.extensions["ivr.flow"] = flow
    hours = Hours.from_settings(settings)
    # Faults (outage/recovery.py): references are remembered per call, so a step whose save timed
    # out after Redis applied it still reads the caller the reference Redis has.
    pool = ReferencePool(data_keys)
    app.extensions["ivr.engine"] = Engine(
        flow,
        settings,
        hours,
        allocate_reference=pool.allocator(store),
        callback_limit=callback_checker(store, settings.callbacks_per_day),
    )
    logging.getLogger("ivr.line").info(caller_id_rule(settings))
    store.figures = Figures(flow, hours, settings.callback_target_working_days)
    store.private_nodes = private_nodes(flow)
    store.urgent_aliases = urgent_aliases(flow)
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

    _register_areas(app, settings)

    return app


def _register_areas(app: Flask, settings: Settings) -> None:
    """Each area's web layer: the phone line, the staff site, intake, reports, the JSON API.

    The one place that knows every area; the areas themselves import only the ones below them
    (the order is written down and checked in tests/test_layout.py).
    """
    from ivr.api import callbacks as callbacks_api
    from ivr.api import routes as api
    from ivr.intake import call_connect
    from ivr.intake import pages as intake_pages
    from ivr.line import voice
    from ivr.ops import web as ops_web
    from ivr.reports import pages as reports_pages
    from ivr.signoff import pages as signoff_pages
    from ivr.softphone import pages as softphone_pages
    from ivr.staff import auth, security, web

    security.init_app(app, settings)
    app.register_blueprint(voice.bp)
    app.register_blueprint(api.bp)
    web.init_app(app)  # staff sign-in, CSRF, error pages
    app.register_blueprint(intake_pages.bp)
    app.register_blueprint(callbacks_api.bp)
    app.register_blueprint(call_connect.bp)
    auth.register_nav(app, "intake.queue", "Callback queue", "intake")
    reports_pages.init_app(app)  # manager reports; links after the queue, before the admin one
    signoff_pages.init_app(app)  # /flows: the flow's picture, script and approval
    softphone_pages.init_app(app)  # /try: the browser softphone
    ops_web.init_app(app)  # /healthz, /metrics and webhook timings
    web.finish_nav(app)
