"""Every Redis key the application uses, built from one template table.

No other module writes a key by hand: they call `key(...)`, so the whole scheme can be read here.
Keys holding personal data expire or are purged (see the retention notes beside each).
"""

from __future__ import annotations

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
}


def key(name: str, **parts: object) -> str:
    """The full Redis key for a template name, e.g. key("callback", id="123456")."""
    return f"{PREFIX}:" + TEMPLATES[name].format(**parts)
