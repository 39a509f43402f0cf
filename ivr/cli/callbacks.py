"""`ivr callbacks sweep`: lapsed claims and due attempts back to the queue."""

from __future__ import annotations

import time

import click
import redis

from ivr.cli.common import redis_client


@click.group()
def callbacks() -> None:
    """The intake team's callback queue."""


@callbacks.command("sweep")
@click.option("--every", type=int, default=0, help="Run again every N seconds (a process).")
def callbacks_sweep(every: int) -> None:
    """Return lapsed claims and due attempts to the queue (the pages also do this as they read;
    the Procfile's `sweeper` runs it so figures stay current when nobody has the queue open)."""

    from ivr.intake.queue import Transitions

    transitions = Transitions(redis_client())
    while True:
        try:
            moved = transitions.sweep(time.time())
            click.echo(f"{moved} callback request(s) returned to the queue.")
        except redis.RedisError as exc:
            if every <= 0:
                raise click.ClickException(f"Redis is unavailable: {exc}") from exc
            click.echo(f"Redis is unavailable ({type(exc).__name__}); trying again later.")
        if every <= 0:
            return
        time.sleep(every)
