"""The JSON API under /api/v1 (bearer tokens): callback requests and call logs."""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta
from datetime import time as day_time
from functools import wraps
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException

from ivr.api.timefmt import iso_times
from ivr.api.tokens import DEFAULT_SCOPES, check_token
from ivr.intake import audit
from ivr.line.calls import OUTCOMES
from ivr.reports import call_logs
from ivr.store.redis_store import Store

bp = Blueprint("api", __name__, url_prefix="/api/v1")
STATUSES = {"queued", "claimed", "scheduled", "escalated", "closed"}


def _store() -> Store:
    return current_app.extensions["ivr.store"]


@bp.errorhandler(HTTPException)
def _json_error(exc: HTTPException):
    return jsonify(error=exc.name, message=exc.description), exc.code


QUERY_PARAMS = {
    "limit",
    "cursor",
    "status",
    "start",
    "end",
    "outcome",
}  # every one any endpoint takes


@bp.before_request
def _known_params_only():
    unknown = sorted(set(request.args) - QUERY_PARAMS)
    if unknown:
        abort(400, f"unknown query parameter(s): {', '.join(unknown)[:200]}.")


def token_required(view):
    @wraps(view)
    def checked(*args, **kwargs):
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        # The scheme name is case-insensitive (RFC 9110); some clients send "bearer".
        record = check_token(_store().redis, token.strip()) if scheme.lower() == "bearer" else None
        if record is None:
            abort(401, "Send a valid API token: Authorization: Bearer <token>.")
        g.api_client = record["name"]
        g.api_scopes = set(record.get("scopes") or DEFAULT_SCOPES)  # older tokens: all data
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
            call_logs.cursor_score(score)
        except call_logs.BadCursor:
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
    # A page of full numbers and answers is a read of each: one audit entry names them all.
    if items:
        refs = [cb["id"] for cb in items]
        audit.record_listing(_store().redis, refs, time.time(), f"api:{g.api_client}")
    return jsonify(callbacks=[_public_callback(cb) for cb in items], next_cursor=next_cursor)


def _public_callback(cb: dict) -> dict:
    from ivr.api.callbacks import api_times  # a request as the API shows it
    from ivr.intake.service import intake

    out = {k: v for k, v in cb.items() if k not in ("is_update",)}
    out.update(api_times(intake(), cb))
    return iso_times(out, api_tz())


def api_tz():
    """The zone API timestamps are written in (the service's own, with its offset)."""
    return ZoneInfo(current_app.config["SETTINGS"].timezone)


@bp.get("/calls")
@token_required
@scope_required("calls:read")
def list_calls():
    """Call logs newest first: ?start=&end= (local dates, inclusive), ?outcome=, ?cursor=, ?limit=.

    The caller's number is masked to its last three digits, as on the managers' pages.
    """
    limit, _ = _page_args()
    low, high = float("-inf"), float("inf")
    try:
        if request.args.get("start"):
            low = _local_midnight(date.fromisoformat(request.args["start"]))
        if request.args.get("end"):
            high = _local_midnight(date.fromisoformat(request.args["end"]) + timedelta(days=1))
    except (ValueError, OverflowError):  # OverflowError: the day after 9999-12-31
        abort(400, "start and end must be dates like 2025-01-31.")
    outcome = request.args.get("outcome") or None
    if outcome is not None and outcome not in OUTCOMES:
        abort(400, f"outcome must be one of {', '.join(OUTCOMES)}.")
    try:
        calls, next_cursor = call_logs.page(
            _store().redis, low, high, outcome, request.args.get("cursor") or None, limit
        )
    except call_logs.BadCursor:
        abort(400, "cursor is not one this API gave out.")
    return jsonify(calls=iso_times(calls, api_tz()), next_cursor=next_cursor)


def _local_midnight(day: date) -> float:
    tz = api_tz()
    return datetime.combine(day, day_time(0), tzinfo=tz).timestamp()
