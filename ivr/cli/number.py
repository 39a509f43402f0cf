"""`ivr number`: point the Twilio number at this deployment, and the go-live checklist."""

from __future__ import annotations

import sys

import click

from ivr.cli.common import settings


@click.group()
def number() -> None:
    """The service's Twilio number (IVR_SERVICE_NUMBER) and the go-live checklist."""


@number.command("configure")
@click.option("--dry-run", is_flag=True, help="Print what would change; change nothing.")
def number_configure(dry_run: bool) -> None:
    """Set the number's voice URL, fallback URL and status callback through Twilio's API."""
    from ivr.ops.number import NumberError, configure

    current = settings()
    try:
        todo = configure(current, dry_run=dry_run)
    except NumberError as exc:
        raise click.ClickException(str(exc)) from exc
    if not todo:
        click.echo(f"{current.service_number} already points at this deployment.")
        return
    verb = "would change" if dry_run else "changed"
    for name, was, now in todo:
        click.echo(f"{verb} {name}: {was or '(empty)'} -> {now or '(empty)'}")
    if dry_run:
        click.echo("Nothing was changed (--dry-run).")


@number.command("check")
def number_check() -> None:
    """Read the number's set-up back and print the go-live checklist; exit 1 if a line fails."""
    from ivr.cli.common import redis_client
    from ivr.ops import golive

    current = settings()
    try:
        client = redis_client()
    except click.ClickException:
        client = None
    lines = golive.run(golive.gather(current, client))
    for line in lines:
        click.echo(line.text())
    failed = sum(not line.ok for line in lines)
    if failed:
        click.echo(f"{failed} of {len(lines)} not ready for callers.", err=True)
        sys.exit(1)
    click.echo(f"All {len(lines)} ready.")
