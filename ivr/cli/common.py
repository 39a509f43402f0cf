"""What every `ivr` command shares: the checkout's .local/env, settings and a Redis client."""

from __future__ import annotations

import os
from pathlib import Path

import click

from ivr.config import ConfigError, load_settings

LOCAL_ENV = Path(".local/env")  # written by scripts/dev for this checkout's private setup


def load_local_env() -> None:
    """Fill unset variables from .local/env, so `ivr` talks to the line `scripts/dev` runs.

    Skipped when IVR_ENV is already set (production, CI and the tests set it).
    """
    if "IVR_ENV" in os.environ or not LOCAL_ENV.is_file():
        return
    for line in LOCAL_ENV.read_text().splitlines():
        name, sep, value = line.partition("=")
        if sep and name.strip() and not line.lstrip().startswith("#"):
            os.environ.setdefault(name.strip().removeprefix("export "), value.strip().strip("'\""))


def settings():
    try:
        return load_settings()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc


_said_which_redis = False


def redis_client():
    from ivr.store.redis_store import client_for

    current = settings()
    say_which_redis(current.redis_url)
    return client_for(current, socket_timeout=5)


def say_which_redis(url: str) -> None:
    """Outside a checkout set up by scripts/dev, say which Redis is used (once, on stderr)."""
    global _said_which_redis
    if "REDIS_URL" in os.environ or _said_which_redis:
        return
    _said_which_redis = True
    click.echo(
        f"ivr: using Redis at {url} (REDIS_URL is not set and there is no .local/env here:"
        " set REDIS_URL, or run this in a checkout after scripts/dev)",
        err=True,
    )
