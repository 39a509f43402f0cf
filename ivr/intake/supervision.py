"""What managers and the team do beyond one attempt: a manager reassigning or releasing another
worker's claim, and repeat requests from one number (found through the subject index of
ivr/store, linked on the request page, merged into one). Every change is audited by its script
(ivr/intake/queue.py)."""

from __future__ import annotations

import time

from ivr.intake.service import REFERENCE, Intake, IntakeError
from ivr.staff import users
from ivr.store.keys import key

MANAGER_ROLES = ("manager", "admin")


def reassign(service: Intake, ref: str, manager: str, to: str) -> dict:
    """Give a claimed request to another worker (`to`), or release it (`to` empty)."""
    now = time.time()
    to = (to or "").strip()
    if to:
        worker = users.get_user(service.redis, to)
        if worker is None or worker.get("disabled"):
            raise IntakeError(400, f"There is no active staff account called {to[:40]!r}.")
    service.get(ref, manager, action=None, now=now)
    lease = now + service.settings.claim_lease_minutes * 60
    result = service.transitions.run("reassign", ref, now, manager, to, repr(lease))
    if result[0] == "not_claimed":
        raise IntakeError(409, "Nobody has claimed this request.")
    if result[0] == "same":
        raise IntakeError(409, f"{result[1]} already has this request.")
    service._check(result)
    return service.get(ref, manager, action=None, now=now)


def related(service: Intake, cb: dict) -> list[dict]:
    """Other requests from the same phone number, newest first (each with status and when)."""
    keys = service.store.keys
    if keys is None or not cb.get("phone"):
        return []
    refs: set[str] = set()
    for digest in keys.phone_hashes(cb["phone"]):
        for field in service.redis.hkeys(key("subject_index", hash=digest)):
            if field.startswith("callback:") and field != f"callback:{cb['reference']}":
                refs.add(field.removeprefix("callback:"))
    now = time.time()
    found = [service.describe(c, now) for c in service._load(sorted(refs))]
    return sorted(found, key=lambda c: float(c.get("created_at") or 0), reverse=True)


def merge(service: Intake, ref: str, into: str, actor: str) -> dict:
    """Close `ref` as a repeat of `into` (same number; both open). `into` keeps the urgent flag
    if either had it. Returns `into`."""
    into = (into or "").strip()
    if not REFERENCE.match(into):
        raise IntakeError(400, "Give the six-digit reference of the request to keep.")
    now = time.time()
    cb = service.get(ref, actor, action=None, now=now)
    if into not in {other["reference"] for other in related(service, cb)}:
        raise IntakeError(400, f"Request {into} is not from the same number as {ref}.")
    service.get(into, actor, action=None, now=now)  # it exists
    result = service.transitions.run("merge", ref, now, actor, into, other=into)
    if result[0] == "closed":
        raise IntakeError(409, "Only open requests can be merged.")
    if result[0] == "taken":
        raise IntakeError(409, f"{result[1]} is working on request {ref}; ask them first.")
    if result[0] == "same":
        raise IntakeError(400, "A request cannot be merged into itself.")
    service._check(result)
    return service.get(into, actor, action=None, now=now)
