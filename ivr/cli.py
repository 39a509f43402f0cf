"""The `ivr` console script: API tokens, flow checks, and a terminal phone for simulated calls."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from .config import ConfigError, load_settings

LOCAL_ENV = Path(".local/env")  # written by scripts/dev for this checkout's private setup


def _load_local_env() -> None:
    """Fill unset variables from .local/env, so `ivr` talks to the line `scripts/dev` runs.

    Skipped when IVR_ENV is already set (production, CI and the tests set it).
    """
    if "IVR_ENV" in os.environ or not LOCAL_ENV.is_file():
        return
    for line in LOCAL_ENV.read_text().splitlines():
        name, sep, value = line.partition("=")
        if sep and name.strip() and not line.lstrip().startswith("#"):
            os.environ.setdefault(name.strip().removeprefix("export "), value.strip().strip("'\""))


def _settings():
    try:
        return load_settings()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc


def _redis():
    from .store import connect

    settings = _settings()
    return connect(settings.redis_url, socket_timeout=5)


@click.group()
def main() -> None:
    """The IPT referral line's command line."""
    _load_local_env()


@main.group("api-token")
def api_token() -> None:
    """Tokens for the JSON API (/api/v1)."""


@api_token.command("create")
@click.argument("name")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    help="callbacks:read, callbacks:write or calls:read (repeatable; default: all).",
)
def api_token_create(name: str, scopes: tuple[str, ...]) -> None:
    """Create a token called NAME; it is printed once, on the last line."""
    from .tokens import SCOPES, create_token

    try:
        token = create_token(_redis(), name, scopes or SCOPES)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Created API token {name!r}. Keep it secret; it is not shown again.")
    click.echo(token)


@api_token.command("revoke")
@click.argument("name")
def api_token_revoke(name: str) -> None:
    """Revoke every token called NAME."""
    from .tokens import revoke_tokens

    count = revoke_tokens(_redis(), name)
    if not count:
        raise click.ClickException(f"no token called {name!r}")
    click.echo(f"Revoked {count} token(s) called {name!r}.")


@main.group()
def users() -> None:
    """Staff accounts for the intake and manager pages (there is no default account)."""


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@users.command("create")
@click.argument("username")
@click.option("--role", type=click.Choice(["intake", "manager", "admin"]), required=True)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def users_create(username: str, role: str, password_stdin: bool) -> None:
    """Create an account USERNAME with a role; asks for the password."""
    from .users import UserError, create_user

    try:
        name = create_user(_redis(), username, role, _read_password(password_stdin))
    except UserError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Created {role} account {name!r}.")


@users.command("reset-password")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def users_reset_password(username: str, password_stdin: bool) -> None:
    """Set a new password for USERNAME; their open sessions end."""
    from .users import UserError, set_password

    try:
        set_password(_redis(), username, _read_password(password_stdin))
    except UserError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Password for {username!r} changed.")


@users.command("list")
def users_list() -> None:
    """List accounts: username, role, and whether disabled."""
    from .users import list_users

    for user in list_users(_redis()):
        state = "disabled" if user["disabled"] else "active"
        click.echo(f"{user['username']}\t{user['role']}\t{state}")


@main.group()
def callbacks() -> None:
    """The intake team's callback queue."""


@callbacks.command("sweep")
@click.option("--every", type=int, default=0, help="Run again every N seconds (a process).")
def callbacks_sweep(every: int) -> None:
    """Return lapsed claims and due attempts to the queue (the pages also do this as they read;
    the Procfile's `sweeper` runs it so figures stay current when nobody has the queue open)."""
    import time

    import redis

    from .queue import Transitions

    transitions = Transitions(_redis())
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


@main.group()
def flows() -> None:
    """The phone flows in call_flows/."""


@flows.command("check")
@click.argument("path", required=False, type=click.Path(dir_okay=False))
def flows_check(path: str | None) -> None:
    """Check a flow file (default: the configured one) and explain every problem found."""
    from .flow import FlowError, load_flow

    path = path or _settings().flow_file
    try:
        flow = load_flow(path)
    except FlowError as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
    click.echo(f"{path}: OK ({len(flow.nodes)} nodes, every path ends, silence always ends).")


@main.command("call")
@click.option("--url", default=None, help="The running line (default http://127.0.0.1:$PORT).")
@click.option(
    "--from",
    "from_number",
    default="+447700900123",
    show_default=True,
    help="The caller ID Twilio would send (use 'anonymous' for a withheld number).",
)
@click.option(
    "--keys",
    default=None,
    help="Press these keys instead of asking, comma-separated ('' = silence).",
)
def call(url: str | None, from_number: str, keys: str | None) -> None:
    """Place a simulated call: prints what the caller hears and reads keys from the keyboard.

    At each prompt type keys and press Enter; Enter alone is silence; 'h' hangs up.
    """
    from .phone_sim import HttpTransport, SimulatedCall, TwimlError

    settings = _settings()
    url = (url or f"http://127.0.0.1:{os.environ.get('PORT', '5000')}").rstrip("/")
    if not settings.twilio_auth_token:
        raise click.ClickException("TWILIO_AUTH_TOKEN is not set: the line rejects unsigned calls")
    script = None if keys is None else keys.split(",")
    sim = SimulatedCall(
        HttpTransport(),
        url,
        settings.twilio_auth_token,
        from_number=from_number,
        on_say=lambda text: click.echo(f"  \N{SPEAKER WITH THREE SOUND WAVES} {text}"),
    )
    try:
        sim.dial()
        while not sim.ended:
            if script is not None:
                if not script:
                    sim.hang_up()
                    break
                entry = script.pop(0)
                click.echo(f"[keys: {entry or 'silence'}]")
            else:
                entry = click.prompt(
                    "keys (Enter = silence, h = hang up)", default="", show_default=False
                ).strip()
            if entry.lower() == "h":
                sim.hang_up()
            elif entry:
                sim.press(entry)
            else:
                sim.silence()
    except (TwimlError, OSError) as exc:
        raise click.ClickException(f"the call failed: {exc}") from exc
    click.echo(f"Call ended ({sim.call_sid}, about {int(sim.seconds)} seconds).")


# Issue 5's commands live in their own module (journal, keys, subject-export, subject-erase).
from .cli_privacy import (  # noqa: E402
    journal,
    keys_group,
    subject_erase,
    subject_export,
)

for _command in (journal, keys_group, subject_export, subject_erase):
    main.add_command(_command)


def _add_report_commands() -> None:
    from .cli_reports import demo, purge, reports

    main.add_command(reports)
    main.add_command(purge)
    main.add_command(demo)


_add_report_commands()

if __name__ == "__main__":
    main()
