"""The JSON API under /api/v1 (bearer tokens): callback requests and call logs."""

from __future__ import annotations

from functools import wraps

from flask import Blueprint, abort, current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException

from .keys import key
from .store import Store
from .tokens import SCOPES, check_token

bp = Blueprint("api", __name__, url_prefix="/api/v1")
STATUSES = {"queued", "claimed", "scheduled", "closed"}


def _store() -> Store:
    return current_app.extensions["ivr.store"]


@bp.errorhandler(HTTPException)
def _json_error(exc: HTTPException):
    return jsonify(error=exc.name, message=exc.description), exc.code


QUERY_PARAMS = {"limit", "cursor", "status"}  # every parameter any endpoint here takes


@bp.before_request
def _known_params_only():
    unknown = sorted(set(request.args) - QUERY_PARAMS)
    if unknown:
        abort(400, f"unknown query parameter(s): {', '.join(unknown)[:200]}.")


def token_required(view):
    @wraps(view)
    def checked(*args, **kwargs):
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        record = check_token(_store().redis, token.strip()) if scheme == "Bearer" else None
        if record is None:
            abort(401, "Send a valid API token: Authorization: Bearer <token>.")
        g.api_client = record["name"]
        g.api_scopes = set(record.get("scopes") or SCOPES)  # older tokens: every scope
        return view(*args, **kwargs)

    return checked


def scope_required(scope: str):
    """Goes under @token_required: the token must have been created with this scope."""

    def wrap(view):
        @wraps(view)
        def checked(*args, **kwargs):
            if scope not in g.api_scopes:
                abort(403, f"This token does not have the {scope} scope.")
            return view(*args, **kwargs)

        return checked

    return wrap


def _page_args() -> tuple[int, str | None]:
    settings = current_app.config["SETTINGS"]
    raw_limit = request.args.get("limit", str(settings.api_page_size))
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= 200:
        abort(400, "limit must be a whole number from 1 to 200.")
    cursor = request.args.get("cursor") or None
    if cursor is not None:
        score, _, ref = cursor.partition(":")
        try:
            float(score)
        except ValueError:
            abort(400, "cursor is not one this API gave out.")
        if len(cursor) > 100 or not ref.isalnum():
            abort(400, "cursor is not one this API gave out.")
    return int(raw_limit), cursor


@bp.get("/callbacks")
@token_required
@scope_required("callbacks:read")
def list_callbacks():
    limit, cursor = _page_args()
    status = request.args.get("status") or None
    if status is not None and status not in STATUSES:
        abort(400, f"status must be one of {', '.join(sorted(STATUSES))}.")
    items, next_cursor = _store().list_callbacks(status, cursor, limit)
    return jsonify(callbacks=[_public_callback(cb) for cb in items], next_cursor=next_cursor)


def _public_callback(cb: dict) -> dict:
    out = {k: v for k, v in cb.items() if k not in ("is_update",)}
    return out


@bp.get("/calls")
@token_required
@scope_required("calls:read")
def list_calls():
    limit, cursor = _page_args()
    store = _store()
    high = "+inf"
    if cursor:
        high = "(" + cursor.partition(":")[0]
    rows = store.redis.zrevrangebyscore(
        key("calls_by_start"), high, "-inf", start=0, num=limit + 1, withscores=True
    )
    page = rows[:limit]
    with store.redis.pipeline(transaction=False) as pipe:
        for sid, _ in page:
            pipe.hgetall(key("call_log", sid=sid))
        logs = pipe.execute()
    calls = [
        {
            "call_sid": sid,
            **{k: v for k, v in log.items() if k != "from_masked"},
            "from": log.get("from_masked", ""),
        }
        for (sid, _), log in zip(page, logs, strict=True)
    ]
    next_cursor = f"{page[-1][1]!r}:{page[-1][0]}" if len(rows) > limit else None
    return jsonify(calls=calls, next_cursor=next_cursor)
