"""Users of the local server: a JSON file of name -> password hash, readonly level, settings.

chDB has no access control (``CREATE USER`` fails), so the HTTP layer checks credentials itself
and enforces ``readonly`` per query.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from devstack.chserver.errors import AUTHENTICATION_FAILED, ChError

_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


@dataclass(frozen=True)
class User:
    name: str
    password_sha256: str = _EMPTY_SHA256
    readonly: int = 0
    settings: Mapping[str, str] = field(default_factory=dict)


def default_users() -> dict[str, User]:
    """No users file: ``default`` with an empty password, read-write (as a fresh ClickHouse)."""
    return {"default": User("default")}


def load_users(path: Path | None) -> dict[str, User]:
    """Read ``{"name": {"password_sha256": hex, "readonly": 0|1|2, "settings": {...}}}``."""
    if path is None:
        return default_users()
    raw = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: expected a JSON object of users")
    users = {}
    for name, spec in raw.items():
        if not isinstance(spec, dict):
            raise ValueError(f"{path}: user {name!r} must be an object")
        readonly = int(spec.get("readonly", 0))
        if readonly not in (0, 1, 2):
            raise ValueError(f"{path}: user {name!r}: readonly must be 0, 1 or 2")
        digest = str(spec.get("password_sha256", _EMPTY_SHA256)).lower()
        settings = {str(k): _setting_text(v) for k, v in dict(spec.get("settings", {})).items()}
        users[name] = User(name, digest, readonly, settings)
    return users


def _setting_text(value: object) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def credentials(
    headers: Mapping[str, str], url_user: str | None, url_password: str | None
) -> tuple[str, str]:
    """(user, password) from X-ClickHouse-User/Key, HTTP basic auth or user/password params."""
    if "X-ClickHouse-User" in headers or "X-ClickHouse-Key" in headers:
        return headers.get("X-ClickHouse-User", "default"), headers.get("X-ClickHouse-Key", "")
    auth = headers.get("Authorization", "")
    if auth[:6].lower() == "basic ":
        try:
            decoded = base64.b64decode(auth[6:].strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise _failed("default") from None
        user, _, password = decoded.partition(":")
        return user or "default", password
    if auth:
        raise _failed(url_user or "default", "only basic authentication is supported")
    return url_user or "default", url_password or ""


def authenticate(users: Mapping[str, User], name: str, password: str) -> User:
    user = users.get(name)
    digest = hashlib.sha256(password.encode("utf-8")).hexdigest()
    if user is None or not hmac.compare_digest(digest, user.password_sha256):
        raise _failed(name)
    return user


def _failed(
    name: str,
    why: str = "password is incorrect, or there is no user with such name",
) -> ChError:
    return ChError.make(AUTHENTICATION_FAILED, f"{name}: Authentication failed: {why}")
