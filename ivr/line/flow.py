"""The phone flow as data: loading a `call_flows/*.yaml` file and checking it is safe to put callers
through (every node reachable, every key leads somewhere, every path ends, silence always ends)."""

from __future__ import annotations

import re
import string
from dataclasses import dataclass, field
from pathlib import Path

import yaml

NODE_TYPES = {"message", "menu", "number_entry", "branch", "action", "dial", "hangup"}
# Named things the flow may ask the engine for; they are implemented in ivr/line/engine.py.
CONDITIONS = {"out_of_hours", "caller_id_usable", "urgent"}
ACTIONS = {"use_caller_id", "use_keyed_number", "create_callback"}
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
}
VALID_KEYS = set("0123456789*#")
GLOBAL_ACTIONS = {"repeat"}  # a global key leads to "repeat" or to a node
MAX_OPTIONS = 4  # numbered options per menu; "#" (skip or not sure) is not counted
DEFAULT_SETTINGS = {
    "gather_timeout": 7,
    "silence_reprompts": 2,
    "invalid_limit": 5,
    "number_timeout": 12,
    "number_attempts": 3,
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
    )
    problems = check_flow(flow)
    if problems:
        raise FlowError(problems, source)
    return flow


def _edges(node: dict) -> list[tuple[str, str]]:
    """(how, target) for every way out of a node that the flow file names."""
    out = []
    for name in ("next", "then", "else", "on_fail", "on_silence"):
        if node.get(name):
            out.append((name, str(node[name])))
    for key, option in (node.get("options") or {}).items():
        if isinstance(option, dict) and option.get("next"):
            out.append((f"key {key}", str(option["next"])))
    return out


def silence_edges(flow: Flow, node_id: str) -> list[str]:
    """Where a caller who presses nothing at all goes from this node."""
    node = flow.nodes[node_id]
    kind = node.get("type")
    if kind in ("message", "action", "dial"):
        return [str(node.get("next"))]
    if kind == "branch":
        return [str(node.get("then")), str(node.get("else"))]
    if kind == "menu":
        return [str(node.get("on_silence") or flow.settings.get("silence_end"))]
    if kind == "number_entry":
        return [str(flow.settings.get("silence_end"))]
    return []


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
        for how, target in _edges(node):
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
        needs_say = kind in ("message", "menu", "number_entry", "hangup")
        if needs_say and not node.get("say"):
            problems.append(f"{where}: says nothing (add a `say:` list)")
        if kind in ("message", "action", "dial", "number_entry") and not node.get("next"):
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
        if kind == "menu":
            problems.extend(_check_menu(flow, node_id, node))
    if problems:
        return problems
    problems.extend(_check_reachable(flow))
    problems.extend(_check_endings(flow))
    problems.extend(_check_no_instant_loops(flow))
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
    return problems


def _successors(flow: Flow, node_id: str) -> set[str]:
    node = flow.nodes[node_id]
    out = {target for _, target in _edges(node)}
    if node.get("type") == "menu":
        out |= {t for t in flow.global_keys.values() if t in flow.nodes}
    out.update(t for t in silence_edges(flow, node_id) if t in flow.nodes)
    if node.get("type") in ("menu", "number_entry"):
        out.add(flow.settings["invalid_end"])
    return out


def _check_reachable(flow: Flow) -> list[str]:
    seen, todo = {flow.start}, [flow.start]
    while todo:
        for nxt in _successors(flow, todo.pop()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return [
        f"node `{n}` can never be reached from `{flow.start}`"
        for n in flow.node_order
        if n not in seen
    ]


def _check_endings(flow: Flow) -> list[str]:
    """A caller who stays silent must always reach a hangup: no silent loop may trap them."""
    ends = {n for n, node in flow.nodes.items() if node.get("type") == "hangup"}
    changed = True
    while changed:  # grow the set of nodes from which silence always ends, until it settles
        changed = False
        for node_id in flow.node_order:
            targets = silence_edges(flow, node_id)
            if node_id not in ends and targets and all(t in ends for t in targets):
                ends.add(node_id)
                changed = True
    problems = []
    for node_id in flow.node_order:
        if node_id in ends:
            continue
        path, current = [node_id], node_id
        while True:
            current = next(t for t in silence_edges(flow, current) if t not in ends)
            if current in path:
                break
            path.append(current)
        problems.append(
            f"a caller who stays silent at `{node_id}` never reaches an ending "
            f"(silence goes {' -> '.join(path + [current])})"
        )
    return problems


def _check_no_instant_loops(flow: Flow) -> list[str]:
    """Messages, branches and actions run without waiting; a cycle of them would never answer."""
    instant = {"message", "branch", "action"}
    problems = []
    for node_id in flow.node_order:
        if flow.nodes[node_id].get("type") not in instant:
            continue
        seen, todo = set(), [node_id]
        while todo:
            current = todo.pop()
            for _, target in _edges(flow.nodes[current]):
                if target == node_id:
                    problems.append(
                        f"node `{node_id}` leads back to itself without waiting for the caller"
                    )
                    todo = []
                    break
                if target not in seen and flow.nodes[target].get("type") in instant:
                    seen.add(target)
                    todo.append(target)
    return sorted(set(problems))


def placeholder_names(text: str) -> set[str]:
    return set(re.findall(r"{(\w+)}", text))
