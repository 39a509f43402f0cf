"""The words managers see for the line's steps: each node's `label:` in the flow file, or, where a
node has none, its internal name made readable ("info_what" -> "Info what")."""

from __future__ import annotations

from ivr.line.flow import Flow


def node_label(flow: Flow | None, node_id: str | None, fallback: str = "") -> str:
    """The node's label; else `fallback`; else its name made readable."""
    if not node_id:
        return ""
    spec = flow.nodes.get(node_id) if flow is not None else None
    label = (spec or {}).get("label")
    if isinstance(label, str) and label.strip():
        return label.strip()
    if fallback:
        return fallback
    readable = node_id.replace("_", " ")
    return readable[:1].upper() + readable[1:]  # only the first letter: "IPT" stays "IPT"
