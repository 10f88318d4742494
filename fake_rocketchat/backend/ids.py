"""Meteor-style identifiers and login-token hashing."""

from __future__ import annotations

import base64
import hashlib
import secrets

# Meteor's Random.id() alphabet ("unmistakable characters").
_UNMISTAKABLE = "23456789ABCDEFGHJKLMNPQRSTWXYZabcdefghijkmnopqrstuvwxyz"
_BASE64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


# Byte -> character of the alphabet for the bytes below the largest multiple of its size; the others
# are dropped, so every character stays uniform.
_ID_LIMIT = 256 - 256 % len(_UNMISTAKABLE)
_ID_TABLE = bytes(ord(_UNMISTAKABLE[b % len(_UNMISTAKABLE)]) if b < _ID_LIMIT else 0 for b in range(256))
_ID_DROP = bytes(range(_ID_LIMIT, 256))


def random_id(length: int = 17) -> str:
    """A document id like Meteor's `Random.id()` (17 chars by default).

    One read of the system's random source per id, mapped in C, not `secrets.choice` per character:
    seeding a million users (and their subscriptions) spent most of its time there."""
    out = b""
    while len(out) < length:
        out += secrets.token_bytes(2 * length).translate(_ID_TABLE, _ID_DROP)
    return out[:length].decode("ascii")


def random_ids(count: int, length: int = 17) -> list[str]:
    """`count` ids like :func:`random_id` from one read of the random source (bulk seeding)."""
    out = b""
    while len(out) < count * length:
        out += secrets.token_bytes(2 * (count * length - len(out)) + 64).translate(_ID_TABLE, _ID_DROP)
    text = out[: count * length].decode("ascii")
    return [text[i : i + length] for i in range(0, count * length, length)]


def random_secret(length: int = 43) -> str:
    """A login token like Meteor's `Random.secret()` (43 url-safe chars)."""
    return "".join(secrets.choice(_BASE64URL) for _ in range(length))


def hash_login_token(token: str) -> str:
    """`Accounts._hashLoginToken`: base64(sha256(token)); only this is stored."""
    return base64.b64encode(hashlib.sha256(token.encode()).digest()).decode()


def sha256_hex(text: str) -> str:
    """The client-side password digest Meteor sends (`{digest, algorithm:'sha-256'}`)."""
    return hashlib.sha256(text.encode()).hexdigest()


def hash_password_digest(digest: str, salt: bytes | None = None) -> str:
    """Slow-ish one-way hash of the sha256 digest (Meteor uses bcrypt of the digest).

    PBKDF2 with few rounds keeps tests fast; the point is that plaintext never
    sits in state.
    """
    salt = salt if salt is not None else secrets.token_bytes(16)
    derived = hashlib.pbkdf2_hmac("sha256", digest.lower().encode(), salt, 1000)
    return f"pbkdf2${salt.hex()}${derived.hex()}"


def check_password_digest(digest: str, stored: str) -> bool:
    try:
        _, salt_hex, _ = stored.split("$")
    except ValueError:
        return False
    return secrets.compare_digest(hash_password_digest(digest, bytes.fromhex(salt_hex)), stored)
