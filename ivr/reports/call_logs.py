"""Call logs as managers and API clients see them: listing by date range and outcome with an
opaque cursor, the path each call took, and the masking rules.

Only the masked caller number ever leaves here (the call log holds nothing else about the
number), and a call's path names prompts and keys but never digits of a keyed phone number
(the engine records `number_keyed` without them).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import partial

from flask import current_app, has_app_context

from ivr.line.calls import outcome_label
from ivr.reports.labels import node_label
from ivr.store.keys import key
from ivr.store.special import PRIVATE_SECTIONS

SCREENING = "screening_questions"  # what managers see instead of the screening prompts

PUBLIC_FIELDS = (
    "started_at",
    "ended_at",
    "duration",
    "outcome",
    "last_node",
    "callback_id",
    "call_status",
    "caller_id_withheld",
)
CSV_COLUMNS = [
    "call_sid",
    "started",
    "duration_s",
    "from",
    "outcome",
    "how_it_ended",
    "last_prompt",
    "callback",
    "path",
]


class BadCursor(ValueError):
    """A cursor this service never gave out."""


# The score part of a cursor is a number as repr(float) writes it. Python's float() also takes
# "nan", "1_000" and spaces, which Redis refuses, and a Redis error reads as an outage (503).
_SCORE = re.compile(r"-?[0-9]+(\.[0-9]+)?(e[+-]?[0-9]+)?")


def cursor_score(text: str) -> float:
    """The score in a cursor this service gave out; BadCursor for anything else."""
    if not _SCORE.fullmatch(text):
        raise BadCursor(text)
    return float(text)


def _index(outcome: str | None) -> str:
    return key("calls_by_outcome", outcome=outcome) if outcome else key("calls_by_start")


def page(
    redis, low: float, high: float, outcome: str | None, cursor: str | None, limit: int
) -> tuple[list[dict], str | None]:
    """Calls started in [low, high), newest first; `cursor` continues a previous page."""
    top, after_sid = f"({high}", None
    if cursor:
        score, _, after_sid = cursor.partition(":")
        top = repr(min(cursor_score(score), high))
        if not after_sid.isalnum() or len(cursor) > 100:
            raise BadCursor(cursor)
    # Calls that share the cursor's start time sort by sid (descending); skip up to the cursor.
    rows = redis.zrevrangebyscore(
        _index(outcome), top, low, start=0, num=limit + 50, withscores=True
    )
    if after_sid:
        rows = [r for r in rows if r[1] < float(top) or r[0] < after_sid]
    chosen = rows[:limit]
    logs = fetch(redis, [sid for sid, _ in chosen])
    next_cursor = f"{chosen[-1][1]!r}:{chosen[-1][0]}" if len(rows) > limit and chosen else None
    return logs, next_cursor


def fetch(redis, sids: list[str], with_path: bool = False, label=str) -> list[dict]:
    with redis.pipeline(transaction=False) as pipe:
        for sid in sids:
            pipe.hgetall(key("call_log", sid=sid))
            if with_path:
                pipe.lrange(key("call_events", sid=sid), 0, -1)
        replies = pipe.execute()
    step = 2 if with_path else 1
    out = []
    for n, sid in enumerate(sids):
        log = replies[n * step]
        if not log:
            continue  # expired under us
        item = public(sid, log)
        if with_path:
            item["path"] = path_text([json.loads(e) for e in replies[n * step + 1]], label)
        out.append(item)
    return out


def public(sid: str, log: dict) -> dict:
    """What a manager or API client may see of one call log: the number masked, nothing else.

    Never an individual's answers: no urgent flag, and a call that ended at a screening or
    crisis prompt shows the section, not the prompt (which would tell the answer before it)."""
    item = {"call_sid": sid, "from": log.get("from_masked", "")}
    item.update({name: log[name] for name in PUBLIC_FIELDS if name in log})
    private, aliases = _flow_privacy()
    if item.get("last_node") in private:
        item["last_node"] = SCREENING
    item["last_node"] = aliases.get(item.get("last_node"), item.get("last_node"))
    if item["last_node"] is None:
        del item["last_node"]
    return item


def _flow_privacy() -> tuple[frozenset[str], dict[str, str]]:
    """The prompts whose answers are health data, and urgent-only prompts' ordinary twins."""
    if not has_app_context():
        return frozenset(), {}
    store = current_app.extensions["ivr.store"]
    return store.private_nodes, store.urgent_aliases


def events(redis, sid: str) -> list[dict]:
    """A call's events as a manager may see them: the screening and crisis part as one step."""
    return for_managers([json.loads(e) for e in redis.lrange(key("call_events", sid=sid), 0, -1)])


def for_managers(call_events: list[dict]) -> list[dict]:
    """The call's path with the screening and crisis prompts (whose order and keys would tell
    an individual's answers) folded into one "screening questions" step; no urgent flags."""
    out: list[dict] = []
    private = False
    aliases = _flow_privacy()[1]
    for event in call_events:
        if event.get("node") in aliases:
            event = {**event, "node": aliases[event["node"]]}
        if event.get("type") in ("prompt", "passed"):
            private = event.get("section") in PRIVATE_SECTIONS
            if private and out and out[-1].get("type") == SCREENING:
                continue
            if private:
                event = {"t": event.get("t"), "type": SCREENING}
        elif private and event.get("type") not in ("callback_requested", "ended"):
            continue
        hidden = ("urgent", "a", "answered", "node") if private else ("urgent", "a", "answered")
        out.append({k: v for k, v in event.items() if k not in hidden})
    return out


def path_text(call_events: list[dict], label=str) -> str:
    """The prompts heard and keys pressed, e.g. "Main menu [1] What IPT is [silence] ...";
    `label` names a node (ivr/reports/labels.py), its internal name by default."""
    parts = []
    for event in for_managers(call_events):
        kind = event.get("type")
        if kind == SCREENING:
            parts.append("[screening questions]")
        elif kind == "prompt":
            parts.append(label(event.get("node", "")))
        elif kind in ("key", "invalid_key"):
            parts.append(f"[{event.get('key', '?')}{'' if kind == 'key' else ' invalid'}]")
        elif kind == "silence":
            parts.append("[silence]")
        elif kind == "number_keyed":
            parts.append("[number keyed]")  # never the digits
        elif kind == "number_rejected":
            parts.append(f"[number rejected: {event.get('reason', '')}]")
        elif kind == "callback_requested":
            parts.append("[callback requested]")
        elif kind == "rate_limited":
            parts.append("[refused: per-number limit]")
    return " ".join(parts)


def ranked_chunks(redis, index: str, low: float, high: float, size: int = 1000):
    """Members scored in [low, high), oldest first, `size` at a time, by rank.

    By rank, not ZRANGEBYSCORE ... LIMIT offset: an offset is walked over on every call, which
    makes a long export quadratic (it timed out over a million calls).
    """
    below = "-inf" if low == float("-inf") else f"({low}"
    first = redis.zcount(index, "-inf", below) if below != "-inf" else 0
    last = redis.zcount(index, "-inf", f"({high}") - 1
    for start in range(first, last + 1, size):
        chunk = redis.zrange(index, start, min(start + size - 1, last))
        if chunk:
            yield chunk


def csv_rows(redis, low: float, high: float, outcome: str | None, tz, flow=None) -> Iterator[list]:
    """Every call in the range, oldest first, a thousand at a time (for streaming CSV)."""
    label = partial(node_label, flow)
    for sids in ranked_chunks(redis, _index(outcome), low, high):
        for item in fetch(redis, sids, with_path=True, label=label):
            yield [
                item["call_sid"],
                local_time(item.get("started_at"), tz),
                item.get("duration", ""),
                item["from"],
                item.get("outcome", ""),
                outcome_label(item.get("outcome")),
                label(item.get("last_node", "")),
                item.get("callback_id", ""),
                item["path"],
            ]


def local_time(timestamp, tz) -> str:
    try:
        return (
            datetime.fromtimestamp(float(timestamp), UTC)
            .astimezone(tz)
            .strftime("%Y-%m-%d %H:%M:%S")
        )
    except (TypeError, ValueError):
        return ""
