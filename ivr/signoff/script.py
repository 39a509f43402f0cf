"""The spoken script for sign-off: every prompt in the order the flow file gives them (its authors'
reading order), with its words, its seconds at 150 words a minute, its keys and spoken words and
where they lead, and the flow file's content hash; then the quickest times from dialling to the
callback offer and to a booked callback, in and out of hours.

`ivr flows script -o FILE.html` writes it; /flows/script shows it to managers.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import jinja2

from ivr.config import Settings
from ivr.line.flow import Flow
from ivr.signoff import timing
from ivr.signoff.steps import label, ways_out

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def content_hash(path: str | Path) -> str:
    """sha256 of the flow file's bytes: the same as `sha256sum call_flows/ipt_line.yaml`."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@dataclass
class Prompt:
    node_id: str
    label: str
    section: str
    kind: str
    lines: list[str]  # what is said (pauses as "(pause 1 s)"), with sample words filled in
    seconds: float
    ways: list[tuple[str, str]] = field(default_factory=list)  # (how, where it leads)


def prompts(flow: Flow, settings: Settings) -> list[Prompt]:
    words = timing.sample_words(flow, settings, out_of_hours=False)
    # {next_opening} is only said out of hours: read it as a caller on a Friday evening hears it.
    words["next_opening"] = timing.sample_words(flow, settings, True)["next_opening"]
    out = []
    for node_id in flow.node_order:
        node = flow.nodes[node_id]
        lines = []
        for item in node.get("say") or []:
            if isinstance(item, dict) and "pause" in item:
                lines.append(f"(pause {item['pause']} s)")
            elif isinstance(item, str):
                lines.append(timing.fill(item, words))
        out.append(
            Prompt(
                node_id=node_id,
                label=label(flow, node_id),
                section=str(node.get("section", "")),
                kind=str(node.get("type", "")),
                lines=lines,
                seconds=timing.prompt_seconds(node.get("say"), lambda t: timing.fill(t, words)),
                ways=[
                    (w.describe(flow, node), label(flow, w.target)) for w in ways_out(flow, node_id)
                ],
            )
        )
    return out


def phrases(flow: Flow) -> list[tuple[str, list[str]]]:
    """The phrases said anywhere (wrong key, silence, the fallback), flattened for reading."""
    out = []
    for name, value in flow.phrases.items():
        if isinstance(value, str):
            out.append((name, [value]))
        elif isinstance(value, list):
            out.append((name, [str(v) for v in value]))
        elif isinstance(value, dict):
            out.extend((f"{name}: {k}", [str(v)]) for k, v in value.items())
    return out


def render(flow: Flow, settings: Settings, flow_hash: str) -> str:
    """The whole script as one self-contained HTML page."""
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, undefined=jinja2.StrictUndefined
    )
    routes = {
        "in hours": timing.quickest(flow, settings, out_of_hours=False),
        "out of hours": timing.quickest(flow, settings, out_of_hours=True),
    }
    return environment.get_template("signoff/script.html").render(
        prompts=prompts(flow, settings),
        phrases=phrases(flow),
        routes=routes,
        flow_hash=flow_hash,
        source=Path(flow.source).name,
        global_keys=flow.global_keys,
        label=lambda n: label(flow, n) if n in flow.nodes else n,
        words_per_minute=timing.WORDS_PER_MINUTE,
        key_seconds=timing.KEY_SECONDS,
    )
