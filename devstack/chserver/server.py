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
from multidict import CIMultiDict

from devstack.chserver.auth import User
from devstack.chserver.engine import Engine
from devstack.chserver.errors import BAD_ARGUMENTS, ChError
from devstack.chserver.handler import Handler, HttpRequest, HttpResponse, ping_response

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 4 * 1024**3
LOCK_NAME = ".chserver.lock"
SHUTDOWN_TIMEOUT_S = 5.0  # for running requests to finish on SIGTERM
KEEPALIVE_TIMEOUT_S = 300.0  # idle client connections (pools) are cheap to keep


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
        site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True)
        await site.start()
        server = site._server  # noqa: SLF001 - aiohttp keeps the bound sockets here
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else self.port
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
