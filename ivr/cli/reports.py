"""`ivr reports rebuild`, `ivr purge` and `ivr demo`: the reports' housekeeping commands."""

from __future__ import annotations

import time

import click
import redis

from ivr.line.engine import utc_now


def _app():
    from ivr import create_app
    from ivr.config import ConfigError, load_settings

    try:
        settings = load_settings()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    return create_app(settings)


@click.group()
def reports() -> None:
    """Service figures for managers."""


@reports.command("rebuild")
@click.option("--check", is_flag=True, help="Only compare with the live counters; change nothing.")
def reports_rebuild(check: bool) -> None:
    """Recount the figures from raw call events and callbacks, and replace the live counters.

    Days whose raw events were purged keep their counters. Exits 1 with --check if they differ.
    """
    from ivr.reports.recount import rebuild

    app = _app()
    store = app.extensions["ivr.store"]
    result = rebuild(store, store.figures, apply=not check)
    for table, day, name, live, fresh in result["differences"][:50]:
        click.echo(f"{table} {day} {name}: live {live}, recount {fresh}")
    count = len(result["differences"])
    verb = "differ" if check else "were corrected"
    click.echo(
        f"Recounted {result['calls']} calls and {result['callbacks']} callback requests over "
        f"{result['days']} days; {count} counter(s) {verb}."
    )
    if check and count:
        raise SystemExit(1)


@click.command("purge")
@click.option("--every", type=int, default=0, help="Run again every N seconds (the clock process).")
def purge(every: int) -> None:
    """Delete personal data and raw call events older than IVR_RETENTION_DAYS; close calls that
    never got a final status. The anonymous figures stay."""
    from ivr.reports.retention import housekeeping

    app = _app()
    settings, store = app.config["SETTINGS"], app.extensions["ivr.store"]
    while True:
        try:
            done = housekeeping(
                store, settings.retention_days, settings.unclosed_call_timeout, utc_now()
            )
        except redis.RedisError as exc:
            if every <= 0:
                raise click.ClickException(f"Redis is unavailable: {exc}") from exc
            click.echo(f"Redis is unavailable ({type(exc).__name__}); trying again later.")
            time.sleep(every)
            continue
        click.echo(
            f"Closed {done['swept']} call(s) with no status; purged {done['calls']} call(s) and "
            f"{done['callbacks']} closed callback request(s)."
        )
        if every <= 0:
            return
        time.sleep(every)


@click.command("demo")
@click.option("--calls", type=click.IntRange(1, 10_000_000), default=500, show_default=True)
@click.option("--weeks", type=click.IntRange(1, 104), default=6, show_default=True)
@click.option("--seed", type=int, default=None, help="Same seed, same calls.")
def demo(calls: int, weeks: int, seed: int | None) -> None:
    """Fill Redis with CALLS realistic calls over the past WEEKS, made by the live call code."""
    from ivr.reports.demo import fill

    app = _app()
    if app.config["SETTINGS"].is_production:
        raise click.ClickException("ivr demo refuses to run in production")
    started = time.monotonic()
    fill(app.extensions["ivr.engine"], app.extensions["ivr.store"], calls, weeks, seed)
    click.echo(f"Made {calls} demo calls in {time.monotonic() - started:.1f} s.")
