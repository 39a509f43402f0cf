"""Keys for personal data: Fernet encryption at rest, sealed blobs, and keyed hashes of numbers.

IVR_DATA_KEYS holds one or more Fernet keys, comma-separated. The first encrypts; every one
decrypts, so rotation is: put a new key first, run `ivr keys rotate`, then drop the old key.
In development and test, with no keys set, one key is derived from SECRET_KEY (so a checkout
works out of the box); production refuses to start without IVR_DATA_KEYS (see ivr/config.py).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import zlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from ivr.config import Settings

# Marks an encrypted field value, so plaintext written before encryption still reads.
PREFIX = "enc1:"
_PROCESS_KEYS: DataKeys | None = None  # see install_data_keys


class DataKeys:
    """The data keys of this process."""

    def __init__(self, keys: list[bytes]):
        if not keys:
            raise ValueError("at least one data key is needed")
        self.fernet = MultiFernet([Fernet(k) for k in keys])
        # The phone index key comes from each data key; the first one writes. `ivr keys rotate`
        # moves index entries written under an older key to the first key's hash.
        self._index_keys = [hashlib.sha256(b"ivr-phone-index:" + k).digest() for k in keys]

    @classmethod
    def from_settings(cls, settings: Settings) -> DataKeys:
        if settings.data_keys:
            return cls([k.strip().encode() for k in settings.data_keys.split(",") if k.strip()])
        # Development and test only (production requires IVR_DATA_KEYS): derived, not random,
        # so every worker process and the `ivr` command agree on it.
        seed = hashlib.sha256(b"ivr-data-key:" + settings.secret_key.encode()).digest()
        return cls([base64.urlsafe_b64encode(seed)])

    # --- single field values in Redis -------------------------------------------------------
    def encrypt(self, text: str) -> str:
        return PREFIX + self.fernet.encrypt(text.encode("utf-8")).decode("ascii")

    def decrypt(self, value: str) -> str:
        """Plaintext of a stored value; values written before encryption pass through."""
        if not value.startswith(PREFIX):
            return value
        return self.fernet.decrypt(value[len(PREFIX) :].encode("ascii")).decode("utf-8")

    def rotate(self, value: str) -> str:
        """The value re-encrypted under the first key (plaintext values get encrypted)."""
        return self.encrypt(self.decrypt(value))

    # --- sealed blobs (journal lines, call state carried in webhook URLs) --------------------
    def seal(self, obj: object) -> str:
        raw = zlib.compress(json.dumps(obj, separators=(",", ":")).encode("utf-8"))
        return self.fernet.encrypt(raw).decode("ascii")

    def unseal(self, token: str, ttl: int | None = None) -> object | None:
        """The sealed object, or None if the token is forged, damaged or older than ttl."""
        try:
            raw = self.fernet.decrypt(token.encode("ascii"), ttl=ttl)
            return json.loads(zlib.decompress(raw))
        except (InvalidToken, UnicodeError, ValueError, zlib.error):
            return None

    # --- finding records by phone number without storing it in clear -----------------------
    def phone_hash(self, e164: str) -> str:
        return self.phone_hashes(e164)[0]

    def phone_hashes(self, e164: str) -> list[str]:
        """The number's index hash under every key (records may predate a rotation)."""
        return [
            hmac.new(k, e164.encode("utf-8"), hashlib.sha256).hexdigest() for k in self._index_keys
        ]


def install_data_keys(keys: DataKeys) -> None:
    """The keys this process encrypts fields with (one set per process, from the environment).
    Kept here because decode_callback is a plain function that many readers call."""
    global _PROCESS_KEYS
    _PROCESS_KEYS = keys


def seal_field(text: str) -> str:
    """A Redis field value encrypted with this process's keys (empty stays empty)."""
    return _PROCESS_KEYS.encrypt(text) if _PROCESS_KEYS is not None and text else text


def open_field(text: str) -> str:
    """The plaintext of a Redis field value (plaintext written before encryption passes)."""
    return _PROCESS_KEYS.decrypt(text) if _PROCESS_KEYS is not None else text
