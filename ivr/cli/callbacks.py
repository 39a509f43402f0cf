"""`ivr callbacks sweep`: lapsed claims and due attempts back to the queue, and urgent alerts to
the duty contacts (planned and sent here, never in a webhook)."""

from __future__ import annotations

import time

import click
import redis

from ivr.cli.common import redis_client, settings


@click.group()
def callbacks() -> None:
    """The intake team's callback queue."""


@callbacks.command("sweep")
@click.option("--every", type=int, default=0, help="Run again every N seconds (a process).")
def callbacks_sweep(every: int) -> None:
    """Return lapsed claims and due attempts to the queue (the pages also do this as they read;
    the Procfile's `sweeper` runs it so figures stay current when nobody has the queue open), and
    send urgent alerts to the duty contacts (IVR_URGENT_ALERT_SMS, IVR_URGENT_ALERT_EMAIL)."""

    from ivr.intake import alerts
    from ivr.intake.queue import Transitions

    client, current = redis_client(), settings()
    transitions = Transitions(client)
    while True:
        try:
            now = time.time()
            moved = transitions.sweep(now)
            click.echo(f"{moved} callback request(s) returned to the queue.")
            planned, sent, failed = alerts.run(client, current, now)
            if planned or sent or failed:
                click.echo(f"Urgent alerts: {planned} planned, {sent} sent, {failed} failed.")
        except redis.RedisError as exc:
            if every <= 0:
                raise click.ClickException(f"Redis is unavailable: {exc}") from exc
            click.echo(f"Redis is unavailable ({type(exc).__name__}); trying again later.")
        if every <= 0:
            return
        time.sleep(every)


@callbacks.command("rescore")
def callbacks_rescore() -> None:
    """Give every open request its place in the queue again (once, after upgrading from a
    release whose queue scores were creation times only: issue 14's queue pages read the order
    from the score). Safe to run any time: a request already in place is left as it is."""
    from ivr.store.callbacks import rescore_queue

    try:
        seen, moved = rescore_queue(redis_client())
    except redis.RedisError as exc:
        raise click.ClickException(f"Redis is unavailable: {exc}") from exc
    click.echo(f"{seen} open request(s) checked; {moved} moved to their place in the queue.")
