"""Email through the standard library's smtplib, to the server in `smtp_url`:
smtp://[user:password@]host[:port] (STARTTLS when the server offers it) or smtps://... (TLS from
the start). Used for urgent alerts to the duty contacts; tests point it at a local aiosmtpd."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

from ivr.config import Settings

TIMEOUT = 10  # seconds; sending runs in the sweeper, never in a webhook


class EmailError(Exception):
    """The message was not accepted; the text says why (no message content in it)."""


def configured(settings: Settings) -> bool:
    return bool(settings.smtp_url)


def send_email(settings: Settings, to: str, subject: str, body: str) -> None:
    """Hand one plain-text message to the SMTP server, or raise EmailError."""
    url = urlsplit(settings.smtp_url)
    if url.scheme not in ("smtp", "smtps") or not url.hostname:
        raise EmailError("IVR_SMTP_URL must look like smtp://user:password@host:587")
    message = EmailMessage()
    message["From"] = settings.urgent_alert_from
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    kind = smtplib.SMTP_SSL if url.scheme == "smtps" else smtplib.SMTP
    port = url.port or (465 if url.scheme == "smtps" else 25)
    try:
        with kind(url.hostname, port, timeout=TIMEOUT) as server:
            if url.scheme == "smtp":
                server.ehlo()
                if server.has_extn("starttls"):
                    server.starttls(context=ssl.create_default_context())
            if url.username:
                server.login(unquote(url.username), unquote(url.password or ""))
            server.send_message(message)
    except (smtplib.SMTPException, OSError) as exc:
        raise EmailError(f"{type(exc).__name__}: {str(exc)[:200]}") from exc
