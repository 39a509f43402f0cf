"""/try: the softphone page and the JSON steps its script takes (call, keys, silence, speech,
hang up). Open in development; in production only for signed-in managers and admins. Every POST
carries the session's CSRF token (ivr/staff/csrf.py checks it before these views run).
"""

from __future__ import annotations

import re
import secrets
from functools import wraps

from flask import Blueprint, current_app, jsonify, render_template, request, session

from ivr.softphone.calls import CALLER_IDS, SoftphoneCalls, SoftphoneError
from ivr.staff.auth import role_required
from ivr.twilio_sim.phone import SimulatedCall, TwimlError

bp = Blueprint("softphone", __name__)
KEYS = re.compile(r"^[0-9*#]{1,20}$")
MAX_SPEECH = 200
SPEECH_MISSING = "Speech input is not available on this line yet: use the keypad."


def _allowed(view):
    """Anyone in development; managers and admins in production."""
    gated = role_required("manager")(view)

    @wraps(view)
    def checked(*args, **kwargs):
        if current_app.config["SETTINGS"].is_production:
            return gated(*args, **kwargs)
        return view(*args, **kwargs)

    return checked


def _calls() -> SoftphoneCalls:
    return current_app.extensions["ivr.softphone"]


def _owner() -> str:
    """Ties test calls to this browser session: nobody else can step through them."""
    if "try_owner" not in session:
        session["try_owner"] = secrets.token_urlsafe(16)
    return session["try_owner"]


def _body() -> dict:
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else {}


def _answer(sid: str, sim: SimulatedCall, status: int = 200):
    waiting = sim.waiting
    return jsonify(
        call=sid,
        lines=[line for line in sim.transcript if line],
        ended=sim.ended,
        waiting=None
        if waiting is None
        else {
            "timeout": waiting.timeout,
            "digits": waiting.num_digits,
            "finish": waiting.finish_on_key,
        },
    ), status


def _error(exc: SoftphoneError):
    return jsonify(error=exc.message), exc.status


def _step(sid: str, action):
    try:
        sim = _calls().step(sid, _owner(), action)
    except SoftphoneError as exc:
        return _error(exc)
    except TwimlError as exc:
        return jsonify(error=f"The call cannot take that now: {exc}"), 409
    return _answer(sid, sim)


@bp.get("/try")
@_allowed
def try_page():
    settings = current_app.config["SETTINGS"]
    return render_template(
        "softphone/try.html",
        title="Try the line",
        callers=CALLER_IDS,
        speech=hasattr(SimulatedCall, "speak"),
        speech_missing=SPEECH_MISSING,
        production=settings.is_production,
    )


@bp.post("/try/calls")
@_allowed
def start_call():
    try:
        sid, sim = _calls().start(_owner(), str(_body().get("caller", "mobile")))
    except SoftphoneError as exc:
        return _error(exc)
    except TwimlError as exc:
        return jsonify(error=f"The line did not answer as Twilio expects: {exc}"), 409
    return _answer(sid, sim, 201)


@bp.post("/try/calls/<sid>/keys")
@_allowed
def press(sid: str):
    keys = str(_body().get("keys", ""))
    if not KEYS.match(keys):
        return jsonify(error="Keys are up to 20 of 0-9, * and #."), 400
    return _step(sid, lambda sim: sim.press(keys))


@bp.post("/try/calls/<sid>/silence")
@_allowed
def silence(sid: str):
    return _step(sid, lambda sim: sim.silence())


@bp.post("/try/calls/<sid>/speech")
@_allowed
def speech(sid: str):
    text = " ".join(str(_body().get("text", "")).split())
    if not text or len(text) > MAX_SPEECH:
        return jsonify(error=f"Type what the caller says (up to {MAX_SPEECH} characters)."), 400
    if not hasattr(SimulatedCall, "speak"):
        return jsonify(error=SPEECH_MISSING), 409
    return _step(sid, lambda sim: sim.speak(text))


@bp.post("/try/calls/<sid>/hangup")
@_allowed
def hang_up(sid: str):
    return _step(sid, lambda sim: sim.hang_up())


def init_app(app) -> None:
    from ivr.staff.auth import register_nav

    app.extensions["ivr.softphone"] = SoftphoneCalls(
        app, app.extensions["ivr.store"].redis, app.config["SETTINGS"]
    )
    app.register_blueprint(bp)
    register_nav(app, "softphone.try_page", "Try the line", "manager")
