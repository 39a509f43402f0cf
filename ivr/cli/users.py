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


@users.command("set-role")
@click.argument("username")
@click.argument("role", type=click.Choice(["intake", "manager", "admin"]))
def users_set_role(username: str, role: str) -> None:
    """Give USERNAME the role ROLE (intake, manager or admin).

    Also the way back in when nobody can manage accounts: `ivr users set-role NAME admin`
    (then `ivr users enable NAME` if that account was disabled). The last active admin cannot
    be demoted.
    """
    from ivr.staff.users import UserError, set_role

    try:
        set_role(redis_client(), username, role)
    except UserError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{username!r} is now {role}.")


def _set_disabled(username: str, disabled: bool) -> None:
    from ivr.staff.users import UserError, set_disabled

    try:
        set_disabled(redis_client(), username, disabled)
    except UserError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Account {username!r} {'disabled' if disabled else 'enabled'}.")


@users.command("disable")
@click.argument("username")
def users_disable(username: str) -> None:
    """Stop USERNAME signing in (their sessions end); the last active admin cannot be disabled."""
    _set_disabled(username, True)


@users.command("enable")
@click.argument("username")
def users_enable(username: str) -> None:
    """Let a disabled account USERNAME sign in again."""
    _set_disabled(username, False)


@users.command("list")
def users_list() -> None:
    """List accounts: username, role, and whether disabled."""
    from ivr.staff.users import list_users

    for user in list_users(redis_client()):
        state = "disabled" if user["disabled"] else "active"
        click.echo(f"{user['username']}\t{user['role']}\t{state}")
