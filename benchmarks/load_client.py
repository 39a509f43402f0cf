"""The callers of benchmarks/load_line.py: lean simulated Twilio webhooks over real HTTP.

Each request is a new connection (as Twilio makes them, and gunicorn's sync workers close every
connection anyway), signed with the twilio library's RequestValidator; the next URL is read from
the answer's <Gather action> or <Redirect>, resolved against the URL of the answer.
"""

from __future__ import annotations

import html
import http.client
import random
import re
import threading
import time
from urllib.parse import urlencode, urljoin, urlsplit

from twilio.request_validator import RequestValidator

TOKEN = "benchmark-token"  # noqa: S105 (a signing key for this run only)
VALIDATOR = RequestValidator(TOKEN)
ACTION = re.compile(r'<Gather[^>]* action="([^"]+)"')
REDIRECT = re.compile(r"<Redirect[^>]*>([^<]+)</Redirect>")
BOOKED = "Your callback request is booked"


class Recorder:
    """Latencies, pacing lags and outcomes, from many threads."""

    def __init__(self):
        self.times: list[float] = []
        self.lags: list[float] = []
        self.errors = self.confirmed = self.dropped = 0
        self._lock = threading.Lock()

    def took(self, seconds: float, ok: bool, booked: bool) -> None:
        with self._lock:
            self.times.append(seconds)
            self.errors += not ok
            self.confirmed += booked

    def lag(self, seconds: float) -> None:
        with self._lock:
            self.lags.append(seconds)


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000 if ordered else 0


def summary(recorder: Recorder, seconds: float) -> str:
    t, lags = recorder.times, recorder.lags
    line = (
        f"{len(t)} webhooks in {seconds:.1f} s = {len(t) / seconds:.0f}/s; "
        f"p50 {pct(t, 50):.1f} ms, p99 {pct(t, 99):.1f} ms, max {pct(t, 100):.1f} ms; "
        f"errors {recorder.errors}"
    )
    if lags:
        line += f"; pacing lag p50 {pct(lags, 50):.2f} ms, p99 {pct(lags, 99):.2f} ms"
    if recorder.dropped:
        line += f"; {recorder.dropped} not sent (over 2 s late: saturated)"
    return line


class Caller:
    """One simulated call: its own CallSid and caller ID."""

    def __init__(self, base: str, recorder: Recorder):
        self.base, self.recorder = base, recorder
        self.sid = "CA" + "".join(random.choices("0123456789abcdef", k=32))
        self.number = f"+4477009{random.randrange(10**5):05d}"
        self.url: str | None = None

    def book(self, keys: tuple[str, ...]) -> None:
        self.incoming()
        for key in keys:
            if self.url is None:
                return
            self.press(key)

    def incoming(self) -> None:
        self._post(self.base + "/voice/incoming", {"CallStatus": "ringing"})

    def press(self, key: str) -> None:
        if self.url is not None:
            self._post(self.url, {"Digits": key, "msg": "Gather End"})

    def _post(self, url: str, extra: dict) -> None:
        params = {
            "AccountSid": "AC" + "0" * 32,
            "CallSid": self.sid,
            "CallStatus": "in-progress",
            "Direction": "inbound",
            "From": self.number,
            "To": "+442032281350",
            **extra,
        }
        signature = VALIDATOR.compute_signature(url, params)
        parts = urlsplit(url)
        started = time.perf_counter()
        body, ok = "", False
        try:
            conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=20)
            path = parts.path + (f"?{parts.query}" if parts.query else "")
            conn.request(
                "POST",
                path,
                urlencode(params),
                {
                    "Content-Type": "application/x-www-form-urlencoded",
                    "X-Twilio-Signature": signature,
                },
            )
            response = conn.getresponse()
            body = response.read().decode()
            ok = response.status == 200 and body.startswith("<?xml")
            conn.close()
        except OSError:
            pass
        self.recorder.took(time.perf_counter() - started, ok, BOOKED in body)
        found = ACTION.search(body) or REDIRECT.search(body)
        self.url = urljoin(url, html.unescape(found.group(1))) if ok and found else None
