""" "Call me and connect": the app asks a local fake of Twilio's REST API to ring the worker, and
the bridging TwiML dials the caller with the service number as caller ID."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import replace

import pytest
from conftest import AUTH_TOKEN, csrf_from
from twilio.request_validator import RequestValidator

from ivr import create_app
from ivr.twilio_sim.rest_api import ACCOUNT_SID, FakeTwilio


@pytest.fixture
def fake_twilio():
    with FakeTwilio() as fake:
        yield fake


@pytest.fixture
def twilio_app(open_hours, redis_client, fake_twilio):
    settings = replace(open_hours, twilio_account_sid=ACCOUNT_SID, twilio_api_base=fake_twilio.url)
    return create_app(settings)


def claim_and_connect(client, ref: str, worker_phone: str):
    page = f"/intake/callbacks/{ref}"
    token = csrf_from(client.get(page).get_data(as_text=True))
    client.post(f"{page}/claim", data={"csrf_token": token})
    return client.post(f"{page}/connect", data={"csrf_token": token, "worker_phone": worker_phone})


def signed_post(client, url: str, params: dict):
    signature = RequestValidator(AUTH_TOKEN).compute_signature(url, params)
    path = url.removeprefix("http://localhost")
    return client.post(path, data=params, headers={"X-Twilio-Signature": signature})


def test_call_me_and_connect_rings_the_worker_then_bridges_to_the_caller(
    twilio_app, fake_twilio, signed_in, request_callback, redis_client
):
    ref = request_callback(from_number="+447700900123")
    client = twilio_app.test_client()
    signed_in(client)
    response = claim_and_connect(client, ref, "07700 900999")
    assert response.status_code == 303
    assert "Your phone will ring now" in client.get(response.headers["Location"]).get_data(
        as_text=True
    )
    [sent] = fake_twilio.requests
    assert sent["path"] == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls.json"
    assert sent["form"]["To"] == "+447700900999"
    assert sent["form"]["From"] == twilio_app.config["SETTINGS"].service_number
    assert sent["auth"].startswith("Basic ")
    bridge_url = sent["form"]["Url"]
    assert bridge_url.startswith("http://localhost/voice/bridge?t=")
    # Twilio fetches the bridge when the worker answers: it dials the caller as the service.
    twiml = signed_post(
        client, bridge_url, {"CallSid": "CA" + "2" * 32, "CallStatus": "in-progress"}
    )
    root = ET.fromstring(twiml.get_data(as_text=True))  # noqa: S314 (our own TwiML)
    dial = root.find("Dial")
    assert dial.get("callerId") == twilio_app.config["SETTINGS"].service_number
    assert dial.find("Number").text == "+447700900123"
    assert "reference" in root.find("Say").text
    # It is remembered for next time, and audited.
    assert redis_client.hget(f"ivr:user:{'intake1'}", "phone") == "+447700900999"
    actions = [f["action"] for _, f in redis_client.xrange(f"ivr:callback:{ref}:audit")]
    assert "connect" in actions


def test_bridge_answers_only_twilio_and_only_live_tokens(twilio_app, request_callback):
    client = twilio_app.test_client()
    unsigned = client.post("/voice/bridge?t=whatever", data={"CallSid": "CA" + "3" * 32})
    assert unsigned.status_code == 403
    stale = signed_post(
        client, "http://localhost/voice/bridge?t=gone", {"CallSid": "CA" + "3" * 32}
    )
    root = ET.fromstring(stale.get_data(as_text=True))  # noqa: S314 (our own TwiML)
    assert root.find("Dial") is None and "expired" in root.find("Say").text


def test_connect_needs_a_claim_and_a_real_number(
    twilio_app, fake_twilio, signed_in, request_callback
):
    ref = request_callback()
    client = twilio_app.test_client()
    signed_in(client)
    page = f"/intake/callbacks/{ref}"
    token = csrf_from(client.get(page).get_data(as_text=True))
    unclaimed = client.post(
        f"{page}/connect", data={"csrf_token": token, "worker_phone": "07700900999"}
    )
    assert unclaimed.status_code == 409
    bad = claim_and_connect(client, ref, "12345")
    assert bad.status_code == 400 and "Enter your own UK phone number" in bad.get_data(as_text=True)
    assert fake_twilio.requests == []


def test_twilio_refusing_the_call_is_explained_not_a_crash(
    twilio_app, fake_twilio, signed_in, request_callback
):
    fake_twilio.status = 400
    ref = request_callback()
    client = twilio_app.test_client()
    signed_in(client)
    response = claim_and_connect(client, ref, "07700900999")
    assert response.status_code == 400
    assert "Twilio did not place the call" in response.get_data(as_text=True)


def test_no_connect_button_without_twilio_credentials(client, signed_in, request_callback):
    ref = request_callback()
    signed_in(client)
    page = f"/intake/callbacks/{ref}"
    token = csrf_from(client.get(page).get_data(as_text=True))
    client.post(f"{page}/claim", data={"csrf_token": token})
    html = client.get(page).get_data(as_text=True)
    assert "tel:+447700900123" in html and "Call me and connect" not in html
