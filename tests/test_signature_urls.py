"""The signed URL behind a proxy, as an operator may configure it: a public base URL typed with a
trailing slash (as browsers show it) must still match what Twilio signed, or every call would
hear nothing but an error."""

from __future__ import annotations

from dataclasses import replace

import pytest
from twilio.request_validator import RequestValidator

from ivr import create_app
from tests.conftest import AUTH_TOKEN

FORM = {
    "CallSid": "CA" + "b" * 32,
    "From": "+447700900123",
    "To": "+442032281350",
    "CallStatus": "ringing",
}


@pytest.mark.parametrize(
    "configured", ["https://ipt.example.nhs.uk/", "https://ipt.example.nhs.uk//"]
)
def test_a_public_base_url_with_a_trailing_slash_still_accepts_twilio(
    open_hours, redis_client, configured
):
    app = create_app(replace(open_hours, public_base_url=configured))
    try:
        url = "https://ipt.example.nhs.uk/voice/incoming"
        signature = RequestValidator(AUTH_TOKEN).compute_signature(url, FORM)
        response = app.test_client().post(
            "/voice/incoming", data=FORM, headers={"X-Twilio-Signature": signature}
        )
        assert response.status_code == 200
        assert "<Say" in response.get_data(as_text=True)
    finally:
        app.extensions["ivr.deliverer"].stop()
