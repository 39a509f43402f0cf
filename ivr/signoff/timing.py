"""How long the line takes to say things, at 150 words a minute, and the quickest way through it.

`prompt_seconds` counts a prompt's words (after the line's words such as {service_name} are filled
in with sample values) plus its pauses. `quickest` finds, for a caller who listens to each prompt
to the end and then presses a key, the shortest time from dialling to the callback offer and to a
booked callback, in or out of hours.
"""

from __future__ import annotations

import heapq
import re
import string
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ivr.config import Settings
from ivr.line.flow import Flow
from ivr.line.hours import Hours
from ivr.signoff.steps import ways_out

WORDS_PER_MINUTE = 150
KEY_SECONDS = 1.0  # pressing one key at a menu
NUMBER_SECONDS = 7.0  # keying an 11-digit number and the hash key
BREAK = re.compile(r"<break[^>]*time=\"(\d+(?:\.\d+)?)(ms|s)\"[^>]*/>")
TAG = re.compile(r"<[^>]+>")


def text_seconds(text: str) -> float:
    """Seconds to say one line: its words at 150 a minute, plus any SSML breaks in it."""
    pauses = sum(float(n) / (1000 if unit == "ms" else 1) for n, unit in BREAK.findall(text))
    words = TAG.sub(" ", text).split()
    return len(words) * 60 / WORDS_PER_MINUTE + pauses


def prompt_seconds(items: list, fill=None) -> float:
    """Seconds to say a `say:` list: each line (filled in by `fill`) and each `pause:` item."""
    total = 0.0
    for item in items or []:
        if isinstance(item, dict) and "pause" in item:
            total += float(item["pause"])
        elif isinstance(item, str):
            total += text_seconds(fill(item) if fill else item)
    return total


KEY_NAMES = {"*": "star", "#": "hash"}


def offer_seconds(items: list, key: str, words: dict[str, str]) -> float:
    """Seconds into a prompt until the end of the line that names `key` ("... press 3."); the
    whole prompt if no line names it."""
    pattern = re.compile(rf"\bpress {re.escape(KEY_NAMES.get(key, key))}\b", re.IGNORECASE)
    for index, item in enumerate(items or []):
        if isinstance(item, str) and pattern.search(item):
            return prompt_seconds(items[: index + 1], lambda t: fill(t, words))
    return prompt_seconds(items, lambda t: fill(t, words))


class _Sample(dict):
    def __missing__(self, name: str) -> str:
        return "{" + name + "}"


def sample_words(flow: Flow, settings: Settings, out_of_hours: bool) -> dict[str, str]:
    """Typical values for the words the line fills in, so timings count what is really said."""
    hours = Hours.from_settings(settings)
    moment = sample_moment(hours, out_of_hours)
    days = settings.callback_target_working_days
    next_opening = hours.spoken_next_opening(moment)
    when = flow.phrases.get("callback_when_closed" if out_of_hours else "callback_when_open", "")
    words = {
        "service_name": settings.service_name,
        "crisis_dial_name": settings.crisis_dial_name,
        "next_opening": next_opening,
        "target_working_days": f"{days} working day{'' if days == 1 else 's'}",
        "caller_last_digits": "1, 2, 3, 4",
        "keyed_number": "0 7 7 0 0, 9 0 0, 1 2 3",
        "reference": "3, 4, 7. 1, 0, 2",
        "number_problem": "That number is too short.",
    }
    words["callback_when"] = fill(str(when), words) if isinstance(when, str) else ""
    return words


def fill(text: str, words: dict[str, str]) -> str:
    try:
        return string.Formatter().vformat(text, (), _Sample(words))
    except (ValueError, IndexError, KeyError):
        return text


def sample_moment(hours: Hours, out_of_hours: bool) -> datetime:
    """A weekday morning the team is open, or a Friday evening it is closed (the longest wait)."""
    day, hour = (17, 19) if out_of_hours else (15, 11)
    moment = datetime(2025, 1, day, hour, 0, tzinfo=hours.tz)
    for _ in range(24 * 14):  # opening hours are settings: look for a fitting hour
        if hours.is_open(moment) != out_of_hours:
            return moment
        moment += timedelta(hours=1)
    return moment


@dataclass(order=True)
class Route:
    seconds: float
    steps: list[tuple[str, str]] = field(compare=False)  # (node, how the caller went on)


def quickest(flow: Flow, settings: Settings, out_of_hours: bool) -> dict[str, Route | None]:
    """The quickest route from dialling to the callback offer ("offer") and to the moment a
    callback request is made ("booked"). A caller hears each prompt to its end before pressing."""
    words = sample_words(flow, settings, out_of_hours)
    conditions = {"out_of_hours": out_of_hours, "caller_id_usable": True, "urgent": False}
    timeout = float(flow.settings.get("gather_timeout", 7))
    best: dict[str, float] = {}
    found: dict[str, Route | None] = {"offer": None, "booked": None}
    queue: list[tuple[float, int, str, list]] = [(0.0, 0, flow.start, [])]
    counter = 1
    while queue and (found["offer"] is None or found["booked"] is None):
        seconds, _, node_id, steps = heapq.heappop(queue)
        if node_id in best:
            continue
        best[node_id] = seconds
        node = flow.nodes[node_id]
        if node.get("type") == "action" and node.get("do") == "create_callback":
            found["booked"] = found["booked"] or Route(seconds, steps + [(node_id, "booked")])
        heard = seconds + prompt_seconds(node.get("say"), lambda t: fill(t, words))
        ways = ways_out(flow, node_id)
        offers = [w for w in ways if w.kind == "key" and _section(flow, w.target) == "callback"]
        if offers and found["offer"] is None and _section(flow, node_id) != "callback":
            said = seconds + offer_seconds(node.get("say"), offers[0].key, words)
            found["offer"] = Route(said, steps + [(node_id, f"offer: press {offers[0].key}")])
        for way in ways:
            if way.kind == "then" and conditions.get(node.get("if")) is False:
                continue
            if way.kind == "else" and conditions.get(node.get("if")) is True:
                continue
            if way.do == "create_callback" or way.kind == "key":
                cost = NUMBER_SECONDS if node.get("type") == "number_entry" else KEY_SECONDS
            elif way.kind == "silence":
                cost = timeout
            else:
                cost = NUMBER_SECONDS if node.get("type") == "number_entry" else 0.0
            how = f"press {way.key}" if way.kind == "key" else way.kind
            if way.target not in best:
                entry = (heard + cost, counter, way.target, steps + [(node_id, how)])
                heapq.heappush(queue, entry)
                counter += 1
    return found


def _section(flow: Flow, node_id: str) -> str:
    return str(flow.nodes.get(node_id, {}).get("section", ""))
