"""Running the gateway: in the foreground (CLI) or in a test's / benchmark's event loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from antt.settings import Settings
from ingest.deadline import guarded
from ingest.gateway import GATEWAY_KEY, Gateway, build_app

log = logging.getLogger(__name__)

# Idle keep-alive connections are closed after this many seconds.
KEEPALIVE_TIMEOUT_S = 30.0
# After a refusal that left the body unread, the rest is read and dropped for at most this
# long (so that the client sees the answer rather than a reset), then the connection closes.
LINGER_S = 2.0


@dataclass
class RunningGateway:
    runner: web.AppRunner
    server: asyncio.base_events.Server
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def gateway(self) -> Gateway:
        return self.runner.app[GATEWAY_KEY]

    async def stop(self) -> None:
        self.server.close()
        await self.runner.cleanup()


async def start_gateway(
    settings: Settings, *, host: str | None = None, port: int | None = None, **app_kwargs: Any
) -> RunningGateway:
    """Start listening (port 0 picks a free port) and return the handle."""
    app = build_app(settings, **app_kwargs)
    # auto_decompress=False: the handler inflates gzip itself, with a size limit and a
    # clear 400 for truncated input. access_log=None: the audit log replaces it, and no
    # request line or header may ever reach a log.
    runner = web.AppRunner(
        app, access_log=None, auto_decompress=False, keepalive_timeout=KEEPALIVE_TIMEOUT_S,
        lingering_time=LINGER_S,
    )
    await runner.setup()
    assert runner.server is not None
    # Listening through our own server (not a TCPSite) so that every connection is wrapped
    # in the header deadline; runner.cleanup() still shuts the connections down.
    server = await asyncio.get_running_loop().create_server(
        guarded(runner.server, settings.gateway_read_timeout_s),
        host or settings.gateway_host,
        settings.gateway_port if port is None else port,
        reuse_address=True,
    )
    bound_host, bound_port = server.sockets[0].getsockname()[:2]
    log.info("gateway listening on http://%s:%s", bound_host, bound_port)
    return RunningGateway(runner, server, str(bound_host), int(bound_port))


async def _serve(settings: Settings, host: str | None, port: int | None) -> None:
    running = await start_gateway(settings, host=host, port=port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        log.info("gateway stopping")
        await running.stop()


def serve(settings: Settings, *, host: str | None = None, port: int | None = None) -> None:
    """Run the gateway until SIGINT/SIGTERM."""
    asyncio.run(_serve(settings, host, port))
