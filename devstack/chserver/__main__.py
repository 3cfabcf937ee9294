"""``python -m devstack.chserver --host H --port P --path DATA_DIR [--users U] [--log-file F]``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

from devstack.chserver.auth import load_users
from devstack.chserver.server import ChServer, DataDirBusyError

logger = logging.getLogger("devstack.chserver")


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m devstack.chserver",
        description="Local ClickHouse-HTTP-compatible server over the embedded chDB engine "
        "(dev/test only).",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8123, help="0 picks a free port")
    parser.add_argument("--path", type=Path, required=True, help="chDB data directory")
    parser.add_argument("--users", type=Path, default=None, help="users JSON file")
    parser.add_argument("--log-file", type=Path, default=None)
    parser.add_argument("--log-level", default="INFO")
    return parser.parse_args(argv)


def _setup_logging(log_file: Path | None, level: str) -> None:
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_file, encoding="utf-8"))
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=handlers,
    )


async def _serve(args: argparse.Namespace) -> None:
    server = ChServer(args.path, load_users(args.users), args.host, args.port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    port = await server.start()
    logger.info("listening on %s:%d (data %s)", args.host, port, args.path)
    for handler in logging.getLogger().handlers:
        handler.flush()
    try:
        await stop.wait()
    finally:
        logger.info("stopping")
        await server.stop()
        logger.info("stopped")


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    _setup_logging(args.log_file, args.log_level)
    try:
        asyncio.run(_serve(args))
    except (DataDirBusyError, ValueError, OSError) as exc:
        logger.error("cannot serve: %s", exc)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
