"""Every Redis key the application uses, built from one template table.

No other module writes a key by hand: they call `key(...)`, so the whole scheme can be read here.
Keys holding personal data expire or are purged (see the retention notes beside each).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PREFIX = "ivr"

TEMPLATES: dict[str, str] = {
    # One phone call (personal data: expires after call_state_ttl).
    "call_state": "call:{sid}:state",  # hash: step, data (JSON), twiml (last answer, for retries)
    # The call log that managers read (purged after retention_days).
    "call_log": "call:{sid}:log",  # hash: started_at, ended_at, from_masked, outcome, ...
    "call_events": "call:{sid}:events",  # list of JSON events, one per step
    "calls_by_start": "calls:by_start",  # zset: CallSid scored by start time
    # Callback requests (personal data: purged after retention_days once closed).
    "callback": "callback:{id}",  # hash: the callback request
    "callback_for_call": "callback:by_call:{sid}",  # string: callback id made by this call
    "callbacks_by_created": "callbacks:by_created",  # zset: callback id scored by creation time
    "callbacks_by_status": "callbacks:status:{status}",  # zset: callback id scored by creation
    # zset: open callbacks (queued, claimed or scheduled), urgent first then oldest; left on close.
    "callback_queue": "callbacks:queue",
    "callback_refs": "callbacks:refs",  # set: every reference ever given out (never reused)
    # Service figures (anonymous counters, kept after personal data is purged).
    "fig_day": "figures:day:{day}",  # hash: counters for calls started on a local day
    "fig_intake": "figures:intake:{day}",  # hash: counters for callbacks requested on a local day
    "fig_counted": "figures:counted:{id}",  # hash: intake stages counted for a callback (purged)
    "calls_by_outcome": "calls:outcome:{outcome}",  # zset: closed calls scored by start time
    "calls_open": "calls:open",  # zset: calls with no final status yet, scored by start time
    "purged_until": "retention:purged_until",  # string: start time up to which calls are purged
    # string: a time written before WAIT, so WAIT covers every earlier write (ivr/outage/)
    "replication_fence": "replication:fence",
    # Privacy and security (issue 5).
    # hash: "callback:{id}" and "call:{sid}" -> "1" for records held about one phone number,
    # plus "number" (encrypted). {hash} is an HMAC of the E.164 number (ivr/store/crypto.py), so
    # records are findable by number without the number being stored in clear.
    "subject_index": "subject:{hash}",
    "calls_per_minute": "limit:calls:{hash}",  # zset: CallSids from one caller ID, by time
    "callbacks_per_day": "limit:callbacks:{hash}:{day}",  # zset: CallSids that asked, by time
    # API tokens (hashes only, never the token itself).
    "api_tokens": "api_tokens",  # hash: sha256(token) -> JSON {name, created_at}
    # The intake team's work on callbacks (intake/: queue, audit, call_connect).
    "callback_leases": "callbacks:leases",  # zset: claimed callback id scored by lease expiry
    "callback_scheduled": "callbacks:scheduled",  # zset: callback id scored by next attempt due
    "callback_attempts": "callback:{id}:attempts",  # list of JSON attempts (purged with callback)
    "callback_audit": "callback:{id}:audit",  # stream: who viewed or changed it, when, what
    "audit": "audit",  # stream: every callback's audit entries together (capped)
    "bridge": "bridge:{token}",  # string: callback id for one "call me and connect" (expires)
    # Urgent alerts to the duty contacts (intake/alerts, intake/outbox). No
    # personal data: a reference and a link only. Messages expire after retention_days.
    "alert_outbox": "alerts:outbox",  # zset: alert message id scored by when to (re)try it
    "alert_message": "alert:{id}",  # hash: channel, to, subject, body, attempts, state, error
    "alert_planned": "alert:planned:{kind}:{ref}",  # string: this alert was queued (expires)
    "alert_failures": "alerts:failures",  # list of JSON failures for managers (newest first)
    # Staff accounts and sign-in (staff/users, staff/throttle). Passwords only as scrypt hashes.
    "user": "user:{username}",  # hash: username, role, password_hash, created_at, disabled, ...
    "users": "users",  # set: every username
    "login_failures": "login:failures:{kind}:{who}",  # counter of failed sign-ins (expires)
    "login_lock": "login:lock:{kind}:{who}",  # present while sign-ins are refused (expires)
    # A signed-in staff session (staff/auth.py): present while it may be used; sign-out deletes it,
    # so a copied cookie dies with it. Value: username. Expires after the idle limit.
    "staff_session": "staff_session:{sid}",
    # Sign-off of the phone flow (ivr/signoff/approval.py): no personal data, kept for good.
    "flow_approval": "flow:approval:{hash}",  # hash: hash, by, role, at (for one file content)
    "flow_approvals": "flow:approvals",  # list of JSON approvals, oldest first
    # Test calls from the browser softphone (ivr/softphone): kept out of figures and the queue.
    # hash: owner, sim (the stand-in's state, JSON); expires when the test call goes idle.
    "test_call": "test_call:{sid}",
    "test_calls": "test_calls",  # zset: test calls in progress, scored by when they expire
    "test_call_lock": "test_call:{sid}:lock",  # string while one step of a test call runs
    # Data-protection requests (ivr/privacy/subjects.py): when each number was erased (zset: keyed
    # hash of the number -> time), so a request of theirs still waiting in a journal on disk is
    # dropped at delivery, never queued. Trimmed to the retention period.
    "erased_subjects": "privacy:erased",
}


@dataclass(frozen=True)
class Holds:
    """What a key template holds about the people who call, and how erase and export find a
    person's entries in it. Every template declares one (tests/test_subject_rights.py fails
    otherwise), so `ivr subject-export` and `ivr subject-erase` cannot miss a new kind of key.

    found_by:
      "callback"  one key per callback request ({id}): exported, deleted on erase
      "call"      one key per call ({sid}): exported, deleted on erase
      "number"    keyed by the number's keyed hash ({hash}, any other part scanned): deleted
      "index"     a sorted set whose members are callback ids or CallSids: the member removed
      "audit"     a stream of audit entries naming a callback: kept as who/when/what only
      "tombstone" the record of erasures itself (holds keyed hashes, never a number)
      "none"      nothing about a caller (counters, staff accounts, API tokens, settings)
    """

    personal: bool
    found_by: str
    why: str = ""


def _h(found_by: str, why: str = "") -> Holds:
    return Holds(found_by not in ("none",), found_by, why)


HOLDS: dict[str, Holds] = {
    "call_state": _h("call"),
    "call_log": _h("call"),
    "call_events": _h("call"),
    "calls_by_start": _h("index"),
    "callback": _h("callback"),
    "callback_for_call": _h("call"),
    "callbacks_by_created": _h("index"),
    "callbacks_by_status": _h("index"),
    "callback_queue": _h("index"),
    "callback_refs": _h("none", "bare six-digit references, kept so none is ever reissued"),
    "fig_day": _h("none", "anonymous counters"),
    "fig_intake": _h("none", "anonymous counters"),
    "fig_counted": _h("callback"),
    "calls_by_outcome": _h("index"),
    "calls_open": _h("index"),
    "purged_until": _h("none", "a time"),
    "subject_index": _h("number"),
    "calls_per_minute": _h("number"),
    "callbacks_per_day": _h("number"),
    "api_tokens": _h("none", "token hashes and names"),
    "callback_leases": _h("index"),
    "callback_scheduled": _h("index"),
    "callback_attempts": _h("callback"),
    "callback_audit": _h("audit"),
    "audit": _h("audit"),
    "bridge": _h("none", "a callback id for a few minutes while a worker is connected"),
    "user": _h("none", "staff accounts"),
    "users": _h("none", "staff accounts"),
    "login_failures": _h("none", "staff sign-in counters (username, address); they expire"),
    "login_lock": _h("none", "staff sign-in pauses; they expire"),
    "staff_session": _h("none", "a staff username; expires"),
    "erased_subjects": _h("tombstone"),
    "flow_approval": _h("none", "who approved which flow file"),
    "flow_approvals": _h("none", "who approved which flow file"),
    "test_call": _h("none", "a staff member's test call through /try; expires when idle"),
    "test_calls": _h("none", "staff test calls in progress"),
    "test_call_lock": _h("none", "a lock while a test call's step runs"),
    "alert_outbox": _h("none", "urgent alerts to duty staff: a reference and a link only"),
    "alert_message": _h("none", "an alert to a duty contact (staff): a reference and a link"),
    "alert_planned": _h("none", "that an alert for a reference was queued; expires"),
    "alert_failures": _h("none", "alerts that failed, for managers: references only"),
    "replication_fence": _h("none", "a Redis replication marker"),
}


def key(name: str, **parts: object) -> str:
    """The full Redis key for a template name, e.g. key("callback", id="123456")."""
    return f"{PREFIX}:" + TEMPLATES[name].format(**parts)


def pattern(name: str, **parts: object) -> str:
    """A SCAN pattern for a template: the given parts filled in, every other part "*"."""
    names = re.findall(r"{(\w+)}", TEMPLATES[name])
    return key(name, **{part: parts.get(part, "*") for part in names})
