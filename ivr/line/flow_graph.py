"""The shape of a phone flow as a graph: where each node leads (by key, by silence, after two
failed tries), and the checks that need the whole graph (every node reachable, silence always
ends, no loop that never waits). Reads a `Flow` (ivr/line/flow.py) but does not import it."""

from __future__ import annotations

END = "end"  # `on_second_failure: end`: the polite goodbye (silence_end or invalid_end)


def edges(node: dict) -> list[tuple[str, str]]:
    """(how, target) for every way out of a node that the flow file names."""
    out = []
    for name in ("next", "then", "else", "on_fail", "on_silence", "on_second_failure"):
        if node.get(name) and node[name] != END:
            out.append((name, str(node[name])))
    for status, target in (node.get("outcomes") or {}).items():
        out.append((f"put-through {status}", str(target)))
    for key, option in (node.get("options") or {}).items():
        if isinstance(option, dict) and option.get("next"):
            out.append((f"key {key}", str(option["next"])))
    return out


def second_failure(flow, node: dict, invalid: bool = False) -> str:
    """Where a caller goes after failing to choose twice in a row at this prompt."""
    target = node.get("on_second_failure") or flow.settings.get("second_failure")
    if target == END or not target:
        return str(flow.settings.get("invalid_end" if invalid else "silence_end"))
    return str(target)


def silence_edges(flow, node_id: str) -> list[str]:
    """Where a caller who presses nothing at all goes from this node."""
    node = flow.nodes[node_id]
    kind = node.get("type")
    if kind in ("message", "action"):
        return [str(node.get("next"))]
    if kind == "dial":  # a put-through ends in one of its outcomes, whatever the caller does
        return [str(t) for t in (node.get("outcomes") or {}).values()] + [str(node.get("next"))]
    if kind == "branch":
        return [str(node.get("then")), str(node.get("else"))]
    if node.get("on_silence"):
        return [str(node["on_silence"])]
    default = (node.get("options") or {}).get(node.get("silence_default"))
    if kind == "menu" and isinstance(default, dict):
        return [str(default.get("next"))]
    if kind in ("menu", "number_entry", "words_entry"):
        return [second_failure(flow, node)]
    return []


def _successors(flow, node_id: str) -> set[str]:
    node = flow.nodes[node_id]
    out = {target for _, target in edges(node)}
    if node.get("type") == "menu":
        out |= {t for t in flow.global_keys.values() if t in flow.nodes}
    out.update(t for t in silence_edges(flow, node_id) if t in flow.nodes)
    if node.get("type") in ("menu", "number_entry", "words_entry"):
        out.add(second_failure(flow, node, invalid=True))
    return out


def check_reachable(flow) -> list[str]:
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


def check_endings(flow) -> list[str]:
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


def check_no_instant_loops(flow) -> list[str]:
    """Messages, branches and actions run without waiting; a cycle of them would never answer."""
    instant = {"message", "branch", "action"}
    problems = []
    for node_id in flow.node_order:
        if flow.nodes[node_id].get("type") not in instant:
            continue
        seen, todo = set(), [node_id]
        while todo:
            current = todo.pop()
            for _, target in edges(flow.nodes[current]):
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
