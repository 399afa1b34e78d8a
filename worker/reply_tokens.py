"""Signed reply addresses: complaints+<token>@domain names its case and cannot be guessed."""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from pathlib import Path

_TOKEN = re.compile(r"^([a-z0-9-]+)\.([a-z0-9]{12})$")


def load_signing_key(env_name: str, storage_dir: Path) -> bytes:
    """The key from the environment; else one generated once and kept under storage."""
    if env_name and os.environ.get(env_name):
        return os.environ[env_name].encode()
    key_file = storage_dir / "signing.key"
    if not key_file.exists():
        key_file.parent.mkdir(parents=True, exist_ok=True)
        # O_EXCL: two processes starting together keep the same key.
        try:
            with os.fdopen(os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as f:
                f.write(secrets.token_hex(32))
        except FileExistsError:
            pass
    return key_file.read_text().strip().encode()


def _signature(key: bytes, case_number: str) -> str:
    digest = hmac.new(key, case_number.lower().encode(), hashlib.sha256).hexdigest()
    return digest[:12]


def make_token(key: bytes, case_number: str) -> str:
    return f"{case_number.lower()}.{_signature(key, case_number)}"


def token_is_genuine(key: bytes, token: str) -> bool:
    """True when the token's signature holds: it was made by us, not guessed."""
    match = _TOKEN.match(token.lower())
    return bool(match) and hmac.compare_digest(match.group(2), _signature(key, match.group(1)))


def reply_address(from_address: str, token: str) -> str:
    local, _, domain = from_address.partition("@")
    return f"{local}+{token}@{domain}"


def token_from_address(address: str, from_address: str) -> str | None:
    """The token of complaints+<token>@domain when the address is our plus-address."""
    local, _, domain = address.lower().partition("@")
    our_local, _, our_domain = from_address.lower().partition("@")
    if domain != our_domain or not local.startswith(our_local + "+"):
        return None
    return local[len(our_local) + 1:]
