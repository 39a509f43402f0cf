"""Privacy: personal data encrypted at rest, key rotation, no numbers or answers in logs, and
data-protection requests (subject access export and erasure) from the command line."""

from __future__ import annotations

import json
import logging
from dataclasses import replace

import pytest
from click.testing import CliRunner
from cryptography.fernet import Fernet

from ivr import create_app
from ivr.cli import main
from ivr.privacy.subjects import export_subject, rotate_all
from ivr.store.crypto import DataKeys
from ivr.store.redis_store import Store
from ivr.twilio_sim.phone import SimulatedCall
from tests.conftest import AUTH_TOKEN, BASE_URL, FlaskTransport

NUMBER = "+447700900123"
DIGITS = ("7700900123", "7700 900123", "7 7 0 0 0, 9 0 0, 1 2 3")


def request_callback(phone, from_number=NUMBER):
    call = phone(from_number=from_number)
    for key in "3113":
        call.press(key)
    return call


def screening_with_risk(phone, from_number="+447700900456"):
    call = phone(from_number=from_number)
    for key in ("2", "4", "3", "1", "2", "1", "1"):  # PHQ-2 3+2, risk yes, callback now
        call.press(key)
    for key in "113":
        call.press(key)
    return call


def test_number_and_answers_are_encrypted_in_redis(phone, store, redis_client):
    call = screening_with_risk(phone)
    ref = store.list_callbacks(None, None, 10)[0][0]["reference"]
    raw = redis_client.hgetall(f"ivr:callback:{ref}")
    assert "7700900456" not in raw["phone"] and raw["phone"].startswith("enc1:")
    assert "yes" not in raw["answers"] and "phq2" not in raw["answers"]
    state = redis_client.hgetall(f"ivr:call:{call.call_sid}:state")
    assert "7700900456" not in state["data"] and "7700900456" not in state["twiml"]
    # Every reader gets plain values.
    callback = store.callback(ref)
    assert callback["phone"] == "+447700900456"
    assert callback["answers"]["risk"] == "yes" and callback["urgent"] is True


def test_keyed_number_is_not_in_clear_in_the_call_state(phone, redis_client):
    call = phone(from_number="anonymous")
    call.press("3").press("07700900789#")
    raw = json.dumps(redis_client.hgetall(f"ivr:call:{call.call_sid}:state"))
    assert "7700900789" not in raw and "7 7 0 0 0, 9 0 0, 7 8 9" not in raw


def test_rotation_moves_every_record_to_the_new_key(open_hours, redis_client):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    app = create_app(replace(open_hours, data_keys=old))
    call = SimulatedCall(FlaskTransport(app.test_client()), BASE_URL, AUTH_TOKEN).dial()
    for key in "3113":
        call.press(key)
    ref = app.extensions["ivr.store"].list_callbacks(None, None, 1)[0][0]["reference"]
    rotate_all(redis_client, DataKeys.from_settings(replace(open_hours, data_keys=f"{new},{old}")))
    only_new = DataKeys.from_settings(replace(open_hours, data_keys=new))
    assert Store(redis_client, 60, 60, only_new).callback(ref)["phone"] == NUMBER
    found = export_subject(redis_client, only_new, NUMBER)
    assert [c["reference"] for c in found["callbacks"]] == [ref]
    assert [c["call_sid"] for c in found["calls"]] == [call.call_sid]


def test_logs_of_full_calls_hold_no_numbers_or_answers(phone, caplog, redis_server):
    caplog.set_level(logging.DEBUG)
    request_callback(phone).hang_up()
    screening_with_risk(phone).hang_up()
    keyed = phone(from_number="anonymous")
    keyed.press("3").press("0770090012#").press("07700900123#").press("1")
    keyed.press("1").press("1")
    redis_server.stop()  # an outage too: the journal path logs as well
    try:
        request_callback(phone, from_number="+447700900124")
    finally:
        redis_server.start()
    assert caplog.records, "the calls should have logged something (the outage, at least)"
    for record in caplog.records:
        text = record.getMessage() + " " + json.dumps(record.__dict__, default=str)
        for digits in (*DIGITS, "7700900456", "7700900124", "770090012"):
            assert digits not in text, record.getMessage()
        for answer in ("phq2", "risk", "answers", "difficulty"):
            assert answer not in text, record.getMessage()


@pytest.fixture
def cli(settings, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no .local/env here
    monkeypatch.setenv("REDIS_URL", settings.redis_url)
    monkeypatch.setenv("SECRET_KEY", settings.secret_key)
    monkeypatch.setenv("IVR_ENV", "test")
    monkeypatch.setenv("IVR_JOURNAL_DIR", settings.journal_dir)
    runner = CliRunner()
    return lambda *args: runner.invoke(main, list(args), catch_exceptions=False)


def test_subject_export_and_erase(cli, phone, store, redis_client):
    request_callback(phone).hang_up()
    other = request_callback(phone, from_number="+447700900999")
    other.hang_up()
    mine = [c for c in store.list_callbacks(None, None, 10)[0] if c["phone"] == NUMBER][0]

    exported = json.loads(cli("subject-export", "07700 900123").output)
    assert [c["reference"] for c in exported["callbacks"]] == [mine["reference"]]
    assert exported["callbacks"][0]["phone"] == NUMBER
    assert exported["calls"][0]["call_sid"] == mine["call_sid"]
    assert exported["calls"][0]["log"]["outcome"] == "callback_requested"

    result = cli("subject-erase", NUMBER, "--yes")
    assert "Erased 1 callback request(s) and 1 call log(s)." in result.output
    assert store.callback(mine["reference"]) is None
    assert not redis_client.exists(f"ivr:call:{mine['call_sid']}:log")
    assert [c["phone"] for c in store.list_callbacks(None, None, 10)[0]] == ["+447700900999"]
    assert redis_client.zcard("ivr:callbacks:queue") == 1
    assert redis_client.sismember("ivr:callbacks:refs", mine["reference"])  # never reused
    assert json.loads(cli("subject-export", NUMBER).output)["callbacks"] == []


def test_subject_export_refuses_a_non_uk_number(cli):
    result = CliRunner().invoke(main, ["subject-export", "12"])
    assert result.exit_code != 0 and "not a UK number" in result.output


def test_journal_status_shows_waiting_requests_masked(cli, phone, redis_server):
    assert "Nothing waiting" in cli("journal", "status").output
    redis_server.stop()
    try:
        request_callback(phone)
        output = cli("journal", "status").output
    finally:
        redis_server.start()
    assert "1 request(s) waiting" in output and "********123" in output
    assert "7700900123" not in output


def test_subject_export_finds_a_call_that_hung_up_at_the_welcome(cli, phone):
    """A call that only heard the welcome (one step, no request) is still the caller's data."""
    call = phone(from_number=NUMBER)
    call.hang_up()
    phone(from_number="+447700900999").hang_up()
    exported = json.loads(cli("subject-export", "07700 900123").output)
    assert [c["call_sid"] for c in exported["calls"]] == [call.call_sid]
    assert exported["callbacks"] == []
