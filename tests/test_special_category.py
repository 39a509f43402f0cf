"""Special-category data is encrypted or not kept (issue 11, finding 1): screening answers,
notes and numbers never sit in Redis in clear, call events keep "answered" but not which
answer, and managers' call logs show the path and ending, never an individual's answers."""

from __future__ import annotations

import json

from ivr.api.tokens import create_token
from ivr.intake.service import Intake
from ivr.line.hours import Hours
from tests.redis_scan import findings

AT_RISK = "+447700900456"
KEYED = "07700900789"
NOTE = "Spoke to her sister Maureen about the bereavement"
# What a screening answer looks like in clear (answer names, or a key pressed at a question).
ANSWER_MARKS = [
    '"risk"',
    "prefer_not_to_say",
    "phq2_interest",
    "phq2_down",
    "life_change",
    "disputes",
    '\\"node\\":\\"risk_question\\",\\"key\\"',
    '\\"node\\":\\"phq_interest\\",\\"key\\"',
]


def screening_with_risk(phone, from_number=AT_RISK):
    call = phone(from_number=from_number)
    for key in ("2", "4", "3", "1", "2", "1", "1"):  # PHQ-2 3+2, risk yes, callback now
        call.press(key)
    for key in "113":
        call.press(key)
    return call


def full_screening_then_keyed_number(phone):
    call = phone(from_number="anonymous")
    for key in ("2", "1", "2", "2", "1", "1", "1", "9"):  # no risk, every question, callback
        call.press(key)
    call.press(KEYED + "#").press("1").press("1").press("3")
    return call


def test_call_events_keep_the_step_and_answered_but_not_the_answer(phone, redis_client):
    call = screening_with_risk(phone)
    events = [json.loads(e) for e in redis_client.lrange(f"ivr:call:{call.call_sid}:events", 0, -1)]
    risk = [e for e in events if e.get("node") == "risk_question" and e["type"] == "key"]
    assert risk and all(e.get("answered") is True and "key" not in e for e in risk)
    assert all(e["a"].startswith("enc1:") for e in risk)
    menu = [e for e in events if e.get("node") == "main_menu" and e["type"] == "key"]
    assert menu[0]["key"] == "2"  # a menu choice is not health data: kept for the reports


def test_managers_call_logs_show_the_path_never_the_answers(
    app, client, phone, signed_in, redis_client
):
    call = screening_with_risk(phone)
    call.hang_up()
    signed_in(client, role="manager")
    listing = client.get("/reports/calls").get_data(as_text=True)
    detail = client.get(f"/reports/calls/{call.call_sid}").get_data(as_text=True)
    for page in (listing, detail):
        assert "risk_question" not in page and "risk_support" not in page
        assert "callback_confirmed_urgent" not in page and "tag-urgent" not in page
    assert "[screening questions]" in listing and "screening questions" in detail
    assert "callback requested" in listing


def test_no_screening_answer_note_or_full_number_in_clear_anywhere_in_redis(
    app, phone, store, client, redis_client
):
    at_risk = screening_with_risk(phone)
    keyed = full_screening_then_keyed_number(phone)
    plain = phone(from_number="+447700900777")
    for key in "3113":
        plain.press(key)
    for call in (at_risk, keyed, plain):
        call.hang_up()
    settings = app.config["SETTINGS"]
    intake = Intake(store, settings, Hours.from_settings(settings))
    refs = redis_client.zrange("ivr:callbacks:queue", 0, -1)
    assert len(refs) == 3
    for ref in refs:
        intake.claim(ref, "ian")
        intake.record_outcome(ref, "ian", "no_answer", NOTE)
        intake.get(ref, "ian")
    assert any(a["note"] == NOTE for a in intake.get(refs[0], "ian")["attempt_list"])
    token = create_token(redis_client, "records")
    listed = client.get("/api/v1/callbacks", headers={"Authorization": f"Bearer {token}"})
    assert AT_RISK in listed.get_data(as_text=True)  # readers see it; the store does not

    needles = [*ANSWER_MARKS, NOTE, "Maureen", "7700900456", "7700900789", "7700900777"]
    assert findings(redis_client, needles) == []
    for ref in refs:
        phq2 = redis_client.hget(f"ivr:callback:{ref}", "phq2_total")
        assert phq2 in (None, "") or phq2.startswith("enc1:")


def test_any_key_at_a_screening_prompt_is_kept_only_encrypted(app, store):
    # However a key arrives (pressed, said, or taken as a prompt's default), at a screening or
    # crisis prompt the stored event says only that it was answered.
    from ivr.store.special import pressed_key, stored_event

    for kind in ("key", "default_taken", "invalid_key"):
        kept = stored_event(
            {"type": kind, "node": "risk_question", "key": "1"}, store.private_nodes
        )
        assert "key" not in kept and kept["answered"] is True
        assert pressed_key(kept) == (None if kind == "invalid_key" else "1")
    menu = stored_event({"type": "key", "node": "main_menu", "key": "2"}, store.private_nodes)
    assert menu == {"type": "key", "node": "main_menu", "key": "2"}


def test_key_rotation_reaches_notes_and_answers_in_events(open_hours, redis_client):
    from dataclasses import replace

    from cryptography.fernet import Fernet

    from ivr import create_app
    from ivr.privacy.subjects import export_subject, rotate_all
    from ivr.store.crypto import DataKeys
    from tests.conftest import phone_for

    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    app = create_app(replace(open_hours, data_keys=old))
    call = screening_with_risk(phone_for(app))
    store = app.extensions["ivr.store"]
    ref = redis_client.zrange("ivr:callbacks:queue", 0, -1)[0]
    intake = Intake(store, app.config["SETTINGS"], Hours.from_settings(open_hours))
    intake.claim(ref, "ian")
    intake.record_outcome(ref, "ian", "no_answer", NOTE)
    rotate_all(redis_client, DataKeys.from_settings(replace(open_hours, data_keys=f"{new},{old}")))
    only_new = DataKeys.from_settings(replace(open_hours, data_keys=new))
    found = export_subject(redis_client, only_new, AT_RISK)
    attempts = found["held"]["callback_attempts"][f"ivr:callback:{ref}:attempts"]
    assert attempts[0]["note"] == NOTE
    events = found["calls"][0]["events"]
    assert {"node": "risk_question", "key": "1"}.items() <= next(
        e for e in events if e.get("node") == "risk_question" and e["type"] == "key"
    ).items()
    assert found["calls"][0]["call_sid"] == call.call_sid
    app.extensions["ivr.deliverer"].stop()
