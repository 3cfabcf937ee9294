"""Just enough SQL lexing to route HTTP requests: no I/O, no engine.

The server needs to know where an ``INSERT ... FORMAT X`` statement ends and its data begins,
which output format a query asks for, and the assignments of ``SET`` / ``USE`` (kept per HTTP
session instead of leaking into the shared engine connection). Everything else is the
engine's job.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from devstack.chserver.errors import SYNTAX_ERROR, ChError

_TOKEN_RE = re.compile(
    rb"""(?P<ws>\s+)
    |(?P<comment>--[^\n]*|/\*.*?\*/)
    |(?P<str>'(?:[^'\\]|\\.|'')*')
    |(?P<qid>"(?:[^"\\]|\\.)*"|`(?:[^`\\]|\\.)*`)
    |(?P<num>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)
    |(?P<word>[A-Za-z_][A-Za-z0-9_]*)
    |(?P<other>.)""",
    re.S | re.X,
)


@dataclass(frozen=True)
class Token:
    kind: str
    text: bytes
    start: int
    end: int

    @property
    def upper(self) -> str:
        return self.text.decode("utf-8", "replace").upper()


def tokens(buf: bytes, pos: int = 0) -> Iterator[Token]:
    """Significant tokens (no whitespace or comments), lazily: data after them is never read."""
    for match in _TOKEN_RE.finditer(buf, pos):
        kind = match.lastgroup or "other"
        if kind in ("ws", "comment"):
            continue
        yield Token(kind, match.group(), match.start(), match.end())


def first_keyword(buf: bytes) -> str:
    """The statement's first word in upper case ('' if it does not start with a word)."""
    for tok in tokens(buf):
        return tok.upper if tok.kind == "word" else ""
    return ""


@dataclass(frozen=True)
class InsertSplit:
    """``INSERT INTO t (cols) [SETTINGS ...]``, ``FORMAT fmt``, data from ``data_offset``."""

    statement: str
    fmt: str
    data_offset: int


def split_insert(buf: bytes) -> InsertSplit | None:
    """Split an ``INSERT ... FORMAT X`` request text into statement, format and data offset.

    Returns None for anything else (not an INSERT, ``INSERT ... VALUES``, ``INSERT ... SELECT``):
    those are run as one query. The data starts after the format name, after spaces and at
    most one line feed, as in ClickHouse.
    """
    toks = tokens(buf)
    first = next(toks, None)
    if first is None or first.upper != "INSERT":
        return None
    depth = 0
    for tok in toks:
        if tok.kind == "other":
            depth += {b"(": 1, b")": -1}.get(tok.text, 0)
            continue
        if depth or tok.kind != "word":
            continue
        word = tok.upper
        if word in ("VALUES", "SELECT", "WITH"):
            return None
        if word == "FORMAT":
            fmt_tok = next(toks, None)
            if fmt_tok is None or fmt_tok.kind != "word":
                raise ChError.make(SYNTAX_ERROR, "Syntax error: expected a format after FORMAT")
            return InsertSplit(
                statement=buf[: tok.start].decode("utf-8").strip(),
                fmt=fmt_tok.text.decode(),
                data_offset=_data_start(buf, fmt_tok.end),
            )
    return None


def infile_statement(statement: str, path: str, fmt: str) -> str:
    """``INSERT INTO t (cols) [SETTINGS ...]`` -> the same reading ``path`` in ``fmt``.

    ClickHouse's grammar puts ``FROM INFILE`` before the statement's own ``SETTINGS``.
    """
    raw = statement.encode("utf-8")
    depth, cut = 0, len(raw)
    for tok in tokens(raw):
        if tok.kind == "other":
            depth += {b"(": 1, b")": -1}.get(tok.text, 0)
        elif not depth and tok.kind == "word" and tok.upper == "SETTINGS":
            cut = tok.start
            break
    parts = [raw[:cut].decode().rstrip(), "FROM INFILE", quote_string(path),
             raw[cut:].decode().strip(), "FORMAT", fmt]
    return " ".join(part for part in parts if part)


def _data_start(buf: bytes, pos: int) -> int:
    while pos < len(buf) and buf[pos] in b" \t":
        pos += 1
    if buf.startswith(b"\r\n", pos):
        return pos + 2
    if buf.startswith(b"\n", pos):
        return pos + 1
    return pos


def format_lookup(names: Iterable[str]) -> dict[str, str]:
    """Lower-case format name -> canonical name, for :func:`output_format`."""
    return {name.lower(): name for name in names}


def output_format(query: str, lookup: Mapping[str, str]) -> str | None:
    """The format named by the query's top-level ``FORMAT x`` clause (canonical name), if any.

    ``lookup`` (from :func:`format_lookup`) holds the engine's formats, so a column called
    ``format`` is not mistaken for the clause.
    """
    found = None
    depth = 0
    prev: Token | None = None
    for tok in tokens(query.encode()):
        if tok.kind == "other":
            depth += {b"(": 1, b")": -1}.get(tok.text, 0)
        elif tok.kind == "word" and prev is not None and depth == 0 and prev.upper == "FORMAT":
            found = lookup.get(tok.text.decode().lower(), found)
        prev = tok
    return found


def is_multi_statement(query: str) -> bool:
    """Whether anything but whitespace/comments follows a top-level ``;`` (ClickHouse's HTTP
    interface runs one statement per request)."""
    seen_semicolon = False
    for tok in tokens(query.encode()):
        if seen_semicolon and tok.text != b";":
            return True
        if tok.text == b";":
            seen_semicolon = True
    return False


def with_readonly(query: str, level: int) -> str:
    """Append a query-level ``SETTINGS readonly=N`` (the engine enforces it per query)."""
    return f"{query.rstrip().rstrip(';').rstrip()}\nSETTINGS readonly={level}"


def _literal(tok: Token) -> str:
    if tok.kind == "str":
        body = tok.text[1:-1].decode("utf-8")
        body = body.replace("''", "'")
        return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t", "0": "\0"}.get(m[1], m[1]), body)
    if tok.kind in ("num", "word"):
        return tok.text.decode()
    raise ChError.make(SYNTAX_ERROR, f"Syntax error: unexpected {tok.text!r} in SET")


def parse_set(stmt: str) -> list[tuple[str, str | None]]:
    """``SET a = 1, b = 'x', c = DEFAULT`` -> [(a, '1'), (b, 'x'), (c, None)]."""
    toks = list(tokens(stmt.rstrip().rstrip(";").encode()))
    if not toks or toks[0].upper != "SET":
        raise ChError.make(SYNTAX_ERROR, "Syntax error: expected SET")
    out: list[tuple[str, str | None]] = []
    i = 1
    while i < len(toks):
        if i + 2 >= len(toks) or toks[i].kind != "word" or toks[i + 1].text != b"=":
            raise ChError.make(SYNTAX_ERROR, "Syntax error: expected name = value in SET")
        name, value = toks[i].text.decode(), toks[i + 2]
        out.append((name, None if value.upper == "DEFAULT" else _literal(value)))
        i += 3
        if i < len(toks):
            if toks[i].text != b",":
                raise ChError.make(SYNTAX_ERROR, "Syntax error: expected ',' in SET")
            i += 1
    if not out:
        raise ChError.make(SYNTAX_ERROR, "Syntax error: empty SET")
    return out


def parse_use(stmt: str) -> str:
    """``USE db`` -> 'db'."""
    toks = list(tokens(stmt.rstrip().rstrip(";").encode()))
    if len(toks) != 2 or toks[1].kind not in ("word", "qid"):
        raise ChError.make(SYNTAX_ERROR, "Syntax error: expected USE <database>")
    name = toks[1].text.decode()
    return name[1:-1] if toks[1].kind == "qid" else name


def quote_string(value: str) -> str:
    """A ClickHouse string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def quote_identifier(name: str) -> str:
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"
