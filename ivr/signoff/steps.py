"""The flow read as steps for people: each node's human label and every way out of it (a key,
a spoken word, silence, a condition), with what it records. The picture and the script both use it.

Ways out are found generically: besides the fields the flow format defines today, any field of a
node or of an option whose value names a node counts as a way there, so a new kind of branch in the
flow file is drawn (with its field name) rather than silently left out.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ivr.line.flow import Flow

# Fields that hold something other than a way to another node.
NOT_WAYS = {"type", "say", "section", "label", "topic", "if", "do", "number", "options", "record"}
CONDITION_WORDS = {
    "out_of_hours": "out of hours or a bank holiday",
    "caller_id_usable": "the caller ID can be called back",
    "urgent": "the request is urgent",
}


@dataclass
class Way:
    """One way out of a node."""

    target: str
    kind: str  # "key" | "next" | "then" | "else" | "silence" | "fail" | another field's name
    key: str = ""  # the key pressed, for kind "key"
    words: list[str] = field(default_factory=list)  # words a caller may say instead
    record: dict = field(default_factory=dict)
    do: str = ""

    def describe(self, flow: Flow, node: dict) -> str:
        """The way out in plain words: "1 (say: one, yes) records risk = yes"."""
        if self.kind == "key":
            text = "press " + self.key
            if self.words:
                text += " or say " + " / ".join(f'"{w}"' for w in self.words)
        elif self.kind == "then":
            text = "if " + condition_words(node.get("if", ""))
        elif self.kind == "else":
            text = "otherwise"
        elif self.kind == "silence":
            text = "silence"
        elif self.kind == "fail":
            text = "no number taken"
        elif self.kind == "next":
            text = "then" if node.get("type") != "dial" else "after the put-through"
        else:
            text = self.kind.replace("_", " ")
        if self.record:
            text += "; records " + ", ".join(f"{k} = {shown(v)}" for k, v in self.record.items())
        if self.do:
            text += "; " + self.do.replace("_", " ")
        return text


def shown(value) -> str:
    """A recorded value as the flow file writes it (true, not Python's True)."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def condition_words(name: str) -> str:
    return CONDITION_WORDS.get(name, str(name).replace("_", " "))


def label(flow: Flow, node_id: str) -> str:
    """The node's human label (`label:` in the flow file), or its id when it has none."""
    node = flow.nodes.get(node_id) or {}
    text = node.get("label")
    return str(text) if text else node_id


def _words(option: dict) -> list[str]:
    """Spoken words an option accepts, under whichever name the flow file gives them."""
    for name in ("words", "speech", "say"):
        value = option.get(name)
        if isinstance(value, str):
            return [value]
        if isinstance(value, list):
            return [str(w) for w in value if isinstance(w, (str, int))]
    return []


def ways_out(flow: Flow, node_id: str) -> list[Way]:
    """Every way out of a node that the flow file names, in a stable reading order."""
    node = flow.nodes[node_id]
    ways: list[Way] = []
    for key, option in (node.get("options") or {}).items():
        if not isinstance(option, dict):
            continue
        if option.get("next") in flow.nodes:
            ways.append(
                Way(
                    target=str(option["next"]),
                    kind="key",
                    key=str(key),
                    words=_words(option),
                    record=dict(option.get("record") or {}),
                    do=str(option.get("do") or ""),
                )
            )
        for name, value in option.items():  # any other field of the option naming a node
            if name != "next" and isinstance(value, str) and value in flow.nodes:
                ways.append(Way(target=value, kind=f"key {key} {name}", key=str(key)))
    names = {"on_silence": "silence", "on_fail": "fail"}
    for name, value in node.items():
        if name in NOT_WAYS:
            continue
        if isinstance(value, str) and value in flow.nodes:
            ways.append(Way(target=value, kind=names.get(name, name), do=_do(node, name)))
        elif isinstance(value, dict):  # e.g. a mapping of outcomes to nodes
            for sub, target in value.items():
                if isinstance(target, str) and target in flow.nodes:
                    ways.append(Way(target=target, kind=f"{name} {sub}"))
    return ways


def _do(node: dict, field_name: str) -> str:
    """An action node's `do` belongs on its way onward."""
    return (
        str(node.get("do") or "") if field_name == "next" and node.get("type") == "action" else ""
    )


def waits(node: dict) -> bool:
    """Whether the line waits for the caller at this node."""
    return node.get("type") in ("menu", "number_entry")
