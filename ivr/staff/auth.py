"""Staff sign-in: the /login and /logout pages, who is signed in, and which roles see which pages.

Roles nest: an admin may do everything, a manager may also use the intake pages, an intake worker
only the intake pages. So `@role_required("intake")` admits all three, `@role_required("manager")`
managers and admins, `@role_required("admin")` admins only.

The session is Flask's signed cookie (HttpOnly, SameSite=Lax, Secure in production). It holds the
username and when the password was last changed; the account is re-read on every request, so a
disabled account, a changed role or a reset password takes effect at once. It ends after
`session_idle_minutes` without a request. Each session also has a random id whose record in Redis
(`staff_session:{sid}`) must exist: signing out deletes it, so a copy of the cookie taken before
sign-out (a shared PC, a proxy log) is worthless afterwards.
"""

from __future__ import annotations

import secrets
import time
from datetime import timedelta
from functools import wraps
from urllib.parse import urlsplit

import redis
from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.sessions import SecureCookieSessionInterface
from werkzeug.exceptions import HTTPException

from ivr.staff import throttle, users
from ivr.store.keys import key

bp = Blueprint("auth", __name__)
BACKGROUND_HEADER = "X-IVR-Background"  # sent by page scripts that poll on their own

# Which signed-in roles may open a page restricted to a given role.
ADMITS = {
    "intake": {"intake", "manager", "admin"},
    "manager": {"manager", "admin"},
    "admin": {"admin"},
}


def _redis():
    return current_app.extensions["ivr.store"].redis


def current_user() -> dict | None:
    """The signed-in staff member as {"username", "role"}, or None."""
    if "ivr_user" not in g:
        g.ivr_user = _load_user()
    user = g.ivr_user
    return {"username": user["username"], "role": user["role"]} if user else None


def _load_user() -> dict | None:
    name = session.get("username")
    if not name:
        return None
    user = users.get_user(_redis(), name)
    live = _redis().exists(key("staff_session", sid=session.get("sid") or "-"))
    if (
        not live
        or user is None
        or user["disabled"]
        or user["password_changed_at"] != session.get("pw")
    ):
        session.clear()
        return None
    return user


def _session_seconds() -> int:
    """How long a session's record lives without activity (the cookie's own lifetime)."""
    return current_app.config["SETTINGS"].session_idle_minutes * 60 + 300


def _end_session() -> None:
    """Forget the session here and in Redis: the cookie's signature alone no longer admits."""
    if session.get("sid"):
        _redis().delete(key("staff_session", sid=session["sid"]))
    session.clear()


def _wants_json() -> bool:
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return request.is_json or best == "application/json"


def role_required(*roles: str):
    """Decorator: signed-out users go to /login (401 JSON for scripts); other roles get 403."""
    admitted = set().union(*(ADMITS[r] for r in roles))

    def decorate(view):
        @wraps(view)
        def checked(*args, **kwargs):
            user = current_user()
            if user is None:
                if _wants_json():
                    return jsonify(error="Unauthorized", message="Sign in first."), 401
                return redirect(url_for("auth.login", next=_return_to()))
            if user["role"] not in admitted:
                abort(403, "Your account does not have access to this page.")
            return view(*args, **kwargs)

        return checked

    return decorate


def _return_to() -> str | None:
    """Where to go after signing in again: this page, or for a form sent after the session
    lapsed, the page it came from (a POST-only address would answer 405 to the redirect)."""
    if request.method in ("GET", "HEAD"):
        return request.full_path.rstrip("?")
    adapter = current_app.url_map.bind("")
    for path in (request.path, request.path.rsplit("/", 1)[0]):
        try:
            adapter.match(path, method="GET")
        except HTTPException:
            continue
        return path
    return None


def _safe_next(target: str | None) -> str:
    """Only same-site paths, so the login page cannot be used to bounce people elsewhere."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return url_for("auth.home")
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else url_for("auth.home")


@bp.get("/")
@role_required("intake")
def home():
    nav = _nav_context()["nav_items"]
    return redirect(nav[0]["url"]) if nav else render_template("home.html")


@bp.route("/login", methods=["GET", "POST"])
def login():
    if request.method == "GET":
        if current_user():
            return redirect(_safe_next(request.args.get("next")))
        return render_template("staff/login.html", next=request.args.get("next", ""))
    username = users.normalise_username(request.form.get("username", ""))[:100]
    password = request.form.get("password", "")
    address = request.remote_addr or "unknown"
    client, settings = _redis(), current_app.config["SETTINGS"]
    wait = throttle.seconds_to_wait(client, username, address)
    if wait:
        return _login_refused(username, wait)
    user = users.verify_password(client, username, password)
    if user is None:
        wait = throttle.record_failure(client, settings, username, address)
        if wait:
            return _login_refused(username, wait)
        flash("That username and password do not match an active account.", "error")
        return render_template(
            "staff/login.html", next=request.form.get("next", ""), username=username
        ), 401
    throttle.record_success(client, username, address)
    _end_session()  # a fresh session on sign-in, so no token from before survives
    sid = secrets.token_urlsafe(32)
    client.set(key("staff_session", sid=sid), user["username"], ex=_session_seconds())
    session.permanent = True
    session.update(
        username=user["username"], pw=user["password_changed_at"], seen=time.time(), sid=sid
    )
    return redirect(_safe_next(request.form.get("next")))


def _login_refused(username: str, wait: int):
    minutes = (wait + 59) // 60
    when = f"{wait} seconds" if wait < 120 else f"{minutes} minutes"
    flash(f"Too many failed sign-ins. Please wait {when} before trying again.", "error")
    return render_template(
        "staff/login.html", next=request.form.get("next", ""), username=username
    ), 429


@bp.post("/logout")
def logout():
    _end_session()
    flash("You are signed out.", "info")
    return redirect(url_for("auth.login"))


def _expire_idle_session():
    """End a session idle for too long; otherwise note this request as activity."""
    if "username" not in session or request.path.startswith(("/static/", "/voice/", "/api/")):
        return
    idle = current_app.config["SETTINGS"].session_idle_minutes * 60
    seen = session.get("seen", 0)
    now = time.time()
    if now - seen > idle:
        _end_session()
        flash("You were signed out after a period of inactivity.", "info")
    elif now - seen > 30 and not request.headers.get(BACKGROUND_HEADER):
        # Only a person's requests count as activity: a queue page left open polls for ever,
        # and must not keep an unattended session alive. (Checked every 30 s to spare cookies.)
        session["seen"] = now
        _redis().expire(key("staff_session", sid=session.get("sid") or "-"), _session_seconds())


def register_nav(app: Flask, endpoint: str, label: str, role: str) -> None:
    """Add a link to the top navigation, shown to users whose role admits them to it."""
    app.extensions.setdefault("ivr.nav", []).append((endpoint, label, role))


def _nav_context():
    try:
        user = current_user()
    except redis.RedisError:  # the error page for a Redis outage must still render
        user = None
    items = []
    if user:
        for endpoint, label, role in current_app.extensions.get("ivr.nav", []):
            if user["role"] in ADMITS[role]:
                items.append({"url": url_for(endpoint), "label": label, "endpoint": endpoint})
    return {"user": user, "nav_items": items}


class _StaffSessions(SecureCookieSessionInterface):
    """Twilio's webhooks never carry a staff cookie: they get an empty session without the
    cookie's signer being built for them (a few percent of a webhook's CPU, issue 14)."""

    def open_session(self, app, request):
        if request.path.startswith("/voice/"):
            return self.session_class()
        return super().open_session(app, request)


def init_app(app: Flask) -> None:
    settings = app.config["SETTINGS"]
    app.session_interface = _StaffSessions()
    app.config.update(
        SESSION_COOKIE_NAME="ivr_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.is_production,
        # The cookie outlives the idle limit a little; the idle check is what ends the session.
        PERMANENT_SESSION_LIFETIME=timedelta(minutes=settings.session_idle_minutes + 5),
    )
    app.before_request(_expire_idle_session)
    app.context_processor(_nav_context)
    app.register_blueprint(bp)
