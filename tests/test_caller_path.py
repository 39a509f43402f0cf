"""Issue 9's stories, placed as a new caller would through the Twilio stand-in: nobody who tells
us they are at risk leaves without a route to a person, no confirmed request is lost, promises
are true, a put-through is followed by words that fit what happened, limits come before
questions, and nobody who cannot choose is simply hung up on."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from conftest import phone_for

from ivr import create_app
from ivr.api.tokens import create_token
from ivr.store.keys import key

LONDON = ZoneInfo("Europe/London")
RISK_YES = ("2", "4", "4", "1")  # questions, PHQ-2 items, yes to thoughts of self-harm


def callbacks(store) -> list[dict]:
    return store.list_callbacks(None, None, 20)[0]


def api_callbacks(client, store) -> list[dict]:
    token = create_token(store.redis, "records")
    response = client.get("/api/v1/callbacks", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    return response.get_json()["callbacks"]


def app_at(settings, moment: datetime, **changes):
    app = create_app(replace(settings, **changes))
    app.extensions["ivr.clock"] = lambda: moment
    return app


# --- 1. Risk means a request, at once -----------------------------------------------------------
def test_a_caller_at_risk_who_then_goes_silent_leaves_an_urgent_request(
    phone, store, client, signed_in
):
    call = phone(from_number="+447700900222")
    for keys in RISK_YES:
        call.press(keys)
    heard = call.heard()
    # Told plainly, straight after the crisis guidance, and how to say no.
    assert heard.index("NHS 1 1 1") < heard.index("Our team will call you on the number ending")
    assert "0, 2, 2, 2, to check you are safe" in heard
    assert "If you do not want this call, say no, or press 2" in heard
    made = callbacks(store)
    assert len(made) == 1 and made[0]["urgent"] is True and made[0]["phone"] == "+447700900222"
    for _ in range(6):  # then nothing at all, until the line lets them go
        if not call.ended:
            call.silence()
    assert call.ended
    assert "Our team will still call you" in call.all_heard()
    (listed,) = api_callbacks(client, store)
    assert listed["reference"] == made[0]["reference"]
    assert listed["urgent"] is True and listed["caller_finished"] is False
    assert listed["answers"]["risk"] == "yes"
    signed_in(client)
    page = client.get(f"/intake/callbacks/{listed['reference']}").get_data(as_text=True)
    assert "Caller did not finish" in page


def test_a_caller_put_through_who_then_hangs_up_still_leaves_an_urgent_request(phone, store):
    call = phone(from_number="+447700900223")
    for keys in (*RISK_YES, "1", "1"):  # go on, put me through
        call.press(keys)
    assert call.dialled == ["+44116123"]
    call.hang_up()
    (request,) = callbacks(store)
    assert request["urgent"] is True and request["caller_finished"] is False
    assert store.call_log(call.call_sid)["callback_id"] == request["reference"]


def test_rather_not_say_makes_the_same_urgent_request_at_once(phone, store):
    call = phone(from_number="+447700900224")
    for keys in ("2", "1", "1", "3"):
        call.press(keys)
    assert "Our team will call you on the number ending 0, 2, 2, 4" in call.heard()
    call.hang_up()
    (request,) = callbacks(store)
    assert request["urgent"] is True and request["answers"]["risk"] == "prefer_not_to_say"


def test_later_answers_complete_the_same_request(phone, store):
    call = phone(from_number="+447700900225")
    for keys in (*RISK_YES, "1", "3", "3", "1", "1", "1", "1", "2", "1"):
        call.press(keys)  # go on, carry on: grief, episodes, sessions, callback, no vm, mornings
    assert "marked as urgent" in call.heard()
    (request,) = callbacks(store)
    assert request["caller_finished"] is True
    assert request["answers"]["difficulty"] == "grief" and request["preferred_time"] == "morning"
    assert request["voicemail_ok"] is False


def test_a_no_to_the_safety_call_is_respected_and_counted_without_the_number(
    phone, store, redis_client
):
    call = phone(from_number="+447700900226")
    for keys in RISK_YES:
        call.press(keys)
    call.heard()
    call.speak("no")
    assert "We will not call you unless you ask us to" in call.heard()
    assert callbacks(store) == []
    assert redis_client.zcard(key("callback_queue")) == 0
    events = store.call_events(call.call_sid)
    declined = [e for e in events if e["type"] == "urgent_call_declined"]
    assert len(declined) == 1
    assert "900226" not in str(events)
    call.hang_up()
    assert store.call_log(call.call_sid)["outcome"] == "crisis_route"


def test_a_withheld_caller_at_risk_is_asked_for_a_number_straight_after_the_guidance(phone, store):
    call = phone(from_number="anonymous")
    for keys in RISK_YES:
        call.press(keys)
    heard = call.heard()
    assert heard.index("1 1 6, 1 2 3") < heard.index("please key in your phone number")
    call.press("07700900227#")
    assert "You keyed in: 0 7 7 0 0, 9 0 0, 2 2 7." in call.heard()
    call.press("1")
    assert "Our team will call you on the number ending 0, 2, 2, 7" in call.heard()
    call.hang_up()
    (request,) = callbacks(store)
    assert request["urgent"] is True and request["phone"] == "+447700900227"
    assert request["number_source"] == "keyed" and request["caller_finished"] is False


def test_a_withheld_caller_at_risk_who_gives_no_number_still_gets_the_options(phone, store):
    call = phone(from_number="anonymous")
    for keys in RISK_YES:
        call.press(keys)
    call.press("#")  # no number, thank you
    assert "To be put through to Samaritans now" in call.heard()
    assert callbacks(store) == []


# --- 2. No request is lost once the number is confirmed ------------------------------------------
def test_silence_at_the_time_question_books_with_the_safe_defaults_and_says_so(phone, store):
    call = phone()
    for keys in ("3", "1", "1"):
        call.press(keys)
    call.silence()
    assert "did not hear a key" in call.heard()
    call.silence()
    heard = call.heard()
    assert "We did not hear an answer, so we will call at any time." in heard
    assert "Your callback request is booked" in heard
    (request,) = callbacks(store)
    assert request["preferred_time"] == "any" and request["voicemail_ok"] is True
    assert request["caller_finished"] is True


def test_silence_at_the_voicemail_question_means_no_voicemail(phone, store):
    call = phone()
    call.press("3").press("1")
    call.silence().silence()
    assert "so we will not leave a voicemail" in call.heard()
    call.silence().silence()
    assert "Your callback request is booked" in call.heard()
    (request,) = callbacks(store)
    assert request["voicemail_ok"] is False and request["preferred_time"] == "any"


# --- 3. Urgent promise, and a true one out of hours ----------------------------------------------
@pytest.mark.parametrize(("hours", "said"), [(2, "2 working hours"), (1, "1 working hour")])
def test_an_urgent_request_gets_the_urgent_promise_in_hours(settings, redis_client, hours, said):
    app = app_at(settings, datetime(2026, 12, 23, 11, 0, tzinfo=LONDON), urgent_target_hours=hours)
    call = phone_for(app)()
    for keys in (*RISK_YES, "1", "2", "1", "1", "3"):
        call.press(keys)
    heard = call.heard()
    assert f"Our team will call you as soon as they can, within {said}." in heard
    assert "working days" not in heard
    app.extensions["ivr.deliverer"].stop()


def test_out_of_hours_promises_say_when_we_open(settings, redis_client):
    saturday = datetime(2026, 11, 28, 22, 0, tzinfo=LONDON)
    app = app_at(settings, saturday)
    call = phone_for(app)()
    for keys in (*RISK_YES, "1", "2", "1", "1", "3"):
        call.press(keys)
    assert "Our team will call you as soon as they can when we open, on Monday at 9 am." in (
        call.heard()
    )
    routine = phone_for(app)(from_number="+447700900999")
    for keys in ("3", "1", "1", "3"):
        routine.press(keys)
    assert "within 2 working days of when we open, on Monday at 9 am." in routine.heard()
    app.extensions["ivr.deliverer"].stop()


# --- 4. The put-through branches on DialCallStatus ------------------------------------------------
@pytest.mark.parametrize(
    ("status", "said", "not_said"),
    [
        ("completed", "You are back with the", "could not put you through"),
        ("busy", "Sorry, there was no answer.", "You are back"),
        ("no-answer", "Sorry, there was no answer.", "You are back"),
        ("failed", "Sorry, we could not put you through.", "You are back"),
    ],
)
def test_what_follows_a_put_through_fits_what_happened(phone, store, status, said, not_said):
    call = phone(dial_outcome=status)
    for keys in (*RISK_YES, "1", "1"):
        call.press(keys)
    heard = call.heard()
    assert said in heard and not_said not in heard
    assert "To ask our team to call you back, say yes, or press 1." in heard
    if status == "failed":
        for number in ("9 9 9", "NHS 1 1 1", "1 1 6, 1 2 3"):
            assert number in heard
    call.speak("yes")
    assert "We can call you back on the number you are calling from" in call.heard()


# --- 5. The daily limit comes before the questions ------------------------------------------------
def test_the_daily_limit_is_said_before_any_callback_question(open_hours, redis_client):
    app = create_app(replace(open_hours, callbacks_per_day=1))
    dial = phone_for(app)
    first = dial()
    for keys in ("3", "1", "1", "3"):
        first.press(keys)
    second = dial()
    second.heard()
    second.press("9")
    heard = second.heard()
    assert "cannot take another callback request from this number today" in heard
    assert "voicemail" not in heard and second.ended
    # A caller at risk is never turned away by it.
    third = dial()
    for keys in (*RISK_YES, "1", "2"):
        third.press(keys)
    assert "We can call you back on the number you are calling from" in third.heard()
    app.extensions["ivr.deliverer"].stop()


# --- 6. A caller who cannot choose is offered a person, not an ending -----------------------------
def test_a_caller_who_cannot_use_the_keypad_is_offered_a_callback_and_booked(phone, store):
    call = phone(from_number="+447700900228")
    call.silence().silence()  # a rotary phone: nothing Twilio can hear as keys
    assert "Would you like our team to call you back, on the number you are calling from?" in (
        call.heard()
    )
    call.speak("yes please")
    call.silence().silence()  # voicemail: no answer, so no voicemail
    call.silence().silence()  # time: no answer, so any time
    assert "Your callback request is booked" in call.heard()
    (request,) = callbacks(store)
    assert request["phone"] == "+447700900228" and request["voicemail_ok"] is False


def test_two_wrong_keys_at_any_menu_bring_the_offer_before_any_ending(phone):
    call = phone()
    call.press("1")
    call.press("7").press("8")  # at the first information chunk
    assert "Would you like our team to call you back" in call.heard()
    call.press("1")
    assert "If we cannot reach you, may we leave a voicemail" in call.heard()


def test_a_withheld_caller_who_cannot_choose_is_offered_a_callback_on_a_keyed_number(phone):
    call = phone(from_number="anonymous")
    call.silence().silence()
    assert "Would you like our team to call you back? Say yes, or press 1" in call.heard()
    call.press("1")
    assert "Please key in the phone number we should call" in call.heard()


# --- 7. Words from the leaflet, with its hedges ---------------------------------------------------
def test_the_information_keeps_to_the_leaflet(phone):
    call = phone()
    call.press("1")
    text = call.heard()
    for _ in range(5):
        call.silence()
        text += " " + call.heard()
    for fact in (
        "aims to help manage symptoms of depression and low mood",
        "NICE recommended treatment for low mood and depression",
        "These difficulties can include",
        "structured and focused way of treating symptoms of depression",
        "ask your GP to refer you, or refer yourself on 0 2 0 3, 2 2 8, 1 3 5 0",
        "Relay UK",
    ):
        assert fact in text, fact
    for claim in ("talking therapy for depression", "focuses on one of four"):
        assert claim not in text
