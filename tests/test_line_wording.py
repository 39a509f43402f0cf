"""What callers hear, checked against the service leaflet and against what just happened on
the call (shared/reference/ipt-leaflet.txt is the source of every fact about IPT)."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path


def screening_up_to_sessions(call):
    for keys in ("2", "1", "1", "2", "1", "1"):  # PHQ-2, no risk, difficulty, episodes
        call.press(keys)
    return call.heard()


def test_the_sessions_question_keeps_to_the_leaflet(phone):
    # The leaflet: "around eight sessions ... usually last around fifty minutes ... generally
    # spread across a number of weeks". It never says the sessions are weekly.
    heard = screening_up_to_sessions(phone())
    question = heard[heard.index("I P T is usually") :]
    assert "about eight sessions" in question
    assert "about fifty minutes" in question
    assert "several weeks" in question
    assert "weekly" not in question


def test_a_caller_ended_for_wrong_keys_is_not_told_we_heard_nothing(phone):
    call = phone()
    call.heard()
    for keys in ("7", "8", "7", "8"):  # two wrong at the menu, two at the callback offer
        call.press(keys)
    ending = call.heard()
    assert call.ended
    assert "not heard from you" not in ending
    assert "keys" in ending
    for help_line in ("NHS 1 1 1", "option 2", "9 9 9", "1 1 6, 1 2 3"):
        assert help_line in ending


def test_rather_not_say_hears_the_same_urgent_help_numbers(phone):
    # Not saying is treated the safer way (an urgent callback); the guidance must be as full as
    # for a yes: 999, NHS 111 option 2 (urgent mental health help) and Samaritans.
    call = phone()
    for keys in ("2", "1", "1"):
        call.press(keys)
    call.heard()
    call.press("3")  # rather not say
    guidance = call.heard()
    for help_line in ("9 9 9", "NHS 1 1 1", "option 2", "1 1 6, 1 2 3"):
        assert help_line in guidance


def test_the_callback_promise_follows_the_teams_target(settings, redis_client):
    # The line promised "within two working days" whatever IVR_CALLBACK_TARGET_WORKING_DAYS
    # (the target the intake queue and the figures hold the team to) said.
    from dataclasses import replace
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from conftest import phone_for

    from ivr import create_app

    for days, promise in ((3, "within 3 working days."), (1, "within 1 working day.")):
        app = create_app(replace(settings, callback_target_working_days=days))
        app.extensions["ivr.clock"] = lambda: datetime(
            2026, 12, 23, 11, 0, tzinfo=ZoneInfo("Europe/London")
        )
        call = phone_for(app)()
        for keys in ("3", "1", "1", "3"):
            call.press(keys)
        assert f"Our team will call you {promise}" in call.heard()
        app.extensions["ivr.deliverer"].stop()


def test_a_silent_ending_after_booking_still_says_where_to_get_help(phone):
    # DESIGN: silence ends the call "politely with how to get help" - after a booked
    # callback too, where the caller may wait days for the team.
    call = phone()
    for keys in ("3", "1", "1", "3"):
        call.press(keys)
    assert "Your reference number is" in call.heard()
    call.silence()  # the extras (an interpreter, a text), then
    call.silence()
    ending = call.heard()
    assert call.ended
    for help_line in ("NHS 1 1 1", "option 2", "9 9 9", "1 1 6, 1 2 3"):
        assert help_line in ending
    assert ending.endswith("Goodbye.")


def test_zero_leaves_the_number_prompt_for_the_main_menu(phone, store):
    # "0 returns to the main menu" everywhere: a caller with a withheld number who pressed 9 by
    # mistake was held at the number prompt (a lone 0 was "too short"), with no way out but
    # to hang up or fail three times.
    call = phone(from_number="anonymous")
    call.press("2")
    call.press("9")
    prompt = call.heard()
    assert "For the main menu, press 0, then hash." in prompt
    call.press("0#")
    menu = call.heard()
    assert menu.startswith("To hear about I P T, say information, or press 1")
    assert "too short" not in menu
    call.press("3")
    assert call.heard().startswith("Please key in the phone number")
    call.press("0")  # a lone 0, sent when the keypad times out without the hash key
    assert call.heard().startswith("To hear about I P T, say information, or press 1")
    events = [e for e in store.call_events(call.call_sid) if e["type"] == "number_rejected"]
    assert events == []


def test_every_ending_says_where_to_get_help(app):
    # Every way the line ends a call (and the fault message) names the same three: 999,
    # NHS 111 option 2, and Samaritans on 116 123.
    flow = app.extensions["ivr.flow"]
    endings = {
        node_id: " ".join(str(line) for line in node.get("say") or [])
        for node_id, node in flow.nodes.items()
        if node["type"] == "hangup"
    }
    for phrase in ("fallback", "too_many_calls", "too_many_callbacks"):
        endings["phrases." + phrase] = " ".join(flow.phrases[phrase])
    for where, text in endings.items():
        for help_line in ("9 9 9", "NHS 1 1 1", "option 2", "1 1 6, 1 2 3"):
            assert help_line in text, f"{where} does not say {help_line}"


def test_a_flow_file_without_the_promise_phrases_promises_when_we_open(
    open_hours, redis_client, tmp_path
):
    """The `callback_when_*` phrases are optional in a flow file: without them the booking's
    promise falls back to when the team next opens, rather than failing the caller's step."""
    import yaml

    from ivr import create_app
    from tests.conftest import phone_for

    raw = yaml.safe_load(Path(open_hours.flow_file).read_text(encoding="utf-8"))
    for name in ("callback_when_open", "callback_when_closed"):
        del raw["phrases"][name]
    flow_file = tmp_path / "flow.yaml"
    flow_file.write_text(yaml.safe_dump(raw), encoding="utf-8")
    app = create_app(replace(open_hours, flow_file=str(flow_file)))
    call = phone_for(app)(from_number="+447700900760")
    for key in ("3", "1", "1", "3"):
        call.press(key)
    heard = call.heard()
    promise = heard.split("Our team will call you ")[1].split(".")[0]
    assert re.fullmatch(r"(today|tomorrow|on \w+) at [\w: ]+", promise), promise
    app.extensions["ivr.deliverer"].stop()
