"""Tokens: stored hashed only, looked up by hash, expiring, rotated without restart."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

from ingest.tokens import TokenStore, add_token, hash_token, read_token_file, revoke_tokens


def test_token_is_stored_only_as_its_hash(tmp_path):
    path = tmp_path / "tokens.json"
    token, info = add_token(path, "01", label="hn-1")
    text = path.read_text()
    assert token not in text
    assert hash_token(token) in text
    assert info.province_code == "01"
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_lookup_known_unknown_and_expired(tmp_path):
    path = tmp_path / "tokens.json"
    now = datetime(2026, 11, 22, tzinfo=UTC)
    good, _ = add_token(path, "79", label="hcm")
    old, _ = add_token(path, "01", label="old", expires_at=now - timedelta(days=1))
    store = TokenStore(path)
    assert store.lookup(good).province_code == "79"
    assert store.lookup("antt_nope") is None
    assert store.lookup(old).expired(now)
    assert not store.lookup(good).expired(now)


def test_rotation_is_seen_without_restart(tmp_path):
    path = tmp_path / "tokens.json"
    first, _ = add_token(path, "01", label="a")
    store = TokenStore(path)
    assert store.lookup(first) is not None
    second, _ = add_token(path, "01", label="b")
    assert store.lookup(second) is not None  # picked up from the changed file
    assert revoke_tokens(path, label="a") == 1
    assert store.lookup(first) is None
    assert [e.label for e in read_token_file(path)] == ["b"]


def test_broken_file_keeps_previous_tokens(tmp_path):
    path = tmp_path / "tokens.json"
    token, _ = add_token(path, "01")
    store = TokenStore(path)
    path.write_text("{ not json")
    os.utime(path, ns=(1, 1))
    assert store.lookup(token) is not None


def test_missing_file_means_no_tokens(tmp_path):
    store = TokenStore(tmp_path / "absent.json")
    assert len(store) == 0
    assert store.lookup("anything") is None
