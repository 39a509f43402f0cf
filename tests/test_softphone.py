"""The softphone's server side (/try): a test call goes through the real, signed webhooks; it is
marked as a test in Redis, left out of the figures and out of the default intake queue; the
endpoints refuse forged, malformed and excess requests; production admits only managers."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date

import pytest
from conftest import AUTH_TOKEN, phone_for

from ivr import create_app
from ivr.intake.service import Intake
from ivr.line.hours import Hours
from ivr.reports import tables as report
from ivr.signoff import timing
from ivr.store.keys import key


def csrf_of(client) -> str:
    html = client.get("/try").get_data(as_text=True)
    return re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)


class Browser:
    """What softphone.js does: JSON posts with the page's CSRF token."""

    def __init__(self, client):
        self.client = client
        self.token = csrf_of(client)

    def post(self, path: str, body: dict | None = None, token: str | None = None):
        headers = {"X-CSRF-Token": self.token if token is None else token}
        return self.client.post(path, json=body or {}, headers=headers)

    def call(self, caller: str = "mobile"):
        return self.post("/try/calls", {"caller": caller})

    def press(self, sid: str, keys: str):
        return self.post(f"/try/calls/{sid}/keys", {"keys": keys})


def booking_keys(flow, settings) -> list[tuple[str, str]]:
    """(waiting node, key) along the quickest way to a booked callback, from the flow file."""
    route = timing.quickest(flow, settings, out_of_hours=False)["booked"]
    return [(node, how.split()[-1]) for node, how in route.steps if how.startswith("press ")]


def first_plain_line(node: dict) -> str:
    return next(t for t in node.get("say", []) if isinstance(t, str) and "{" not in t)


def test_a_test_call_books_a_request_that_only_the_test_filter_shows(app, client, store):
    flow, settings = app.extensions["ivr.flow"], app.config["SETTINGS"]
    browser = Browser(client)
    answer = browser.call()
    assert answer.status_code == 201, answer.get_data(as_text=True)
    sid = answer.json["call"]
    heard = " ".join(answer.json["lines"])
    for node, key_pressed in booking_keys(flow, settings):
        assert first_plain_line(flow.nodes[node]) in heard, node
        answer = browser.press(sid, key_pressed)
        assert answer.status_code == 200, answer.get_data(as_text=True)
        heard = " ".join(answer.json["lines"])
    ref = store.redis.get(key("callback_for_call", sid=sid))
    assert ref, heard
    spoken = ", ".join(ref[:3]) + ". " + ", ".join(ref[3:])
    assert spoken in heard  # the caller was read their reference
    assert answer.json["waiting"] == {
        "timeout": flow.settings["gather_timeout"],
        "digits": 1,
        "finish": "",
    }
    assert store.callback(ref)["test"] is True
    assert store.call_log(sid)["test"] == "1"
    browser.post(f"/try/calls/{sid}/hangup")
    assert store.call_log(sid)["outcome"] == "callback_requested"

    intake = Intake(store, settings, Hours.from_settings(settings))
    assert ref not in [r["reference"] for r in intake.queue()]
    assert [r["reference"] for r in intake.queue(test=True)] == [ref]
    today = date.today()
    totals = report.load(store.redis, date(today.year - 1, 1, 1), today)
    assert totals.calls["calls"] == 0 and totals.intake["requested"] == 0


def test_the_queue_page_shows_test_requests_only_under_its_test_filter(
    app, client, store, signed_in
):
    browser = Browser(client)
    sid = browser.call().json["call"]
    for _, key_pressed in booking_keys(app.extensions["ivr.flow"], app.config["SETTINGS"]):
        browser.press(sid, key_pressed)
    ref = store.redis.get(key("callback_for_call", sid=sid))
    signed_in(client, "intake")
    assert ref not in client.get("/intake/").get_data(as_text=True)
    assert ref in client.get("/intake/?test=1").get_data(as_text=True)
    assert ref in client.get("/intake/queue/rows?test=1").get_data(as_text=True)


def test_silence_and_hang_up_end_the_test_call_and_free_its_place(app, client, store):
    browser = Browser(client)
    sid = browser.call().json["call"]
    for _ in range(20):
        answer = browser.post(f"/try/calls/{sid}/silence")
        if answer.json["ended"]:
            break
    assert answer.json["ended"] and answer.json["waiting"] is None
    assert store.redis.zcard(key("test_calls")) == 0
    assert browser.post(f"/try/calls/{sid}/silence").status_code == 404


def test_bad_input_gets_a_clear_4xx(client, store):
    browser = Browser(client)
    assert browser.call("someone else").status_code == 400
    sid = browser.call().json["call"]
    for keys in ("", "12a", "1" * 21, None):
        answer = browser.post(f"/try/calls/{sid}/keys", {"keys": keys})
        assert answer.status_code == 400 and "Keys are" in answer.json["error"]
    assert browser.post(f"/try/calls/{sid}/speech", {"text": "  "}).status_code == 400
    assert browser.post("/try/calls/CA123/keys", {"keys": "1"}).status_code == 404
    assert browser.post("/try/calls/" + "CA" + "0" * 32 + "/keys", {"keys": "1"}).status_code == 404
    junk = client.post("/try/calls", data="not json", headers={"X-CSRF-Token": browser.token})
    assert junk.status_code == 201  # no body: the default caller ID
    typed = browser.post(f"/try/calls/{sid}/speech", {"text": "call me back"})
    assert typed.status_code in (200, 409)  # 409 until the stand-in can speak
    if typed.status_code == 409:
        assert "not available" in typed.json["error"]


def test_a_forged_or_tokenless_post_is_refused(app, client, store):
    browser = Browser(client)
    assert browser.post("/try/calls", {"caller": "mobile"}, token="").status_code == 400
    assert browser.post("/try/calls", {"caller": "mobile"}, token="forged").status_code == 400
    assert store.redis.zcard(key("test_calls")) == 0


def test_someone_elses_test_call_cannot_be_stepped(app, client, store):
    sid = Browser(client).call().json["call"]
    other = Browser(app.test_client())
    assert other.press(sid, "3").status_code == 404


def test_test_calls_are_limited(open_hours, redis_client):
    app = create_app(replace(open_hours, try_max_calls=2))
    browser = Browser(app.test_client())
    assert browser.call().status_code == 201
    assert browser.call().status_code == 201
    refused = browser.call()
    assert refused.status_code == 429 and "Too many test calls" in refused.json["error"]
    key_ttl = redis_client.ttl(
        key("test_call", sid=redis_client.zrange(key("test_calls"), 0, 0)[0])
    )
    assert 0 < key_ttl <= open_hours.try_idle_minutes * 60
    app.extensions["ivr.deliverer"].stop()


def test_real_calls_are_still_counted(app, phone, store):
    """The test mark is only for /try: an ordinary call still counts in the figures."""
    call = phone()
    call.press("3")
    call.hang_up()
    today = date.today()
    assert report.load(store.redis, today.replace(day=1), today).calls["calls"] == 1


@pytest.fixture
def production_app(settings, redis_client):
    from test_security import production

    app = create_app(production(settings))
    yield app
    app.extensions["ivr.deliverer"].stop()


def https_client(app):
    client = app.test_client()
    client.environ_base.update({"wsgi.url_scheme": "https", "HTTP_HOST": "ipt.example.nhs.uk"})
    return client


def test_in_production_only_managers_and_admins_may_try_the_line(production_app, signed_in):
    client = https_client(production_app)
    assert client.get("/try").status_code == 302  # to the sign-in page
    assert client.post("/try/calls", json={}).status_code in (400, 401)
    assert production_app.extensions["ivr.store"].redis.zcard(key("test_calls")) == 0
    signed_in(client, "intake")
    assert client.get("/try").status_code == 403
    manager = https_client(production_app)
    signed_in(manager, "manager")
    assert manager.get("/try").status_code == 200
    answer = Browser(manager).call()
    assert answer.status_code == 201, answer.get_data(as_text=True)
    assert answer.json["lines"] and AUTH_TOKEN not in answer.get_data(as_text=True)


def test_a_recount_agrees_that_test_calls_count_nowhere(app, client, store):
    from ivr.reports.recount import rebuild

    browser = Browser(client)
    sid = browser.call().json["call"]
    for _, key_pressed in booking_keys(app.extensions["ivr.flow"], app.config["SETTINGS"]):
        browser.press(sid, key_pressed)
    browser.post(f"/try/calls/{sid}/hangup")
    result = rebuild(store, store.figures, apply=False)
    assert result["differences"] == []


def test_a_test_call_is_never_told_the_daily_callback_limit(open_hours, redis_client):
    # The limit is against robot diallers: the line's own number for /try has often booked.
    app = create_app(replace(open_hours, callbacks_per_day=1))
    caller = app.test_client()
    real = phone_for(app)(from_number="+447700900123")  # the softphone's "mobile" caller ID
    for key_pressed in ("3", "1", "1", "3"):
        real.press(key_pressed)
    assert "Your callback request is booked" in real.all_heard()
    browser = Browser(caller)
    sid = browser.call().json["call"]
    heard = " ".join(browser.press(sid, "9").json["lines"])
    assert "cannot take another callback request" not in heard
    assert "We can call you back on the number you are calling from" in heard
    app.extensions["ivr.deliverer"].stop()
