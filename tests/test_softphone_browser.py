"""In headless Chromium: someone opens /try, presses Call and clicks the keypad through to a booked
test callback, reading the transcript at each step; the request is in no figure and not in the
default queue. The keyboard's digit keys work too, and the countdown sends silence when it runs
out. Saves the README's screenshot of /try (docs/try.png)."""

from __future__ import annotations

import re
from datetime import date

import pytest
from playwright.sync_api import expect
from test_softphone import booking_keys, first_plain_line

from ivr import create_app
from ivr.intake.service import Intake
from ivr.line.hours import Hours
from ivr.reports import tables as report
from ivr.store.keys import key


@pytest.fixture
def app(open_hours, redis_client):
    app = create_app(open_hours)
    yield app
    app.extensions["ivr.deliverer"].stop()


def transcript(page):
    return page.get_by_role("log", name="Transcript")


def test_a_call_at_try_clicks_through_to_a_booked_test_callback(
    page, live_server, app, store, screenshot_dir
):
    flow, settings = app.extensions["ivr.flow"], app.config["SETTINGS"]
    page.goto(f"{live_server}/try")
    page.get_by_role("switch", name="Mute").check()
    page.get_by_role("button", name="Call").click()
    log = transcript(page)
    for node, key_pressed in booking_keys(flow, settings):
        expect(log).to_contain_text(first_plain_line(flow.nodes[node]))
        expect(page.get_by_role("status")).to_contain_text("Listening for a key")
        page.get_by_role("button", name=key_pressed, exact=True).click()
        expect(log).to_contain_text(f"You: pressed {key_pressed}")
    sid = store.redis.zrange(key("test_calls"), 0, -1)
    expect(log).to_contain_text(re.compile(r"\d, \d, \d\. \d, \d, \d"))  # the reference
    refs = [store.redis.get(key("callback_for_call", sid=s)) for s in sid]
    ref = next(r for r in refs if r)
    expect(log).to_contain_text(", ".join(ref[:3]) + ". " + ", ".join(ref[3:]))
    page.screenshot(path=str(screenshot_dir / "try.png"), full_page=True)
    page.get_by_role("button", name="Hang up").click()
    expect(page.get_by_role("status")).to_contain_text("You hung up")
    expect(page.get_by_role("button", name="Call")).to_be_enabled()

    assert store.callback(ref)["test"] is True
    intake = Intake(store, settings, Hours.from_settings(settings))
    assert ref not in [r["reference"] for r in intake.queue()]
    assert ref in [r["reference"] for r in intake.queue(test=True)]
    today = date.today()
    totals = report.load(store.redis, today.replace(day=1), today)
    assert totals.calls["calls"] == 0 and totals.intake["requested"] == 0


def test_keyboard_digits_work_and_silence_is_sent_when_the_countdown_ends(
    page, live_server, open_hours, redis_client
):
    """A short listening time (the flow's own setting) so the countdown runs out quickly."""
    app = create_app(open_hours)
    flow = app.extensions["ivr.flow"]
    flow.settings = {**flow.settings, "gather_timeout": 2}
    menu = flow.nodes[flow.main_menu]
    first_key, option = next(iter((menu.get("options") or {}).items()))
    target = flow.nodes[option["next"]]
    import threading

    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        page.goto(f"http://127.0.0.1:{server.server_port}/try")
        page.get_by_role("switch", name="Mute").check()
        page.get_by_role("button", name="Call").click()
        log = transcript(page)
        expect(log).to_contain_text(first_plain_line(menu))
        page.keyboard.press(str(first_key))
        expect(log).to_contain_text(f"You: pressed {first_key}")
        expect(log).to_contain_text(first_plain_line(target))
        # Nothing pressed: the countdown runs out and the line hears silence.
        expect(log).to_contain_text("You: (silence)", timeout=10_000)
    finally:
        server.shutdown()
        thread.join(5)
        app.extensions["ivr.deliverer"].stop()


def test_typed_speech_says_plainly_when_the_line_cannot_hear_it(page, live_server, app):
    page.goto(f"{live_server}/try")
    page.get_by_role("switch", name="Mute").check()
    page.get_by_role("button", name="Call").click()
    expect(page.get_by_role("status")).to_contain_text("Listening")
    page.get_by_label("Say (typed speech)").fill("call me back")
    page.get_by_role("button", name="Say it").click()
    status = page.get_by_role("status")
    if page.locator("#softphone").get_attribute("data-speech") == "yes":
        expect(transcript(page)).to_contain_text("You: said")
    else:
        expect(status).to_contain_text("Speech input is not available")
    for name in ["1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "0", "#"]:
        expect(page.get_by_role("button", name=name, exact=True)).to_be_visible()
    page.get_by_role("button", name="Hang up").click()
