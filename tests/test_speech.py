"""Callers who speak instead of pressing keys: every kind of prompt takes words, through the
Twilio stand-in posting SpeechResult and Confidence as Twilio does."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
import yaml
from click.testing import CliRunner

from ivr.cli import main
from ivr.config import ROOT
from ivr.line.flow import FlowError, parse_flow

FLOW_FILE = ROOT / "call_flows" / "ipt_line.yaml"


def answers(store, call) -> dict:
    return store.load_call(call.call_sid).data["answers"]


def test_every_prompt_listens_for_speech_in_british_english_with_its_words_as_hints(phone):
    call = phone()
    url, params, _ = call.requests[-1]
    status, body = call.signed_post(url, params)
    gather = ET.fromstring(body).find("Gather")  # noqa: S314 (our own answer)
    assert gather.get("input") == "dtmf speech" and gather.get("language") == "en-GB"
    for word in ("information", "questions", "call me back", "urgent help", "repeat", "menu"):
        assert word in gather.get("hints")


def test_a_yes_said_aloud_answers_the_risk_question(phone, store):
    call = phone()
    call.speak("questions")
    call.speak("nearly every day")
    call.speak("four")
    call.speak("yes")
    assert "You do not have to manage this alone" in call.heard()
    assert answers(store, call)["risk"] == "yes"
    assert answers(store, call)["phq2_interest"] == 3 and answers(store, call)["phq2_down"] == 3


def test_a_no_said_aloud_answers_a_yes_no_question(phone, store):
    call = phone()
    for keys in ("2", "1", "1"):
        call.press(keys)
    call.speak("No.")
    assert "Which of these fits you best" in call.heard()
    assert answers(store, call)["risk"] == "no"


def test_an_option_number_said_aloud_is_its_key(phone, store):
    call = phone()
    call.press("2")
    call.speak("two")
    assert answers(store, call)["phq2_interest"] == 1
    call.speak("3")  # recognisers often write numbers as digits
    assert answers(store, call)["phq2_down"] == 2


def test_a_main_menu_option_by_its_words(phone):
    call = phone()
    call.speak("I'd like some information please")
    assert "I P T is a type of therapy" in call.heard()
    call.speak("menu")
    call.speak("call me back")  # option 3 and the 9 key share it: both lead to a callback
    assert "We can call you back on the number you are calling from" in call.heard()


def test_words_that_fit_two_options_are_not_guessed(phone, store):
    call = phone()
    for keys in ("2", "1", "1"):
        call.press(keys)
    call.heard()
    call.speak("yes no")
    heard = call.heard()
    assert heard.startswith("Sorry, we did not catch that.")
    assert "have you had thoughts of harming yourself" in heard
    assert "risk" not in answers(store, call)


def test_low_confidence_asks_again_and_records_nothing(phone, store):
    call = phone()
    for keys in ("2", "1", "1"):
        call.press(keys)
    call.heard()
    call.speak("yes", confidence=0.2)
    assert call.heard().startswith("Sorry, we did not catch that.")
    assert "risk" not in answers(store, call)
    assert any(e["type"] == "not_understood" for e in store.call_events(call.call_sid))
    call.speak("yes", confidence=0.95)
    assert answers(store, call)["risk"] == "yes"


def test_repeat_and_menu_work_by_voice_everywhere(phone):
    call = phone()
    call.heard()
    call.press("1")
    first = call.heard()
    call.speak("repeat")
    assert call.heard() == first
    call.press("0")
    call.press("3")
    call.press("2")  # a different number
    call.speak("main menu")
    assert call.heard().startswith("To hear about I P T, say information, or press 1")


def test_a_phone_number_said_aloud(phone, store):
    call = phone(from_number="anonymous")
    call.press("3")
    call.speak("oh seven seven double oh, nine oh oh, four five six")
    assert "You keyed in: 0 7 7 0 0, 9 0 0, 4 5 6." in call.heard()
    call.speak("yes")
    assert store.load_call(call.call_sid).data["callback_number"] == "+447700900456"


def test_words_past_the_first_200_characters_are_not_heard(phone):
    """Twilio's SpeechResult is read up to 200 characters: an option's word past that is not
    taken, and the same words 200 characters long are."""
    call = phone()
    call.heard()
    said = "well " * 38 + "information"
    assert len(said) == 201
    call.speak(said)
    assert call.heard().startswith("Sorry, we did not catch that.")
    call.speak(said[1:])
    assert "I P T is a type of therapy" in call.heard()


@pytest.mark.parametrize("confidence", ["lots", None, "0", "0.0", "-0.5", "1.5", "nan"])
def test_speech_with_a_missing_zero_or_junk_confidence_is_not_held_against_the_caller(
    phone, store, confidence
):
    """A missing, junk or out-of-range Confidence, and 0 (which speech services use for "none
    given"), count as sure: a caller who can only speak is never asked again for it."""
    call = phone()
    for keys in ("2", "1", "1"):
        call.press(keys)
    from urllib.parse import urljoin

    action = urljoin(call.requests[-1][0], call.waiting.action)  # the Gather now listening
    said = {"SpeechResult": "yes"} if confidence is None else {
        "SpeechResult": "yes", "Confidence": confidence}  # fmt: skip
    status, body = call.signed_post(action, call.params(said))
    assert status == 200 and "You do not have to manage this alone" in body
    assert answers(store, call)["risk"] == "yes"


def test_the_flow_check_refuses_a_word_two_options_share():
    raw = yaml.safe_load(FLOW_FILE.read_text())
    raw["nodes"]["risk_question"]["options"]["2"]["words"].append("yes")
    with pytest.raises(FlowError) as caught:
        parse_flow(raw)
    assert any(
        "node `risk_question`: the word 'yes' is taken by key 1 and by key 2" in p
        for p in caught.value.problems
    )


def test_the_flow_check_refuses_an_option_word_that_shadows_a_global_key(tmp_path):
    raw = yaml.safe_load(FLOW_FILE.read_text())
    raw["nodes"]["screen_done"]["options"]["1"]["words"].append("menu")
    broken = tmp_path / "shared.yaml"
    broken.write_text(yaml.safe_dump(raw))
    result = CliRunner().invoke(main, ["flows", "check", str(broken)])
    assert result.exit_code == 1
    assert "the word 'menu' is taken by key 1 and by key 0" in result.output


def test_ivr_call_sends_typed_words_as_speech(live_server, redis_server, store):
    env = {"REDIS_URL": redis_server.url, "TWILIO_AUTH_TOKEN": "test-auth-token-0123456789abcdef"}
    script = "call me back,yes,no,afternoon,,,"
    result = CliRunner().invoke(main, ["call", "--url", live_server, "--keys", script], env=env)
    assert result.exit_code == 0, result.output
    assert "Your reference number is" in result.output
    (request,) = store.list_callbacks(None, None, 5)[0]
    assert request["preferred_time"] == "afternoon" and request["voicemail_ok"] is False


def test_keys_still_work_at_the_prompt_that_takes_words(phone):
    """The interpreter's language is said, not keyed; but star still says the prompt again
    (a caller who did not catch it must not be moved on as if they had said nothing)."""
    call = phone()
    for keys in ("3", "1", "1", "3"):  # a callback on this number, voicemail OK, any time
        call.press(keys)
    call.silence()  # after the reference: the extras
    call.press("1")  # "If you need an interpreter, ... press 1"
    assert "Please say the language you would like" in call.heard()
    call.press("*")
    assert "Please say the language you would like" in call.heard()
    call.speak("Polish")
    assert "We have noted: Polish." in call.heard()
