"""`ivr journal`, `ivr keys`, `ivr subject-*`: the journal of requests taken while Redis was
down, data-key rotation, and data-protection requests (subject access and erasure)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import click

from ivr.phone import mask


def _parts():
    from ivr.cli.common import settings as current_settings
    from ivr.store.crypto import DataKeys
    from ivr.store.redis_store import client_for

    settings = current_settings()
    return settings, DataKeys.from_settings(settings), client_for(settings, socket_timeout=5)


@click.group()
def journal() -> None:
    """Callback requests confirmed while Redis was down, waiting on disk."""


@journal.command("status")
def journal_status() -> None:
    """List what is waiting to be delivered (numbers masked)."""
    from ivr.outage.journal import Journal

    settings, keys, _ = _parts()
    book = Journal(settings.journal_dir, keys)
    rows = book.status()
    if not rows:
        click.echo(f"Nothing waiting in {settings.journal_dir}.")
        return
    click.echo(f"{len(rows)} request(s) waiting in {settings.journal_dir}:")
    for path in book.files():
        for entry in book.entries(path):
            record = book.open_record(entry) or {}
            phone = mask((record.get("callback") or {}).get("phone")) or "(cannot open: key?)"
            when = datetime.fromtimestamp(float(entry.get("t") or 0), UTC).isoformat(
                timespec="seconds"
            )
            urgent = " URGENT" if entry.get("urgent") else ""
            click.echo(f"  {path.name}  ref {entry.get('ref')}  {when}  {phone}{urgent}")


@journal.command("deliver")
def journal_deliver() -> None:
    """Deliver waiting requests now (the line does this by itself within seconds)."""
    from ivr.outage.journal import Journal
    from ivr.outage.recovery import Deliverer
    from ivr.store.redis_store import Store

    settings, keys, client = _parts()
    store = Store(client, settings.call_state_ttl, settings.retention_days * 86400, keys)
    count = Deliverer(store, Journal(settings.journal_dir, keys), 1).run_once()
    click.echo(f"Delivered {count} request(s).")


@click.group("keys")
def keys_group() -> None:
    """Data keys for personal data at rest (IVR_DATA_KEYS)."""


@keys_group.command("generate")
def keys_generate() -> None:
    """Print a new Fernet key (put it first in IVR_DATA_KEYS, then run `ivr keys rotate`)."""
    from cryptography.fernet import Fernet

    click.echo(Fernet.generate_key().decode())


@keys_group.command("rotate")
def keys_rotate() -> None:
    """Re-encrypt every stored callback request and phone index with the first key."""
    from ivr.privacy.subjects import rotate_all

    settings, keys, client = _parts()
    count = rotate_all(client, keys)
    click.echo(f"Re-encrypted {count} callback request(s) with the first key.")


@click.command("subject-export")
@click.argument("phone")
def subject_export(phone: str) -> None:
    """Print, as JSON, everything held about PHONE (requests, notes, audit, calls, journal)."""
    from ivr.outage.journal import Journal
    from ivr.privacy.subjects import export_subject

    settings, keys, client = _parts()
    found = export_subject(client, keys, _number(phone), Journal(settings.journal_dir, keys))
    click.echo(json.dumps(found, indent=2, sort_keys=True))


@click.command("subject-erase")
@click.argument("phone")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def subject_erase(phone: str, yes: bool) -> None:
    """Erase everything held about PHONE (anonymous counters and who/when/what of audit kept)."""
    from ivr.outage.journal import Journal
    from ivr.privacy.subjects import erase_subject

    settings, keys, client = _parts()
    number = _number(phone)
    if not yes:
        click.confirm(f"Erase every record about {mask(number)}?", abort=True)
    gone = erase_subject(
        client,
        keys,
        number,
        retention_seconds=settings.retention_days * 86400,
        journal=Journal(settings.journal_dir, keys),
    )
    click.echo(f"Erased {gone['callbacks']} callback request(s) and {gone['calls']} call log(s).")
    if gone["journal_removed"] or gone["journal_dropped_at_delivery"]:
        click.echo(
            f"Removed {gone['journal_removed']} request(s) waiting on disk; "
            f"{gone['journal_dropped_at_delivery']} more will be dropped when delivered."
        )


def _number(phone: str) -> str:
    from ivr.phone import NumberProblem, normalise_uk

    try:
        return normalise_uk(phone)
    except NumberProblem as problem:
        raise click.ClickException(f"not a UK number we hold ({problem.reason})") from problem
