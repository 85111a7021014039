"""Secrets of the web page: the office password (scrypt), per-unit link secrets (HMAC, revocable by
generation, compared in constant time), the session signing key and CSRF tokens.

Everything is kept in the store's ``meta`` table, so it lives with the round's database:
``web.link_key`` (random, derives every unit's link secret), ``web.link_gen.<code>`` (bumped to
revoke a unit's link), ``web.session_key`` (signs session cookies), ``web.office_password``
(``scrypt$n$r$p$salt$hash``). Link secrets themselves are never stored, printed only by
``juesuan links``, and never logged.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from ..office.store import Store

LINK_KEY = "web.link_key"
SESSION_KEY = "web.session_key"
PASSWORD_KEY = "web.office_password"
GEN_PREFIX = "web.link_gen."
OFFICE_GEN = "web.office_session_gen"  # bumped by logout and office-password: every office session ends
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**17, 8, 1  # 128 MB, ~0.3 s; a hash of older parameters is upgraded at login
MAX_SCRYPT_N = 2**20
MIN_PASSWORD = 8


def _random_meta(store: Store, key: str) -> str:
    value = store.get_meta(key)
    if not value:
        value = secrets.token_hex(32)
        store.set_meta(key, value)
        store.restrict_mode()  # a key: owner only, whatever mode an older version created the file with
    return value


def session_key(store: Store) -> str:
    return _random_meta(store, SESSION_KEY)


# ---------------------------------------------------------------- office password


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, dklen: int) -> bytes:
    if not (1 < n <= MAX_SCRYPT_N and 0 < r <= 32 and 0 < p <= 16):
        raise ValueError("scrypt parameters out of range")
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=dklen,
                          maxmem=128 * r * n * p + 64 * 1024 * 1024)


def hash_password(password: str, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P) -> str:
    """``scrypt$n$r$p$salt$hash``: the parameters are stored with the hash, so raising them later
    leaves every stored hash verifiable (and upgraded at the next login)."""
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, n, r, p, 32)
    return f"scrypt${n}${r}${p}${salt.hex()}${digest.hex()}"


def outdated_hash(stored: str | None) -> bool:
    """A stored hash made with weaker parameters than today's."""
    try:
        kind, n, r, p, _salt, _digest = (stored or "").split("$")
        return kind == "scrypt" and (int(n), int(r), int(p)) < (SCRYPT_N, SCRYPT_R, SCRYPT_P)
    except ValueError:
        return False


def verify_password(password: str, stored: str | None) -> bool:
    """Constant-time check of ``password`` against a stored scrypt hash; False when none is set."""
    if not stored:
        return False
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        got = _scrypt(password, bytes.fromhex(salt), int(n), int(r), int(p), len(bytes.fromhex(digest)))
    except (ValueError, OverflowError, MemoryError):
        return False
    return hmac.compare_digest(got, bytes.fromhex(digest))


def set_office_password(store: Store, password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"密码至少 {MIN_PASSWORD} 个字符")
    store.set_meta(PASSWORD_KEY, hash_password(password))
    store.restrict_mode()
    end_office_sessions(store)


def office_generation(store: Store) -> int:
    """The current office session generation: a session opened under another one is over."""
    try:
        return int(store.get_meta(OFFICE_GEN) or "0")
    except ValueError:
        return -1


def end_office_sessions(store: Store) -> int:
    """A new office session generation: every office session opened before (any browser) ends."""
    gen = max(office_generation(store), 0) + 1
    store.set_meta(OFFICE_GEN, str(gen))
    return gen


def check_office_password(store: Store, password: str) -> bool:
    """The office password; a right one stored with older scrypt parameters is re-hashed with
    today's (the sessions stay: it is the same password)."""
    stored = store.get_meta(PASSWORD_KEY)
    if not verify_password(password, stored):
        return False
    if outdated_hash(stored):
        store.set_meta(PASSWORD_KEY, hash_password(password))
    return True


# ---------------------------------------------------------------- unit links


def link_generation(store: Store, code: str) -> int:
    return int(store.get_meta(GEN_PREFIX + code) or "0")


def link_secret(store: Store, code: str, generation: int | None = None) -> str:
    """The secret of a unit's link: HMAC(link key, code:generation), 32 URL-safe characters."""
    gen = link_generation(store, code) if generation is None else generation
    key = _random_meta(store, LINK_KEY).encode("ascii")
    mac = hmac.new(key, f"{code}:{gen}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode("ascii")[:32]


def revoke_link(store: Store, code: str) -> int:
    """A new generation for the unit: its old link (and any session it opened) stops working."""
    gen = link_generation(store, code) + 1
    store.set_meta(GEN_PREFIX + code, str(gen))
    return gen


def check_link(store: Store, code: str, secret: str) -> int | None:
    """The link generation when ``secret`` is the unit's current one, else None (constant-time)."""
    gen = link_generation(store, code)
    expected = link_secret(store, code, gen)
    if hmac.compare_digest(expected.encode("ascii"), secret.encode("utf-8", "replace")):
        return gen
    return None


# ---------------------------------------------------------------- CSRF


def new_token() -> str:
    return secrets.token_urlsafe(32)


def same_token(expected: str | None, given: str | None) -> bool:
    if not expected or not given:
        return False
    return hmac.compare_digest(expected.encode("utf-8"), given.encode("utf-8", "replace"))
