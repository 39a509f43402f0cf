"""Security: signatures on every /voice/* route, proxies, response headers, production start-up
checks, API tokens, API errors, and the per-caller limits against robot diallers."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest
from cryptography.fernet import Fernet
from twilio.request_validator import RequestValidator

from ivr import create_app
from ivr.api.tokens import create_token, revoke_tokens
from ivr.config import ConfigError, load_settings
from tests.conftest import AUTH_TOKEN, phone_for
from tests.hooked_pipelines import HookedPipelines

PUBLIC = "https://ipt.example.nhs.uk"
SID = "CA" + "a" * 32
FORM = {"CallSid": SID, "From": "+447700900123", "To": "+442032281350", "CallStatus": "ringing"}


def signed(url: str, params: dict, token: str = AUTH_TOKEN) -> dict:
    return {"X-Twilio-Signature": RequestValidator(token).compute_signature(url, params)}


def voice_routes(app) -> list[str]:
    return sorted(r.rule for r in app.url_map.iter_rules() if r.rule.startswith("/voice"))


def test_every_voice_route_refuses_unsigned_and_forged_requests(app, client):
    routes = voice_routes(app)
    assert {"/voice/incoming", "/voice/step", "/voice/status", "/voice/fallback"} <= set(routes)
    for route in routes:
        url = "http://localhost" + route
        assert client.post(route, data=FORM).status_code == 403, route
        forged = signed(url, FORM, token="not-the-real-token")
        assert client.post(route, data=FORM, headers=forged).status_code == 403, route
        tampered = signed(url, {**FORM, "From": "+447700900999"})
        assert client.post(route, data=FORM, headers=tampered).status_code == 403, route
        assert client.post(route, data=FORM, headers=signed(url, FORM)).status_code == 200, route


@pytest.mark.parametrize("env", ["development", "test"])
def test_no_environment_skips_the_signature_check(open_hours, redis_client, env):
    client = create_app(replace(open_hours, env=env)).test_client()
    assert client.post("/voice/incoming", data=FORM).status_code == 403
    empty_token = create_app(replace(open_hours, env=env, twilio_auth_token="")).test_client()
    headers = signed("http://localhost/voice/incoming", FORM, token="")
    assert empty_token.post("/voice/incoming", data=FORM, headers=headers).status_code == 403


def test_behind_a_proxy_the_public_url_is_what_is_signed(open_hours, redis_client):
    client = create_app(replace(open_hours, public_base_url=PUBLIC)).test_client()
    good = signed(PUBLIC + "/voice/incoming", FORM)
    assert client.post("/voice/incoming", data=FORM, headers=good).status_code == 200
    internal = signed("http://localhost/voice/incoming", FORM)
    assert client.post("/voice/incoming", data=FORM, headers=internal).status_code == 403


def test_trusted_proxy_mode_uses_forwarded_headers_only_when_asked(open_hours, redis_client):
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "ipt.example.nhs.uk"}
    headers = {**signed(PUBLIC + "/voice/incoming", FORM), **forwarded}
    trusting = create_app(replace(open_hours, trust_proxy=1)).test_client()
    assert trusting.post("/voice/incoming", data=FORM, headers=headers).status_code == 200
    wary = create_app(open_hours).test_client()
    assert wary.post("/voice/incoming", data=FORM, headers=headers).status_code == 403


def test_security_headers_on_every_response(app, client):
    responses = [
        client.get("/healthz"),
        client.post("/voice/incoming", data=FORM),  # 403
        client.get("/api/v1/callbacks"),  # 401
        client.get("/no-such-page"),  # 404
        client.post(
            "/voice/incoming", data=FORM, headers=signed("http://localhost/voice/incoming", FORM)
        ),
    ]
    for response in responses:
        csp = response.headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert "Strict-Transport-Security" not in response.headers  # not in test


def production(settings, **overrides):
    values = dict(
        environ={},
        env="production",
        redis_url=settings.redis_url,
        secret_key="s" * 16 + "0123456789abcdef0123",
        twilio_auth_token=AUTH_TOKEN,
        public_base_url=PUBLIC,
        data_keys=Fernet.generate_key().decode(),
        journal_dir=settings.journal_dir,
    )
    values.update(overrides)
    return load_settings(**values)


def test_production_sends_hsts(settings, redis_client):
    response = create_app(production(settings)).test_client().get("/healthz")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")


@pytest.mark.parametrize(
    ("overrides", "complaint"),
    [
        ({"secret_key": ""}, "SECRET_KEY"),
        ({"secret_key": "changeme"}, "SECRET_KEY"),
        ({"secret_key": "short-but-random-0123"}, "SECRET_KEY"),
        ({"twilio_auth_token": ""}, "TWILIO_AUTH_TOKEN"),
        ({"public_base_url": "http://ipt.example.nhs.uk"}, "IVR_PUBLIC_BASE_URL"),
        ({"data_keys": ""}, "IVR_DATA_KEYS"),
    ],
)
def test_production_refuses_unsafe_settings(settings, overrides, complaint):
    with pytest.raises(ConfigError, match=complaint):
        production(settings, **overrides)


def test_production_reads_its_secrets_from_the_environment(settings):
    environ = {
        "IVR_ENV": "production",
        "SECRET_KEY": "k" * 40,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "IVR_PUBLIC_BASE_URL": PUBLIC,
        "IVR_DATA_KEYS": Fernet.generate_key().decode(),
    }
    assert load_settings(environ=environ).is_production
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load_settings(environ={**environ, "SECRET_KEY": "dev"})


def test_api_tokens_are_hashed_and_revocable(client, redis_client):
    token = create_token(redis_client, "reports")
    assert token not in str(redis_client.hgetall("ivr:api_tokens"))
    auth = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/callbacks", headers=auth).status_code == 200
    assert revoke_tokens(redis_client, "reports") == 1
    response = client.get("/api/v1/callbacks", headers=auth)
    assert response.status_code == 401 and "API token" in response.get_json()["message"]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("?colour=blue", "unknown query parameter"),
        ("?limit=lots", "limit"),
        ("?limit=0", "limit"),
        ("?limit=999999999999", "limit"),
        ("?status=lost", "status"),
        ("?cursor=nonsense", "cursor"),
    ],
)
def test_api_bad_requests_get_clear_json(client, redis_client, query, message):
    auth = {"Authorization": f"Bearer {create_token(redis_client, 'intake')}"}
    response = client.get("/api/v1/callbacks" + query, headers=auth)
    assert response.status_code == 400
    assert message in response.get_json()["message"]


def test_api_oversized_or_wrong_method_gets_json(client, redis_client):
    auth = {"Authorization": f"Bearer {create_token(redis_client, 'intake')}"}
    big = client.post("/api/v1/callbacks", data="x" * 100_000, headers=auth)
    assert big.status_code in (405, 413) and big.get_json()["error"]
    missing = client.get("/api/v1/nothing-here", headers=auth)
    assert missing.status_code == 404 and missing.get_json()["error"] == "Not Found"


def test_api_with_redis_down_is_a_clear_503(client, redis_client, redis_server):
    auth = {"Authorization": f"Bearer {create_token(redis_client, 'intake')}"}
    redis_server.stop()
    try:
        response = client.get("/api/v1/callbacks", headers=auth)
    finally:
        redis_server.start()
    assert response.status_code == 503 and "try again" in response.get_json()["message"]


# --- robot diallers -----------------------------------------------------------------------------
@pytest.fixture
def limited(open_hours, redis_client):
    app = create_app(replace(open_hours, calls_per_minute=3, callbacks_per_day=2))
    from ivr.twilio_sim.phone import SimulatedCall
    from tests.conftest import BASE_URL, FlaskTransport

    yield lambda **kw: SimulatedCall(
        FlaskTransport(app.test_client()), BASE_URL, AUTH_TOKEN, **kw
    ).dial()
    app.extensions["ivr.deliverer"].stop()


def test_too_many_calls_a_minute_hear_the_crisis_numbers(limited):
    for _ in range(3):
        assert "For a call back from our team, say call me back, or press 3" in limited().heard()
    robot = limited()
    heard = robot.heard()
    assert "a lot of calls from this number" in heard and "1 1 6, 1 2 3" in heard
    assert robot.ended
    other = limited(from_number="+447700900999")
    assert "press 3" in other.heard()
    for _ in range(4):  # withheld callers are not counted together
        assert "press 3" in limited(from_number="anonymous").heard()


def test_too_many_callbacks_a_day_are_not_queued(limited, redis_client):
    heard = []
    for _ in range(2):
        call = limited()
        for key in "3113":
            call.press(key)
        heard.append(call.all_heard())
    assert all("Your callback request is booked" in h for h in heard)
    # The limit is checked as the callback section starts, before any question is asked.
    call = limited()
    call.heard()
    call.press("3")
    refused = call.heard()
    assert call.ended
    assert "cannot take another callback request" in refused and "call 9 9 9" in refused
    assert "We can call you back" not in refused
    assert redis_client.zcard("ivr:callbacks:queue") == 2


def test_api_tokens_are_scoped(client, redis_client):
    token = create_token(redis_client, "call-figures", scopes=("calls:read",))
    auth = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/calls", headers=auth).status_code == 200
    refused = client.get("/api/v1/callbacks", headers=auth)
    assert refused.status_code == 403 and "callbacks:read" in refused.get_json()["message"]
    with pytest.raises(ValueError, match="scopes"):
        create_token(redis_client, "bad", scopes=("everything",))


def test_cli_creates_scoped_tokens_and_revokes_them(
    settings, redis_client, client, monkeypatch, tmp_path
):
    from click.testing import CliRunner

    from ivr.cli import main

    monkeypatch.chdir(tmp_path)  # no .local/env here
    monkeypatch.setenv("REDIS_URL", settings.redis_url)
    monkeypatch.setenv("IVR_ENV", "test")
    runner = CliRunner()
    made = runner.invoke(main, ["api-token", "create", "intake", "--scope", "callbacks:read"])
    token = made.output.strip().splitlines()[-1]
    auth = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/callbacks", headers=auth).status_code == 200
    assert client.get("/api/v1/calls", headers=auth).status_code == 403
    assert "Revoked 1 token(s)" in runner.invoke(main, ["api-token", "revoke", "intake"]).output
    assert client.get("/api/v1/callbacks", headers=auth).status_code == 401
    again = runner.invoke(main, ["api-token", "revoke", "intake"])
    assert again.exit_code != 0 and "no token called" in again.output


def test_a_read_only_token_cannot_claim_or_record_outcomes(client, redis_client, phone, store):
    call = phone()
    for key in "3113":
        call.press(key)
    ref = store.list_callbacks(None, None, 1)[0][0]["reference"]
    reader = {"Authorization": f"Bearer {create_token(redis_client, 'r', ('callbacks:read',))}"}
    assert client.get(f"/api/v1/callbacks/{ref}", headers=reader).status_code == 200
    refused = client.post(f"/api/v1/callbacks/{ref}/claim", headers=reader)
    assert refused.status_code == 403 and "callbacks:write" in refused.get_json()["message"]
    assert store.callback(ref)["status"] == "queued"


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("{not json", "application/json"),
        ("[1, 2]", "application/json"),
        ('{"outcome": 5, "note": []}', "application/json"),
        ('"just a string"', "application/json"),
    ],
)
def test_bad_json_bodies_get_a_clear_400(client, redis_client, phone, store, body, content_type):
    call = phone()
    for key in "3113":
        call.press(key)
    ref = store.list_callbacks(None, None, 1)[0][0]["reference"]
    auth = {"Authorization": f"Bearer {create_token(redis_client, 'intake')}"}
    assert client.post(f"/api/v1/callbacks/{ref}/claim", headers=auth).status_code == 200
    response = client.post(
        f"/api/v1/callbacks/{ref}/outcome", data=body, content_type=content_type, headers=auth
    )
    assert response.status_code == 400
    assert response.get_json()["message"]


def test_an_unexpected_error_is_a_500_without_internals(open_hours, redis_client):
    app = create_app(open_hours)

    @app.get("/api/v1/explode")
    def explode():
        raise ValueError("secret internals")

    response = app.test_client().get("/api/v1/explode")
    assert response.status_code == 500
    body = response.get_data(as_text=True)
    assert "secret internals" not in body and "Traceback" not in body
    assert response.get_json()["error"] == "Internal Server Error"


def test_a_caller_at_risk_is_never_refused_a_callback_by_the_daily_limit(limited, redis_client):
    # Someone in crisis may well ring several times in a day. The robot-dialler limit must not
    # turn away the request that says they have thoughts of harming themselves.
    for _ in range(2):
        call = limited()
        for key in "3113":
            call.press(key)
    call = limited()
    for key in ("2", "4", "4", "1", "1", "2", "1", "1", "3"):  # risk yes, go on, a callback
        call.press(key)
    heard = call.heard()
    assert "marked as urgent" in heard and "cannot take another" not in heard
    queue = redis_client.zrange("ivr:callbacks:queue", 0, -1)
    assert len(queue) == 3
    assert redis_client.hget(f"ivr:callback:{queue[0]}", "urgent") in ("1", "true", "True")


def test_a_robot_that_keeps_dialling_stays_refused(open_hours, redis_client):
    """Refused calls count towards the per-minute limit too: a dialler that keeps ringing does
    not get through again once its first calls are a minute old."""
    from datetime import UTC, datetime, timedelta

    from ivr.twilio_sim.phone import SimulatedCall
    from tests.conftest import BASE_URL, FlaskTransport

    app = create_app(replace(open_hours, calls_per_minute=3, callbacks_per_day=2))
    start = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)

    def dial_at(seconds: int) -> str:
        app.extensions["ivr.clock"] = lambda: start + timedelta(seconds=seconds)
        call = SimulatedCall(FlaskTransport(app.test_client()), BASE_URL, AUTH_TOKEN)
        return call.dial().heard()

    try:
        for _ in range(3):
            assert "press 3" in dial_at(0)
        for seconds in (20, 30, 40):
            assert "a lot of calls from this number" in dial_at(seconds)
        # The first three are over a minute old; the three refused in the last minute count.
        assert "a lot of calls from this number" in dial_at(70)
    finally:
        app.extensions["ivr.deliverer"].stop()


def test_a_request_that_another_call_takes_past_the_daily_limit_is_refused_with_care(
    limited, redis_client
):
    """Two calls from one number start the callback questions with one request left for the
    day; the second to give its number hears that no more requests can be taken today, with the
    crisis numbers, and nothing more is queued."""
    first = limited()
    for key in "3113":
        first.press(key)
    waiting, racing = limited(), limited()
    waiting.press("3")
    racing.press("3")  # both past the check at the start of the callback questions
    waiting.press("1")  # use this number: the day's last request
    racing.press("1")
    refused = racing.heard()
    assert "cannot take another callback request" in refused and "call 9 9 9" in refused
    assert racing.ended
    waiting.press("1").press("3")
    assert "Your callback request is booked" in waiting.heard()
    assert redis_client.zcard("ivr:callbacks:queue") == 2


class OtherCallLandsBeforeTheSave(HookedPipelines):
    """Another call from the same number joins `tally` between this step's reads and its save
    (in process, at exactly that moment): the save's own check is all that stands in the way."""

    def __init__(self, client, tally: str):
        super().__init__(client)
        self.tally = tally

    def execute(self, real, *args, **kwargs):
        if self.tally and any(c[0] == "EVALSHA" for c, _ in real.command_stack):
            self.client.zadd(self.tally, {"CA" + "e" * 32: time.time()})
            self.tally = ""
        return real.execute(*args, **kwargs)


def test_the_daily_limit_holds_when_another_call_takes_the_last_request_mid_step(
    open_hours, redis_client, monkeypatch
):
    """Another call from the number takes the day's last request between this step's read of
    the tally and its save: the save's own check refuses this one (nothing queued for it)."""
    app = create_app(replace(open_hours, calls_per_minute=0, callbacks_per_day=2))
    store, dial = app.extensions["ivr.store"], phone_for(app)
    try:
        first = dial()
        for key in "3113":
            first.press(key)
        [tally] = redis_client.keys("*limit:callbacks:*")
        call = dial()
        call.press("3")
        monkeypatch.setattr(store, "redis", OtherCallLandsBeforeTheSave(store.redis, tally))
        call.press("1")  # use this number: read one request, then the other call took the last
        refused = call.heard()
        assert "cannot take another callback request" in refused and call.ended
        assert redis_client.zcard("ivr:callbacks:queue") == 1
    finally:
        app.extensions["ivr.deliverer"].stop()


def test_the_minute_limit_holds_when_another_call_rings_in_mid_step(
    open_hours, redis_client, monkeypatch
):
    """A robot dialler's calls arrive together: another call from the number lands between
    this first step's read of the minute's tally and its save. The save refuses this one, and
    its caller hears why it was turned away (many calls, with the crisis numbers), not the
    daily callback limit's words."""
    app = create_app(replace(open_hours, calls_per_minute=3, callbacks_per_day=0))
    store, dial = app.extensions["ivr.store"], phone_for(app)
    try:
        for _ in range(2):
            assert "press 3" in dial().heard()
        [tally] = redis_client.keys("*limit:calls:*")
        monkeypatch.setattr(store, "redis", OtherCallLandsBeforeTheSave(store.redis, tally))
        robot = dial()  # read two calls in the last minute; the third landed before the save
        heard = robot.heard()
        assert "a lot of calls from this number" in heard and "1 1 6, 1 2 3" in heard
        assert "callback request" not in heard and robot.ended
        assert redis_client.zcard(tally) == 4  # refused calls count too
    finally:
        app.extensions["ivr.deliverer"].stop()
