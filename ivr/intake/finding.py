"""Finding requests: every view of the queue (open, or one status) in its order, paged with
nothing left out, narrowed by reference or the number's last digits, and where a searched
reference is when it is not in the view asked for."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from ivr.intake.service import REFERENCE, Intake
from ivr.store.callbacks import SCHEDULED, TEST_FROM, URGENT
from ivr.store.keys import key

PER_PAGE = 50  # rows per page on the queue page's views


@dataclass(frozen=True)
class Found:
    """One page of a queue view."""

    rows: list[dict]
    total: int  # rows in the whole view (after the search)
    page: int
    pages: int
    elsewhere: dict | None  # {"reference", "status"}: a searched reference in another view


def find(
    service: Intake,
    status: str | None = None,
    search: str = "",
    page: int = 1,
    per_page: int | None = None,
    now: float | None = None,
    test: bool = False,
) -> Found:
    """One page of a view: open requests (the urgent band first, each band ready-to-call
    before scheduled ones not yet due, then oldest), or one status (closed: newest first);
    narrowed by reference or the number's last digits. Nothing is left out: every view
    pages, and `elsewhere` names the request a full reference finds in another view.
    Requests from test calls (/try) are shown only with `test`, and then only they are."""
    now = now or time.time()
    service.transitions.sweep(now)
    digits = re.sub(r"\D", "", search or "")
    if (search or "").strip() and not digits:
        # a name or other text matches nobody (the page says how to search)
        return Found([], 0, 1, 1, None)
    if not digits and per_page and status != "closed":
        return _page(service, status, page, per_page, now, test)
    refs = _only(service, _view(service, status), test)
    if status == "closed" and not digits and per_page:  # only one page's hashes are read
        total, pages = len(refs), max(1, -(-len(refs) // per_page))
        page = min(max(1, page), pages)
        start = (page - 1) * per_page
        rows = [service.describe(cb, now) for cb in service._load(refs[start : start + per_page])]
        return Found(rows, total, page, pages, None)
    rows = [service.describe(cb, now) for cb in service._load(refs)]
    if digits:
        rows = [
            r
            for r in rows
            if r["reference"].startswith(digits)
            # a caller told a reference that was another's (ivr/outage/recovery.py, F15-1)
            or r.get("told_reference", "").startswith(digits)
            or re.sub(r"\D", "", r.get("phone", "")).endswith(digits)
        ]
    if status != "closed":
        rows.sort(
            key=lambda r: (
                not r.get("urgent"),
                r["status"] == "scheduled" and r["next_attempt_at"] > now,
            )
        )
    elsewhere = None
    if REFERENCE.match(digits) and digits not in {r["reference"] for r in rows}:
        other, flag = service.redis.hmget(key("callback", id=digits), ["status", "test"])
        if other and (flag == "1") == test:
            elsewhere = {"reference": digits, "status": other}
    total = len(rows)
    if not per_page:
        return Found(rows, total, 1, 1, elsewhere)
    pages = max(1, -(-total // per_page))
    page = min(max(1, page), pages)
    start = (page - 1) * per_page
    return Found(rows[start : start + per_page], total, page, pages, elsewhere)


def _page(
    service: Intake, status: str | None, page: int, per_page: int, now: float, test: bool
) -> Found:
    """One page of an open view, reading only that page's requests: the queue's score is its
    display order (queue_score), so a page is one ZRANGE. One status: the queue order of that
    status's members (the view's ids only, from one ZINTER; the whole queue is never read)."""
    low, high = (f"({TEST_FROM}", "+inf") if test else ("-inf", f"({TEST_FROM}")
    queue = key("callback_queue")
    if status is None:
        total = service.redis.zcount(queue, low, high)
        pages = max(1, -(-total // per_page))
        page = min(max(1, page), pages)
        refs = service.redis.zrangebyscore(queue, low, high, (page - 1) * per_page, per_page)
    else:
        index = key("callbacks_by_status", status=status)
        ranked = service.redis.zinter({queue: 1, index: 0}, withscores=True)
        refs = [ref for ref, score in ranked if (score > TEST_FROM) == test]
        total = len(refs)
        pages = max(1, -(-total // per_page))
        page = min(max(1, page), pages)
        refs = refs[(page - 1) * per_page : page * per_page]
    rows = [service.describe(cb, now) for cb in service._load(refs)]
    return Found(rows, total, page, pages, None)


def first_waiting(service: Intake, now: float | None = None) -> str | None:
    """The request at the top of the open queue that nobody is working on (what "claim the
    next" takes): the ready part of each band, a few at a time, passing over the claimed and
    escalated ones (the only others there)."""
    now = now or time.time()
    service.transitions.sweep(now)
    queue = key("callback_queue")
    for low, high in (("-inf", f"({URGENT + SCHEDULED}"), (0, f"({SCHEDULED}")):
        start = 0
        while refs := service.redis.zrangebyscore(queue, low, high, start, 20):
            with service.redis.pipeline(transaction=False) as pipe:
                for ref in refs:
                    pipe.hget(key("callback", id=ref), "status")
                for ref, held in zip(refs, pipe.execute(), strict=True):
                    if held == "queued":
                        return ref
            start += len(refs)
    return None


def _only(service: Intake, refs: list[str], test: bool) -> list[str]:
    """The references from test calls (/try) or, without `test`, the others."""
    with service.redis.pipeline(transaction=False) as pipe:
        for ref in refs:
            pipe.hget(key("callback", id=ref), "test")
        flags = pipe.execute()
    return [r for r, flag in zip(refs, flags, strict=True) if (flag == "1") == test]


def _view(service: Intake, status: str | None) -> list[str]:
    """The references in one view, in order, whole (ids only: cheap even for thousands)."""
    if status == "closed":
        return service.redis.zrevrange(key("callbacks_by_status", status="closed"), 0, -1)
    order = service.redis.zrange(key("callback_queue"), 0, -1)
    if status is None:
        return order
    members = set(service.redis.zrange(key("callbacks_by_status", status=status), 0, -1))
    return [r for r in order if r in members]
