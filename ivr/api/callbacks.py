"""The intake actions in the JSON API (bearer tokens), for clinical record systems:
GET /api/v1/callbacks/<id>, POST .../claim, .../release and .../outcome.

Same service layer as the pages; the acting party is recorded as "api:<token name>".
Outcome takes JSON {"outcome": ..., "note": ...} (or the same as form fields); the outcome
"asked_for_time" also takes "next_attempt_at" (ISO 8601, e.g. 2026-11-27T14:30:00+00:00).
"""

from __future__ import annotations

import time

from flask import Blueprint, g, jsonify, request
from werkzeug.exceptions import HTTPException

from ivr.api.routes import api_tz, scope_required, token_required
from ivr.api.timefmt import iso_times
from ivr.intake.service import Intake, IntakeError, intake

bp = Blueprint("intake_api", __name__, url_prefix="/api/v1")

# Fields not sent over the API: lease bookkeeping is internal; the rest is the request itself.
_INTERNAL = {"is_update", "age_seconds", "phone_masked", "preferred_label"}


@bp.errorhandler(HTTPException)
def _json_error(exc: HTTPException):
    return jsonify(error=exc.name, message=exc.description), exc.code


@bp.errorhandler(IntakeError)
def _intake_error(exc: IntakeError):
    return jsonify(error="refused", message=exc.message, **exc.details), exc.status


def _actor() -> str:
    return f"api:{g.api_client}"


def api_times(service: Intake, cb: dict, now: float | None = None) -> dict:
    """`target_at` (urgent or routine) and `next_attempt_at` (when the next attempt is or was
    due; none before any was scheduled, once escalated or closed), for iso_times to write as
    ISO 8601 with the offset."""
    seen = service.describe(cb, now or time.time())
    return {"target_at": seen.get("target_at"), "next_attempt_at": seen["next_attempt_at"] or None}


def _public(cb: dict) -> dict:
    out = {k: v for k, v in cb.items() if k not in _INTERNAL}
    out["attempts_list"] = out.pop("attempt_list", [])
    out.update(api_times(intake(), cb))
    return iso_times(out, api_tz())


@bp.get("/callbacks/<ref>")
@token_required
@scope_required("callbacks:read")
def get_callback(ref: str):
    return jsonify(callback=_public(intake().get(ref, _actor())))


@bp.post("/callbacks/<ref>/claim")
@token_required
@scope_required("callbacks:write")
def claim(ref: str):
    return jsonify(callback=_public(intake().claim(ref, _actor())))


@bp.post("/callbacks/<ref>/release")
@token_required
@scope_required("callbacks:write")
def release(ref: str):
    return jsonify(callback=_public(intake().release(ref, _actor())))


@bp.post("/callbacks/<ref>/outcome")
@token_required
@scope_required("callbacks:write")
def outcome(ref: str):
    body = request.get_json(silent=True) if request.is_json else request.form
    if not isinstance(body, dict) and not hasattr(body, "get"):
        return jsonify(error="Bad Request", message="Send a JSON object."), 400
    unknown = sorted(set(body) - {"outcome", "note", "next_attempt_at"})
    if unknown:  # a misspelt "note" must not record the attempt without it
        names = ", ".join(unknown)[:200]
        message = (
            f"Unknown field(s): {names}. Send outcome and, optionally, note (and next_attempt_at"
            " with asked_for_time)."
        )
        return jsonify(error="Bad Request", message=message), 400
    note = body.get("note") or ""
    asked_for = body.get("next_attempt_at") or ""
    if not all(isinstance(v, str) for v in (note, body.get("outcome", ""), asked_for)):
        message = "outcome, note and next_attempt_at must be strings."
        return jsonify(error="Bad Request", message=message), 400
    cb = intake().record_outcome(
        ref, _actor(), body.get("outcome") or "", note, asked_for=asked_for
    )
    return jsonify(callback=_public(cb))
