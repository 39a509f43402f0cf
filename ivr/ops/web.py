"""/healthz (cheap: the process is up; ?deep=1 adds Redis, the journal and the queue) and
/metrics (Prometheus text, for an API token with the metrics:read scope)."""

from __future__ import annotations

import redis
from flask import Blueprint, Flask, Response, abort, current_app, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST

from ivr.api.tokens import check_token
from ivr.ops import health, metrics

bp = Blueprint("ops", __name__)


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
    try:
        record = (
            check_token(ext["ivr.store"].redis, token.strip())
            if scheme.lower() == "bearer"
            else None
        )
    except redis.RedisError:  # Redis is down: nobody can be let in, but say so plainly
        metrics.record_redis_error("metrics")
        abort(503, "The token store (Redis) is unavailable.")
    if record is None:
        abort(401, "Send an API token with the metrics:read scope: Authorization: Bearer <token>.")
    if "metrics:read" not in (record.get("scopes") or ()):
        abort(403, "This token does not have the metrics:read scope.")
    body = metrics.exposition(lambda: health.live_families(ext["ivr.store"], ext["ivr.journal"]))
    return Response(body, content_type=CONTENT_TYPE_LATEST)
