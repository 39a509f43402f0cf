"""`ivr users`: staff accounts."""

from __future__ import annotations

import sys

import click

from ivr.cli.common import redis_client


@click.group()
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
    from ivr.staff.users import UserError, create_user

    try:
        name = create_user(redis_client(), username, role, _read_password(password_stdin))
    except UserError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Created {role} account {name!r}.")


@users.command("reset-password")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def users_reset_password(username: str, password_stdin: bool) -> None:
    """Set a new password for USERNAME; their open sessions end."""
    from ivr.staff.users import UserError, set_password

    try:
        set_password(redis_client(), username, _read_password(password_stdin))
    except UserError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Password for {username!r} changed.")


@users.command("list")
def users_list() -> None:
    """List accounts: username, role, and whether disabled."""
    from ivr.staff.users import list_users

    for user in list_users(redis_client()):
        state = "disabled" if user["disabled"] else "active"
        click.echo(f"{user['username']}\t{user['role']}\t{state}")
