"""The phone flow as data: loading a `call_flows/*.yaml` file and checking it is safe to put callers
through (every node reachable, every key leads somewhere, every path ends, silence always ends)."""

from __future__ import annotations

import re
import string
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ivr.line import speech
from ivr.line.flow_graph import (
    END,
    check_endings,
    check_no_instant_loops,
    check_reachable,
    edges,
    second_failure,
    silence_edges,
)

_edges = edges  # the older name, still used by the sign-off tests

__all__ = ["END", "Flow", "FlowError", "load_flow", "parse_flow", "second_failure", "silence_edges"]

NODE_TYPES = {
    "message",
    "menu",
    "number_entry",
    "words_entry",
    "branch",
    "action",
    "dial",
    "hangup",
}
RECORDED_WORDS = {"interpreter_language"}  # what a `words_entry` may keep (`record_as`)
# Named things the flow may ask the engine for; they are implemented in ivr/line/engine.py.
CONDITIONS = {
    "out_of_hours",
    "caller_id_usable",
    "urgent",
    "has_callback",
    "callback_limit_reached",
    "can_text",
}
ACTIONS = {
    "use_caller_id",
    "use_keyed_number",
    "create_callback",
    "open_urgent_request",
    "withdraw_urgent_request",
    "send_reference_text",
}
# Twilio's DialCallStatus values a put-through can end with.
DIAL_STATUSES = {"completed", "busy", "no-answer", "failed", "canceled"}
DIAL_SETTINGS = {"crisis_dial_number"}
PLACEHOLDERS = {
    "service_name",
    "next_opening",
    "caller_last_digits",
    "keyed_number",
    "reference",
    "number_problem",
    "crisis_dial_name",
    "callback_when",
    "target_working_days",
    "opening_at",
    "callback_last_digits",
    "urgent_when",
    "urgent_target_hours",
    "language",
    "reference_digits",
}
VALID_KEYS = set("0123456789*#")
GLOBAL_ACTIONS = {"repeat"}  # a global key leads to "repeat" or to a node
MAX_OPTIONS = 4  # numbered options per menu; "#" (skip or not sure) is not counted
DEFAULT_SETTINGS = {
    "gather_timeout": 7,
    "number_timeout": 12,
    "number_attempts": 3,
    "words_per_minute": 150,
    "max_prompt_seconds": 20,
}


class FlowError(ValueError):
    """The flow file cannot be used; `problems` lists each reason in plain words."""

    def __init__(self, problems: list[str], source: str = "flow"):
        self.problems = problems
        super().__init__(
            f"{source} has {len(problems)} problem(s):\n" + "\n".join(f"  - {p}" for p in problems)
        )


@dataclass
class Flow:
    start: str
    main_menu: str
    nodes: dict[str, dict]
    settings: dict
    phrases: dict
    global_keys: dict[str, str]
    source: str = "flow"
    global_words: dict[str, list] = field(default_factory=dict)
    node_order: list[str] = field(default_factory=list)

    def node(self, node_id: str) -> dict:
        return self.nodes[node_id]


def load_flow(path: str | Path) -> Flow:
    """Read and check a flow file. Raises FlowError listing every problem found."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise FlowError([f"cannot read the file: {exc}"], str(path)) from exc
    return parse_flow(raw, source=str(path))


def parse_flow(raw: object, source: str = "flow") -> Flow:
    if not isinstance(raw, dict) or not isinstance(raw.get("nodes"), dict):
        raise FlowError(["the file must be a mapping with a `nodes:` section"], source)
    settings = {**DEFAULT_SETTINGS, **(raw.get("settings") or {})}
    flow = Flow(
        start=str(raw.get("start", "")),
        main_menu=str(raw.get("main_menu", "")),
        nodes={str(k): (v if isinstance(v, dict) else {}) for k, v in raw["nodes"].items()},
        settings=settings,
        phrases=raw.get("phrases") or {},
        global_keys={str(k): str(v) for k, v in (raw.get("global_keys") or {}).items()},
        source=source,
        node_order=[str(k) for k in raw["nodes"]],
        global_words={
            str(k): [str(w) for w in (v or [])] for k, v in (raw.get("global_words") or {}).items()
        },
    )
    problems = check_flow(flow)
    if problems:
        raise FlowError(problems, source)
    return flow


def _texts(node: dict) -> list[str]:
    items = node.get("say") or []
    return [item for item in items if isinstance(item, str)]


def check_flow(flow: Flow) -> list[str]:
    """Every problem with a flow, each as a sentence a non-programmer can act on."""
    problems: list[str] = []
    nodes = flow.nodes
    for name in ("start", "main_menu"):
        target = getattr(flow, name)
        if target not in nodes:
            problems.append(f"`{name}: {target}` names a node that does not exist")
    for name in ("silence_end", "invalid_end"):
        target = flow.settings.get(name)
        if target not in nodes:
            problems.append(f"settings `{name}: {target}` names a node that does not exist")
        elif nodes[target].get("type") != "hangup":
            problems.append(f"settings `{name}` must name a hangup node, not `{target}`")
    for key, target in flow.global_keys.items():
        if key not in VALID_KEYS:
            problems.append(f"global key {key!r} is not a phone key")
        if target not in GLOBAL_ACTIONS and target not in nodes:
            problems.append(f"global key {key} leads to `{target}`, which does not exist")
    for phrase in ("invalid_key", "silence", "fallback"):
        if not flow.phrases.get(phrase):
            problems.append(f"phrases: `{phrase}` is missing")
    if not isinstance(flow.phrases.get("fallback", []), list):
        problems.append("phrases: `fallback` must be a list of sentences")

    formatter = string.Formatter()
    for node_id, node in nodes.items():
        where = f"node `{node_id}`"
        kind = node.get("type")
        if kind not in NODE_TYPES:
            problems.append(f"{where}: type {kind!r} is not one of {', '.join(sorted(NODE_TYPES))}")
            continue
        if not str(node.get("label") or "").strip():
            problems.append(f"{where}: needs a `label:` (a few words for people reading pages)")
        for how, target in edges(node):
            if target not in nodes:
                problems.append(f"{where}: {how} leads to `{target}`, which does not exist")
        for text in _texts(node):
            try:
                names = {f for _, f, _, _ in formatter.parse(text) if f is not None}
            except ValueError:
                problems.append(f"{where}: unbalanced braces in {text!r}")
                continue
            for unknown in sorted(names - PLACEHOLDERS):
                problems.append(f"{where}: {{{unknown}}} is not a word the line can fill in")
            for number in re.findall(r"(?<![\d{])\d{3,}(?![\d}])", text):
                problems.append(
                    f"{where}: write {number} digit by digit "
                    f"({' '.join(number)}): the voice would read it as an amount"
                )
        if kind == "words_entry" and node.get("record_as") not in RECORDED_WORDS:
            problems.append(f"{where}: `record_as:` must be one of {', '.join(RECORDED_WORDS)}")
        needs_say = kind in ("message", "menu", "number_entry", "words_entry", "hangup")
        if needs_say and not node.get("say"):
            problems.append(f"{where}: says nothing (add a `say:` list)")
        if kind in ("message", "action", "dial", "number_entry", "words_entry") and not node.get(
            "next"
        ):
            problems.append(f"{where}: is a dead end (add `next:`)")
        if kind == "number_entry" and not node.get("on_fail"):
            problems.append(f"{where}: needs `on_fail:` for a caller who cannot key a number")
        if kind == "branch":
            if node.get("if") not in CONDITIONS:
                problems.append(
                    f"{where}: `if: {node.get('if')}` is not one of {', '.join(sorted(CONDITIONS))}"
                )
            if not node.get("then") or not node.get("else"):
                problems.append(f"{where}: a branch needs both `then:` and `else:`")
        if kind == "action" and node.get("do") not in ACTIONS:
            problems.append(
                f"{where}: `do: {node.get('do')}` is not one of {', '.join(sorted(ACTIONS))}"
            )
        if kind == "dial" and node.get("number") not in DIAL_SETTINGS:
            problems.append(f"{where}: `number:` must be one of {', '.join(sorted(DIAL_SETTINGS))}")
        for status in node.get("outcomes") or {}:
            if status not in DIAL_STATUSES:
                problems.append(
                    f"{where}: outcome {status!r} is not one of {', '.join(sorted(DIAL_STATUSES))}"
                )
        if kind == "dial" and not node.get("next"):
            problems.append(f"{where}: a put-through needs `next:` for any other outcome")
        if kind == "menu":
            problems.extend(_check_menu(flow, node_id, node))
    for key in flow.global_words:
        if key not in flow.global_keys:
            problems.append(f"global_words: {key!r} is not one of the global keys")
    if problems:
        return problems
    from ivr.line import timing  # both read the Flow; timing never imports this module

    problems.extend(timing.too_long(flow))
    problems.extend(check_reachable(flow))
    problems.extend(check_endings(flow))
    problems.extend(check_no_instant_loops(flow))
    return problems


def _check_menu(flow: Flow, node_id: str, node: dict) -> list[str]:
    problems = []
    where = f"node `{node_id}`"
    options = node.get("options")
    if options is None or not isinstance(options, dict):
        return [f"{where}: a menu needs `options:` (use `options: {{}}` for none)"]
    numbered = [k for k in options if str(k) != "#"]
    if len(numbered) > MAX_OPTIONS:
        problems.append(
            f"{where}: has {len(numbered)} options; callers can hold at most {MAX_OPTIONS} in mind"
        )
    for key, option in options.items():
        key = str(key)
        if key not in VALID_KEYS:
            problems.append(f"{where}: option {key!r} is not a phone key")
        elif key in flow.global_keys:
            problems.append(f"{where}: key {key} is kept for every menu ({flow.global_keys[key]})")
        if not isinstance(option, dict) or not option.get("next"):
            problems.append(f"{where}: key {key} leads nowhere (add `next:`)")
            continue
        if option.get("do") and option["do"] not in ACTIONS:
            problems.append(f"{where}: key {key} asks for `do: {option['do']}`, which is unknown")
        if option.get("record") is not None and not isinstance(option["record"], dict):
            problems.append(f"{where}: key {key} `record:` must be a mapping of answer: value")
    if not options and not node.get("on_silence"):
        problems.append(f"{where}: a menu with no options needs `on_silence:`")
    default = node.get("silence_default")
    if default is not None and str(default) not in {str(k) for k in options}:
        problems.append(f"{where}: `silence_default: {default}` is not one of its keys")
    for word, key, other in speech.shared_words(node, flow.global_words, flow.global_keys):
        problems.append(
            f"{where}: the word {word!r} is taken by key {key} and by key {other}: a caller"
            " who says it could mean either"
        )
    return problems


def placeholder_names(text: str) -> set[str]:
    return set(re.findall(r"{(\w+)}", text))
