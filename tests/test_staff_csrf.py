"""Every staff form that changes something refuses a forged post: sent without the session's
CSRF token, or with another session's, it gets 400 or 403 and nothing in Redis (or at Twilio)
changes. The same post with the right token does change something, so the refusal is the
token's and not some other check's."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from conftest import STAFF_PASSWORD, csrf_from

from ivr import create_app
from ivr.staff.users import create_user
from ivr.twilio_sim.rest_api import ACCOUNT_SID, FakeTwilio

CALLER = "+447700900123"


@pytest.fixture
def fake_twilio():
    with FakeTwilio() as fake:
        yield fake


@pytest.fixture
def staff_app(open_hours, redis_client, fake_twilio):
    """The app with Twilio configured (at the local fake), so "call me" really places a call."""
    app = create_app(
        replace(open_hours, twilio_account_sid=ACCOUNT_SID, twilio_api_base=fake_twilio.url)
    )
    yield app
    app.extensions["ivr.deliverer"].stop()


def snapshot(client) -> dict:
    """Every key in Redis with its value (not its expiry: a request may refresh a session)."""
    read = {
        "string": client.get,
        "hash": client.hgetall,
        "list": lambda k: client.lrange(k, 0, -1),
        "set": lambda k: sorted(client.smembers(k)),
        "zset": lambda k: client.zrange(k, 0, -1, withscores=True),
    }
    out = {}
    for name in client.scan_iter(count=1000):
        kind = client.type(name)
        out[name] = (kind, read[kind](name) if kind in read else None)
    return out


# Each form: (role signed in, or None) -> how to get it ready: returns (path, data, token).
def _page_token(client, path: str) -> str:
    return csrf_from(client.get(path).get_data(as_text=True))


def _claimed(client, ref: str) -> str:
    token = _page_token(client, f"/intake/callbacks/{ref}")
    assert client.post(f"/intake/callbacks/{ref}/claim", data={"csrf_token": token}).status_code
    return token


def login(ctx):
    create_user(ctx.redis, "sam", "intake", STAFF_PASSWORD)
    token = _page_token(ctx.client, "/login")
    return "/login", {"username": "sam", "password": STAFF_PASSWORD}, token


def logout(ctx):
    ctx.sign_in("intake")
    return "/logout", {}, _page_token(ctx.client, "/intake/")


def admin_create(ctx):
    ctx.sign_in("admin")
    data = {"username": "mallory", "role": "admin", "password": "a long enough password"}
    return "/admin/users", data, _page_token(ctx.client, "/admin/users")


def admin_role(ctx):
    ctx.sign_in("admin")
    create_user(ctx.redis, "pat", "intake", STAFF_PASSWORD)
    data = {"action": "role", "role": "admin"}
    return "/admin/users/pat", data, _page_token(ctx.client, "/admin/users")


def admin_password(ctx):
    ctx.sign_in("admin")
    create_user(ctx.redis, "pat", "intake", STAFF_PASSWORD)
    data = {"action": "password", "password": "a new long password"}
    return "/admin/users/pat", data, _page_token(ctx.client, "/admin/users")


def admin_disable(ctx):
    ctx.sign_in("admin")
    create_user(ctx.redis, "pat", "intake", STAFF_PASSWORD)
    return "/admin/users/pat", {"action": "disable"}, _page_token(ctx.client, "/admin/users")


def claim(ctx):
    ctx.sign_in("intake")
    ref = ctx.request_callback(from_number=CALLER)
    token = _page_token(ctx.client, f"/intake/callbacks/{ref}")
    return f"/intake/callbacks/{ref}/claim", {}, token


def release(ctx):
    ctx.sign_in("intake")
    ref = ctx.request_callback(from_number=CALLER)
    return f"/intake/callbacks/{ref}/release", {}, _claimed(ctx.client, ref)


def outcome(ctx):
    ctx.sign_in("intake")
    ref = ctx.request_callback(from_number=CALLER)
    data = {"outcome": "no_answer", "note": "rang twice", "attempt": "1"}
    return f"/intake/callbacks/{ref}/outcome", data, _claimed(ctx.client, ref)


def connect(ctx):
    ctx.sign_in("intake")
    ref = ctx.request_callback(from_number=CALLER)
    data = {"worker_phone": "07700 900999"}
    return f"/intake/callbacks/{ref}/connect", data, _claimed(ctx.client, ref)


def reassign(ctx):  # a manager releases another worker's claim
    ref = ctx.request_callback(from_number=CALLER)
    worker = ctx.client.application.test_client()
    ctx._signed_in(worker, "intake")
    _claimed(worker, ref)
    ctx.sign_in("manager")
    token = _page_token(ctx.client, f"/intake/callbacks/{ref}")
    return f"/intake/callbacks/{ref}/reassign", {"to": ""}, token


def merge(ctx):  # a repeat request from the same number closed into the first
    first = ctx.request_callback(from_number=CALLER)
    again = ctx.request_callback(from_number=CALLER)
    ctx.sign_in("intake")
    token = _page_token(ctx.client, f"/intake/callbacks/{again}")
    return f"/intake/callbacks/{again}/merge", {"into": first}, token


# The softphone at /try (ivr/softphone): its script posts JSON with the X-CSRF-Token header.
def _try_token(client) -> str:
    html = client.get("/try").get_data(as_text=True)
    return re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)


def _try_call(client, token: str) -> str:
    response = client.post("/try/calls", json={"caller": "mobile"}, headers={"X-CSRF-Token": token})
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.json["call"]


def try_start(ctx):
    return "/try/calls", {"caller": "mobile"}, _try_token(ctx.client)


def try_keys(ctx):
    token = _try_token(ctx.client)
    return f"/try/calls/{_try_call(ctx.client, token)}/keys", {"keys": "1"}, token


def try_silence(ctx):
    token = _try_token(ctx.client)
    return f"/try/calls/{_try_call(ctx.client, token)}/silence", {}, token


def try_speech(ctx):
    token = _try_token(ctx.client)
    return f"/try/calls/{_try_call(ctx.client, token)}/speech", {"text": "yes"}, token


def try_hangup(ctx):
    token = _try_token(ctx.client)
    return f"/try/calls/{_try_call(ctx.client, token)}/hangup", {}, token


FORMS = {
    f.__name__: f
    for f in (
        login,
        logout,
        admin_create,
        admin_role,
        admin_password,
        admin_disable,
        claim,
        release,
        outcome,
        connect,
        reassign,
        merge,
        try_start,
        try_keys,
        try_silence,
        try_speech,
        try_hangup,
    )
}
JSON_FORMS = {"try_start", "try_keys", "try_silence", "try_speech", "try_hangup"}
# Typed speech is refused whatever the token while the line has no speech input (409).
CHANGES_NOTHING_EVEN_WITH_TOKEN = {"try_speech"}
# The URL rules those forms post to; a new form that changes something must be added above.
COVERED_RULES = {
    "/login",
    "/logout",
    "/admin/users",
    "/admin/users/<username>",
    "/intake/callbacks/<ref>/claim",
    "/intake/callbacks/<ref>/release",
    "/intake/callbacks/<ref>/outcome",
    "/intake/callbacks/<ref>/connect",
    "/intake/callbacks/<ref>/reassign",
    "/intake/callbacks/<ref>/merge",
    "/try/calls",
    "/try/calls/<sid>/keys",
    "/try/calls/<sid>/silence",
    "/try/calls/<sid>/speech",
    "/try/calls/<sid>/hangup",
}
EXEMPT = ("/voice/", "/api/")  # signed by Twilio, or bearer tokens without cookies


class Context:
    def __init__(self, app, signed_in, request_callback, redis_client):
        self.client = app.test_client()
        self.redis = redis_client
        self.request_callback = request_callback
        self._signed_in = signed_in

    def sign_in(self, role: str) -> None:
        self._signed_in(self.client, role)


def test_every_staff_form_that_changes_something_is_in_this_file(staff_app):
    unsafe = {
        rule.rule
        for rule in staff_app.url_map.iter_rules()
        if rule.methods & {"POST", "PUT", "PATCH", "DELETE"} and not rule.rule.startswith(EXEMPT)
    }
    assert unsafe == COVERED_RULES


@pytest.mark.parametrize("sent", ["no token", "another session's token"])
@pytest.mark.parametrize("form", sorted(FORMS))
def test_a_forged_staff_form_changes_nothing(
    form, sent, staff_app, signed_in, request_callback, redis_client, fake_twilio
):
    ctx = Context(staff_app, signed_in, request_callback, redis_client)
    path, data, token = FORMS[form](ctx)
    forged = _try_token(staff_app.test_client()) if sent == "another session's token" else None

    def post(with_token: str | None):
        if form in JSON_FORMS:
            headers = {"X-CSRF-Token": with_token} if with_token else {}
            return ctx.client.post(path, json=data, headers=headers)
        extra = {"csrf_token": with_token} if with_token else {}
        return ctx.client.post(path, data={**data, **extra})

    before = snapshot(redis_client)
    response = post(forged)

    assert response.status_code in (400, 403)
    assert snapshot(redis_client) == before
    assert fake_twilio.requests == []
    if form in CHANGES_NOTHING_EVEN_WITH_TOKEN:
        return
    # The same post with this session's token is accepted and changes something.
    response = post(token)
    assert response.status_code in (200, 201, 204, 302, 303), response.get_data(as_text=True)
    assert snapshot(redis_client) != before


def test_a_refused_form_tells_the_worker_nothing_changed_and_what_to_do(
    staff_app, signed_in, request_callback, redis_client
):
    """The page a worker sees when a form is refused (a stale tab, or a forged post): it says
    nothing was changed and how to go on, and is a 400 (the request was bad, not forbidden)."""
    ctx = Context(staff_app, signed_in, request_callback, redis_client)
    path, data, _ = FORMS["release"](ctx)
    response = ctx.client.post(path, data=data)  # no token: a tab left open past its session
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "<title>Form expired" in page
    assert (
        "This form has expired or did not come from this site, so nothing was changed. "
        "Go back, reload the page and try again."
    ) in page


def test_the_token_field_adds_nothing_a_worker_sees(client):
    """The hidden token field is one hidden input: the sign-in form shows only its labels and
    its button, and the field carries the session's token."""
    from html.parser import HTMLParser

    class FormText(HTMLParser):
        def __init__(self):
            super().__init__()
            self.inside, self.words, self.tokens = False, [], []

        def handle_starttag(self, tag, attrs):
            attrs = dict(attrs)
            self.inside = self.inside or tag == "form"
            if tag == "input" and attrs.get("name") == "csrf_token":
                self.tokens.append((attrs.get("type"), attrs.get("value")))

        def handle_endtag(self, tag):
            self.inside = self.inside and tag != "form"

        def handle_data(self, data):
            if self.inside and data.strip():
                self.words.append(data.strip())

    page = FormText()
    page.feed(client.get("/login").get_data(as_text=True))
    assert page.words == ["Username", "Password", "Sign in"]
    [(kind, token)] = page.tokens
    assert kind == "hidden" and token == csrf_from(client.get("/login").get_data(as_text=True))
