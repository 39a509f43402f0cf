"""The `ivr` console script: one module per command group; this module only gathers them.

Imports run one way: each group module imports `ivr.cli.common` and the areas it drives, and this
module imports the groups. No group imports another.

May import: every area (it is the top, beside create_app).
"""

from __future__ import annotations

import click
import redis

from ivr.cli import call, callbacks, flows, number, privacy, reports, tokens, users
from ivr.cli.common import load_local_env


class _Commands(click.Group):
    """Every command: a Redis that cannot be reached is one plain line, never a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except redis.RedisError as exc:
            raise click.ClickException(
                f"Redis cannot be reached ({type(exc).__name__}: {exc}). Is the line's Redis"
                " running? `scripts/dev` starts one for this checkout; REDIS_URL says where."
            ) from exc


@click.group(cls=_Commands)
def main() -> None:
    """The IPT referral line's command line."""
    load_local_env()


for _command in (
    tokens.api_token,
    users.users,
    callbacks.callbacks,
    flows.flows,
    call.call,
    number.number,
    privacy.journal,
    privacy.keys_group,
    privacy.subject_export,
    privacy.subject_erase,
    reports.reports,
    reports.purge,
    reports.demo,
):
    main.add_command(_command)

if __name__ == "__main__":
    main()
