"""Webhook signatures as the twilio library validates them (issue 11, finding 8): HMAC-SHA1
with the auth token, and HMAC-SHA256 with a SharedKey named in
X-Twilio-Webhooks-Signature-Settings (TWILIO_WEBHOOK_SHARED_KEYS, rotatable); an unknown key id
is refused; production refuses to start without the public URL, so the Host header never picks
the URL a signature is checked against."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from twilio.request_validator import HMAC_SHA256, RequestValidator

from ivr import create_app
from ivr.config import ConfigError, load_settings
from tests.conftest import AUTH_TOKEN
from tests.test_security import FORM, PUBLIC

OLD_KEY, NEW_KEY = "s3cr3t-old-0123456789abcdef", "s3cr3t-new-0123456789abcdef"
SHARED = f"webhooks_sharedkey_old={OLD_KEY}, webhooks_sharedkey_new={NEW_KEY}"


@pytest.fixture
def line(open_hours, redis_client):
    app = create_app(replace(open_hours, public_base_url=PUBLIC, twilio_webhook_shared_keys=SHARED))
    yield app.test_client()
    app.extensions["ivr.deliverer"].stop()


def sha256(path: str, key_id: str, secret: str, algorithm: str = HMAC_SHA256) -> dict:
    url = PUBLIC + path
    signature = RequestValidator(secret).compute_signature(url, FORM, HMAC_SHA256)
    return {
        "X-Twilio-Signature": signature,
        "X-Twilio-Webhooks-Signature-Settings": f"key={key_id},algorithm={algorithm}",
    }


@pytest.mark.parametrize("path", ["/voice/incoming", "/voice/fallback", "/voice/status"])
@pytest.mark.parametrize(("key_id", "secret"), [("webhooks_sharedkey_old", OLD_KEY),
                                                ("webhooks_sharedkey_new", NEW_KEY)])  # fmt: skip
def test_hmac_sha256_with_a_configured_shared_key_is_answered(line, path, key_id, secret):
    response = line.post(path, data=FORM, headers=sha256(path, key_id, secret))
    assert response.status_code == 200
    assert response.get_data(as_text=True).startswith("<?xml")


def test_hmac_sha1_with_the_auth_token_still_works(line):
    url = PUBLIC + "/voice/incoming"
    signature = RequestValidator(AUTH_TOKEN).compute_signature(url, FORM)
    response = line.post("/voice/incoming", data=FORM, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        sha256("/voice/incoming", "webhooks_sharedkey_gone", OLD_KEY),  # unknown key id
        sha256("/voice/incoming", "webhooks_sharedkey_old", NEW_KEY),  # another key's secret
        sha256("/voice/incoming", "webhooks_sharedkey_old", AUTH_TOKEN),  # the auth token
        sha256("/voice/incoming", "webhooks_sharedkey_old", OLD_KEY, "HMAC_MD5"),
        sha256("/voice/incoming", "", OLD_KEY),  # no key id
        {"X-Twilio-Webhooks-Signature-Settings": "key=webhooks_sharedkey_old"},  # no signature
    ],
)
def test_a_wrong_unknown_or_unsupported_shared_key_signature_is_refused(line, headers):
    assert line.post("/voice/incoming", data=FORM, headers=headers).status_code == 403


def test_without_shared_keys_a_sha256_request_is_refused(open_hours, redis_client):
    client = create_app(replace(open_hours, public_base_url=PUBLIC)).test_client()
    headers = sha256("/voice/incoming", "webhooks_sharedkey_old", OLD_KEY)
    assert client.post("/voice/incoming", data=FORM, headers=headers).status_code == 403


@pytest.mark.parametrize("setting", ["justakey", "=secret", "id=", "a=b,,c"])
def test_a_malformed_shared_key_setting_stops_start_up(setting):
    with pytest.raises(ConfigError, match="TWILIO_WEBHOOK_SHARED_KEYS"):
        load_settings(environ={"TWILIO_WEBHOOK_SHARED_KEYS": setting})


def test_with_a_public_url_the_host_header_never_picks_the_checked_url(line):
    # Signed for the address the attacker sends in Host: not the one Twilio uses.
    url = "http://evil.example/voice/incoming"
    signature = RequestValidator(AUTH_TOKEN).compute_signature(url, FORM)
    headers = {"X-Twilio-Signature": signature, "Host": "evil.example"}
    assert line.post("/voice/incoming", data=FORM, headers=headers).status_code == 403


def test_production_refuses_to_start_without_the_public_url(settings):
    with pytest.raises(ConfigError, match="IVR_PUBLIC_BASE_URL"):
        load_settings(
            environ={},
            env="production",
            secret_key="k" * 40,
            twilio_auth_token=AUTH_TOKEN,
            data_keys="x",
            redis_url=settings.redis_url,
        )


@pytest.mark.parametrize("env", ["test", "production"])
def test_the_served_line_refuses_to_start_without_the_public_url_outside_development(env):
    environ = {k: v for k, v in os.environ.items() if k != "IVR_PUBLIC_BASE_URL"}
    environ.update(IVR_ENV=env, SECRET_KEY="k" * 40, TWILIO_AUTH_TOKEN=AUTH_TOKEN)
    started = subprocess.run(
        [sys.executable, "-c", "import wsgi"],
        cwd=Path(__file__).resolve().parent.parent,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert started.returncode != 0 and "IVR_PUBLIC_BASE_URL" in started.stderr


def test_hmac_sha256_over_the_url_with_its_port_is_answered(line):
    """Twilio may sign the URL with the port written out; with a SharedKey that is SHA-256 too
    (the check that settles most requests in one HMAC must hand these on with the algorithm)."""
    from urllib.parse import urlsplit

    parts = urlsplit(PUBLIC)
    url = f"{parts.scheme}://{parts.hostname}:443{parts.path}/voice/incoming"
    signature = RequestValidator(NEW_KEY).compute_signature(url, FORM, HMAC_SHA256)
    headers = {
        "X-Twilio-Signature": signature,
        "X-Twilio-Webhooks-Signature-Settings": "key=webhooks_sharedkey_new,algorithm="
        + HMAC_SHA256,
    }
    assert line.post("/voice/incoming", data=FORM, headers=headers).status_code == 200
    headers["X-Twilio-Signature"] = RequestValidator(OLD_KEY).compute_signature(
        url, FORM, HMAC_SHA256
    )  # the other key's signature
    assert line.post("/voice/incoming", data=FORM, headers=headers).status_code == 403


def test_a_shared_key_secret_with_equals_signs_is_read_whole(open_hours, redis_client):
    """Secrets are often base64 with "=" padding: TWILIO_WEBHOOK_SHARED_KEYS splits each pair at
    its first "=" only."""
    secret = "c2VjcmV0LWtleQ=="
    app = create_app(
        replace(open_hours, public_base_url=PUBLIC, twilio_webhook_shared_keys=f"padded={secret}")
    )
    try:
        headers = sha256("/voice/incoming", "padded", secret)
        assert (
            app.test_client().post("/voice/incoming", data=FORM, headers=headers).status_code == 200
        )
    finally:
        app.extensions["ivr.deliverer"].stop()


@pytest.mark.parametrize("shared", [False, True])
def test_a_rightly_signed_webhook_costs_one_hmac(line, monkeypatch, shared):
    """Issue 14: a webhook signed over the URL as received is settled by one HMAC (the library's
    check computes two, over the URL with and without its port), with either algorithm."""
    computed = []
    real = RequestValidator.compute_signature

    def counting(self, uri, params, algorithm=None):
        computed.append(algorithm)
        return real(self, uri, params, algorithm)

    if shared:
        headers = sha256("/voice/incoming", "webhooks_sharedkey_new", NEW_KEY)
    else:
        signature = RequestValidator(AUTH_TOKEN).compute_signature(PUBLIC + "/voice/incoming", FORM)
        headers = {"X-Twilio-Signature": signature}
    monkeypatch.setattr(RequestValidator, "compute_signature", counting)
    assert line.post("/voice/incoming", data=FORM, headers=headers).status_code == 200
    assert computed == [HMAC_SHA256 if shared else None]


@pytest.mark.parametrize(
    "headers",
    [
        {},  # unsigned
        {"X-Twilio-Signature": "x" * 201},  # longer than any signature
        {"X-Twilio-Signature": "x" * 28, "X-Twilio-Webhooks-Signature-Settings": "key=nobody"},
    ],
    ids=["unsigned", "over-long", "unknown-key"],
)
def test_junk_signatures_are_refused_without_computing_any_hmac(line, monkeypatch, headers):
    """Junk costs no HMAC: an unsigned request, a signature longer than any real one, a shared
    key nobody configured."""
    computed = []
    monkeypatch.setattr(RequestValidator, "compute_signature", lambda *a, **k: computed.append(a))
    assert line.post("/voice/incoming", data=FORM, headers=headers).status_code == 403
    assert computed == []
