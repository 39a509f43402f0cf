"""Sign-in throttling that protects workers (issue 11, finding 4): behind the TLS terminator
(IVR_TRUST_PROXY hops, with IVR_PUBLIC_BASE_URL set as in production), failures count per
address and per (username, address), so a stranger cannot lock a worker out of their own
sign-in, and guessing from one address is still slowed."""

from __future__ import annotations

from dataclasses import replace

import pytest

from ivr import create_app
from ivr.config import ConfigError, load_settings
from ivr.staff.users import create_user
from tests.conftest import STAFF_PASSWORD, csrf_from

PROXY = "10.0.0.5"  # the TLS terminator: every request reaches the app from here
STRANGER, IAN = "203.0.113.9", "198.51.100.7"


@pytest.fixture
def behind_proxy(open_hours, redis_client):
    settings = replace(open_hours, public_base_url="https://ipt.example.nhs.uk", trust_proxy=1)
    app = create_app(settings)
    create_user(app.extensions["ivr.store"].redis, "ian", "intake", STAFF_PASSWORD)
    return app


def sign_in(app, address: str, username: str, password: str) -> int:
    client = app.test_client()
    client.environ_base.update(REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=address)
    token = csrf_from(client.get("/login").get_data(as_text=True))
    form = {"username": username, "password": password, "csrf_token": token}
    return client.post("/login", data=form).status_code


def test_a_stranger_cannot_lock_a_worker_out(behind_proxy):
    for n in range(21):
        sign_in(behind_proxy, STRANGER, f"user{n}", "guess")
    for n in range(6):
        sign_in(behind_proxy, STRANGER, "ian", f"guess {n}")
    assert sign_in(behind_proxy, STRANGER, "ian", STAFF_PASSWORD) == 429  # the stranger waits
    assert sign_in(behind_proxy, IAN, "ian", STAFF_PASSWORD) == 302  # ian signs in


def test_guessing_one_workers_password_from_one_address_is_slowed(behind_proxy):
    codes = [sign_in(behind_proxy, STRANGER, "ian", f"guess {n}") for n in range(5)]
    assert codes == [401, 401, 401, 401, 429]
    assert sign_in(behind_proxy, "192.0.2.44", "ian", "guess") == 401  # counted apart


def test_a_negative_hop_count_stops_start_up():
    with pytest.raises(ConfigError, match="IVR_TRUST_PROXY"):
        load_settings(environ={"IVR_TRUST_PROXY": "-1"})
