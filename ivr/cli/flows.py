"""`ivr flows`: check, draw, script and approve the phone flow files."""

from __future__ import annotations

import sys

import click

from ivr.cli.common import settings


@click.group()
def flows() -> None:
    """The phone flows in call_flows/."""


@flows.command("check")
@click.argument("path", required=False, type=click.Path(dir_okay=False))
@click.option(
    "--max-seconds",
    type=click.FloatRange(min=1),
    default=None,
    help="Refuse a prompt longer than this (default: the file's max_prompt_seconds, 20).",
)
def flows_check(path: str | None, max_seconds: float | None) -> None:
    """Check a flow file (default: the configured one) and explain every problem found.

    Prints each prompt's spoken seconds, the time to the callback offer and to a booked
    callback (in and out of hours), and the caller ID rule for put-throughs.
    """
    import yaml

    from ivr.line import timing
    from ivr.line.flow import FlowError, parse_flow
    from ivr.line.twiml import caller_id_rule

    current = settings()
    path = path or current.flow_file
    try:
        with open(path, encoding="utf-8") as handle:
            raw = yaml.safe_load(handle)
        if max_seconds is not None and isinstance(raw, dict):
            raw["settings"] = {**(raw.get("settings") or {}), "max_prompt_seconds": max_seconds}
        flow = parse_flow(raw, source=path)
    except (OSError, yaml.YAMLError) as exc:
        click.echo(f"{path}: cannot read the file: {exc}", err=True)
        sys.exit(1)
    except FlowError as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
    wpm = int(flow.settings["words_per_minute"])
    click.echo(f"Spoken seconds per prompt at {wpm} words a minute:")
    for node_id in flow.node_order:
        node = flow.nodes[node_id]
        if node.get("say"):
            click.echo(f"  {timing.prompt_seconds(node, wpm):5.1f} s  {node_id}")
    for label, closed in (("in hours", False), ("out of hours", True)):
        route = timing.route_seconds(flow, ["9", "1", "1", "1"], out_of_hours=closed)
        click.echo(
            f"A caller who presses each key as soon as it is offered, {label}: callback offered"
            f" at {route['offered']} s, booked at {route['booked']} s."
        )
    click.echo(caller_id_rule(current))
    click.echo(f"{path}: OK ({len(flow.nodes)} nodes, every path ends, silence always ends).")


OUTPUT_HELP = "Write here (default: stdout)."


def _running_flow(path: str | None):
    from ivr.line.flow import FlowError, load_flow

    try:
        return load_flow(path or settings().flow_file)
    except FlowError as exc:
        raise click.ClickException(str(exc)) from exc


def _write(text: str, output: str | None) -> None:
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        with open(output, "w", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as exc:
        raise click.ClickException(f"cannot write {output}: {exc.strerror}") from exc
    click.echo(f"Wrote {output}.", err=True)


@flows.command("graph")
@click.option("--format", "fmt", type=click.Choice(["svg", "mermaid"]), default="svg")
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False), help="Write here (default: stdout)."
)
@click.option("--file", "path", type=click.Path(dir_okay=False), help="A flow file to draw.")
def flows_graph(fmt: str, output: str | None, path: str | None) -> None:
    """Draw the flow (laid out by Graphviz): every step, key, word and what it records.

    The README's picture is `ivr flows graph -o docs/flow.svg`."""
    from ivr.signoff import graph

    flow = _running_flow(path)
    try:
        text = graph.svg(flow) if fmt == "svg" else graph.mermaid(flow)
    except graph.GraphUnavailable as exc:
        raise click.ClickException(str(exc)) from exc
    _write(text, output)


@flows.command("script")
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False), help="Write here (default: stdout)."
)
@click.option("--file", "path", type=click.Path(dir_okay=False), help="A flow file to read.")
def flows_script(output: str | None, path: str | None) -> None:
    """The whole spoken script as HTML, with timings and the flow file's content hash."""
    from ivr.signoff.script import content_hash, render

    flow = _running_flow(path)
    _write(render(flow, settings(), content_hash(flow.source)), output)


@flows.command("approve")
@click.option("--by", "by", required=True, help="The approver's name.")
@click.option("--role", "role", required=True, help='Their role, e.g. "clinical lead".')
@click.option("--file", "path", type=click.Path(dir_okay=False), help="A flow file to approve.")
def flows_approve(by: str, role: str, path: str | None) -> None:
    """Record a clinical approval of the flow file's current content (who, when, hash)."""
    import redis

    from ivr.cli.common import redis_client
    from ivr.signoff.approval import ApprovalError, approve
    from ivr.signoff.script import content_hash

    flow = _running_flow(path)  # a file that fails the check cannot be approved
    flow_hash = content_hash(flow.source)
    try:
        approve(redis_client(), flow_hash, by, role)
    except ApprovalError as exc:
        raise click.ClickException(str(exc)) from exc
    except redis.RedisError as exc:
        raise click.ClickException(f"Redis cannot be reached: {exc}") from exc
    click.echo(f"Approved {flow.source} (sha256 {flow_hash}) by {by.strip()} ({role.strip()}).")


@flows.command("fallback-twiml")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help=OUTPUT_HELP)
def flows_fallback_twiml(output: str | None) -> None:
    """The fallback TwiML (crisis numbers, then goodbye) as a static document.

    Host it outside this app (a TwiML Bin or any static host) and give its address as the
    number's fallback URL (IVR_FALLBACK_URL): callers then hear it even when this app is down.
    """
    from ivr.line.twiml import safe_message

    current = settings()
    phrases = _running_flow(None).phrases["fallback"]
    _write(str(safe_message(phrases, current.voice, current.language)) + "\n", output)
    if output is not None:
        click.echo("Host it outside this app and set it as the number's fallback URL", err=True)
        click.echo("(IVR_FALLBACK_URL, then `ivr number configure`).", err=True)
