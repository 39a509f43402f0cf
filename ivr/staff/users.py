"""Staff accounts (intake workers, managers, admins) kept in Redis, passwords only as scrypt hashes.

There is no default account: the first admin is made with `ivr users create NAME --role admin`.
"""

from __future__ import annotations

import re
import secrets
import time
from functools import lru_cache

import redis
from werkzeug.security import check_password_hash, generate_password_hash

from ivr.staff import passwords
from ivr.store.keys import key

ROLES = ("intake", "manager", "admin")
MIN_PASSWORD_LENGTH = passwords.MIN_LENGTH
LAST_ADMIN = (
    "{name!r} is the only active admin: nobody could manage accounts after this. "
    "Make another account admin first (on this page, or `ivr users set-role NAME admin`)."
)
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,39}$")

# KEYS[1] the user's hash, KEYS[2] the set of usernames.
# ARGV: username, role, password_hash, created_at. Returns 1 if created, 0 if the name is taken,
# so two admins creating the same name at once cannot overwrite each other.
CREATE_USER = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'username', ARGV[1], 'role', ARGV[2], 'password_hash', ARGV[3],
           'created_at', ARGV[4], 'password_changed_at', ARGV[4], 'disabled', '0')
redis.call('SADD', KEYS[2], ARGV[1])
return 1
"""

# KEYS[1] the user's hash. ARGV: field, value, ... Sets fields only on an existing user (1), else 0.
UPDATE_USER = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1
"""


class UserError(ValueError):
    """A username, role or password that cannot be used; the message says why."""


def normalise_username(username: str) -> str:
    return (username or "").strip().lower()


def check_username(username: str) -> str:
    name = normalise_username(username)
    if not _USERNAME.match(name):
        raise UserError(
            "A username is 2 to 40 characters: lower-case letters, digits, '.', '_' or '-'."
        )
    return name


def check_password(password: str, username: str = "") -> None:
    """NIST SP 800-63B rules (ivr/staff/passwords.py); UserError says what is wrong."""
    try:
        passwords.check(password, username)
    except passwords.WeakPassword as exc:
        raise UserError(str(exc)) from exc


def hash_password(password: str) -> str:
    return generate_password_hash(password, method="scrypt")


def create_user(client: redis.Redis, username: str, role: str, password: str) -> str:
    """Create an account; returns the normalised username. Raises UserError if it can't."""
    name = check_username(username)
    if role not in ROLES:
        raise UserError(f"The role must be one of {', '.join(ROLES)}.")
    check_password(password, name)
    created = client.eval(
        CREATE_USER,
        2,
        key("user", username=name),
        key("users"),
        name,
        role,
        hash_password(password),
        repr(time.time()),
    )
    if not created:
        raise UserError(f"There is already an account called {name!r}.")
    return name


def _update(client: redis.Redis, username: str, **fields: str) -> None:
    name = normalise_username(username)
    args = [part for pair in fields.items() for part in pair]
    if not client.eval(UPDATE_USER, 1, key("user", username=name), *args):
        raise UserError(f"There is no account called {name!r}.")


def set_password(client: redis.Redis, username: str, password: str) -> None:
    """Change a password; sessions signed in with the old one end at their next request."""
    check_password(password, normalise_username(username))
    _update(
        client,
        username,
        password_hash=hash_password(password),
        password_changed_at=repr(time.time()),
    )


def set_disabled(client: redis.Redis, username: str, disabled: bool) -> None:
    _change_access(client, username, disabled="1" if disabled else "0")


def set_role(client: redis.Redis, username: str, role: str) -> None:
    if role not in ROLES:
        raise UserError(f"The role must be one of {', '.join(ROLES)}.")
    _change_access(client, username, role=role)


def _active_admin(fields: dict) -> bool:
    return fields.get("role") == "admin" and fields.get("disabled") != "1"


def _change_access(client: redis.Redis, username: str, **fields: str) -> None:
    """Change a role or the disabled flag, refusing to leave no active admin.

    Optimistic (WATCH on every account): two admins demoting each other at the same moment
    cannot both succeed, so the service always keeps someone who can manage accounts.
    """
    name = normalise_username(username)
    target = key("user", username=name)

    def change(pipe) -> None:
        names = sorted(pipe.smembers(key("users")) | {name})
        accounts = [key("user", username=n) for n in names]
        pipe.watch(*accounts)
        states = {n: pipe.hgetall(k) for n, k in zip(names, accounts, strict=True)}
        if not states[name]:
            raise UserError(f"There is no account called {name!r}.")
        after = {**states, name: {**states[name], **fields}}
        if _active_admin(states[name]) and not any(_active_admin(s) for s in after.values()):
            raise UserError(LAST_ADMIN.format(name=name))
        pipe.multi()
        pipe.hset(target, mapping=fields)

    client.transaction(change, key("users"), target)


def set_phone(client: redis.Redis, username: str, phone: str) -> None:
    """The worker's own phone, remembered for "call me and connect"."""
    _update(client, username, phone=phone)


def get_user(client: redis.Redis, username: str) -> dict | None:
    """The account (without its password hash), or None."""
    raw = client.hgetall(key("user", username=normalise_username(username)))
    if not raw:
        return None
    return {
        "username": raw["username"],
        "role": raw.get("role", ""),
        "created_at": float(raw.get("created_at") or 0),
        "password_changed_at": raw.get("password_changed_at", ""),
        "disabled": raw.get("disabled") == "1",
        "phone": raw.get("phone", ""),
    }


def verify_password(client: redis.Redis, username: str, password: str) -> dict | None:
    """The account if the password is right and the account is enabled, else None."""
    name = normalise_username(username)
    if not _USERNAME.match(name) or len(password or "") > 1000:
        return None
    stored = client.hget(key("user", username=name), "password_hash")
    if not stored:
        check_password_hash(_dummy_hash(), password)  # same work, so timing can't list users
        return None
    if not check_password_hash(stored, password):
        return None
    user = get_user(client, name)
    return user if user and not user["disabled"] else None


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return hash_password(secrets.token_urlsafe(16))


def list_users(client: redis.Redis) -> list[dict]:
    names = sorted(client.smembers(key("users")))
    return [u for u in (get_user(client, n) for n in names) if u]
