"""`ivr flows`: check the phone flow files."""

from __future__ import annotations

import sys

import click

from ivr.cli.common import settings


@click.group()
def flows() -> None:
    """The phone flows in call_flows/."""


@flows.command("check")
@click.argument("path", required=False, type=click.Path(dir_okay=False))
def flows_check(path: str | None) -> None:
    """Check a flow file (default: the configured one) and explain every problem found."""
    from ivr.line.flow import FlowError, load_flow

    path = path or settings().flow_file
    try:
        flow = load_flow(path)
    except FlowError as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
    click.echo(f"{path}: OK ({len(flow.nodes)} nodes, every path ends, silence always ends).")
