"""Test calls placed from /try: the Twilio stand-in, played on the server, one step per request.

Each test call's stand-in state (where its <Gather> posts, what follows it) lives in Redis between
the browser's requests, so any web worker can take the next step. The webhooks are reached in
this process, signed exactly as Twilio signs them (ivr.twilio_sim.phone), at the public URL the
line checks signatures against. Test calls are bounded: at most `try_max_calls` at once, and each
expires after `try_idle_minutes` without a step.
"""

from __future__ import annotations

import json
import secrets
import time
import xml.etree.ElementTree as ET
from dataclasses import fields

import redis
from flask import Flask
from werkzeug.test import Client

from ivr.config import Settings
from ivr.store.keys import key
from ivr.twilio_sim.phone import SimulatedCall, Transport, Waiting, new_call_sid

# Ofcom's numbers for drama: never a real person's.
CALLER_IDS = {"mobile": "+447700900123", "withheld": "anonymous"}
LOCAL_BASE = "http://localhost"

# KEYS[1] zset of test calls scored by expiry, KEYS[2] the new test call's hash.
# ARGV[1] now, ARGV[2] this call's expiry, ARGV[3] the limit, ARGV[4] CallSid, ARGV[5] owner,
# ARGV[6] seconds the hash lives. Returns 1 if the call may start, 0 at the limit; atomic, so two
# browsers can never both take the last place.
START = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[4])
redis.call('HSET', KEYS[2], 'owner', ARGV[5], 'sim', '')
redis.call('EXPIRE', KEYS[2], ARGV[6])
return 1
"""


class SoftphoneError(Exception):
    """A step that cannot be taken; `status` is the HTTP status, the message says why."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


class InProcessTransport(Transport):
    """Posts the stand-in's signed webhooks to this app directly, not over the network."""

    def __init__(self, app: Flask, base_url: str):
        self.client = Client(app)
        self.base_url = base_url

    def post(self, url: str, params: dict, headers: dict) -> tuple[int, str]:
        if not url.startswith(self.base_url + "/"):
            return 404, ""  # the line only ever sends Twilio to its own addresses
        response = self.client.post(url[len(self.base_url) :], data=params, headers=headers)
        return response.status_code, response.get_data(as_text=True)


class SoftphoneCalls:
    def __init__(self, app: Flask, client: redis.Redis, settings: Settings):
        self.app, self.redis, self.settings = app, client, settings
        self.base_url = settings.public_base_url.rstrip("/") or LOCAL_BASE
        self._start = client.register_script(START)

    @property
    def idle_seconds(self) -> int:
        return max(60, self.settings.try_idle_minutes * 60)

    def _sim(self, sid: str, from_number: str) -> SimulatedCall:
        transport = InProcessTransport(self.app, self.base_url)
        token = self.settings.twilio_auth_token
        return SimulatedCall(transport, self.base_url, token, from_number=from_number, call_sid=sid)

    def start(self, owner: str, caller: str) -> tuple[str, SimulatedCall]:
        if caller not in CALLER_IDS:
            raise SoftphoneError(400, f"Caller ID must be one of: {', '.join(CALLER_IDS)}.")
        if not self.settings.twilio_auth_token:
            raise SoftphoneError(
                503, "TWILIO_AUTH_TOKEN is not set, so the line refuses every call."
            )
        sid, now = new_call_sid(), time.time()
        started = self._start(
            keys=[key("test_calls"), key("test_call", sid=sid)],
            args=[
                now,
                now + self.idle_seconds,
                self.settings.try_max_calls,
                sid,
                owner,
                self.idle_seconds,
            ],
        )
        if not started:
            raise SoftphoneError(
                429, "Too many test calls are in progress. Hang one up, or wait a few minutes."
            )
        sim = self._sim(sid, CALLER_IDS[caller])
        sim.dial()
        self.save(sid, sim)
        return sid, sim

    def load(self, sid: str, owner: str) -> SimulatedCall:
        if not sid.startswith("CA") or not sid.isalnum() or len(sid) != 34:
            raise SoftphoneError(404, "There is no such test call.")
        raw = self.redis.hgetall(key("test_call", sid=sid))
        if not raw or not secrets.compare_digest(raw.get("owner", ""), owner):
            raise SoftphoneError(404, "There is no such test call (it may have expired).")
        state = json.loads(raw.get("sim") or "{}")
        if not state:
            raise SoftphoneError(409, "This test call is still starting; try again.")
        return restore(self._sim(sid, state["from_number"]), state)

    def save(self, sid: str, sim: SimulatedCall) -> None:
        with self.redis.pipeline(transaction=True) as pipe:
            if sim.ended:
                pipe.delete(key("test_call", sid=sid))
                pipe.zrem(key("test_calls"), sid)
            else:
                pipe.hset(key("test_call", sid=sid), "sim", json.dumps(snapshot(sim)))
                pipe.expire(key("test_call", sid=sid), self.idle_seconds)
                pipe.zadd(key("test_calls"), {sid: time.time() + self.idle_seconds}, xx=True)
            pipe.execute()

    def step(self, sid: str, owner: str, action, lock_seconds: int = 15) -> SimulatedCall:
        """Load the call, do `action(sim)` and save it, one step at a time per call."""
        lock = key("test_call_lock", sid=sid)
        if not self.redis.set(lock, "1", nx=True, ex=lock_seconds):
            raise SoftphoneError(409, "The last step of this test call is still being taken.")
        try:
            sim = self.load(sid, owner)
            action(sim)
            self.save(sid, sim)
            return sim
        finally:
            self.redis.delete(lock)


def snapshot(sim: SimulatedCall) -> dict:
    """What the stand-in must remember between steps (never the transcript: it can hold a
    keyed-in phone number, which stays only in the line's own encrypted call state)."""
    waiting = None
    if sim.waiting is not None:
        waiting = {f.name: getattr(sim.waiting, f.name) for f in fields(sim.waiting)}
        waiting["rest"] = [ET.tostring(verb, encoding="unicode") for verb in sim.waiting.rest]
    return {
        "from_number": sim.from_number,
        "ended": sim.ended,
        "seconds": sim.seconds,
        "url": sim._url,  # noqa: SLF001 (our own stand-in: where relative step URLs resolve)
        "waiting": waiting,
    }


def restore(sim: SimulatedCall, state: dict) -> SimulatedCall:
    sim.ended = bool(state.get("ended"))
    sim.seconds = float(state.get("seconds") or 0)
    sim._url = state.get("url") or ""  # noqa: SLF001
    waiting = state.get("waiting")
    if waiting:
        rest = [ET.fromstring(text) for text in waiting.pop("rest", [])]  # noqa: S314 (ours)
        sim.waiting = Waiting(**waiting, rest=rest)
    return sim
