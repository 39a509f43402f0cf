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


def test_a_signature_over_the_url_with_its_port_is_accepted_and_junk_ones_are_refused(
    open_hours, redis_client
):
    """Twilio signs some requests over the URL with the port written out (https://host:443/...).
    The line settles most requests with one HMAC over the URL as received (issue 14), and must
    still accept those, and refuse a signature over another URL, a forged one, or a header of
    junk (non-ASCII included) with a 403, never a 500."""
    app = create_app(replace(open_hours, public_base_url="https://ipt.example.nhs.uk"))
    client = app.test_client()
    validator = RequestValidator(AUTH_TOKEN)
    try:
        for url, status in [
            ("https://ipt.example.nhs.uk/voice/incoming", 200),
            ("https://ipt.example.nhs.uk:443/voice/incoming", 200),
            ("https://ipt.example.nhs.uk/voice/step", 403),
            ("https://other.example.org/voice/incoming", 403),
        ]:
            signature = validator.compute_signature(url, FORM)
            answer = client.post(
                "/voice/incoming", data=FORM, headers={"X-Twilio-Signature": signature}
            )
            assert answer.status_code == status, url
        for junk in ["x", "é" * 28, "=" * 28, validator.compute_signature("", FORM)]:
            answer = client.post("/voice/incoming", data=FORM, headers={"X-Twilio-Signature": junk})
            assert answer.status_code == 403, junk
    finally:
        app.extensions["ivr.deliverer"].stop()
