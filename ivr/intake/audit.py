"""The audit trail: who viewed or changed a callback request, when, and what they did.

Changes are written by the scripts in intake/queue.py in the same step as the change itself; views
and exports are written here. Each request has its own stream (kept as long as the request) and
every entry also goes to one capped global stream, for governance reviews.
"""

from __future__ import annotations

import redis

from ivr.intake.queue import AUDIT_MAXLEN
from ivr.store.crypto import open_field, seal_field
from ivr.store.keys import key

ACTION_LABELS = {
    "viewed": "Viewed the request",
    "exported": "Exported the summary",
    "claimed": "Claimed",
    "claim_renewed": "Renewed the claim",
    "released": "Released the claim",
    "lease_expired": "Claim lapsed; back in the queue",
    "due": "Next attempt due; back in the queue",
    "outcome": "Recorded an attempt",
    "connect": "Rang the worker to connect",
    "reassigned": "A manager reassigned the claim",
    "claim_released_by_manager": "A manager released the claim",
    "merged": "Merged as a repeat request",
    "merged_in": "A repeat request was merged in",
    "listed": "Listed with others (API)",
    "erased": "Erased at the caller's request (details removed)",
}


def record(
    client: redis.Redis, ref: str, now: float, who: str, action: str, detail: str = ""
) -> None:
    """Write one entry to the request's stream and the global one, in one round trip."""
    # The detail may say something about the caller: encrypted at rest, like the notes.
    entry = {
        "t": repr(now),
        "who": who,
        "action": action,
        "detail": seal_field(detail),
        "callback": ref,
    }
    with client.pipeline(transaction=True) as pipe:
        pipe.xadd(key("callback_audit", id=ref), entry)
        pipe.xadd(key("audit"), entry, maxlen=AUDIT_MAXLEN, approximate=True)
        pipe.execute()


def record_listing(client: redis.Redis, refs: list[str], now: float, who: str) -> None:
    """One entry for a read of many requests at once (an API page): who, when, which refs."""
    entry = {"t": repr(now), "who": who, "action": "listed", "callback": "", "refs": ",".join(refs)}
    client.xadd(key("audit"), entry, maxlen=AUDIT_MAXLEN, approximate=True)


def entries(client: redis.Redis, ref: str) -> list[dict]:
    """The request's trail, oldest first."""
    out = []
    for _, fields in client.xrange(key("callback_audit", id=ref)):
        fields["t"] = float(fields.get("t") or 0)
        fields["detail"] = open_field(fields.get("detail") or "")
        fields["label"] = ACTION_LABELS.get(fields.get("action", ""), fields.get("action", ""))
        out.append(fields)
    return out
