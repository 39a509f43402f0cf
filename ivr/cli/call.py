"""`ivr call`: a terminal phone that places a simulated, signed call to a running line."""

from __future__ import annotations

import os

import click

from ivr.cli.common import settings as current_settings


@click.command("call")
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
    help="Press these keys (or say these words) instead of asking, comma-separated ('' = silence).",
)
def call(url: str | None, from_number: str, keys: str | None) -> None:
    """Place a simulated call: prints what the caller hears and reads keys or words.

    At each prompt type keys (1, 07700900123#) or words (yes, call me back) and press Enter;
    Enter alone is silence; 'h' hangs up. Words are sent as Twilio sends speech (SpeechResult).
    """
    from ivr.twilio_sim.phone import HttpTransport, SimulatedCall, TwimlError

    settings = current_settings()
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
                    "keys or words (Enter = silence, h = hang up)", default="", show_default=False
                ).strip()
            if entry.lower() == "h":
                sim.hang_up()
            elif entry and set(entry) <= set("0123456789*#"):
                sim.press(entry)
            elif entry:
                sim.speak(entry)
            else:
                sim.silence()
    except (TwimlError, OSError) as exc:
        raise click.ClickException(f"the call failed: {exc}") from exc
    click.echo(f"Call ended ({sim.call_sid}, about {int(sim.seconds)} seconds).")
