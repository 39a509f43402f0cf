"""Erasures (UK GDPR article 17): the record that a number was erased, kept as a keyed hash and a
time (`privacy:erased`), so a request of theirs still waiting in a journal on disk is dropped
when it is delivered, never queued. Written by subject erasure (ivr/privacy/subjects.py)."""

from __future__ import annotations

import redis

from ivr.store.crypto import DataKeys
from ivr.store.keys import key


def is_erased(client: redis.Redis, keys: DataKeys, number: str, made_at: float) -> bool:
    """Whether a request for this number, made at `made_at`, was erased afterwards."""
    with client.pipeline(transaction=False) as pipe:
        for digest in keys.phone_hashes(number):
            pipe.zscore(key("erased_subjects"), digest)
        erased = [s for s in pipe.execute() if s is not None]
    return any(s >= made_at for s in erased)
