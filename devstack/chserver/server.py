"""The aiohttp front end: sockets, keep-alive, chunked bodies; the engine on one worker thread."""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO

from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from multidict import CIMultiDict

from devstack.chserver.auth import User
from devstack.chserver.engine import Engine
from devstack.chserver.errors import BAD_ARGUMENTS, UNKNOWN_EXCEPTION, ChError
from devstack.chserver.handler import Handler, HttpRequest, HttpResponse, ping_response

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 4 * 1024**3
LOCK_NAME = ".chserver.lock"
SHUTDOWN_TIMEOUT_S = 5.0  # for running requests to finish on SIGTERM
KEEPALIVE_TIMEOUT_S = 300.0  # idle client connections (pools) are cheap to keep


class _ChRequestHandler(RequestHandler):
    """aiohttp's connection handler, with ClickHouse-style answers to malformed HTTP.

    aiohttp answers a request it cannot parse (bad request line, broken chunked framing...)
    itself, with a plain-text 400; ClickHouse clients expect ``Code: N. DB::Exception``.
    """

    version = "unknown"

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        super().handle_error(request, status, exc, message)  # logs; refuses if data was sent
        detail = " ".join((message or str(exc or "") or "unknown error").split())
        code = BAD_ARGUMENTS if status < 500 else UNKNOWN_EXCEPTION
        err = ChError.make(code, f"Cannot read the HTTP request: {detail}")
        resp = web.Response(
            status=status if status < 500 else err.status,
            body=err.body(self.version),
            headers={"Content-Type": "text/plain; charset=UTF-8",
                     "X-ClickHouse-Exception-Code": str(err.code)},
        )
        resp.force_close()
        return resp


class DataDirBusyError(RuntimeError):
    """Another process serves this data directory."""


def lock_data_dir(path: Path) -> IO[bytes]:
    """Hold an exclusive lock on ``path`` for the life of the process (one owner per dir)."""
    path.mkdir(parents=True, exist_ok=True)
    handle = open(path / LOCK_NAME, "a+b")  # noqa: SIM115 - kept open while serving
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise DataDirBusyError(f"{path} is already served by another process") from None
    handle.truncate(0)
    handle.write(str(os.getpid()).encode())
    handle.flush()
    return handle


class ChServer:
    """A ClickHouse-HTTP-compatible server over chDB on ``data_dir``."""

    def __init__(self, data_dir: Path, users: dict[str, User], host: str, port: int) -> None:
        self.data_dir, self.users, self.host, self.port = data_dir, users, host, port
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="chdb")
        self._runner: web.AppRunner | None = None
        self._handler: Handler | None = None
        self._lock: IO[bytes] | None = None
        self._server: asyncio.base_events.Server | None = None

    async def start(self) -> int:
        """Open the engine, bind the socket; returns the bound port."""
        self._lock = lock_data_dir(self.data_dir)
        loop = asyncio.get_running_loop()
        engine = await loop.run_in_executor(self._executor, Engine, self.data_dir)
        self._handler = Handler(engine, self.users)
        app = web.Application(client_max_size=MAX_BODY_BYTES)
        app.router.add_route("*", "/{tail:.*}", self._serve)
        self._runner = web.AppRunner(
            app,
            access_log=None,
            handle_signals=False,
            auto_decompress=False,
            shutdown_timeout=SHUTDOWN_TIMEOUT_S,
            keepalive_timeout=KEEPALIVE_TIMEOUT_S,
        )
        await self._runner.setup()
        manager = self._runner.server
        assert manager is not None
        version = engine.version

        def connection() -> _ChRequestHandler:
            handler = _ChRequestHandler(manager, loop=loop, **manager._kwargs)  # noqa: SLF001
            handler.version = version
            return handler

        # Our own listening socket (not a TCPSite), so that every connection gets the handler
        # above; runner.cleanup() still shuts the connections down (the manager tracks them).
        self._server = await loop.create_server(
            connection, self.host, self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        assert self._handler is not None
        req = HttpRequest(
            method=request.method,
            path=request.path,
            query=list(request.query.items()),
            headers=CIMultiDict(request.headers),
        )
        trivial = ping_response(req)  # answered here: health checks never wait on the engine
        if trivial is not None:
            return _to_aiohttp(trivial)
        try:
            req.body = await request.read()
        except (web.HTTPException, ValueError, ConnectionError) as exc:
            err = ChError.make(BAD_ARGUMENTS, f"Cannot read the request body: {exc}")
            return _to_aiohttp(self._handler.error_response(err, ""))
        loop = asyncio.get_running_loop()
        resp = await loop.run_in_executor(self._executor, self._handler.handle, req)
        return _to_aiohttp(resp)

    async def stop(self) -> None:
        """Stop accepting, finish running requests, close chDB, release the data dir."""
        if self._server is not None:
            self._server.close()
            self._server = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._handler is not None:
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(self._executor, self._handler.engine.close)
            self._handler = None
        self._executor.shutdown(wait=True)
        if self._lock is not None:
            self._lock.close()
            self._lock = None


def _to_aiohttp(resp: HttpResponse) -> web.Response:
    return web.Response(status=resp.status, body=resp.body, headers=resp.headers)
