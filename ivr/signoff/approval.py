"""Clinical approval of the flow: who approved which exact content of the flow file, and when.

An approval is recorded against the file's sha256 (ivr.signoff.script.content_hash), so any edit,
even of one word, leaves the running flow "not approved" until someone signs the new text off.
Each approval goes to Redis (`flow_approval`, one hash per approved content, and the
`flow_approvals` history) and to the global audit trail, in one transaction.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

import redis

from ivr.intake.queue import AUDIT_MAXLEN
from ivr.line.flow import Flow
from ivr.signoff.script import content_hash
from ivr.store.keys import key

MAX_TEXT = 100


class ApprovalError(ValueError):
    """An approval that cannot be recorded; the message says why."""


def approve(client: redis.Redis, flow_hash: str, by: str, role: str, now: float | None = None):
    """Record that `by` (in `role`) approved the flow file whose content hash is `flow_hash`."""
    by, role = " ".join(by.split()), " ".join(role.split())
    if not by or not role:
        raise ApprovalError("Give the approver's name (--by) and role (--role).")
    if len(by) > MAX_TEXT or len(role) > MAX_TEXT:
        raise ApprovalError(f"Name and role are at most {MAX_TEXT} characters each.")
    now = time.time() if now is None else now
    record = {"hash": flow_hash, "by": by, "role": role, "at": repr(now)}
    with client.pipeline(transaction=True) as pipe:
        pipe.hset(key("flow_approval", hash=flow_hash), mapping=record)
        pipe.rpush(key("flow_approvals"), json.dumps(record))
        detail = f"approved the phone flow as {role}; sha256 {flow_hash}"
        entry = {"t": repr(now), "who": by, "action": "flow_approved", "detail": detail}
        pipe.xadd(key("audit"), {**entry, "callback": ""}, maxlen=AUDIT_MAXLEN, approximate=True)
        pipe.execute()
    return record


def approval_of(client: redis.Redis, flow_hash: str) -> dict | None:
    return client.hgetall(key("flow_approval", hash=flow_hash)) or None


def latest(client: redis.Redis) -> dict | None:
    raw = client.lindex(key("flow_approvals"), -1)
    return json.loads(raw) if raw else None


def describe(record: dict) -> str:
    when = datetime.fromtimestamp(float(record["at"]), UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"{record['by']} ({record['role']}) on {when}"


def status_for_hash(client: redis.Redis, flow_hash: str) -> tuple[bool, str]:
    record = approval_of(client, flow_hash)
    if record:
        return True, f"approved by {describe(record)}; sha256 {flow_hash[:12]}"
    last = latest(client)
    before = f"; the last approval ({describe(last)}) was of other content" if last else ""
    return False, f"not approved: sha256 {flow_hash[:12]} has no sign-off{before}"


def approval_status(client: redis.Redis, flow: Flow, flow_hash: str | None = None):
    """(ok, detail): whether this flow's content has a clinical approval, in plain words.

    `flow_hash` is the content hash the line loaded at start-up; without it, the file on disk is
    read (what `ivr number check` and the CLI see)."""
    try:
        flow_hash = flow_hash or content_hash(Path(flow.source))
    except OSError as exc:
        return False, f"not approved: the flow file cannot be read ({exc.strerror})"
    return status_for_hash(client, flow_hash)
