"""The queue page's live strip (what a worker takes in at a glance) and what managers are shown
above the queue: escalated requests, urgent alerts that failed to send, missing duty contacts."""

from __future__ import annotations

import time

from ivr.intake import outbox


def strip(open_rows: list[dict], now: float | None = None) -> dict:
    """From every open request (Intake.queue()): waiting now (ready to call), urgent waiting,
    overdue, the oldest wait, escalated, and who is working what."""
    now = now or time.time()
    ready = [r for r in open_rows if r["status"] == "queued"]
    urgent = [r for r in open_rows if r.get("urgent") and r["status"] != "claimed"]
    working: dict[str, list[str]] = {}
    for r in open_rows:
        if r["status"] == "claimed":
            working.setdefault(r.get("claimed_by") or "?", []).append(r["reference"])
    return {
        "waiting": len(ready),
        "urgent": len(urgent),
        "urgent_refs": sorted(r["reference"] for r in urgent),
        "overdue": sum(1 for r in open_rows if r.get("overdue")),
        "escalated": sum(1 for r in open_rows if r["status"] == "escalated"),
        "oldest_seconds": max((r["age_seconds"] for r in open_rows), default=None),
        "working": sorted(working.items()),
    }


def manager_notices(client, settings, now: float | None = None) -> dict:
    """What only managers see on the queue page."""
    now = now or time.time()
    return {
        "alert_failures": outbox.recent_failures(client, now - 7 * 86400),
        "alerts_waiting": outbox.waiting(client),
        "no_duty_contacts": not outbox.duty_contacts(settings),
    }
