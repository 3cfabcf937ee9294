"""``antt gateway token add|list|revoke`` through the CLI dispatcher."""

from __future__ import annotations

from antt.cli import main
from ingest.tokens import TokenStore, read_token_file


def test_token_add_prints_once_and_stores_the_hash(tmp_path, monkeypatch, capsys):
    path = tmp_path / "tokens.json"
    monkeypatch.setenv("ANTT_GATEWAY_TOKENS_FILE", str(path))
    assert main(["gateway", "token", "add", "--province", "01", "--label", "hn"]) == 0
    token = capsys.readouterr().out.strip()
    assert token.startswith("antt_") and token not in path.read_text()
    assert TokenStore(path).lookup(token).province_code == "01"
    assert main(["gateway", "token", "list"]) == 0
    listing = capsys.readouterr().out
    assert "01" in listing and "hn" in listing and token not in listing
    assert main(["gateway", "token", "revoke", "--label", "hn"]) == 0
    assert read_token_file(path) == []


def test_unknown_province_is_refused(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ANTT_GATEWAY_TOKENS_FILE", str(tmp_path / "tokens.json"))
    assert main(["gateway", "token", "add", "--province", "99"]) == 2
    assert not (tmp_path / "tokens.json").exists()
