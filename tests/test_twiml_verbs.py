"""The TwiML a caller's phone is given, read verb by verb against the flow file:

- how long Twilio listens: every menu waits `gather_timeout` seconds for a key, every number
  entry `number_timeout` (more time to find a phone number), as `call_flows/ipt_line.yaml` says;
- every ending of the flow (each hangup node) says its goodbye and then <Hangup/>, with nothing
  after it (Twilio would end the call when the document runs out anyway, but a verb added after a
  goodbye would then be played to a caller who was told the call is over)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml

from ivr.store.keys import key
from ivr.twilio_sim.phone import SimulatedCall
from tests.conftest import AUTH_TOKEN, BASE_URL, FlaskTransport


class RecordingTransport(FlaskTransport):
    """The Flask test client as Twilio's side, keeping every TwiML document played to the caller."""

    def __init__(self, client):
        super().__init__(client)
        self.documents: list[ET.Element] = []

    def post(self, url, params, headers):
        status, body = super().post(url, params, headers)
        if "/voice/status" not in url:  # the status callback's answer is never played
            self.documents.append(ET.fromstring(body))  # noqa: S314 (our own answer)
        return status, body


@pytest.fixture
def flow_file(app) -> dict:
    """The flow as written in its file (not as the app holds it)."""
    path = app.config["SETTINGS"].flow_file
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


@pytest.fixture
def recorded_call(app):
    def dial(**kwargs) -> tuple[SimulatedCall, RecordingTransport]:
        transport = RecordingTransport(app.test_client())
        call = SimulatedCall(transport, BASE_URL, AUTH_TOKEN, **kwargs).dial()
        return call, transport

    return dial


def gathers(documents: list[ET.Element]) -> list[tuple[str, ET.Element]]:
    """(node the Gather answers to, the Gather) for every Gather in these documents."""
    out = []
    for document in documents:
        for verb in document.iter("Gather"):
            node = parse_qs(urlsplit(verb.get("action", "")).query).get("n", [""])[0]
            out.append((node, verb))
    return out


def test_menus_and_number_entry_listen_as_long_as_the_flow_file_says(recorded_call, flow_file):
    settings = flow_file["settings"]
    # Withheld caller ID: the callback goes straight to keying in a number.
    call, transport = recorded_call(from_number="anonymous")
    call.press("1").press("0").press("3")  # a menu, back to the main menu, a callback
    call.press("07700900123#").press("1").press("1").press("2")

    seen = {"menu": 0, "number_entry": 0}
    for node, gather in gathers(transport.documents):
        kind = flow_file["nodes"][node]["type"]
        expected = settings["gather_timeout" if kind == "menu" else "number_timeout"]
        assert int(gather.get("timeout")) == expected, f"{node} ({kind})"
        if kind == "menu":  # answered on the first key, # and * included (# skips a question)
            assert (gather.get("numDigits"), gather.get("finishOnKey")) == ("1", ""), node
        else:  # keyed up to the hash key
            assert gather.get("finishOnKey", "#") == "#", node
        seen[kind] += 1
    assert seen["menu"] >= 4 and seen["number_entry"] == 1
    # The flow file gives the two different values, so a swap cannot pass unnoticed.
    assert settings["gather_timeout"] != settings["number_timeout"]


def to_goodbye(call):  # books a callback, then says nothing at the confirmation and extras
    for keys in ("3", "1", "1", "3"):
        call.press(keys)
    call.silence()
    call.silence()


def to_goodbye_request_kept(call):  # risk yes (an urgent request at once), then silence
    for keys in ("2", "1", "1", "1"):
        call.press(keys)
    while not call.ended:
        call.silence()


def to_goodbye_no_response(call):
    while not call.ended:
        call.silence()


def to_goodbye_wrong_keys(call):
    while not call.ended:
        call.press("5")  # not an option at the main menu


def to_number_not_taken(call):
    call.press("3").press("2")  # a callback, on a different number
    while not call.ended:
        call.press("12#")  # never a UK number


ROUTES = {
    "goodbye": to_goodbye,
    "goodbye_no_response": to_goodbye_no_response,
    "goodbye_request_kept": to_goodbye_request_kept,
    "goodbye_wrong_keys": to_goodbye_wrong_keys,
    "number_not_taken": to_number_not_taken,
}


def test_every_hangup_node_of_the_flow_has_a_route_here(flow_file):
    hangups = {n for n, node in flow_file["nodes"].items() if node["type"] == "hangup"}
    # callback_limit_end needs the daily limit on: its ending is walked in
    # tests/test_caller_path.py::test_the_daily_limit_is_said_before_any_callback_question.
    assert hangups - {"callback_limit_end"} == set(ROUTES)


@pytest.mark.parametrize("node", sorted(ROUTES))
def test_every_ending_says_goodbye_then_hangs_up_with_nothing_after(node, recorded_call, flow_file):
    call, transport = recorded_call(from_number="+447700900123")
    ROUTES[node](call)
    assert call.ended
    last = transport.documents[-1]
    verbs = [verb.tag for verb in last]
    assert verbs[-1] == "Hangup", verbs
    assert set(verbs[:-1]) == {"Say"}, verbs  # words, then the hang-up: not even a <Pause>
    said = [(verb.text or "").strip() for verb in last if verb.tag == "Say"]
    goodbye = flow_file["nodes"][node]["say"]
    assert said[-len(goodbye) :] == goodbye  # it is this node's ending that hangs up


class StateLostDuringDial(RecordingTransport):
    """Loses the call's working state in Redis while the caller is put through (a failover, or
    a crisis call longer than the state lives): Twilio's "dial ended" then finds nothing."""

    def __init__(self, client, redis_client):
        super().__init__(client)
        self.redis = redis_client

    def post(self, url, params, headers):
        if "dial=1" in url:
            self.redis.delete(key("call_state", sid=params["CallSid"]))
        return super().post(url, params, headers)


def test_a_caller_put_through_comes_back_to_the_after_dial_prompt_even_if_state_was_lost(
    app, redis_client
):
    transport = StateLostDuringDial(app.test_client(), redis_client)
    call = SimulatedCall(
        transport, BASE_URL, AUTH_TOKEN, to_number="+441134960123", dial_outcome="no-answer"
    ).dial()
    for keys in ("2", "1", "1", "1"):  # screening: PHQ-2 0 and 0, yes to the risk question
        call.press(keys)
    call.heard()
    call.press("1")  # go on, after hearing the team will call
    call.press("1")  # put me through
    assert call.dialled == ["+44116123"]
    assert "Sorry, there was no answer." in call.heard()
    # The crisis line is shown the number the caller rang (ours), not left to Twilio's default.
    [dial] = [verb for document in transport.documents for verb in document.iter("Dial")]
    assert dial.get("callerId") == "+441134960123"


@pytest.mark.parametrize("to_number", ["sip:ipt-line@example.sip.twilio.com", ""])
def test_a_put_through_shows_the_service_number_when_the_line_was_not_rung_on_a_number(
    recorded_call, app, to_number
):
    # A SIP or client call has no E.164 `To`: Twilio would refuse it (or nothing) as callerId.
    service_number = app.config["SETTINGS"].service_number  # verified, as the start-up note asks
    call, transport = recorded_call(to_number=to_number, verified_caller_ids=(service_number,))
    for keys in ("2", "4", "4", "1", "1", "1"):  # risk yes, go on, put me through
        call.press(keys)
    [dial] = [verb for document in transport.documents for verb in document.iter("Dial")]
    assert dial.get("callerId") == service_number
    assert call.dial_errors == [] and call.dialled == ["+44116123"]


class StateLostDuringSilence(RecordingTransport):
    """Loses the call's working state while the caller says nothing at a prompt."""

    def __init__(self, client, redis_client):
        super().__init__(client)
        self.redis = redis_client

    def post(self, url, params, headers):
        if "silence=1" in url:
            self.redis.delete(key("call_state", sid=params["CallSid"]))
        return super().post(url, params, headers)


def test_a_silent_caller_hears_the_same_prompt_again_even_if_state_was_lost(app, redis_client):
    transport = StateLostDuringSilence(app.test_client(), redis_client)
    call = SimulatedCall(transport, BASE_URL, AUTH_TOKEN).dial()
    for keys in ("3", "1"):  # call me back, on this number: the voicemail question
        call.press(keys)
    assert "leave a voicemail" in call.heard()
    call.silence()
    heard = call.heard()
    assert heard.startswith("Sorry, we did not hear a key.") and "leave a voicemail" in heard
    # Twilio posts the fall-through as the <Redirect> says, in the method it documents.
    redirects = [verb for document in transport.documents for verb in document.iter("Redirect")]
    assert redirects and {verb.get("method") for verb in redirects} == {"POST"}


def test_hash_skips_a_screening_question(phone):
    call = phone()
    call.press("2")  # screening
    call.heard()
    call.press("#")  # skip "little interest or pleasure"
    heard = call.heard()
    assert "how often have you felt down" in heard
    assert "did not hear a key" not in heard


# --- the TwiML is written out as the twilio library would write it -----------------------------
def test_every_prompt_is_written_exactly_as_the_twilio_library_writes_it(app):
    """ivr/line/twiml.to_xml writes the answers itself (issue 14: the library's ElementTree was
    a tenth of a webhook's CPU). Every prompt of the flow, in and out of hours, with a number
    and a keyed-in callback on the call, must come out character for character as str() does."""
    from datetime import UTC, datetime

    from ivr.line.twiml import to_xml

    engine = app.extensions["ivr.engine"]
    compared = 0
    for hour in (3, 12):  # out of hours and in
        moment = datetime(2026, 11, 25, hour, 0, tzinfo=UTC)
        data = engine.fresh_data("+447700900123", moment, "+442032281350")
        data["callback_number"] = "+447700900456"
        for node_id in engine.flow.nodes:
            outcome = engine.render_again("CA" + "1" * 32, data, node_id, 3, moment)
            assert to_xml(outcome.response) == str(outcome.response), node_id
            compared += 1
    assert compared >= 2 * 20


def test_odd_text_is_escaped_exactly_as_the_twilio_library_escapes_it():
    from twilio.twiml.voice_response import VoiceResponse

    from ivr.line.twiml import to_xml

    for text in ["a & b < c > d \"e\" 'f'", "line\nbreak\ttab\rreturn", "é ü ☎", "", "0"]:
        response = VoiceResponse()
        gather = response.gather(action=f"step?s=1&n=x&t={text}", num_digits=1, hints=text)
        gather.say(text, voice="Polly.Amy", language="en-GB")
        gather.pause(length=1)
        response.say(text)
        response.append("loose text")
        response.redirect(text or "step?s=1", method="POST")
        response.hangup()
        assert to_xml(response) == str(response), repr(text)


def test_every_gather_listens_for_keys_and_words_and_waits_out_a_pause(recorded_call, app):
    """What each <Gather> asks of Twilio beyond its timeout: keys and speech in the line's
    language (some callers cannot use a keypad), speech ended by Twilio's own pause detection,
    the prompt's words (or, for a phone number, the digits class) as recognition hints, and
    silence falling through to the redirect that says the prompt again (not an empty post)."""
    from ivr.line.twiml import DIGITS_HINT

    settings = app.config["SETTINGS"]
    call, transport = recorded_call(from_number="anonymous")
    call.press("1").press("0").press("3")
    call.press("07700900123#").press("1").press("1").press("2")
    found = gathers(transport.documents)
    assert len(found) >= 5
    for node, gather in found:
        assert gather.get("input") == "dtmf speech", node
        assert gather.get("language") == settings.language, node
        assert gather.get("speechTimeout") == "auto", node
        assert gather.get("actionOnEmptyResult") == "false", node
        assert gather.get("method") == "POST", node
        entry = app.extensions["ivr.flow"].nodes[node]["type"] == "number_entry"
        if entry:
            assert gather.get("hints") == DIGITS_HINT, node
        else:
            assert "repeat" in gather.get("hints", ""), node


def test_each_menu_hints_its_own_words_to_the_recogniser(recorded_call):
    call, transport = recorded_call()
    call.press("3")  # the main menu, then "can we call you on this number?"
    hints = dict(gathers(transport.documents))
    assert "information" in hints["main_menu"].get("hints")
    assert "different number" not in hints["main_menu"].get("hints")
    assert "different number" in hints["confirm_caller_id"].get("hints")
    assert "information" not in hints["confirm_caller_id"].get("hints")


def test_the_language_prompt_gives_the_recogniser_no_word_list(recorded_call):
    # Any language may be said: hints would only steer the recogniser towards the wrong words.
    call, transport = recorded_call()
    for keys in ("3", "1", "1", "3"):  # a booked callback
        call.press(keys)
    call.silence()  # the extras
    call.press("1")  # an interpreter
    hints = dict(gathers(transport.documents))
    assert "hints" not in hints["interpreter_language"].attrib


def test_the_fallback_speaks_in_the_line_s_own_voice_and_language(app, client):
    from twilio.request_validator import RequestValidator

    from tests.conftest import AUTH_TOKEN

    settings = app.config["SETTINGS"]
    form = {"CallSid": "CA" + "f" * 32, "From": "+447700900123"}
    signature = RequestValidator(AUTH_TOKEN).compute_signature(
        "http://localhost/voice/fallback", form
    )
    body = client.post("/voice/fallback", data=form, headers={"X-Twilio-Signature": signature})
    says = ET.fromstring(body.get_data(as_text=True)).findall("Say")  # noqa: S314 (ours)
    assert says, body.get_data(as_text=True)
    for say in says:
        assert (say.get("voice"), say.get("language")) == (settings.voice, settings.language)


def test_the_start_up_note_on_put_through_caller_ids_names_the_service_number(app):
    from ivr.line.twiml import caller_id_rule

    settings = app.config["SETTINGS"]
    assert settings.service_number in caller_id_rule(settings)


def test_text_before_any_verb_and_a_json_value_are_written_as_the_library_writes_them():
    from twilio.twiml.voice_response import VoiceResponse

    from ivr.line.twiml import to_xml

    response = VoiceResponse()
    response.append("leading text & more")
    response.add_child("Parameter", {"name": "a", "value": 1})
    response.say("after")
    assert to_xml(response) == str(response)


# --- how the prompts are spoken ---------------------------------------------------------------
def test_every_prompt_is_said_in_the_line_s_own_voice_and_language(recorded_call, app):
    settings = app.config["SETTINGS"]
    call, transport = recorded_call()
    for keys in ("1", "0", "3", "1", "1", "3"):  # about IPT, back, then a booked callback
        call.press(keys)
    says = [say for document in transport.documents for say in document.iter("Say")]
    assert len(says) > 20
    for say in says:
        assert (say.get("voice"), say.get("language")) == (settings.voice, settings.language)


def app_with_flow(settings, tmp_path, change):
    """An app whose flow file is the line's own with `change(raw flow)` made to it."""
    from dataclasses import replace

    from ivr import create_app

    raw = yaml.safe_load(Path(settings.flow_file).read_text(encoding="utf-8"))
    change(raw)
    flow_file = tmp_path / "flow.yaml"
    flow_file.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return create_app(replace(settings, flow_file=str(flow_file)))


def test_pauses_written_in_the_flow_are_breaks_of_their_length_where_they_are_written(
    open_hours, redis_client, tmp_path
):
    def change(raw):
        # Two pauses in a row add up; one at the very end is kept after the last words.
        menu = raw["nodes"]["main_menu"]["say"]
        menu[1:1] = [{"pause": 1}, {"pause": 2}]
        menu.append({"pause": 1})
        raw["settings"]["max_prompt_seconds"] = 30  # the pauses make it longer

    app = app_with_flow(open_hours, tmp_path, change)
    menu = app.extensions["ivr.flow"].nodes["main_menu"]["say"]
    transport = RecordingTransport(app.test_client())
    call = SimulatedCall(transport, BASE_URL, AUTH_TOKEN).dial()
    call.press("1")  # a prompt written without pauses
    opening, about_ipt = (document.find("Gather") for document in transport.documents)
    spoken = [
        ("".join(say.itertext()), [b.get("time") for b in say.iter("break")]) for say in opening
    ]
    assert spoken[-4:] == [
        (menu[0], []),
        (menu[3], ["3s"]),
        (menu[4], []),
        (menu[5], ["1s"]),
    ]
    assert about_ipt.find(".//break") is None
    app.extensions["ivr.deliverer"].stop()


def test_a_put_through_written_as_only_a_pause_waits_then_dials(open_hours, redis_client, tmp_path):
    def change(raw):
        raw["nodes"]["crisis_dial"]["say"] = [{"pause": 2}]
        # Words that name a pause are words, filled in like any others.
        raw["nodes"]["risk_options"]["say"][0] = "If you need a pause, {crisis_dial_name} can wait."

    app = app_with_flow(open_hours, tmp_path, change)
    transport = RecordingTransport(app.test_client())
    call = SimulatedCall(transport, BASE_URL, AUTH_TOKEN).dial()
    for keys in ("2", "4", "4", "1", "1"):  # risk yes, go on: the put-through offer
        call.press(keys)
    assert "If you need a pause, Samaritans can wait." in call.heard()
    call.press("1")
    put_through = transport.documents[-2]
    assert [(verb.tag, verb.get("length")) for verb in put_through] == [
        ("Pause", "2"),
        ("Dial", None),
    ]
    app.extensions["ivr.deliverer"].stop()


def test_a_caller_whose_state_was_lost_is_put_through_showing_the_number_they_rang(
    recorded_call, redis_client
):
    """The call's state is lost just before "put me through": the line carries on from the
    webhook alone, and the crisis line is still shown the number the caller rang."""
    call, transport = recorded_call(to_number="+441134960123")
    for keys in ("2", "4", "4", "1", "1"):  # risk yes, go on
        call.press(keys)
    redis_client.delete(key("call_state", sid=call.call_sid))
    call.press("1")  # put me through
    assert call.dialled == ["+44116123"]
    [dial] = [verb for document in transport.documents for verb in document.iter("Dial")]
    assert dial.get("callerId") == "+441134960123"
