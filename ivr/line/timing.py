"""How long the line takes to say things, worked out from the flow file (no clock, no I/O).

Spoken time is words at the flow's `words_per_minute` (150: an unhurried voice) plus any pauses;
a digit said on its own counts as a word. Placeholders are filled with typical values (the
longest usual ones), so a prompt's time is what a caller would hear. Used by `ivr flows check`
(each prompt's seconds, and the time to a person) and the flow check's length limit.
"""

from __future__ import annotations

import string

# Typical values for the words the line fills in: long enough not to flatter a prompt.
SAMPLE_WORDS = {
    "service_name": "Interpersonal Psychotherapy service",
    "next_opening": "on Monday, from 9 am",
    "opening_at": "on Monday at 9 am",
    "caller_last_digits": "0, 1, 2, 3",
    "callback_last_digits": "0, 1, 2, 3",
    "keyed_number": "0 7 7 0 0, 9 0 0, 1 2 3",
    "reference": "1, 2, 3. 4, 5, 6",
    "number_problem": "That number is too short.",
    "crisis_dial_name": "Samaritans",
    "callback_when": "within 2 working days of when we open, on Monday at 9 am",
    "urgent_when": "as soon as they can, within 4 working hours",
    "target_working_days": "2 working days",
    "urgent_target_hours": "4 working hours",
    "language": "Polish",
}
PRESS_SECONDS = 1.0  # finding and pressing a key once it is offered


def filled(text: str, words: dict | None = None) -> str:
    values = {**SAMPLE_WORDS, **(words or {})}
    names = {f for _, f, _, _ in string.Formatter().parse(text) if f}
    return text.format_map({n: values.get(n, "") for n in names})


def line_seconds(item, wpm: int, words: dict | None = None) -> float:
    """One `say:` item: a sentence at `wpm`, or a pause."""
    if isinstance(item, dict):
        return float(item.get("pause", 0))
    return len(filled(str(item), words).split()) * 60.0 / wpm


def prompt_seconds(node: dict, wpm: int, words: dict | None = None) -> float:
    return sum(line_seconds(item, wpm, words) for item in node.get("say") or [])


def too_long(flow, limit: float | None = None) -> list[str]:
    """Every prompt over the flow's `max_prompt_seconds`, as a problem sentence."""
    wpm = int(flow.settings.get("words_per_minute", 150))
    limit = float(limit if limit is not None else flow.settings.get("max_prompt_seconds", 20))
    problems = []
    for node_id in flow.node_order:
        seconds = prompt_seconds(flow.nodes[node_id], wpm)
        if seconds > limit:
            problems.append(
                f"node `{node_id}`: takes {seconds:.1f} s to say at {wpm} words a minute, over"
                f" the {limit:g} s a caller can hold in mind: shorten it or split it"
            )
    return problems


def _offers(text: str, key: str) -> bool:
    name = {"*": "star", "#": "hash"}.get(key, key)
    return f"press {name}" in text


def route_seconds(flow, keys: list[str], out_of_hours: bool, caller_id: bool = True) -> dict:
    """A caller who presses each key of `keys` the moment its line has been said.

    Returns the seconds from the start of the call to `offered` (the first key's line said),
    `booked` (the callback request made) and `path` (nodes passed). Conditions: out of hours as
    given, the caller ID usable as given, nothing urgent, no request yet, no limit reached.
    """
    wpm = int(flow.settings.get("words_per_minute", 150))
    conditions = {
        "out_of_hours": out_of_hours,
        "caller_id_usable": caller_id,
        "urgent": False,
        "has_callback": False,
        "callback_limit_reached": False,
    }
    node_id, clock, keys = flow.start, 0.0, list(keys)
    result: dict = {"offered": None, "booked": None, "path": []}
    for _ in range(200):
        node = flow.nodes[node_id]
        result["path"].append(node_id)
        kind = node["type"]
        if kind == "action" and node.get("do") == "create_callback":
            result["booked"] = round(clock, 1)
            return result
        if kind == "branch":
            node_id = node["then"] if conditions[node["if"]] else node["else"]
            continue
        if kind == "action":
            node_id = node["next"]
            continue
        if not keys:
            return result
        key, pressed = keys[0], False
        for item in node.get("say") or []:
            clock += line_seconds(item, wpm)
            if not isinstance(item, dict) and _offers(filled(str(item)), key):
                pressed = True
                break
        if kind == "message" and not pressed:
            node_id = node["next"]
            continue
        if not pressed:
            raise ValueError(f"`{node_id}` never offers key {key}")
        keys.pop(0)
        if result["offered"] is None:
            result["offered"] = round(clock, 1)
        clock += PRESS_SECONDS
        if kind == "message":  # its words play inside the next prompt, which takes the key
            node_id = _next_prompt(flow, node["next"], conditions)
            node = flow.nodes[node_id]
        option = (node.get("options") or {}).get(key)
        node_id = option["next"] if option else flow.global_keys[key]
    raise ValueError("the route never ends")


def _next_prompt(flow, node_id: str, conditions: dict) -> str:
    """The prompt that waits after this run of messages and branches."""
    while flow.nodes[node_id]["type"] in ("message", "branch"):
        node = flow.nodes[node_id]
        if node["type"] == "message":
            node_id = node["next"]
        else:
            node_id = node["then"] if conditions[node["if"]] else node["else"]
    return node_id
