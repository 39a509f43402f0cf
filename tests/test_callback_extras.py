"""Extras a caller may ask for once their callback is booked: an interpreter (the language said
aloud, kept encrypted) and the reference by text message (UK mobiles only, only with a yes,
nothing about health), sent to the local fake of Twilio's REST API."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest
from conftest import phone_for

from ivr import create_app
from ivr.store.keys import key
from ivr.twilio_sim.rest_api import ACCOUNT_SID, FakeTwilio

BOOK = ("3", "1", "1", "3")  # call me back, this number, voicemail OK, any time


@pytest.fixture
def fake_twilio():
    with FakeTwilio() as fake:
        yield fake


@pytest.fixture
def texting_app(open_hours, redis_client, fake_twilio):
    app = create_app(
        replace(open_hours, twilio_account_sid=ACCOUNT_SID, twilio_api_base=fake_twilio.url)
    )
    yield app
    app.extensions["ivr.deliverer"].stop()


def booked(dial, **kwargs):
    call = dial(**kwargs)
    for keys in BOOK:
        call.press(keys)
    call.silence()  # after the reference: the extras
    assert "If you need an interpreter, say interpreter, or press 1." in call.heard()
    return call


def wait_for_messages(fake, count: int) -> list[dict]:
    deadline = time.monotonic() + 5
    while len(fake.messages()) < count and time.monotonic() < deadline:
        time.sleep(0.02)
    return fake.messages()


def test_an_interpreter_language_said_aloud_is_kept_encrypted(phone, store, redis_client):
    call = booked(phone)
    call.speak("interpreter")
    assert "Please say the language you would like" in call.heard()
    call.speak("Polish please", confidence=0.85)
    assert "We have noted: Polish please. Our team will try to arrange an interpreter." in (
        call.heard()
    )
    (request,) = store.list_callbacks(None, None, 5)[0]
    assert request["interpreter_language"] == "Polish please"
    raw = redis_client.hget(key("callback", id=request["reference"]), "interpreter_language")
    assert raw and "Polish" not in raw
    assert "Polish" not in str(store.call_events(call.call_sid))


def test_an_unclear_language_is_asked_again_not_stored(phone, store):
    call = booked(phone)
    call.press("1")
    call.heard()
    call.speak("Urdu", confidence=0.1)
    assert call.heard().startswith("Sorry, we did not catch that.")
    (request,) = store.list_callbacks(None, None, 5)[0]
    assert not request.get("interpreter_language")
    call.speak("<script>123</script>")  # kept only as letters, whatever the recogniser sends
    (request,) = store.list_callbacks(None, None, 5)[0]
    assert request["interpreter_language"] == "script script"


def test_keys_at_the_language_prompt_repeat_it_or_are_refused_not_kept(phone, store):
    call = booked(phone)
    call.press("1")
    prompt = "Please say the language you would like, for example, Polish, or Urdu."
    assert prompt in call.heard()
    call.press("*")
    assert call.heard() == prompt
    call.press("5")
    assert call.heard() == f"Sorry, that key is not one of the options. {prompt}"
    (request,) = store.list_callbacks(None, None, 5)[0]
    assert request["interpreter_language"] == ""


def test_the_reference_by_text_only_with_a_yes_and_nothing_about_health(
    texting_app, fake_twilio, store
):
    call = booked(phone_for(texting_app))
    call.speak("text message")
    heard = call.heard()
    assert "We can text your reference to the mobile ending 0, 1, 2, 3." in heard
    assert fake_twilio.messages() == []
    call.speak("yes")
    assert "We are sending it now." in call.heard()
    (message,) = wait_for_messages(fake_twilio, 1)
    (request,) = store.list_callbacks(None, None, 5)[0]
    assert message["To"] == "+447700900123" and message["From"] == "+442032281350"
    assert request["reference"] in message["Body"]
    service = "Interpersonal Psychotherapy service"
    assert message["Body"] == (
        f"{service}: your callback request reference is {request['reference']}."
        " Our team will call you."
    )
    for word in ("depress", "risk", "harm", "mood", "urgent", "answer"):
        assert word not in message["Body"].replace(service, "").lower()
    assert "900123" not in str(store.call_events(call.call_sid))


def test_no_text_without_a_yes(texting_app, fake_twilio):
    call = booked(phone_for(texting_app))
    call.press("2")
    call.speak("no")
    assert call.ended
    time.sleep(0.2)
    assert fake_twilio.messages() == []


def test_no_text_to_a_number_that_is_not_a_uk_mobile(texting_app, fake_twilio):
    call = booked(phone_for(texting_app), from_number="+441134960000")
    call.press("2")
    assert "we can only send texts to UK mobile numbers" in call.heard()
    assert call.ended
    time.sleep(0.2)
    assert fake_twilio.messages() == []


@pytest.mark.parametrize("failure", ["refused", "unconfigured"])
def test_a_text_that_cannot_be_sent_never_breaks_the_call(
    open_hours, redis_client, fake_twilio, store, failure
):
    settings = replace(open_hours, twilio_api_base=fake_twilio.url)
    if failure == "refused":
        fake_twilio.fail_paths.add("Messages.json")
        settings = replace(settings, twilio_account_sid=ACCOUNT_SID)
    app = create_app(settings)
    call = booked(phone_for(app))
    call.press("2")
    call.press("1")
    heard = call.heard()
    assert "We are sending it now. If it does not arrive, your reference is" in heard
    assert heard.endswith("Goodbye.") and call.ended
    app.extensions["ivr.deliverer"].stop()
