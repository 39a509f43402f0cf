"""`ivr api-token`: tokens for the JSON API."""

from __future__ import annotations

import click

from ivr.cli.common import redis_client


@click.group("api-token")
def api_token() -> None:
    """Tokens for the JSON API (/api/v1)."""


@api_token.command("create")
@click.argument("name")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    help="callbacks:read, callbacks:write, calls:read or metrics:read (repeatable;"
    " default: the first three).",
)
def api_token_create(name: str, scopes: tuple[str, ...]) -> None:
    """Create a token called NAME; it is printed once, on the last line."""
    from ivr.api.tokens import DEFAULT_SCOPES, create_token

    try:
        token = create_token(redis_client(), name, scopes or DEFAULT_SCOPES)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Created API token {name!r}. Keep it secret; it is not shown again.")
    click.echo(token)


@api_token.command("revoke")
@click.argument("name")
def api_token_revoke(name: str) -> None:
    """Revoke every token called NAME."""
    from ivr.api.tokens import revoke_tokens

    count = revoke_tokens(redis_client(), name)
    if not count:
        raise click.ClickException(f"no token called {name!r}")
    click.echo(f"Revoked {count} token(s) called {name!r}.")
