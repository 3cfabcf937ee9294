"""One HTTP request in, one HTTP response out: ClickHouse's HTTP interface over the engine.

No sockets here: the server adapts aiohttp requests to :class:`HttpRequest` and runs
:meth:`Handler.handle` on the single engine thread, so tests can drive it directly.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from devstack.chserver import protocol, sql
from devstack.chserver.auth import User, authenticate, credentials
from devstack.chserver.engine import Engine, Outcome
from devstack.chserver.errors import (
    BAD_ARGUMENTS,
    QUERY_IS_PROHIBITED,
    READONLY,
    SYNTAX_ERROR,
    ChError,
)
from devstack.chserver.sessions import Session, Sessions

logger = logging.getLogger(__name__)

_OK_PATHS = ("/ping", "/replicas_status")
# Statements that produce a result set (ClickHouse then reports X-ClickHouse-Format, and
# clickhouse-connect's command() returns text instead of a QuerySummary).
_DDL_KEYWORDS = frozenset(
    {"CREATE", "DROP", "ALTER", "RENAME", "TRUNCATE", "ATTACH", "DETACH", "EXCHANGE", "UNDROP"}
)
_RESULT_KEYWORDS = frozenset(
    {"SELECT", "WITH", "SHOW", "DESCRIBE", "DESC", "EXISTS", "EXPLAIN", "CHECK", "VALUES", ""}
)


@dataclass
class HttpRequest:
    method: str
    path: str
    query: list[tuple[str, str]]
    headers: Mapping[str, str]  # case-insensitive (a multidict.CIMultiDict)
    body: bytes = b""


@dataclass
class HttpResponse:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class _Context:
    """What a request resolved to, before the statement runs."""

    user: User
    params: protocol.RequestParams
    session: Session
    readonly: int
    method: str
    database_header: str | None


class Handler:
    def __init__(
        self,
        engine: Engine,
        users: Mapping[str, User],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.engine = engine
        self.users = users
        self.sessions = Sessions()
        self._clock = clock

    def handle(self, req: HttpRequest) -> HttpResponse:
        trivial = ping_response(req)
        if trivial is not None:
            return trivial
        query_id = next((v for k, v in req.query if k == "query_id" and v), str(uuid.uuid4()))
        try:
            if req.path != "/":
                raise ChError.make(BAD_ARGUMENTS, f"There is no handle {req.path}")
            return self._handle_query(req, query_id)
        except ChError as err:
            logger.info("query %s failed: code %d (%s)", query_id, err.code, err.name)
            return self.error_response(err, query_id)
        except Exception as exc:  # the server must answer, whatever broke
            logger.exception("unexpected error handling a request")
            return self.error_response(ChError.from_engine(exc), query_id)

    def error_response(self, err: ChError, query_id: str) -> HttpResponse:
        headers = {
            "Content-Type": "text/plain; charset=UTF-8",
            "X-ClickHouse-Exception-Code": str(err.code),
            "X-ClickHouse-Query-Id": query_id,
            "X-ClickHouse-Timezone": self.engine.timezone,
        }
        return HttpResponse(err.status, err.body(self.engine.version), headers)

    def _handle_query(self, req: HttpRequest, query_id: str) -> HttpResponse:
        pairs = list(req.query)
        body = protocol.decompress_body(req.body, req.headers.get("Content-Encoding"))
        ctype = req.headers.get("Content-Type", "")
        if ctype.lower().startswith("multipart/form-data"):
            pairs += protocol.parse_form(body, ctype)
            body = b""
        params = protocol.split_params(pairs)
        flags = dict(pairs)
        if flags.get("compress") == "1" or flags.get("decompress") == "1":
            raise ChError.make(
                48,
                "ClickHouse native HTTP compression (compress/decompress=1)"
                " is not supported; use Content-Encoding",
            )
        query_id = params.query_id or query_id
        ctx = self._context(req, params)
        text = params.query.encode()
        buf = text + b"\n" + body if text and body else text or body
        if not buf.strip():
            raise ChError.make(SYNTAX_ERROR, "Empty query")
        outcome, fmt = self._execute(ctx, buf, req)
        return self._success(outcome, fmt, ctx, req, query_id)

    def _context(self, req: HttpRequest, params: protocol.RequestParams) -> _Context:
        name, password = credentials(req.headers, params.user, params.password)
        user = authenticate(self.users, name, password)
        session = self.sessions.get(params.session_id, self._clock(), params.session_timeout)
        implied = 2 if req.method in ("GET", "HEAD") else 0
        readonly = max(user.readonly, params.readonly, session.readonly, implied)
        database_header = req.headers.get("X-ClickHouse-Database") or None
        return _Context(user, params, session, readonly, req.method, database_header)

    def _settings(self, ctx: _Context, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        return {**ctx.user.settings, **ctx.session.settings, **ctx.params.settings, **(extra or {})}

    def _execute(self, ctx: _Context, buf: bytes, req: HttpRequest) -> tuple[Outcome, str | None]:
        """Run the request's statement; the format is None for statements without a result."""
        split = sql.split_insert(buf)
        if split is not None:
            self._refuse_write(ctx)
            self.engine.prepare(self._settings(ctx), self._database(ctx))
            data = memoryview(buf)[split.data_offset :]
            return self.engine.insert(split.statement, split.fmt, data), None
        try:
            text = buf.decode("utf-8")
        except UnicodeDecodeError:
            raise ChError.make(BAD_ARGUMENTS, "The query is not valid UTF-8") from None
        default_fmt = (
            ctx.params.default_format or req.headers.get("X-ClickHouse-Format") or "TabSeparated"
        )
        keyword = sql.first_keyword(buf)
        if keyword != "INSERT" and sql.is_multi_statement(text):  # (INSERT data is not SQL)
            raise ChError.make(SYNTAX_ERROR, "Syntax error (Multi-statements are not allowed)")
        if keyword == "SET":
            return self._set(ctx, text), None
        if keyword == "USE":
            return self._use(ctx, text), None
        if ctx.readonly and self.engine.query_class(text) not in ("read", "unknown"):
            self._refuse_write(ctx)
        if keyword in _DDL_KEYWORDS and not _truthy(self._settings(ctx).get("allow_ddl", "1")):
            raise ChError.make(QUERY_IS_PROHIBITED, "DDL queries are prohibited for the user")
        self.engine.prepare(self._settings(ctx), self._database(ctx))
        enforced = max(ctx.user.readonly, ctx.params.readonly, ctx.session.readonly)
        run = sql.with_readonly(text, enforced) if enforced else text
        outcome = self.engine.query(run, default_fmt, ctx.params.query_params)
        if keyword == "INSERT":
            return outcome, None
        named = sql.output_format(text, self.engine.output_formats)
        return outcome, named or (default_fmt if keyword in _RESULT_KEYWORDS else None)

    def _database(self, ctx: _Context) -> str | None:
        return ctx.params.database or ctx.database_header or ctx.session.database

    def _refuse_write(self, ctx: _Context) -> None:
        if not ctx.readonly:
            return
        hint = ""
        if ctx.method in ("GET", "HEAD") and ctx.readonly == 2 and not ctx.user.readonly:
            hint = (
                ". For queries over HTTP, method GET implies readonly. "
                "You should use method POST for modifying queries"
            )
        raise ChError.make(
            READONLY, f"{ctx.user.name}: Cannot execute query in readonly mode{hint}"
        )

    def _set(self, ctx: _Context, text: str) -> Outcome:
        changes = sql.parse_set(text)
        if ctx.readonly == 1:
            name = changes[0][0]
            raise ChError.make(READONLY, f"Cannot modify '{name}' setting in readonly mode")
        updated = dict(ctx.session.settings)
        readonly = ctx.session.readonly
        for name, value in changes:
            if name == "readonly":
                readonly = _readonly_level(value)
            elif value is None:
                updated.pop(name, None)
            else:
                updated[name] = value
        self.engine.prepare(
            {**ctx.user.settings, **updated, **ctx.params.settings}, self._database(ctx)
        )
        ctx.session.settings, ctx.session.readonly = updated, max(readonly, ctx.session.readonly)
        return Outcome(b"")

    def _use(self, ctx: _Context, text: str) -> Outcome:
        database = sql.parse_use(text)
        self.engine.prepare(self._settings(ctx), database)
        ctx.session.database = database
        return Outcome(b"")

    def _success(
        self, outcome: Outcome, fmt: str | None, ctx: _Context, req: HttpRequest, query_id: str
    ) -> HttpResponse:
        tz = self._settings(ctx).get("session_timezone") or self.engine.timezone
        headers = {
            "Content-Type": protocol.content_type(fmt) if fmt else "text/plain; charset=UTF-8",
            "X-ClickHouse-Query-Id": query_id,
            "X-ClickHouse-Timezone": tz,
            "X-ClickHouse-Server-Display-Name": "chserver",
            "X-ClickHouse-Summary": json.dumps(outcome.summary(), separators=(",", ":")),
        }
        if fmt:
            headers["X-ClickHouse-Format"] = fmt
        body = outcome.body
        encoding = protocol.choose_encoding(req.headers.get("Accept-Encoding"))
        if body and encoding and self._compression_enabled(ctx):
            body = protocol.compress_body(body, encoding)
            headers["Content-Encoding"] = encoding
        if ctx.params.session_id:
            headers["X-ClickHouse-Session-Id"] = ctx.params.session_id
        logger.debug(
            "%s %s -> %s, %d bytes, encoding %s",
            req.method,
            query_id,
            fmt,
            len(body),
            headers.get("Content-Encoding"),
        )
        return HttpResponse(200, body, headers)

    def _compression_enabled(self, ctx: _Context) -> bool:
        """enable_http_compression: the URL wins, else the session/user, else on (as chDB says)."""
        if ctx.params.compress_response is not None:
            return ctx.params.compress_response
        return self._settings(ctx).get("enable_http_compression", "1").lower() in ("1", "true")


def _truthy(value: str) -> bool:
    return value.strip().lower() not in ("0", "false", "")


def _readonly_level(value: str | None) -> int:
    if value in (None, "0", "1", "2"):
        return int(value or 0)
    raise ChError.make(BAD_ARGUMENTS, f"readonly must be 0, 1 or 2, not {value!r}")


def ping_response(req: HttpRequest) -> HttpResponse | None:
    """``Ok.`` for ``/ping``, ``/replicas_status`` and a bare ``GET /`` (no engine needed)."""
    bare = (
        req.path == "/"
        and req.method in ("GET", "HEAD")
        and not any(k == "query" for k, _ in req.query)
    )
    if req.path in _OK_PATHS or bare:
        return HttpResponse(200, b"Ok.\n", {"Content-Type": "text/html; charset=UTF-8"})
    return None
