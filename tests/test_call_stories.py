"""Callers' stories: whole calls placed through the signed webhooks, asserting on what the caller
hears and on what lands in Redis."""

from __future__ import annotations

from conftest import phone_for
from twilio.request_validator import RequestValidator

from ivr.store.keys import key


def only_callback(store) -> dict:
    callbacks, _ = store.list_callbacks(None, None, 10)
    assert len(callbacks) == 1, callbacks
    return callbacks[0]


def test_safety_numbers_come_first(phone, app):
    call = phone()
    opening = call.heard()
    # The crisis signposting is the first thing said, before any menu.
    assert opening.index("not for emergencies") < opening.index("press 1")
    for number in ("9 9 9", "NHS 1 1 1", "option 2", "Samaritans", "1 1 6, 1 2 3"):
        assert number in opening
    service = app.config["SETTINGS"].service_name
    assert opening.split(".")[0] == f"Thank you for calling the {service}"


def test_information_path_heard_in_full_by_just_listening(phone, store):
    call = phone()
    call.heard()
    call.press("1")
    text = call.heard()
    assert "aims to help manage symptoms of depression and low mood" in text
    # A listener who presses nothing hears each chunk in turn.
    for _ in range(5):
        call.silence()
        text += " " + call.heard()
    for fact in (
        "Arguments or disagreements",
        "having a baby, or losing a job",
        "bereavement",
        "starting or holding on to relationships",
        "episodes",
        "face to face",
        "about eight sessions",
        "about fifty minutes",
        "several weeks",
        "come to your sessions",
        "open to new ways",
        "small goals",
        "ask your GP to refer you",
        "refer yourself",
    ):
        assert fact in text, fact
    # The last chunk waits for a choice; then silence is re-prompted, not skipped.
    call.silence()
    assert "did not hear a key" in call.heard()
    log = store.call_log(call.call_sid)
    assert log["last_node"] == "info_referral"
    call.hang_up()
    assert store.call_log(call.call_sid)["outcome"] == "information_only"


def test_information_chunks_can_be_skipped_repeated_and_left(phone):
    call = phone()
    call.heard()
    call.press("1")
    first = call.heard()
    call.press("*")
    assert call.heard() == first  # star repeats the chunk
    call.press("1")
    assert "These difficulties can include" in call.heard()  # 1 skips on
    call.press("0")
    assert "To hear about I P T, say information, or press 1" in call.heard()  # 0: the menu


def test_screening_with_phq2_of_three_or_more_queues_a_callback(phone, store, redis_client):
    call = phone(from_number="+447700900456")
    call.press("2")
    assert "These questions are optional" in call.heard()
    call.press("3")  # little interest: more than half the days (2)
    assert "down, depressed, or hopeless" in call.heard()
    call.press("2")  # feeling down: several days (1)
    assert "thoughts of harming yourself" in call.heard()
    call.press("2")  # no
    assert "Which of these fits you best" in call.heard()
    call.press("3")  # grief
    call.press("1")  # episodes
    assert "about eight sessions, spread over several weeks" in call.heard()
    call.press("1")  # sessions possible
    assert "do not decide whether you can have I P T" in call.heard()
    call.press("1")  # callback
    assert "ending in 0, 4, 5, 6" in call.heard()
    call.press("1")  # this number
    call.press("2")  # no voicemail
    call.press("1")  # mornings
    confirmation = call.heard()
    callback = only_callback(store)
    ref = callback["reference"]
    assert "Your callback request is booked" in confirmation
    assert ", ".join(ref[:3]) + ". " + ", ".join(ref[3:]) in confirmation  # read slowly
    assert callback["phone"] == "+447700900456"
    assert callback["phq2_total"] == 3
    assert callback["answers"] == {
        "phq2_interest": 2,
        "phq2_down": 1,
        "risk": "no",
        "difficulty": "grief",
        "mood_pattern": "episodes",
        "sessions_possible": "yes",
    }
    assert callback["urgent"] is False
    assert callback["voicemail_ok"] is False
    assert callback["preferred_time"] == "morning"
    assert callback["status"] == "queued"
    # Star repeats the reference; silence offers the extras, then ends the call politely.
    call.press("*")
    assert ", ".join(ref[:3]) in call.heard()
    call.silence()
    assert "If you need an interpreter" in call.heard()
    call.silence()
    assert "Goodbye" in call.heard()
    assert call.ended
    assert redis_client.zscore(key("callback_queue"), ref) is not None
    assert store.call_log(call.call_sid)["outcome"] == "callback_requested"


def test_risk_yes_gets_crisis_guidance_dial_and_an_urgent_callback(phone, store, redis_client):
    # An ordinary request is already waiting; the urgent one must jump ahead of it.
    earlier = phone(from_number="+447700900111")
    for keys in ("3", "1", "1", "3"):
        earlier.press(keys)
    call = phone(from_number="+447700900222")
    for keys in ("2", "4", "4"):
        call.press(keys)
    call.heard()
    call.press("1")  # yes, thoughts of self-harm
    support = call.heard()
    assert "You do not have to manage this alone" in support
    assert "call 9 9 9" in support and "1 1 6, 1 2 3" in support and "NHS 1 1 1" in support
    assert "Our team will call you on the number ending 0, 2, 2, 2" in support
    call.press("1")  # go on
    assert "put through to Samaritans" in call.heard()
    call.press("1")  # put me through
    assert call.dialled == ["+44116123"]
    assert "You are back with the" in call.heard()
    call.press("1")  # then a callback
    call.press("1")
    call.press("1")
    call.press("3")
    assert "marked as urgent" in call.heard()
    urgent = next(cb for cb in store.list_callbacks(None, None, 10)[0] if cb["urgent"])
    assert urgent["answers"]["risk"] == "yes"
    assert urgent["phq2_total"] == 6
    queue = redis_client.zrange(key("callback_queue"), 0, -1)
    assert queue[0] == urgent["reference"] and len(queue) == 2


def test_rather_not_say_to_risk_is_treated_the_safer_way(phone, store):
    call = phone()
    for keys in ("2", "1", "1", "3"):
        call.press(keys)
    assert "Samaritans are free" in call.heard()
    call.press("1")  # go on (not "no" to the team's call)
    call.press("2")  # ask for a callback soon
    for keys in ("1", "1", "3"):
        call.press(keys)
    assert only_callback(store)["urgent"] is True


def test_withheld_number_must_be_keyed_in_and_read_back(phone, store):
    for sentinel in ("+266696687", "+7378742833", "+86282452253", "anonymous"):
        call = phone(from_number=sentinel)
        call.press("3")
        assert "Please key in the phone number" in call.heard()
        call.hang_up()
    call = phone(from_number="+266696687")
    call.press("3")
    call.press("01632960#")  # too short
    heard = call.heard()
    assert "You keyed in: 0 1 6, 3 2 9, 6 0." in heard and "too short" in heard
    assert "Please key in" in heard  # asked again
    call.press("09098790000#")
    assert "premium rate" in call.heard()
    call.press("07700900999#")
    assert "You keyed in: 0 7 7 0 0, 9 0 0, 9 9 9." in call.heard()
    call.press("1")
    call.press("1")
    call.press("2")
    callback = only_callback(store)
    assert callback["phone"] == "+447700900999"
    assert callback["caller_id_withheld"] is True
    assert callback["number_source"] == "keyed"
    # The keyed digits never reach the call's event log.
    events = store.call_events(call.call_sid)
    assert not any("0790" in str(e) or "900999" in str(e) for e in events)


def test_three_bad_numbers_end_the_call_with_where_to_get_help(phone, store):
    call = phone(from_number="anonymous")
    call.press("3")
    for junk in ("1#", "00000000000#", "0044123#"):
        call.press(junk)
    heard = call.heard()
    assert "could not take a number" in heard and "NHS 1 1 1" in heard
    assert call.ended
    assert store.list_callbacks(None, None, 10)[0] == []


def test_silence_is_reprompted_then_offered_a_callback_then_ends_politely(phone, store):
    call = phone()
    call.heard()
    call.silence()
    assert call.heard().startswith("Sorry, we did not hear a key.")
    call.silence()
    assert "Would you like our team to call you back" in call.heard()
    call.silence()
    assert "did not hear a key" in call.heard()
    call.silence()
    ending = call.heard()
    assert "we will end the call now" in ending
    assert "NHS 1 1 1" in ending and "9 9 9" in ending and "1 1 6, 1 2 3" in ending
    assert call.ended
    assert store.call_log(call.call_sid)["outcome"] == "silence_timeout"


def test_silence_at_every_prompt_ends_the_call(app, phone, store):
    """Walk to every waiting prompt in the flow and stay silent: every call must end."""
    flow = app.extensions["ivr.flow"]
    mobile, hidden = "+447700900123", "anonymous"
    routes = {
        "main_menu": (mobile, []),
        "info_what": (mobile, ["1"]),
        "info_difficulties": (mobile, ["1", "1"]),
        "info_who": (mobile, ["1", "1", "1"]),
        "info_involves": (mobile, ["1", "1", "1", "1"]),
        "info_asks": (mobile, ["1", "1", "1", "1", "1"]),
        "info_referral": (mobile, ["1", "1", "1", "1", "1", "1"]),
        "phq_interest": (mobile, ["2"]),
        "phq_down": (mobile, ["2", "1"]),
        "risk_question": (mobile, ["2", "1", "1"]),
        "risk_call_notice": (mobile, ["2", "1", "1", "1"]),
        "risk_options": (mobile, ["2", "1", "1", "1", "1"]),
        "after_crisis_offer": (mobile, ["2", "1", "1", "1", "1", "1"]),
        "risk_number": (hidden, ["2", "1", "1", "1"]),
        "risk_number_confirm": (hidden, ["2", "1", "1", "1", "07700900123#"]),
        "difficulty": (mobile, ["2", "1", "1", "2"]),
        "mood_pattern": (mobile, ["2", "1", "1", "2", "1"]),
        "sessions_possible": (mobile, ["2", "1", "1", "2", "1", "1"]),
        "screen_done": (mobile, ["2", "1", "1", "2", "1", "1", "1"]),
        "confirm_caller_id": (mobile, ["3"]),
        "enter_number": (mobile, ["3", "2"]),
        "confirm_keyed_number": (mobile, ["3", "2", "07700900123#"]),
        "voicemail_consent": (mobile, ["3", "1"]),
        "preferred_time": (mobile, ["3", "1", "1"]),
        "callback_confirmed": (mobile, ["3", "1", "1", "1"]),
        "callback_confirmed_urgent": (mobile, ["2", "1", "1", "1", "1", "2", "1", "1", "1"]),
        "callback_extras": (mobile, ["3", "1", "1", "1", ""]),
        "interpreter_language": (mobile, ["3", "1", "1", "1", "", "1"]),
        "text_consent": (mobile, ["3", "1", "1", "1", "", "2"]),
        "offer_callback": (mobile, ["7", "7"]),
        "offer_callback_keyed": (hidden, ["7", "7"]),
    }
    kinds = ("menu", "number_entry", "words_entry")
    waiting = {n for n, node in flow.nodes.items() if node["type"] in kinds}
    assert waiting == set(routes), "every waiting prompt is covered by this test"
    for node, (caller, keys) in routes.items():
        call = phone(from_number=caller)
        for k in keys:
            call.press(k) if k else call.silence()
        assert store.call_log(call.call_sid)["last_node"] == node
        for _ in range(20):
            if call.ended:
                break
            call.silence()
        assert call.ended, f"a silent caller at {node} was never let go"
        assert call.all_heard().endswith("Goodbye."), node


def test_wrong_keys_everywhere_say_so_and_repeat(phone):
    call = phone()
    menu = call.heard()
    call.press("7")
    again = call.heard()
    assert again.startswith("Sorry, that key is not one of the options.")
    assert "To hear about I P T, say information, or press 1" in again
    call.press("2")
    call.heard()
    call.press("8")  # not a PHQ answer
    assert "not one of the options" in call.heard()
    call.press("5")  # a second wrong key in a row: offered a person, not an ending
    assert "Would you like our team to call you back" in call.heard()
    call.press("6")
    assert "not one of the options" in call.heard()
    call.press("7")  # and after two more at the offer: the call ends with where to get help
    assert call.ended
    assert "1 1 6, 1 2 3" in call.heard()
    assert "9 9 9" in menu


def test_nine_goes_straight_to_a_callback_from_any_menu(phone):
    call = phone()
    call.press("2")
    call.press("9")
    assert "We can call you back on the number you are calling from" in call.heard()


def test_a_retried_webhook_has_the_same_effect_once(phone, store, redis_client):
    call = phone()
    for keys in ("3", "1", "1"):
        call.press(keys)
    # Twilio retries the request that confirms the callback (same URL, same body).
    call.press("3")
    url, params, _ = call.requests[-1]
    status, first = call.signed_post(url, params)
    status2, second = call.signed_post(url, params)
    assert status == status2 == 200
    assert first == second
    assert "Your callback request is booked" in first
    assert redis_client.zcard(key("callbacks_by_created")) == 1
    events = [e["type"] for e in store.call_events(call.call_sid)]
    assert events.count("callback_requested") == 1
    # The call carries on normally afterwards.
    call.press("*")
    assert "Your reference number is" in call.heard()


def test_an_out_of_order_step_hears_the_current_prompt_again(phone, store):
    call = phone()
    call.press("2")
    call.heard()
    url, params, _ = call.requests[-1]
    stale = url.replace("s=2", "s=1").replace("s=3", "s=1")
    status, body = call.signed_post(stale, {**params, "Digits": "4"})
    assert status == 200
    assert "little interest or pleasure" in body
    assert "phq2_interest" not in store.load_call(call.call_sid).data["answers"]


def test_unsigned_or_forged_requests_are_refused(client, phone, redis_client):
    params = phone().params()
    assert client.post("/voice/incoming", data=params).status_code == 403
    forged = client.post("/voice/incoming", data=params, headers={"X-Twilio-Signature": "AAAA"})
    assert forged.status_code == 403
    # A correct signature for other parameters does not carry over.
    call = phone()
    url, body, _ = call.requests[0]
    token = client.application.config["SETTINGS"].twilio_auth_token
    signature = RequestValidator(token).compute_signature(url, body)
    tampered = client.post(
        "/voice/incoming",
        data={**body, "From": "+447700900000"},
        headers={"X-Twilio-Signature": signature},
    )
    assert tampered.status_code == 403
    for path in ("/voice/step?s=1&n=main_menu", "/voice/status", "/voice/fallback"):
        assert client.post(path, data=params).status_code == 403


def test_fallback_url_gives_the_safety_message(phone):
    call = phone()
    status, body = call.signed_post("http://localhost/voice/fallback", call.params())
    assert status == 200
    assert "1 1 6, 1 2 3" in body and "9 9 9" in body and "<Hangup" in body


def test_a_missing_call_sid_still_gets_valid_twiml(phone):
    call = phone()
    params = call.params()
    del params["CallSid"]
    status, body = call.signed_post("http://localhost/voice/incoming", params)
    assert status == 200
    assert body.startswith("<?xml") and "1 1 6, 1 2 3" in body


def test_out_of_hours_callers_hear_when_callbacks_happen(settings, redis_client):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from ivr import create_app

    app = create_app(settings)  # Monday to Friday, 9 to 5, English bank holidays
    # Christmas Day 2026 is a Friday; Monday the 28th is the Boxing Day bank holiday.
    app.extensions["ivr.clock"] = lambda: datetime(
        2026, 12, 25, 10, 0, tzinfo=ZoneInfo("Europe/London")
    )
    call = phone_for(app)()
    text = call.heard()
    assert "Our team is not working right now" in text
    assert "We will start returning calls on Tuesday, from 9 am." in text
    for keys in ("3", "1", "1", "3"):
        call.press(keys)
    promise = "Our team will call you within 2 working days of when we open, on Tuesday at 9 am."
    assert promise in call.heard()
    assert only_callback(app.extensions["ivr.store"])["out_of_hours"] is True


def test_in_hours_callers_hear_no_closed_message(settings, redis_client):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from ivr import create_app

    app = create_app(settings)
    app.extensions["ivr.clock"] = lambda: datetime(
        2026, 12, 23, 11, 0, tzinfo=ZoneInfo("Europe/London")
    )
    call = phone_for(app)()
    assert "not working right now" not in call.heard()
    for keys in ("3", "1", "1", "3"):
        call.press(keys)
    assert "Our team will call you within 2 working days." in call.heard()


def test_a_risk_answer_after_the_callback_makes_it_urgent(phone, store, redis_client):
    waiting = phone(from_number="+447700900111")
    for keys in ("3", "1", "1", "3"):
        waiting.press(keys)
    call = phone(from_number="+447700900222")
    for keys in ("9", "1", "1", "3"):  # straight to a callback
        call.press(keys)
    call.press("0")
    for keys in ("2", "1", "1", "1"):  # then the questions, and yes to the risk question
        call.press(keys)
    assert "You do not have to manage this alone" in call.heard()
    callbacks = {cb["phone"]: cb for cb in store.list_callbacks(None, None, 10)[0]}
    assert len(callbacks) == 2
    updated = callbacks["+447700900222"]
    assert updated["urgent"] is True and updated["answers"]["risk"] == "yes"
    assert redis_client.zrange(key("callback_queue"), 0, 0) == [updated["reference"]]
    assert redis_client.zcard(key("callbacks_by_created")) == 2


def test_a_caller_who_leaves_after_confirming_their_number_still_has_a_request(phone, store):
    call = phone()
    call.press("1")  # some information
    call.press("0")
    call.press("3")  # then starts a callback request, and hangs up at the voicemail question
    call.press("1")
    call.hang_up()
    log = store.call_log(call.call_sid)
    assert log["outcome"] == "callback_requested" and log["last_node"] == "voicemail_consent"
    request = only_callback(store)
    assert request["caller_finished"] is False and request["phone"] == "+447700900123"


def test_star_repeats_the_number_prompt_without_using_up_an_attempt(phone, store):
    call = phone(from_number="anonymous")
    call.press("3")
    call.heard()
    for _ in range(3):
        call.press("*#")
        assert call.heard().startswith("Please key in the phone number")
    call.press("07700900444#")
    assert "You keyed in: 0 7 7 0 0, 9 0 0, 4 4 4." in call.heard()


def test_intake_sees_which_information_the_caller_listened_to(phone, store, client, signed_in):
    call = phone()
    for keys in ("1", "1", "*", "9", "1", "1", "3"):  # two chunks (one repeated), then a callback
        call.press(keys)
    ref = only_callback(store)["reference"]
    assert only_callback(store)["heard"] == ["what_it_is", "four_difficulties"]
    signed_in(client, role="intake")
    page = client.get(f"/intake/callbacks/{ref}").get_data(as_text=True)
    listened = '<ul id="heard"><li>What IPT is</li><li>The four kinds of difficulty</li></ul>'
    assert listened in page


def test_the_daily_callback_limit_counts_by_the_utc_day_whatever_the_server_s_zone(
    open_hours, redis_client, monkeypatch
):
    import time
    from dataclasses import replace
    from datetime import UTC, datetime

    from ivr import create_app

    # A server clock in a zone whose date is not UTC's right now (UTC+14 or UTC-12).
    zone = "Etc/GMT-14" if datetime.now(UTC).hour >= 10 else "Etc/GMT+12"
    monkeypatch.setenv("TZ", zone)
    time.tzset()
    try:
        days = {datetime.now(UTC).strftime("%Y%m%d")}
        app = create_app(replace(open_hours, callbacks_per_day=1))
        call = phone_for(app)()
        for keys in ("3", "1", "1", "3"):
            call.press(keys)
        days.add(datetime.now(UTC).strftime("%Y%m%d"))  # in case UTC midnight just passed
        app.extensions["ivr.deliverer"].stop()
    finally:
        monkeypatch.undo()
        time.tzset()
    assert "Your callback request is booked" in call.all_heard()
    (tally,) = redis_client.keys("*limit:callbacks:*")
    assert tally.rsplit(":", 1)[1] in days
