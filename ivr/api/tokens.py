"""API tokens for /api/v1: random, shown once, stored only as a SHA-256 hash, scoped, revocable.

Scopes name what a token may read (SCOPES); a token made before scopes existed has them all.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time

import redis

from ivr.store.keys import key

TOKEN_PREFIX = "ivr_"  # noqa: S105 (a prefix, not a secret)
SCOPES = ("callbacks:read", "callbacks:write", "calls:read", "metrics:read")
# What a token gets when none is asked for: the data, not the monitoring.
DEFAULT_SCOPES = ("callbacks:read", "callbacks:write", "calls:read")


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(client: redis.Redis, name: str, scopes: tuple[str, ...] = DEFAULT_SCOPES) -> str:
    unknown = set(scopes) - set(SCOPES)
    if unknown or not scopes:
        raise ValueError(f"scopes must be some of {', '.join(SCOPES)}")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    record = {"name": name, "created_at": time.time(), "scopes": sorted(scopes)}
    client.hset(key("api_tokens"), _digest(token), json.dumps(record))
    return token


def check_token(client: redis.Redis, token: str) -> dict | None:
    """The token's record if it is a live token, else None."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    raw = client.hget(key("api_tokens"), _digest(token))
    return json.loads(raw) if raw else None


def revoke_tokens(client: redis.Redis, name: str) -> int:
    """Revoke every token with this name; returns how many."""
    gone = [
        digest
        for digest, raw in client.hgetall(key("api_tokens")).items()
        if json.loads(raw).get("name") == name
    ]
    if gone:
        client.hdel(key("api_tokens"), *gone)
    return len(gone)
