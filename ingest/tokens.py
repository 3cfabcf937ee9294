"""Per-province bearer tokens for the gateway, stored hashed in a JSON file.

The file (``settings.gateway_tokens_file``) is a JSON array of
``{"token_sha256": hex, "province_code": "01", "expires_at": iso | null, "label": "..."}``.
Only the SHA-256 of a token is ever stored. The store re-reads the file when its
modification time (or size) changes, so tokens are rotated without a restart.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import orjson

log = logging.getLogger(__name__)

TOKEN_PREFIX = "antt_"  # noqa: S105 - a prefix, not a secret


class TokenFileError(ValueError):
    """The token file exists but cannot be used."""


@dataclass(frozen=True, slots=True)
class TokenInfo:
    token_sha256: str
    province_code: str
    expires_at: datetime | None
    label: str

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and now >= self.expires_at

    def as_json(self) -> dict[str, object]:
        return {
            "token_sha256": self.token_sha256,
            "province_code": self.province_code,
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "label": self.label,
        }


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    """A fresh random bearer token (256 bits)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def _parse_entry(entry: object, position: int) -> TokenInfo:
    if not isinstance(entry, dict):
        raise TokenFileError(f"entry {position} is not an object")
    digest = entry.get("token_sha256")
    province = entry.get("province_code")
    if not (isinstance(digest, str) and len(digest) == 64):
        raise TokenFileError(f"entry {position}: token_sha256 must be 64 hex characters")
    if not (isinstance(province, str) and len(province) == 2 and province.isdigit()):
        raise TokenFileError(f"entry {position}: province_code must be 2 digits")
    raw_expiry = entry.get("expires_at")
    expires_at = None
    if raw_expiry is not None:
        expires_at = datetime.fromisoformat(str(raw_expiry))
        if expires_at.tzinfo is None:
            raise TokenFileError(f"entry {position}: expires_at needs a timezone")
    return TokenInfo(digest.lower(), province, expires_at, str(entry.get("label") or ""))


def read_token_file(path: Path) -> list[TokenInfo]:
    """All entries of a token file; a missing file means no tokens."""
    try:
        data = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        return []
    except orjson.JSONDecodeError as exc:
        raise TokenFileError(f"{path}: not JSON ({exc})") from exc
    if not isinstance(data, list):
        raise TokenFileError(f"{path}: expected a JSON array")
    return [_parse_entry(entry, i) for i, entry in enumerate(data)]


def write_token_file(path: Path, entries: list[TokenInfo]) -> None:
    """Replace the file atomically (readers never see half a file), mode 0600."""
    path.parent.mkdir(parents=True, exist_ok=True)
    body = orjson.dumps([e.as_json() for e in entries], option=orjson.OPT_INDENT_2)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tokens-")
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, body)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def add_token(
    path: Path, province_code: str, *, label: str = "", expires_at: datetime | None = None
) -> tuple[str, TokenInfo]:
    """Create a token for a province, store its hash; return (plaintext, entry)."""
    if expires_at is not None and expires_at.tzinfo is None:
        raise ValueError("expires_at must be timezone-aware")
    token = new_token()
    info = TokenInfo(hash_token(token), province_code, expires_at, label)
    write_token_file(path, [*read_token_file(path), info])
    return token, info


def revoke_tokens(path: Path, *, label: str) -> int:
    """Remove every entry with this label; return how many were removed."""
    entries = read_token_file(path)
    kept = [e for e in entries if e.label != label]
    write_token_file(path, kept)
    return len(entries) - len(kept)


class TokenStore:
    """Looks tokens up by hash; reloads the file when it changes on disk."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._stamp: tuple[int, int] | None = None
        self._by_hash: dict[str, TokenInfo] = {}
        self.reload_if_changed()

    def _file_stamp(self) -> tuple[int, int] | None:
        try:
            st = self._path.stat()
        except FileNotFoundError:
            return None
        return (st.st_mtime_ns, st.st_size)

    def reload_if_changed(self) -> None:
        stamp = self._file_stamp()
        if stamp == self._stamp and (stamp is not None or not self._by_hash):
            return
        try:
            entries = read_token_file(self._path)
        except (TokenFileError, ValueError) as exc:
            # Keep serving with the previous tokens rather than locking everyone out.
            log.error("token file %s unusable, keeping %d previous tokens: %s",
                      self._path, len(self._by_hash), exc)
            self._stamp = stamp
            return
        self._by_hash = {e.token_sha256: e for e in entries}
        self._stamp = stamp
        log.info("loaded %d gateway tokens from %s", len(entries), self._path)

    def lookup(self, token: str) -> TokenInfo | None:
        """The entry for a plaintext token, or None when unknown."""
        self.reload_if_changed()
        digest = hash_token(token)
        info = self._by_hash.get(digest)
        if info is None or not hmac.compare_digest(info.token_sha256, digest):
            return None
        return info

    def __len__(self) -> int:
        return len(self._by_hash)
