"""Bad input: whatever Twilio (or anyone) sends, signed requests get 200 and valid TwiML that
moves the caller on sensibly, unsigned ones 403, never a 5xx. Property-based (hypothesis) over
the webhooks and the flow engine, one test per missing or malformed field, and keyed numbers."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from urllib.parse import urljoin

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator

from ivr.line.engine import Turn
from ivr.store.keys import key
from tests.conftest import AUTH_TOKEN, BASE_URL

SIDS = ["CA" + "c" * 32, "CA" + "d" * 32]
TWILIO_FIELDS = ["CallSid", "From", "To", "Digits", "CallStatus", "CallDuration", "DialCallStatus"]
ROUTES = ["/voice/incoming", "/voice/step", "/voice/status", "/voice/fallback"]
# Any text a form can carry (no lone surrogates: they cannot be encoded at all).
junk = st.text(st.characters(blacklist_categories=("Cs",)), max_size=300)
value = st.one_of(
    junk,
    st.sampled_from(["", " ", "0", "*", "#", "123#", "+447700900123", "anonymous", "completed"]),
    st.sampled_from(SIDS),
    st.text("0123456789*#", max_size=40),
    st.just("9" * 3000),
)
query = st.dictionaries(st.sampled_from(["s", "n", "silence", "dial", "d", "offline"]), value)
FUZZ = settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def post(client, route: str, query: dict, form: dict, sign: bool = True):
    from urllib.parse import urlencode

    path = route + ("?" + urlencode(query) if query else "")
    headers = {}
    if sign:
        signature = RequestValidator(AUTH_TOKEN).compute_signature(BASE_URL + path, form)
        headers["X-Twilio-Signature"] = signature
    return client.post(path, data=form, headers=headers)


def assert_twiml(response) -> ET.Element:
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    root = ET.fromstring(response.get_data(as_text=True))  # noqa: S314 (our own answer)
    assert root.tag == "Response"
    return root


@FUZZ
@given(
    route=st.sampled_from(ROUTES),
    query=query,
    form=st.dictionaries(st.sampled_from(TWILIO_FIELDS), value, max_size=7),
)
def test_any_signed_request_gets_valid_twiml(client, route, query, form):
    assert_twiml(post(client, route, query, form))


@FUZZ
@given(route=st.sampled_from(ROUTES), query=query, form=st.dictionaries(junk, value, max_size=5))
def test_any_unsigned_request_is_refused(client, route, query, form):
    assert post(client, route, query, form, sign=False).status_code == 403


@FUZZ
@given(turns=st.lists(st.one_of(st.text("0123456789*#", max_size=20), junk), max_size=25))
def test_the_engine_always_answers_with_a_prompt_or_a_goodbye(app, turns):
    engine = app.extensions["ivr.engine"].__class__(
        app.extensions["ivr.flow"],
        app.config["SETTINGS"],
        app.extensions["ivr.engine"].hours,
        allocate_reference=lambda sid: "123456",
    )
    moment = datetime(2026, 3, 4, 11, 0, tzinfo=UTC)
    outcome = engine.start(SIDS[0], "+447700900123", moment)
    for step, keys in enumerate(turns, start=2):
        assert outcome.node in engine.flow.nodes
        ET.fromstring(str(outcome.response))  # noqa: S314 (valid XML)
        if outcome.ended:
            break
        turn = Turn("silence") if keys == "" else Turn("digits", digits=keys[:32])
        outcome = engine.handle(SIDS[0], outcome.data, outcome.node, step, turn, moment)


# --- one test per missing or malformed field ------------------------------------------------
def started(client, sid=SIDS[0]):
    assert_twiml(post(client, "/voice/incoming", {}, {"CallSid": sid, "From": "+447700900123"}))


@pytest.mark.parametrize(
    ("form", "heard"),
    [
        ({"From": "+447700900123"}, "having a problem"),  # no CallSid
        ({"CallSid": "", "From": "+447700900123"}, "having a problem"),
        ({"CallSid": "CA123", "From": "+447700900123"}, "having a problem"),
        ({"CallSid": "CA" + "c" * 3000}, "having a problem"),
        ({"CallSid": SIDS[0]}, "press 3"),  # no From: treated as withheld
        ({"CallSid": SIDS[0], "From": ""}, "press 3"),
        ({"CallSid": SIDS[0], "From": "ünïcödé ☎" * 50}, "press 3"),
        ({"CallSid": SIDS[0], "From": "+1" + "5" * 40}, "press 3"),
    ],
)
def test_incoming_with_a_missing_or_malformed_field(client, redis_client, form, heard):
    root = assert_twiml(post(client, "/voice/incoming", {}, form))
    assert heard in ET.tostring(root, encoding="unicode")


@pytest.mark.parametrize(
    ("query", "form", "heard"),
    [
        ({"s": "1", "n": "main_menu"}, {"CallSid": SIDS[0]}, "did not hear a key"),  # no Digits
        ({"s": "1", "n": "main_menu"}, {"CallSid": SIDS[0], "Digits": ""}, "did not hear a key"),
        ({"s": "1", "n": "main_menu"}, {"CallSid": SIDS[0], "Digits": "x"}, "not one of the"),
        ({"s": "1", "n": "main_menu"}, {"CallSid": SIDS[0], "Digits": "☎"}, "not one of the"),
        ({"s": "1", "n": "main_menu"}, {"CallSid": SIDS[0], "Digits": "1" * 5000}, "I P T is"),
        ({"n": "main_menu"}, {"CallSid": SIDS[0], "Digits": "1"}, "To hear about"),  # no step
        ({"s": "x", "n": "main_menu"}, {"CallSid": SIDS[0], "Digits": "1"}, "To hear about"),
        ({"s": "9" * 50, "n": "main_menu"}, {"CallSid": SIDS[0], "Digits": "1"}, "To hear about"),
        # The node in the URL is only a hint; the call's state says where the caller is.
        ({"s": "1"}, {"CallSid": SIDS[0], "Digits": "1"}, "I P T is"),  # no node
        ({"s": "1", "n": "no_such"}, {"CallSid": SIDS[0], "Digits": "1"}, "I P T is"),
        ({"s": "1", "dial": "1"}, {"CallSid": SIDS[0]}, "To hear about"),  # no DialCallStatus
        ({"s": "1", "n": "main_menu", "d": "forged"}, {"CallSid": SIDS[0], "Digits": "1"}, "I P T"),
    ],
)
def test_step_with_a_missing_or_malformed_field(client, redis_client, query, form, heard):
    started(client)
    root = assert_twiml(post(client, "/voice/step", query, form))
    assert heard in ET.tostring(root, encoding="unicode")


@pytest.mark.parametrize(
    "form",
    [
        {"CallSid": SIDS[0]},  # no CallStatus
        {"CallSid": SIDS[0], "CallStatus": "exploded"},
        {"CallSid": SIDS[0], "CallStatus": "completed", "CallDuration": "-5"},
        {"CallSid": SIDS[0], "CallStatus": "completed", "CallDuration": "9" * 400},
        {"CallStatus": "completed"},  # no CallSid
    ],
)
def test_status_with_a_missing_or_malformed_field(client, redis_client, store, form):
    started(client)
    assert_twiml(post(client, "/voice/status", {}, form))
    log = store.call_log(SIDS[0])
    assert log["from_masked"].endswith("123") and "7700" not in log["from_masked"]
    if form.get("CallStatus") == "completed" and form.get("CallSid"):
        assert log["call_status"] == "completed" and log["duration"] == ""


def test_an_offline_step_with_a_forged_state_starts_afresh(client, redis_client):
    started(client)
    query = {"s": "1", "n": "main_menu", "d": "gAAAAforged", "offline": "1"}
    root = assert_twiml(post(client, "/voice/step", query, {"CallSid": SIDS[0], "Digits": "1"}))
    assert "I P T is a type of therapy" in ET.tostring(root, encoding="unicode")


# --- steps that do not fit the call's state -----------------------------------------------------
def to_voicemail_question(phone):
    """A call two answers in (call me back, this number), waiting at the voicemail question."""
    call = phone()
    for keys in ("3", "1"):
        call.press(keys)
    assert "leave a voicemail" in call.heard()
    return call


def test_a_stale_step_hears_the_current_prompt_and_a_key_there_is_taken(phone):
    call = to_voicemail_question(phone)
    stale = call.requests[1][0]  # the main menu's answer, posted again long after
    status, body = call.signed_post(stale, call.params({"Digits": "2"}))
    assert status == 200 and "leave a voicemail" in body
    assert "To hear about I P T" not in body
    # Twilio follows the prompt it was just given: its key answers the voicemail question.
    action = ET.fromstring(body).find("Gather").get("action")  # noqa: S314 (our own answer)
    status, body = call.signed_post(urljoin(stale, action), call.params({"Digits": "1"}))
    assert status == 200 and "best time" in body


def test_a_fault_in_a_step_plays_the_safe_message_and_logs_it(app, phone, redis_client, caplog):
    """A fault in a step (here the call's state in Redis is damaged) is never a 5xx nor dead
    air: the caller hears the safe message, and the log has the fault with its traceback."""
    call = to_voicemail_question(phone)
    redis_client.hset(key("call_state", sid=call.call_sid), "data", "{damaged")
    call.press("1")
    fallback = app.extensions["ivr.flow"].phrases["fallback"]
    assert call.heard() == " ".join(fallback) and call.ended
    (logged,) = [r for r in caplog.records if r.name == "ivr.line.voice"]
    assert logged.getMessage() == "error during a call step" and logged.exc_info


def prompt_retired_by_a_new_flow(call, redis_client) -> None:
    """A deploy whose flow no longer has the prompt this caller is waiting at."""
    redis_client.hset(key("call_state", sid=call.call_sid), "node", "retired_prompt")


def test_a_key_at_a_prompt_the_flow_no_longer_has_leads_to_the_main_menu(phone, redis_client):
    call = to_voicemail_question(phone)
    prompt_retired_by_a_new_flow(call, redis_client)
    call.press("1")
    heard = call.heard()
    assert "To hear about I P T, say information, or press 1" in heard
    assert "having a problem" not in heard


def test_a_stale_step_at_a_prompt_the_flow_no_longer_has_hears_the_main_menu(phone, redis_client):
    call = to_voicemail_question(phone)
    prompt_retired_by_a_new_flow(call, redis_client)
    status, body = call.signed_post(call.requests[1][0], call.params({"Digits": "1"}))
    assert status == 200 and "To hear about I P T, say information, or press 1" in body


def test_a_call_whose_state_was_lost_carries_on_and_its_events_say_so(
    app, phone, store, redis_client
):
    """The call's state expired or Redis lost it mid-call: the caller's answer is taken at the
    prompt the URL names (here it makes their request, which names the call), the call goes on
    step by step from there, and the call's events say the state was lost (the figures leave
    out what went with it), before the answer's own."""
    moment = datetime(2026, 3, 4, 10, 30, tzinfo=UTC)
    app.extensions["ivr.clock"] = lambda: moment
    call = phone()
    call.press("3")
    assert "We can call you back on the number you are calling from" in call.heard()
    seen = len(store.call_events(call.call_sid))
    redis_client.delete(key("call_state", sid=call.call_sid))
    call.press("1")  # this number: the request is made
    assert "leave a voicemail" in call.heard()
    lost, *rest = store.call_events(call.call_sid)[seen:]
    assert lost == {"t": moment.timestamp(), "type": "state_lost"}
    assert [e["type"] for e in rest][:1] == ["key"]
    (request,) = store.list_callbacks(None, None, 5)[0]
    assert request["call_sid"] == call.call_sid
    call.press("1").press("3")  # voicemail OK, any time: the next steps follow on
    assert "Your callback request is booked" in call.heard()
    (booked,) = store.list_callbacks(None, None, 5)[0]
    assert booked["reference"] == request["reference"] and booked["preferred_time"] == "any"


def test_a_lost_call_naming_a_prompt_that_takes_no_answer_hears_it_again(client, redis_client):
    # The call's state is gone (expired, or Redis lost it): the URL's node is all there is.
    query = {"s": "3", "n": "urgent_numbers"}
    root = assert_twiml(post(client, "/voice/step", query, {"CallSid": SIDS[0], "Digits": "1"}))
    said = ET.tostring(root, encoding="unicode")
    assert "you can call any of these through Relay UK" in said
    assert "To hear about I P T" in said


# --- keyed-in numbers -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("keys", "readback", "reason"),
    [
        ("0161496#", "0 1 6, 1 4 9, 6", "too short"),
        ("077009001234567#", "0 7 7, 0 0 9, 0 0 1, 2 3 4, 5 6 7", "too long"),
        ("09098790000#", "0 9 0 9 8, 7 9 0, 0 0 0", "premium rate"),
        ("0033123456789#", "0 0 3, 3 1 2, 3 4 5, 6 7 8, 9", "only call numbers in the UK"),
        ("00000000000#", "0 0 0 0 0, 0 0 0, 0 0 0", "all zeros"),
        ("07000123456#", "0 7 0 0 0, 1 2 3, 4 5 6", "cannot call that kind"),
    ],
)
def test_a_bad_keyed_number_is_read_back_with_the_reason_and_asked_again(
    phone, store, keys, readback, reason
):
    call = phone(from_number="anonymous")
    call.press("3")
    call.heard()
    call.press(keys)
    heard = call.heard()
    assert f"You keyed in: {readback}." in heard
    assert reason in heard
    assert "Please key in the phone number" in heard
    assert not call.ended and store.list_callbacks(None, None, 5)[0] == []


def test_keys_past_the_32nd_in_one_entry_are_not_read(phone):
    """Twilio's Digits is read up to 32 keys (the number prompt asks for 16 at most): a key past
    that is not part of the number. Stars are no digits, so the 32 keys hold a good number."""
    call = phone(from_number="anonymous")
    call.press("3")
    assert "Please key in the phone number" in call.heard()
    action = urljoin(call.requests[-1][0], call.waiting.action)
    keys = "*" * 21 + "07700900456"
    assert len(keys) == 32
    status, body = call.signed_post(action, call.params({"Digits": keys + "9"}))
    assert status == 200 and "You keyed in: 0 7 7 0 0, 9 0 0, 4 5 6." in body
    assert "too long" not in body
