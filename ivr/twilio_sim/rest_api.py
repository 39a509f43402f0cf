"""A local fake of Twilio's REST API (api.twilio.com/2010-04-01), for tests and demos.

It answers the calls the line makes through the twilio library's Client, as Twilio does:
- Calls.create (POST .../Calls.json): "call me and connect";
- Messages.create (POST .../Messages.json): the reference by text, urgent alerts;
- IncomingPhoneNumbers list/fetch/update: `ivr number configure|check`.
Every request is recorded in `requests` (path, method, form, auth). Set `status` to an error code
to make every request fail as Twilio fails (a JSON error body), or `fail_paths` to fail some.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

ACCOUNT_SID = "AC" + "1" * 32


class FakeTwilio:
    """Start with `with FakeTwilio() as fake:`; point `IVR_TWILIO_API_BASE` at `fake.url`."""

    def __init__(self, account_sid: str = ACCOUNT_SID):
        self.account_sid = account_sid
        self.requests: list[dict] = []
        self.status = 201  # what writes answer; >= 400 makes every request fail
        self.fail_paths: set[str] = set()  # path suffixes ("Messages.json") that fail with 400
        # Phone numbers on the account, by E.164 number: Twilio's fields (voice_url, ...).
        self.numbers: dict[str, dict] = {}
        self._lock = threading.Lock()
        self._seq = 0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (the http.server API)
                fake._handle(self, "GET")

            def do_POST(self):  # noqa: N802
                fake._handle(self, "POST")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    # --- the account's numbers --------------------------------------------------------------
    def add_number(self, number: str, **fields: str) -> dict:
        sid = "PN" + f"{len(self.numbers) + 1:032x}"
        record = {
            "sid": sid,
            "account_sid": self.account_sid,
            "phone_number": number,
            "voice_url": "",
            "voice_method": "POST",
            "voice_fallback_url": "",
            "voice_fallback_method": "POST",
            "status_callback": "",
            "status_callback_method": "POST",
            "voice_application_sid": None,  # a TwiML app here overrides voice_url
            "trunk_sid": None,  # so does a SIP trunk
            **fields,
        }
        self.numbers[number] = record
        return record

    def messages(self) -> list[dict]:
        """The form of every text message sent (To, From, Body)."""
        return [r["form"] for r in self.requests if r["path"].endswith("/Messages.json")]

    def calls(self) -> list[dict]:
        return [r["form"] for r in self.requests if r["path"].endswith("/Calls.json")]

    # --- serving -------------------------------------------------------------------------------
    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(handler.path)
        body = handler.rfile.read(int(handler.headers.get("Content-Length", 0) or 0)).decode()
        form = {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}
        with self._lock:
            self._seq += 1
            seq = self._seq
            self.requests.append(
                {
                    "path": parts.path,
                    "method": method,
                    "query": {k: v[0] for k, v in parse_qs(parts.query).items()},
                    "form": form,
                    "auth": handler.headers.get("Authorization", ""),
                }
            )
        status, payload = self._answer(parts.path, method, form, parts.query, seq)
        data = json.dumps(payload).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def _error(self, status: int, code: int, message: str) -> tuple[int, dict]:
        return status, {"code": code, "message": message, "status": status}

    def _answer(self, path: str, method: str, form: dict, query: str, seq: int):
        if self.status >= 400:
            return self._error(self.status, 21211, "Invalid 'To' Phone Number")
        if any(path.endswith(suffix) for suffix in self.fail_paths):
            return self._error(400, 21610, "Attempt to send to unsubscribed recipient")
        prefix = f"/2010-04-01/Accounts/{self.account_sid}/"
        if not path.startswith(prefix):
            return self._error(404, 20404, "The requested resource was not found")
        rest = path[len(prefix) :]
        if rest == "Calls.json" and method == "POST":
            return self.status, {
                "sid": f"CA{seq:032x}",
                "status": "queued",
                "account_sid": self.account_sid,
                "to": form.get("To"),
                "from": form.get("From"),
            }
        if rest == "Messages.json" and method == "POST":
            return self.status, {
                "sid": f"SM{seq:032x}",
                "status": "queued",
                "account_sid": self.account_sid,
                "to": form.get("To"),
                "from": form.get("From"),
                "body": form.get("Body"),
            }
        if rest == "IncomingPhoneNumbers.json" and method == "GET":
            wanted = {k: v[0] for k, v in parse_qs(query).items()}.get("PhoneNumber")
            rows = [n for n in self.numbers.values() if wanted in (None, n["phone_number"])]
            return 200, {
                "incoming_phone_numbers": rows,
                "page": 0,
                "page_size": 50,
                "next_page_uri": None,
                "uri": path,
            }
        if rest.startswith("IncomingPhoneNumbers/") and rest.endswith(".json"):
            sid = rest.removeprefix("IncomingPhoneNumbers/").removesuffix(".json")
            record = next((n for n in self.numbers.values() if n["sid"] == sid), None)
            if record is None:
                return self._error(404, 20404, "The requested resource was not found")
            if method == "POST":
                for name, value in form.items():
                    snake = "".join("_" + c.lower() if c.isupper() else c for c in name)
                    record[snake.lstrip("_")] = value
            return 200, record
        return self._error(404, 20404, "The requested resource was not found")

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)
