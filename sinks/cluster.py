"""Turn the single-node DDL of the migration files into DDL for a ClickHouse cluster.

The migration files under ``sinks/`` are the only copy of the schema. On a cluster
(``settings.clickhouse_cluster`` set) each statement goes through :func:`to_cluster`:

- a MergeTree-family table ``db.t`` becomes ``db.t_local`` with the Replicated engine
  (``/clickhouse/tables/{shard}/{database}/{table}``, ``{replica}``) plus a ``Distributed``
  table ``db.t`` over it, so readers and writers keep using the name they know;
  Null/Memory/Log tables get the same local + Distributed pair without replication;
- the sharding key is ``cityHash64(<ORDER BY>)`` (or of the first column when the table has no
  sorting key): deterministic, so a retried insert splits into the same per-shard blocks (dedup
  tokens keep working) and rows that ReplacingMergeTree must collapse land on the same shard;
- a materialized view ``TO db.t`` writes to ``db.t_local`` and reads its FROM table's local
  name, so it fires on each shard for the rows that shard received;
- every DDL statement gets ``ON CLUSTER``; access-control statements, ``INSERT`` and ``SET``
  pass unchanged (users and roles live in replicated access storage, inserts go through the
  Distributed tables).

Anything else raises :class:`ClusterDDLError` rather than producing single-node DDL silently.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

REPLICA_PATH = "/clickhouse/tables/{shard}/{database}/{table}"
REPLICA_NAME = "{replica}"
LOCAL_SUFFIX = "_local"

# Engines whose tables are split into a local table per shard plus a Distributed table.
_LOCAL_ENGINES = {"Null", "Memory", "Log", "TinyLog", "StripeLog"}
# Statements that replicated access storage or the Distributed tables already handle.
_PASS_THROUGH = {"INSERT", "SET", "SELECT", "WITH", "USE"}
_ACCESS_OBJECTS = {"USER", "ROLE", "QUOTA", "ROW", "POLICY", "SETTINGS", "PROFILE"}
# Clauses that end an ORDER BY expression in a table definition.
_CLAUSES = {"PARTITION", "PRIMARY", "SAMPLE", "TTL", "SETTINGS", "COMMENT", "AS", "POPULATE"}
_COLUMN_ALTERS = {"ADD", "DROP", "MODIFY", "RENAME", "COMMENT", "CLEAR"}

_TOKEN_RE = re.compile(
    r"""(?P<ws>\s+)
      | (?P<comment>--[^\n]*|\#[^\n]*|/\*.*?\*/)
      | (?P<string>'(?:[^'\\]|\\.|'')*')
      | (?P<qident>`(?:[^`\\]|\\.)*`|"(?:[^"\\]|\\.)*")
      | (?P<word>[A-Za-z_][A-Za-z0-9_$]*)
      | (?P<number>\d[\w.]*)
      | (?P<punct>.)""",
    re.VERBOSE | re.DOTALL,
)


_Change = tuple[int, int, str]  # replace sql[start:end] with text


class ClusterDDLError(ValueError):
    """A statement that cannot be turned into cluster DDL safely."""


@dataclass(frozen=True)
class Token:
    kind: str  # word, qident, string, number, punct
    text: str
    start: int
    end: int
    depth: int  # parenthesis depth before this token

    @property
    def upper(self) -> str:
        return self.text.upper() if self.kind == "word" else ""


@dataclass(frozen=True)
class Name:
    """A ``[db.]name`` reference and where it sits in the statement."""

    database: Token | None
    table: Token
    end: int  # index of the token after the name

    def sql(self, suffix: str = "") -> str:
        table = _ident(_unquote(self.table) + suffix)
        return f"{_ident(_unquote(self.database))}.{table}" if self.database else table


def tokenize(sql: str) -> list[Token]:
    """Tokens of ``sql`` without whitespace and comments; unbalanced parentheses raise."""
    tokens: list[Token] = []
    depth = 0
    for match in _TOKEN_RE.finditer(sql):
        kind = match.lastgroup or "punct"
        if kind in ("ws", "comment"):
            continue
        text = match.group()
        if text == ")":
            depth -= 1
            if depth < 0:
                raise ClusterDDLError("unbalanced ')' in statement")
        tokens.append(Token(kind, text, match.start(), match.end(), depth))
        if text == "(":
            depth += 1
    if depth:
        raise ClusterDDLError("unbalanced '(' in statement")
    return tokens


def split_statements(sql: str) -> list[str]:
    """Split a migration file into statements at top-level ``;`` (strings, comments respected)."""
    cuts = [t.start for t in tokenize(sql) if t.text == ";" and t.depth == 0]
    pieces, begin = [], 0
    for cut in [*cuts, len(sql)]:
        piece = sql[begin:cut].strip()
        if tokenize(piece):
            pieces.append(piece)
        begin = cut + 1
    return pieces


def to_cluster(statement: str, cluster: str) -> list[str]:
    """The cluster statements, in order, that replace one single-node ``statement``."""
    sql = statement.strip().rstrip(";").rstrip()
    tokens = tokenize(sql)
    if not tokens:
        return []
    if any(
        t.upper == "CLUSTER" and i and tokens[i - 1].upper == "ON" for i, t in enumerate(tokens)
    ):
        raise ClusterDDLError("statement already has ON CLUSTER: migrations must be single-node")
    verb = tokens[0].upper
    if verb in ("GRANT", "REVOKE") or _is_access_statement(tokens):
        return _access(sql, tokens)
    if verb in _PASS_THROUGH:
        return [sql]
    if verb == "CREATE":
        return _create(sql, tokens, cluster)
    if verb == "ALTER" and _word(tokens, 1) == "TABLE":
        return _alter(sql, tokens, cluster)
    if verb == "DROP":
        return _drop(sql, tokens, cluster)
    if verb in ("TRUNCATE", "OPTIMIZE"):
        index = 2 if _word(tokens, 1) == "TABLE" else 1
        index = _skip_words(tokens, index, ("IF", "EXISTS"))
        name = _name(tokens, index)
        return [_rename(sql, tokens, name, LOCAL_SUFFIX, cluster)]
    raise ClusterDDLError(f"no cluster form for statement starting {tokens[0].text!r}")


def _create(sql: str, tokens: list[Token], cluster: str) -> list[str]:
    index = _skip_words(tokens, 1, ("OR", "REPLACE"))
    kind = _word(tokens, index)
    if kind == "MATERIALIZED" and _word(tokens, index + 1) == "VIEW":
        return _materialized_view(sql, tokens, _name_after(tokens, index + 2), cluster)
    if kind == "TABLE":
        return _table(sql, tokens, _name_after(tokens, index + 1), cluster)
    if kind in ("VIEW", "DATABASE", "DICTIONARY", "FUNCTION"):
        name = _name_after(tokens, index + 1)
        return [_rename(sql, tokens, name, "", cluster)]
    if kind in ("TEMPORARY", "LIVE", "WINDOW"):
        raise ClusterDDLError(f"CREATE {kind} has no cluster form here")
    raise ClusterDDLError(f"no cluster form for CREATE {kind or tokens[index].text}")


def _table(sql: str, tokens: list[Token], name: Name, cluster: str) -> list[str]:
    engine_at = _engine_at(tokens, name.end, len(tokens))
    if engine_at is None:
        raise ClusterDDLError(f"CREATE TABLE {name.sql()} names no ENGINE")
    engine_name = tokens[engine_at].text
    if engine_name.startswith("Replicated") or engine_name == "Distributed":
        raise ClusterDDLError(f"{engine_name} in a single-node migration: use the plain engine")
    if not (engine_name.endswith("MergeTree") or engine_name in _LOCAL_ENGINES):
        return [_rename(sql, tokens, name, "", cluster)]
    edits = [(name, LOCAL_SUFFIX)]
    as_at = _find_word(tokens, "AS", name.end, depth=0)
    if as_at is not None:  # CREATE TABLE t AS other ENGINE = ...: copy the other's local table
        if as_at > engine_at or tokens[as_at + 1].kind not in ("word", "qident"):
            raise ClusterDDLError("CREATE TABLE ... AS SELECT has no cluster form")
        if tokens[as_at + 1].upper in ("SELECT", "WITH"):
            raise ClusterDDLError("CREATE TABLE ... AS SELECT has no cluster form")
        edits.append((_name(tokens, as_at + 1), LOCAL_SUFFIX))
    changes = _engine_changes(sql, tokens, engine_at)
    local = _splice(sql, tokens, edits, name, cluster, changes)
    key = _sharding_key(tokens, name.end, engine_at)
    return [local, _distributed(tokens, name, key, cluster)]


def _materialized_view(sql: str, tokens: list[Token], name: Name, cluster: str) -> list[str]:
    as_at = _find_word(tokens, "AS", name.end, depth=0)
    if as_at is None:
        raise ClusterDDLError(f"materialized view {name.sql()} has no AS SELECT")
    source = _source_table(tokens, as_at + 1)
    if source is None:
        raise ClusterDDLError(f"materialized view {name.sql()}: no FROM table found")
    edits = [(source, LOCAL_SUFFIX)]
    to_at = _find_word(tokens, "TO", name.end, depth=0, stop=as_at)
    if to_at is not None:
        edits.append((_name(tokens, to_at + 1), LOCAL_SUFFIX))
        return [_splice(sql, tokens, edits, name, cluster)]
    engine_at = _engine_at(tokens, name.end, as_at)
    if engine_at is None:
        raise ClusterDDLError(f"materialized view {name.sql()} has neither TO nor ENGINE")
    # A view with an inner table: shard it like a table (view_local + Distributed view).
    changes = _engine_changes(sql, tokens, engine_at)
    local = _splice(sql, tokens, [*edits, (name, LOCAL_SUFFIX)], name, cluster, changes)
    key = _sharding_key(tokens, name.end, engine_at)
    return [local, _distributed(tokens, name, key, cluster)]


def _access(sql: str, tokens: list[Token]) -> list[str]:
    """Grants and row policies on ``db.t`` also cover ``db.t_local``, which shards read.

    A query through a Distributed table runs on each shard against the local table as the
    same user (the cluster has a ``<secret>``), so a grant or policy on only the Distributed
    name would deny or leak there. ClickHouse accepts grants on tables that do not exist, so
    the twin is harmless for views. No ON CLUSTER: access entities live in replicated storage.
    """
    on_at = _find_word(tokens, "ON", 1, depth=0)
    if on_at is None or on_at + 3 >= len(tokens) or tokens[on_at + 2].text != ".":
        return [sql]
    if tokens[on_at + 3].kind not in ("word", "qident"):  # db.* or *.*
        return [sql]
    name = _name(tokens, on_at + 1)
    first = name.database or name.table
    twin = sql[: first.start] + name.sql(LOCAL_SUFFIX) + sql[name.table.end :]
    return [sql, twin]


def _alter(sql: str, tokens: list[Token], cluster: str) -> list[str]:
    name = _name(tokens, 2)
    local = _rename(sql, tokens, name, LOCAL_SUFFIX, cluster)
    commands = [tokens[name.end]] + [
        tokens[i + 1] for i, t in enumerate(tokens) if t.text == "," and t.depth == 0
    ]
    column_ops = [
        c.upper in _COLUMN_ALTERS and _word(tokens, tokens.index(c) + 1) == "COLUMN"
        for c in commands
    ]
    if all(column_ops):
        return [local, _rename(sql, tokens, name, "", cluster)]
    if any(column_ops):
        raise ClusterDDLError("split column and non-column ALTER commands into two statements")
    return [local]


def _drop(sql: str, tokens: list[Token], cluster: str) -> list[str]:
    kind = _word(tokens, 1)
    index = _skip_words(tokens, 2, ("IF", "EXISTS"))
    name = _name(tokens, index)
    if kind != "TABLE":
        return [_rename(sql, tokens, name, "", cluster)]
    distributed = _rename(sql, tokens, name, "", cluster)
    local = _rename(sql, tokens, name, LOCAL_SUFFIX, cluster)
    if index == 2:  # the local table may not exist (a table that was never sharded)
        local = local.replace(tokens[1].text, f"{tokens[1].text} IF EXISTS", 1)
    return [distributed, local]


def _engine_at(tokens: list[Token], begin: int, stop: int) -> int | None:
    engine = _find_word(tokens, "ENGINE", begin, depth=0, stop=stop)
    if engine is None or engine + 1 >= len(tokens):
        return None
    return engine + 2 if tokens[engine + 1].text == "=" else engine + 1


def _engine_changes(sql: str, tokens: list[Token], engine_at: int) -> list[_Change]:
    """``XMergeTree(args)`` -> ``ReplicatedXMergeTree('<path>', '{replica}', args)``."""
    engine = tokens[engine_at]
    if not engine.text.endswith("MergeTree"):
        return []
    head = f"Replicated{engine.text}({_literal(REPLICA_PATH)}, {_literal(REPLICA_NAME)}"
    following = tokens[engine_at + 1] if engine_at + 1 < len(tokens) else None
    if following is None or following.text != "(":
        return [(engine.start, engine.end, head + ")")]
    close = tokens[_closing(tokens, engine_at + 1)]
    args = sql[following.end : close.start].strip()
    return [(engine.start, close.end, f"{head}, {args})" if args else f"{head})")]


def _sharding_key(tokens: list[Token], begin: int, engine_at: int) -> str:
    order = _find_word(tokens, "ORDER", engine_at, depth=0)
    if order is not None and _word(tokens, order + 1) == "BY":
        end = order + 2
        while end < len(tokens) and not (tokens[end].depth == 0 and tokens[end].upper in _CLAUSES):
            end += 1
        expr = _text(tokens, order + 2, end)
        if tokens[order + 2].text == "(" and _closing(tokens, order + 2) == end - 1:
            expr = _text(tokens, order + 3, end - 1)
        if expr and expr.replace(" ", "").lower() not in ("tuple()", ""):
            return f"cityHash64({expr})"
    first_column = tokens[begin + 1] if tokens[begin].text == "(" else None
    if first_column is None or first_column.kind not in ("word", "qident"):
        raise ClusterDDLError("no sorting key and no column list to derive a sharding key from")
    return f"cityHash64({first_column.text})"


def _distributed(tokens: list[Token], name: Name, key: str, cluster: str) -> str:
    replace = " OR REPLACE" if _word(tokens, 1) == "OR" else ""
    if_not_exists = " IF NOT EXISTS" if any(t.upper == "EXISTS" for t in tokens[: name.end]) else ""
    database = _literal(_unquote(name.database)) if name.database else "currentDatabase()"
    local = _unquote(name.table) + LOCAL_SUFFIX
    return (
        f"CREATE{replace} TABLE{if_not_exists} {name.sql()} ON CLUSTER {_literal(cluster)}"
        f" AS {name.sql(LOCAL_SUFFIX)}\n"
        f"ENGINE = Distributed({_literal(cluster)}, {database}, {_literal(local)}, {key})"
    )


def _rename(sql: str, tokens: list[Token], name: Name, suffix: str, cluster: str) -> str:
    return _splice(sql, tokens, [(name, suffix)], name, cluster)


def _splice(
    sql: str,
    tokens: list[Token],
    edits: list[tuple[Name, str]],
    anchor: Name,
    cluster: str,
    changes: list[_Change] | None = None,
) -> str:
    """Rename each edited name (``suffix`` appended), apply ``changes``, add ON CLUSTER."""
    after = anchor.end
    if _word(tokens, after) == "UUID":
        after += 2
    cluster_at = tokens[after - 1].end
    todo = [*(changes or []), (cluster_at, cluster_at, f" ON CLUSTER {_literal(cluster)}")]
    for name, suffix in edits:
        first = name.database or name.table
        if suffix:
            todo.append((first.start, name.table.end, name.sql(suffix)))
    for start, end, text in sorted(todo, key=lambda c: c[0], reverse=True):
        sql = sql[:start] + text + sql[end:]
    return sql


def _source_table(tokens: list[Token], begin: int) -> Name | None:
    """The first table read by the SELECT starting at ``begin`` (inside one subquery level)."""
    base = tokens[begin].depth
    for depth in (base, base + 1):
        for i in range(begin, len(tokens) - 1):
            if tokens[i].upper == "FROM" and tokens[i].depth == depth:
                if tokens[i + 1].kind in ("word", "qident"):
                    return _name(tokens, i + 1)
    return None


def _name(tokens: list[Token], index: int) -> Name:
    if index >= len(tokens) or tokens[index].kind not in ("word", "qident"):
        raise ClusterDDLError("expected a table name")
    if index + 2 < len(tokens) and tokens[index + 1].text == ".":
        return Name(tokens[index], tokens[index + 2], index + 3)
    return Name(None, tokens[index], index + 1)


def _name_after(tokens: list[Token], index: int) -> Name:
    return _name(tokens, _skip_words(tokens, index, ("IF", "NOT", "EXISTS")))


def _find_word(
    tokens: list[Token], word: str, begin: int, depth: int, stop: int | None = None
) -> int | None:
    for i in range(begin, len(tokens) if stop is None else stop):
        if tokens[i].upper == word and tokens[i].depth == depth:
            return i
    return None


def _closing(tokens: list[Token], open_at: int) -> int:
    depth = tokens[open_at].depth
    for i in range(open_at + 1, len(tokens)):
        if tokens[i].text == ")" and tokens[i].depth == depth:
            return i
    raise ClusterDDLError("unbalanced parentheses")


def _skip_words(tokens: list[Token], index: int, words: tuple[str, ...]) -> int:
    while index < len(tokens) and tokens[index].upper in words:
        index += 1
    return index


def _word(tokens: list[Token], index: int) -> str:
    return tokens[index].upper if index < len(tokens) else ""


def _text(tokens: list[Token], begin: int, end: int) -> str:
    out = ""
    for i in range(begin, end):
        gap = i > begin and tokens[i].start > tokens[i - 1].end
        out += (" " if gap else "") + tokens[i].text
    return out


def _is_access_statement(tokens: list[Token]) -> bool:
    index = _skip_words(tokens, 1, ("OR", "REPLACE"))
    return (
        tokens[0].upper in ("CREATE", "ALTER", "DROP") and _word(tokens, index) in _ACCESS_OBJECTS
    )


def _unquote(token: Token | None) -> str:
    if token is None:
        return ""
    return token.text[1:-1] if token.kind == "qident" else token.text


def _ident(name: str) -> str:
    return (
        name
        if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name)
        else "`" + name.replace("`", "\\`") + "`"
    )


def _literal(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
