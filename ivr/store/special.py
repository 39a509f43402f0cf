"""Special-category data (UK GDPR article 9) in Redis: what a call's events keep of a screening
answer, and the event fields that are only ever stored encrypted.

A call's events say which prompts the caller heard and which keys they pressed, step by step
(reports, the drop-off funnel and `ivr reports rebuild` read them). At a screening or crisis
prompt the key *is* the answer (1 = thoughts of self-harm: yes), so there the stored event keeps
the step and "answered", and the key only encrypted (`a`), for the anonymous recount. Whatever a
caller said (speech results, transcripts) or the language they asked for is sealed the same way.
"""

from __future__ import annotations

from ivr.store.crypto import open_field, seal_field

# Sections whose prompts ask for (or follow from) a health answer.
PRIVATE_SECTIONS = frozenset({"screening", "crisis"})
# Event fields holding what a caller said or asked for: stored encrypted, wherever they occur.
SEALED_EVENT_FIELDS = frozenset(
    {"speech", "transcript", "said", "confidence_text", "language", "interpreter_language"}
)


def private_nodes(flow) -> frozenset[str]:
    """The flow's prompts in a private section (their answers are health data)."""
    return frozenset(
        node_id for node_id, node in flow.nodes.items() if node.get("section") in PRIVATE_SECTIONS
    )


def urgent_aliases(flow) -> dict[str, str]:
    """Prompts only an urgent request reaches, each with its ordinary twin (a branch on
    `urgent`: then -> else), so managers see the path without learning who disclosed risk."""
    return {
        node["then"]: node["else"]
        for node in flow.nodes.values()
        if node.get("type") == "branch" and node.get("if") == "urgent"
    }


def stored_event(event: dict, private: frozenset[str]) -> dict:
    """The event as it may be kept: no screening answer and nothing said, in clear."""
    out = dict(event)
    if out.get("node") in private and "key" in out:  # a key pressed, said or taken by default
        pressed = str(out.pop("key") or "")
        out["answered"] = True
        if out.get("type") != "invalid_key" and pressed:
            out["a"] = seal_field(pressed)
    for name in SEALED_EVENT_FIELDS & out.keys():
        if out[name] not in (None, ""):
            out[name] = seal_field(str(out[name]))
    return out


def pressed_key(event: dict) -> str | None:
    """The key of a "key" event, stored in clear or (screening answers) encrypted."""
    if event.get("key") is not None:
        return str(event["key"])
    return open_field(event["a"]) if event.get("a") else None
