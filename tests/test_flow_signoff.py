"""Signing the flow off: the picture holds every node and edge of whatever flow file is loaded
(read back from the SVG and the Mermaid text), the script's timings match a hand count, an
approval covers only the exact content approved, and the README's picture is current."""

from __future__ import annotations

import hashlib
import logging
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from ivr import create_app
from ivr.cli import main
from ivr.config import ROOT
from ivr.line.flow import _edges, load_flow
from ivr.signoff import graph
from ivr.signoff.approval import approval_status
from ivr.signoff.script import render

SVG = "{http://www.w3.org/2000/svg}"


def svg_parts(text: str) -> tuple[dict[str, str], dict[str, str]]:
    """({node title: its text}, {"a->b": the edge's label text}) read from Graphviz's SVG."""
    root = ET.fromstring(text.encode())  # noqa: S314 (our own output)
    nodes, edges = {}, {}
    for group in root.iter(f"{SVG}g"):
        title = group.find(f"{SVG}title")
        words = "\n".join(t.text or "" for t in group.iter(f"{SVG}text"))
        if group.get("class") == "node":
            nodes[title.text] = words
        elif group.get("class") == "edge":
            edges[title.text] = words
    return nodes, edges


def mermaid_parts(text: str) -> tuple[dict[str, str], dict[str, str]]:
    nodes, edges = {}, {}
    for line in text.splitlines():
        if match := re.fullmatch(r'\s*n_(\w+)\["(.*)"\]', line):
            nodes[match[1]] = match[2].replace("<br/>", "\n")
        elif match := re.fullmatch(r'\s*n_(\w+) -\.?->\.?\|"(.*)"\| n_(\w+)', line):
            edges[f"{match[1]}->{match[3]}"] = match[2].replace("<br/>", "\n")
    return nodes, edges


@pytest.fixture
def labelled_flow(tmp_path) -> Path:
    """The configured flow file with a human label on every node (as the flow file may give)."""
    raw = yaml.safe_load((ROOT / "call_flows" / "ipt_line.yaml").read_text())
    for node_id, node in raw["nodes"].items():
        node.setdefault("label", "Step " + node_id.replace("_", " ").title())
    path = tmp_path / "labelled.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def check_picture(flow, nodes: dict[str, str], edges: dict[str, str]) -> None:
    for node_id, node in flow.nodes.items():
        assert node_id in nodes, node_id
        assert str(node.get("label") or node_id) in nodes[node_id]
        if node.get("section"):
            assert node["section"] in nodes[node_id]
        for how, target in _edges(node):
            assert f"{node_id}->{target}" in edges, (node_id, how, target)
            if how.startswith("key "):
                assert f"press {how[4:]}" in edges[f"{node_id}->{target}"]
        for option in (node.get("options") or {}).values():
            for name, value in (option.get("record") or {}).items():
                written = str(value).lower() if isinstance(value, bool) else value
                assert f"{name} = {written}" in edges[f"{node_id}->{option['next']}"]
    for key, target in flow.global_keys.items():
        if target in flow.nodes:
            assert f"press {key}" in edges[f"{graph.LEGEND}->{target}"]


@pytest.mark.parametrize("fmt", ["svg", "mermaid"])
def test_the_picture_has_every_node_edge_key_and_record_of_the_flow(labelled_flow, tmp_path, fmt):
    out = tmp_path / f"flow.{fmt}"
    result = CliRunner().invoke(
        main, ["flows", "graph", "--format", fmt, "--file", str(labelled_flow), "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    parts = svg_parts if fmt == "svg" else mermaid_parts
    check_picture(load_flow(labelled_flow), *parts(out.read_text()))


def test_crisis_and_callback_paths_stand_out(settings):
    flow = load_flow(settings.flow_file)
    root = ET.fromstring(graph.svg(flow).encode())  # noqa: S314
    for group in root.iter(f"{SVG}g"):
        if group.get("class") != "edge" or "every_menu" in group.find(f"{SVG}title").text:
            continue
        target = group.find(f"{SVG}title").text.split("->")[1]
        colour = group.find(f"{SVG}path").get("stroke")
        section = flow.nodes[target].get("section")
        if section == "crisis":
            assert colour == graph.PATH_STYLE["crisis"]["color"], target
        elif section == "callback":
            assert colour == graph.PATH_STYLE["callback"]["color"], target
        else:
            assert colour not in (graph.PATH_STYLE["crisis"]["color"],), target


def test_the_readme_picture_is_the_current_flow(settings):
    committed = ROOT / "docs" / "flow.svg"
    fresh = graph.svg(load_flow(settings.flow_file))
    assert committed.exists(), "run: .venv/bin/ivr flows graph -o docs/flow.svg"
    assert svg_parts(committed.read_text()) == svg_parts(fresh), (
        "docs/flow.svg is stale: run `.venv/bin/ivr flows graph -o docs/flow.svg` and commit it"
    )


HAND_COUNTED = """
start: hello
main_menu: menu
settings: {silence_end: bye, invalid_end: bye}
global_keys: {"*": repeat, "0": menu, "9": ask}
phrases: {fallback: ["Sorry."], invalid_key: "Wrong key.", silence: "Nothing heard."}
nodes:
  hello:
    {type: message, label: Hello, section: safety, say: ["Hello and welcome to the test line."],
     next: menu}
  menu:
    type: menu
    label: Menu
    section: menu
    say: ["For a callback, press 1.", {pause: 2}, "To hear this again, press star."]
    options: {"1": {next: ask}}
  ask: {type: branch, label: Ask, section: callback, if: caller_id_usable, then: when, else: when}
  when:
    type: menu
    label: When
    section: callback
    say: ["Morning, press 1."]
    options: {"1": {next: book, record: {preferred_time: morning}}}
  book: {type: action, label: Book, do: create_callback, next: done}
  done: {type: hangup, label: Done, say: ["Booked. Goodbye."]}
  bye: {type: hangup, label: Bye, say: ["Goodbye."]}
"""


def test_script_times_match_a_hand_count(tmp_path):
    path = tmp_path / "counted.yaml"
    path.write_text(HAND_COUNTED)
    out = tmp_path / "script.html"
    result = CliRunner().invoke(main, ["flows", "script", "--file", str(path), "-o", str(out)])
    assert result.exit_code == 0, result.output
    html = out.read_text()

    def seconds(element_id: str) -> float:
        return float(re.search(rf'id="{element_id}"[^>]*data-seconds="([\d.]+)"', html)[1])

    # "Hello and welcome to the test line." 7 words at 150 a minute (0.4 s each).
    assert seconds("prompt-hello") == 2.8
    # 5 words + a 2 s pause + 6 words.
    assert seconds("prompt-menu") == 6.4
    times = re.findall(r'<td data-seconds="([\d.]+)"', html)
    # Offer: hello (2.8) + "For a callback, press 1." (2.0). Booked: hello, the whole menu
    # (6.4), a key (1), "Morning, press 1." (1.2), a key (1).
    assert times == ["4.8", "12.4", "4.8", "12.4"]  # in hours, out of hours
    assert hashlib.sha256(path.read_bytes()).hexdigest() in html


def test_the_script_has_every_prompt_and_line_in_file_order(settings):
    flow = load_flow(settings.flow_file)
    html = render(flow, settings, "0" * 64)
    ids = re.findall(r'<section class="prompt[^"]*" id="prompt-(\w+)"', html)
    assert ids == flow.node_order
    import html as html_lib

    text = html_lib.unescape(html)
    for node in flow.nodes.values():
        for line in node.get("say") or []:
            if isinstance(line, str) and "{" not in line:
                assert line in text


def test_approve_then_edit_the_flow_reports_not_approved(
    tmp_path, redis_server, redis_client, caplog
):
    path = tmp_path / "line.yaml"
    path.write_text((ROOT / "call_flows" / "ipt_line.yaml").read_text())
    env = {"REDIS_URL": redis_server.url, "IVR_ENV": "test", "IVR_FLOW_FILE": str(path)}
    runner = CliRunner()
    assert approval_status(redis_client, load_flow(path))[0] is False
    done = runner.invoke(
        main, ["flows", "approve", "--by", "Dr Ada Jones", "--role", "clinical lead"], env=env
    )
    assert done.exit_code == 0, done.output
    ok, detail = approval_status(redis_client, load_flow(path))
    assert ok and "Dr Ada Jones (clinical lead)" in detail
    audit = [fields for _, fields in redis_client.xrange("ivr:audit")]
    assert audit[-1]["action"] == "flow_approved" and audit[-1]["who"] == "Dr Ada Jones"
    assert hashlib.sha256(path.read_bytes()).hexdigest() in audit[-1]["detail"]

    edited = path.read_text().replace(
        "This line is not for emergencies.", "This line is not for emergencies, ever."
    )
    assert edited != path.read_text()
    path.write_text(edited)
    ok, detail = approval_status(redis_client, load_flow(path))
    assert not ok and detail.startswith("not approved")
    assert "Dr Ada Jones" in detail  # the last approval was of other content


def test_approve_refuses_bad_input(tmp_path, redis_server, redis_client):
    env = {"REDIS_URL": redis_server.url, "IVR_ENV": "test"}
    runner = CliRunner()
    blank = runner.invoke(main, ["flows", "approve", "--by", "  ", "--role", "x"], env=env)
    assert blank.exit_code != 0 and "name" in blank.output
    long = runner.invoke(main, ["flows", "approve", "--by", "x" * 101, "--role", "x"], env=env)
    assert long.exit_code != 0 and "at most" in long.output
    broken = tmp_path / "broken.yaml"
    broken.write_text("nodes: {a: {type: menu}}\n")
    refused = runner.invoke(
        main, ["flows", "approve", "--by", "A", "--role", "B", "--file", str(broken)], env=env
    )
    assert refused.exit_code != 0 and "problem" in refused.output
    assert redis_client.keys("ivr:flow:*") == []


def test_flows_page_shows_the_picture_reach_approval_and_links(app, client, phone, signed_in):
    call = phone()
    call.hang_up()  # heard the welcome and the main menu, then hung up
    intake_worker = app.test_client()
    signed_in(intake_worker, "intake")
    assert intake_worker.get("/flows").status_code == 403
    signed_in(client, "manager")
    page = client.get("/flows").get_data(as_text=True)
    assert "<svg" in page and 'href="/try"' in page and 'href="/flows/script"' in page
    assert "Not approved." in page
    flow = app.extensions["ivr.flow"]
    menu = flow.main_menu
    nodes, _ = svg_parts(page[page.index("<svg") : page.index("</svg>") + 6])
    assert "reached 100%" in nodes[menu] and "hung up here 100%" in nodes[menu]
    assert client.get("/flows?start=junk").status_code == 400

    from ivr.signoff.approval import approve

    approve(app.extensions["ivr.store"].redis, app.extensions["ivr.flow_hash"], "Sam", "manager")
    assert "Approved." in client.get("/flows").get_data(as_text=True)
    script = client.get("/flows/script")
    assert (
        script.status_code == 200
        and "style-src 'sha256-" in script.headers["Content-Security-Policy"]
    )
    assert app.extensions["ivr.flow_hash"] in script.get_data(as_text=True)


def test_production_warns_at_start_up_when_the_flow_is_not_approved(settings, redis_client, caplog):
    from test_security import production

    with caplog.at_level(logging.WARNING, logger="ivr.signoff.pages"):
        app = create_app(production(settings))
    assert "not clinically approved" in caplog.text
    from ivr.signoff.approval import approve

    approve(redis_client, app.extensions["ivr.flow_hash"], "Dr Ada Jones", "clinical lead")
    app.extensions["ivr.deliverer"].stop()
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="ivr.signoff.pages"):
        again = create_app(production(settings))
    assert "not clinically approved" not in caplog.text
    again.extensions["ivr.deliverer"].stop()


def test_without_graphviz_the_command_says_how_to_install_it(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no `dot` anywhere on it
    result = CliRunner().invoke(main, ["flows", "graph", "-o", str(tmp_path / "x.svg")])
    assert result.exit_code != 0 and "apt-get install graphviz" in result.output
    assert not (tmp_path / "x.svg").exists()
