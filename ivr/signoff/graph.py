"""The flow as a picture: every node with its human label and section, every key or word and where
it leads, what each step records; the crisis and callback paths stand out.

Laid out by Graphviz (`dot`, through the `graphviz` package), never by hand: `svg(flow)` for the
README and /flows, `mermaid(flow)` for pasting into documents that render Mermaid. `stats` (from
the figures) adds each step's share of callers who reached it and who hung up there.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import graphviz

from ivr.line.flow import Flow
from ivr.signoff.steps import Way, label, ways_out

# Section colours (fill, outline). Crisis is red and callback blue: the two paths that matter most.
SECTION_COLOURS = {
    "crisis": ("#fde2e4", "#b10e1e"),
    "callback": ("#dbe9f6", "#1d70b8"),
    "safety": ("#fff4cc", "#8a6d00"),
    "screening": ("#eef5e9", "#3b7a1f"),
    "info": ("#f3eef8", "#5b3a86"),
}
DEFAULT_COLOURS = ("#f5f5f5", "#505a5f")
PATH_STYLE = {
    "crisis": {"color": "#b10e1e", "penwidth": "3", "fontcolor": "#b10e1e"},
    "callback": {"color": "#1d70b8", "penwidth": "2.5", "fontcolor": "#1d70b8"},
}
SHAPES = {
    "menu": "box",
    "number_entry": "box",
    "message": "note",
    "branch": "diamond",
    "action": "component",
    "dial": "cds",
    "hangup": "doubleoctagon",
}
LEGEND = "every_menu"  # the legend node: keys that work at every menu


class GraphUnavailable(RuntimeError):
    """Graphviz's `dot` is not installed, so the picture cannot be laid out."""


@dataclass
class StepStats:
    """Share of callers (of all calls in a range) who reached a step and who hung up there."""

    reached: float | None = None
    hung_up: float | None = None

    def text(self) -> str:
        parts = []
        if self.reached is not None:
            parts.append(f"reached {self.reached:.0%}")
        if self.hung_up is not None:
            parts.append(f"hung up here {self.hung_up:.0%}")
        return " · ".join(parts)


def merged_edges(flow: Flow) -> dict[tuple[str, str], list[Way]]:
    """Ways out grouped by (from, to), so four keys to one place draw one arrow with four lines."""
    edges: dict[tuple[str, str], list[Way]] = defaultdict(list)
    for node_id in flow.node_order:
        for way in ways_out(flow, node_id):
            edges[(node_id, way.target)].append(way)
    return edges


def node_text(flow: Flow, node_id: str, stats: dict[str, StepStats] | None = None) -> list[str]:
    node = flow.nodes[node_id]
    lines = [label(flow, node_id)]
    lines.append(" · ".join(p for p in (node.get("section", ""), node.get("type", "")) if p))
    if node.get("topic"):
        lines.append(f"counts as heard: {node['topic']}")
    if stats and stats.get(node_id) and stats[node_id].text():
        lines.append(stats[node_id].text())
    return lines


def _path(flow: Flow, target: str) -> str:
    return flow.nodes[target].get("section", "") if target in flow.nodes else ""


def legend_lines(flow: Flow) -> list[str]:
    lines = ["At every menu:"]
    for key, target in flow.global_keys.items():
        lines.append(f"{key}: {'repeat' if target == 'repeat' else label(flow, target)}")
    settings = flow.settings
    lines.append(f"silence {settings.get('silence_reprompts', 2) + 1} times: ends")
    lines.append(f"{settings.get('invalid_limit', 5)} wrong keys: ends")
    return lines


def dot_source(flow: Flow, stats: dict[str, StepStats] | None = None) -> graphviz.Digraph:
    graph = graphviz.Digraph("flow", format="svg")
    graph.attr(rankdir="TB", fontname="Helvetica", fontsize="11", nodesep="0.35", ranksep="0.45")
    graph.attr("node", fontname="Helvetica", fontsize="11", style="filled,rounded", margin="0.1")
    graph.attr("edge", fontname="Helvetica", fontsize="9", color="#505a5f")
    for node_id in flow.node_order:
        node = flow.nodes[node_id]
        fill, line = SECTION_COLOURS.get(node.get("section", ""), DEFAULT_COLOURS)
        style = "filled" if node.get("type") in ("branch", "dial", "hangup") else "filled,rounded"
        wide = node.get("section") in PATH_STYLE
        graph.node(
            node_id,
            "\n".join(node_text(flow, node_id, stats)),
            shape=SHAPES.get(node.get("type", ""), "box"),
            fillcolor=fill,
            color=line,
            style=style,
            penwidth="2.5" if wide else "1",
        )
    for (source, target), ways in merged_edges(flow).items():
        text = "\n".join(w.describe(flow, flow.nodes[source]) for w in ways)
        attrs = PATH_STYLE.get(_path(flow, target), {})
        dashed = all(w.kind in ("silence", "else") for w in ways)
        graph.edge(source, target, label=text, style="dashed" if dashed else "solid", **attrs)
    graph.node(LEGEND, "\n".join(legend_lines(flow)), shape="box", style="dashed", color="#505a5f")
    for key, target in flow.global_keys.items():
        if target in flow.nodes:
            attrs = PATH_STYLE.get(_path(flow, target), {})
            graph.edge(LEGEND, target, label=f"press {key}", style="dotted", **attrs)
    for name in ("silence_end", "invalid_end"):
        target = flow.settings.get(name)
        if target in flow.nodes:
            graph.edge(LEGEND, target, label=name.replace("_", " "), style="dotted")
    return graph


def svg(flow: Flow, stats: dict[str, StepStats] | None = None) -> str:
    """The picture as SVG text, laid out by Graphviz's dot."""
    try:
        return dot_source(flow, stats).pipe(format="svg", encoding="utf-8")
    except graphviz.ExecutableNotFound as exc:
        raise GraphUnavailable(
            "Graphviz's `dot` is not installed (apt-get install graphviz)"
        ) from exc


def inline_svg(flow: Flow, stats: dict[str, StepStats] | None = None) -> str:
    """The SVG without its XML prolog and doctype, for embedding in a page."""
    text = svg(flow, stats)
    return text[text.index("<svg") :]


def _mermaid_text(lines: list[str]) -> str:
    return "<br/>".join(line.replace('"', "#quot;") for line in lines)


def mermaid(flow: Flow, stats: dict[str, StepStats] | None = None) -> str:
    """The picture as a Mermaid flowchart. Node ids are the flow's with an `n_` prefix (Mermaid
    reserves some words, such as `end`)."""
    out = ["flowchart TD"]
    for node_id in flow.node_order:
        out.append(f'  n_{node_id}["{_mermaid_text(node_text(flow, node_id, stats))}"]')
    out.append(f'  n_{LEGEND}["{_mermaid_text(legend_lines(flow))}"]')
    link_styles: list[str] = []
    for index, ((source, target), ways) in enumerate(merged_edges(flow).items()):
        text = _mermaid_text([w.describe(flow, flow.nodes[source]) for w in ways])
        out.append(f'  n_{source} -->|"{text}"| n_{target}')
        style = PATH_STYLE.get(_path(flow, target))
        if style:
            link_styles.append(
                f"  linkStyle {index} stroke:{style['color']},stroke-width:{style['penwidth']}px"
            )
    for key, target in flow.global_keys.items():
        if target in flow.nodes:
            out.append(f'  n_{LEGEND} -.->|"press {key}"| n_{target}')
    for section, (fill, line) in SECTION_COLOURS.items():
        out.append(f"  classDef {section} fill:{fill},stroke:{line}")
        members = [f"n_{n}" for n in flow.node_order if flow.nodes[n].get("section") == section]
        if members:
            out.append(f"  class {','.join(members)} {section}")
    out.extend(link_styles)
    return "\n".join(out) + "\n"
