"""A simulated phone call that plays Twilio: it signs each webhook with the twilio library's
RequestValidator, sends Twilio's field set, and interprets the TwiML answer the way Twilio does
(Say with SSML breaks, Pause, Gather with its defaults and fall-through on silence, keys or
speech, Redirect, Dial, Hangup), refusing what Twilio refuses (a <Pause> nested in a <Gather>,
error 13320; a <Dial> number or callerId it would not use, 13223 and 13214).

Shared by `ivr call` (a terminal phone against a running server) and the tests (against the Flask
test client), so both hear exactly what a caller would.
"""

from __future__ import annotations

import re
import secrets
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field

from twilio.request_validator import RequestValidator

WORDS_PER_SECOND = 2.5  # 150 words a minute: a slow, clear voice; estimates the call's length
# Twilio error 13320: only <Say> and <Play> may be nested inside a <Gather>.
GATHER_NOUNS = {"Say", "Play"}
# What Twilio dials in <Number>: E.164, "+", country code and up to 15 digits (else warning 13223).
E164 = re.compile(r"^\+[1-9][0-9]{1,14}$")


class TwimlError(AssertionError):
    """The server answered something Twilio could not play."""


@dataclass
class Waiting:
    """A <Gather> that is listening for keys."""

    action: str
    method: str
    num_digits: int | None
    finish_on_key: str
    timeout: int
    action_on_empty_result: bool
    input: str  # "dtmf", "speech" or "dtmf speech"
    rest: list  # the verbs after the Gather, played if the caller presses nothing


class Transport:
    """Sends one signed request; returns (status code, body text)."""

    def post(self, url: str, params: dict, headers: dict) -> tuple[int, str]:
        raise NotImplementedError


class HttpTransport(Transport):
    def __init__(self, timeout: float = 15.0):
        self.timeout = timeout  # Twilio gives up on a webhook after 15 s

    def post(self, url: str, params: dict, headers: dict) -> tuple[int, str]:
        body = urllib.parse.urlencode(params).encode()
        if not url.startswith(("http://", "https://")):
            raise TwimlError(f"not a web address: {url}")
        req = urllib.request.Request(  # noqa: S310 (checked above: http or https only)
            url,
            data=body,
            headers={**headers, "Content-Type": "application/x-www-form-urlencoded"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310 (our own server)
                return resp.status, resp.read().decode("utf-8")
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode("utf-8", "replace")


def new_call_sid() -> str:
    return "CA" + secrets.token_hex(16)


@dataclass
class SimulatedCall:
    transport: Transport
    base_url: str
    auth_token: str
    from_number: str = "+447700900123"
    to_number: str = "+442032281350"
    call_sid: str = field(default_factory=new_call_sid)
    account_sid: str = "AC" + "0" * 32
    incoming_path: str = "/voice/incoming"
    status_path: str = "/voice/status"
    dial_outcome: str = "completed"
    # Numbers verified on the account: besides the calling and the called number, the only
    # caller IDs Twilio lets a <Dial> use (else warning 13214 and the dial fails).
    verified_caller_ids: tuple[str, ...] = ()
    on_say: Callable[[str], None] | None = None

    def __post_init__(self):
        self.transcript: list[str] = []  # every line heard, in order
        self.requests: list[tuple[str, dict, int]] = []
        self.dialled: list[str] = []
        self.dial_errors: list[str] = []  # <Dial>s Twilio would have refused, and why
        self.ended = False
        self.waiting: Waiting | None = None
        self.seconds = 0.0
        self._mark = 0
        self._url = ""

    # --- the caller's side -----------------------------------------------------------------
    def dial(self) -> SimulatedCall:
        self._fetch(self.base_url + self.incoming_path, {"CallStatus": "ringing"})
        return self

    def press(self, keys: str) -> SimulatedCall:
        """Key presses at the current <Gather> (what Twilio posts as Digits)."""
        gather = self._take_gather()
        digits = keys
        if gather.finish_on_key and gather.finish_on_key in digits:
            digits = digits[: digits.index(gather.finish_on_key)]
        if gather.num_digits:
            digits = digits[: gather.num_digits]
        self.seconds += 1 + len(keys) * 0.5
        if not digits and not gather.action_on_empty_result:
            self._play(gather.rest)  # Twilio treats an empty entry like silence
            return self
        extra = {"Digits": digits, "msg": "Gather End"}
        if gather.finish_on_key and gather.finish_on_key in keys:
            extra["FinishedOnKey"] = gather.finish_on_key
        self._fetch(gather.action, extra, gather.method)
        return self

    def silence(self) -> SimulatedCall:
        """The caller presses nothing until the Gather times out."""
        gather = self._take_gather()
        self.seconds += gather.timeout
        if gather.action_on_empty_result:
            self._fetch(gather.action, {"Digits": ""}, gather.method)
        else:
            self._play(gather.rest)
        return self

    def speak(self, text: str, confidence: float = 0.9) -> SimulatedCall:
        """The caller says something at the current <Gather>: Twilio posts SpeechResult and
        Confidence. A Gather that does not listen for speech hears nothing (it times out)."""
        gather = self._take_gather()
        self.seconds += 1 + len(text.split()) / WORDS_PER_SECOND
        if "speech" not in gather.input.split():
            self.seconds += gather.timeout
            self._play(gather.rest)
            return self
        extra = {"SpeechResult": text, "Confidence": f"{confidence:.8f}".rstrip("0")}
        self._fetch(gather.action, extra, gather.method)
        return self

    def hang_up(self) -> SimulatedCall:
        """The caller puts the phone down."""
        if not self.ended:
            self.ended = True
            self.waiting = None
            self._status("completed")
        return self

    # --- what the caller heard ---------------------------------------------------------------
    def heard(self) -> str:
        """Everything heard since the last time this was asked, as one string."""
        text = " ".join(t for t in self.transcript[self._mark :] if t)
        self._mark = len(self.transcript)
        return text

    def all_heard(self) -> str:
        return " ".join(t for t in self.transcript if t)

    # --- Twilio's side -----------------------------------------------------------------------
    def params(self, extra: dict | None = None) -> dict:
        number_fields = {}
        for prefix, number in (
            ("From", self.from_number),
            ("Caller", self.from_number),
            ("To", self.to_number),
            ("Called", self.to_number),
        ):
            number_fields[prefix] = number
            for part, value in (("City", ""), ("Country", "GB"), ("State", ""), ("Zip", "")):
                number_fields[prefix + part] = value
        return {
            "AccountSid": self.account_sid,
            "ApiVersion": "2010-04-01",
            "CallSid": self.call_sid,
            "CallStatus": "in-progress",
            "Direction": "inbound",
            **number_fields,
            **(extra or {}),
        }

    def signed_post(self, url: str, params: dict) -> tuple[int, str]:
        signature = RequestValidator(self.auth_token).compute_signature(url, params)
        status, body = self.transport.post(url, params, {"X-Twilio-Signature": signature})
        self.requests.append((url, params, status))
        return status, body

    def _status(self, status: str) -> None:
        self.signed_post(
            self.base_url + self.status_path,
            self.params(
                {
                    "CallStatus": status,
                    "CallDuration": str(int(self.seconds)),
                    "CallbackSource": "call-progress-events",
                    "SequenceNumber": "0",
                }
            ),
        )

    def _take_gather(self) -> Waiting:
        if self.ended or self.waiting is None:
            raise TwimlError(
                "the call is not waiting for keys" + (" (it ended)" if self.ended else "")
            )
        gather, self.waiting = self.waiting, None
        return gather

    def _fetch(self, url: str, extra: dict, method: str = "POST") -> None:
        url = urllib.parse.urljoin(self._url or self.base_url, url)
        if method.upper() != "POST":
            raise TwimlError(f"this line only uses POST webhooks, got {method} for {url}")
        status, body = self.signed_post(url, self.params(extra))
        if status != 200:
            raise TwimlError(f"{url} answered HTTP {status}: Twilio would play an error")
        self._url = url
        try:
            root = ET.fromstring(body)  # noqa: S314 (our own server's answer, in tests)
        except ET.ParseError as exc:
            raise TwimlError(f"{url} answered something that is not TwiML: {body[:200]}") from exc
        if root.tag != "Response":
            raise TwimlError(f"{url} answered <{root.tag}>, not <Response>")
        self._play(list(root))

    def _hear(self, text: str) -> None:
        self.transcript.append(text)
        self.seconds += len(text.split()) / WORDS_PER_SECOND
        if self.on_say:
            self.on_say(text)

    def _say(self, verb) -> None:
        """A <Say>, with any SSML <break> in it counted as silence."""
        for brk in verb.iter("break"):
            self.seconds += float((brk.get("time") or "1s").rstrip("ms") or 1)
        self._hear(" ".join("".join(verb.itertext()).split()))

    def _dial(self, verb) -> str:
        """Put the caller through, as Twilio would; the DialCallStatus it then reports."""
        number = ("".join(n.text or "" for n in verb) or (verb.text or "")).strip()
        caller_id = verb.get("callerId")
        allowed = {self.from_number, self.to_number, *self.verified_caller_ids}
        if not E164.match(number):
            self.dial_errors.append(f"13223 Dial: invalid phone number format: {number!r}")
        elif caller_id is not None and caller_id not in allowed:
            self.dial_errors.append(f"13214 Dial: invalid callerId value: {caller_id!r}")
        else:
            self.dialled.append(number)
            self.transcript.append(f"[put through to {number}]")
            return self.dial_outcome
        self.transcript.append("[not put through]")
        return "failed"

    def _play(self, verbs: list) -> None:
        for index, verb in enumerate(verbs):
            if verb.tag == "Say":
                self._say(verb)
            elif verb.tag == "Pause":
                self.seconds += int(verb.get("length", "1"))
                self.transcript.append("")
            elif verb.tag == "Gather":
                for inner in verb:
                    if inner.tag not in GATHER_NOUNS:
                        raise TwimlError(
                            f"13320 Gather: invalid nested verb <{inner.tag}>"
                            " (only <Say> and <Play> may be nested)"
                        )
                    if inner.tag == "Say":
                        self._say(inner)
                num = verb.get("numDigits")
                self.waiting = Waiting(
                    action=verb.get("action") or self._url,
                    method=verb.get("method", "POST"),
                    num_digits=int(num) if num else None,
                    finish_on_key=verb.get("finishOnKey", "#"),
                    timeout=int(verb.get("timeout", "5")),
                    action_on_empty_result=verb.get("actionOnEmptyResult") == "true",
                    input=verb.get("input", "dtmf"),
                    rest=verbs[index + 1 :],
                )
                return
            elif verb.tag == "Redirect":
                self._fetch((verb.text or "").strip(), {}, verb.get("method", "POST"))
                return
            elif verb.tag == "Dial":
                outcome = self._dial(verb)
                if verb.get("action"):
                    self._fetch(
                        verb.get("action"),
                        {
                            "DialCallStatus": outcome,
                            "DialCallDuration": "60" if outcome == "completed" else "0",
                        },
                        verb.get("method", "POST"),
                    )
                    return
            elif verb.tag in ("Hangup", "Reject"):
                break
            else:
                raise TwimlError(f"unexpected TwiML verb <{verb.tag}>")
        # No more verbs, or a Hangup: Twilio ends the call.
        self.ended = True
        self.waiting = None
        self._status("completed")
