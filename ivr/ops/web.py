"""/healthz (cheap: the process is up; ?deep=1 adds Redis, the journal and the queue) and
/metrics (Prometheus text, for an API token with the metrics:read scope)."""

from __future__ import annotations

import hashlib
import time

import redis
from flask import Blueprint, Flask, Response, abort, current_app, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST

from ivr import metrics
from ivr.api.tokens import check_token
from ivr.ops import health

bp = Blueprint("ops", __name__)
SCRAPER_GRACE_SECONDS = 3600
_recently_checked: dict[str, tuple[float, dict | None]] = {}  # token digest -> (until, record)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def init_app(app: Flask) -> None:
    metrics.init_app(app)
    app.register_blueprint(bp)


@bp.get("/healthz")
def healthz():
    if request.args.get("deep") not in ("1", "true", "yes"):
        return jsonify(status="ok")
    ext = current_app.extensions
    report, healthy = health.deep(ext["ivr.store"], ext["ivr.journal"])
    return jsonify(report), 200 if healthy else 503


@bp.get("/metrics")
def prometheus_metrics():
    ext = current_app.extensions
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip() if scheme.lower() == "bearer" else ""
    try:
        record = check_token(ext["ivr.store"].redis, token) if token else None
        if record is None:  # a revoked token is forgotten here too
            _recently_checked.pop(_digest(token), None)
        else:  # only good tokens are remembered: guesses must not fill the memory
            if len(_recently_checked) > 100:
                _recently_checked.clear()
            _recently_checked[_digest(token)] = (time.monotonic() + SCRAPER_GRACE_SECONDS, record)
    except redis.RedisError:
        # An outage is when the figures matter most: a token this process let in lately still
        # gets them while the token store (Redis) cannot be asked.
        metrics.record_redis_error("metrics")
        until, record = _recently_checked.get(_digest(token), (0.0, None))
        if until < time.monotonic():
            abort(503, "The token store (Redis) is unavailable.")
    if record is None:
        abort(401, "Send an API token with the metrics:read scope: Authorization: Bearer <token>.")
    if "metrics:read" not in (record.get("scopes") or ()):
        abort(403, "This token does not have the metrics:read scope.")
    body = metrics.exposition(lambda: health.live_families(ext["ivr.store"], ext["ivr.journal"]))
    return Response(body, content_type=CONTENT_TYPE_LATEST)
