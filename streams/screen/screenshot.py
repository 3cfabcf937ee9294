"""Screenshot of the monitoring page: ``python -m streams.screen.screenshot docs/screen.png``.

With ``--url`` it shoots a running worker's page. Without, it builds the whole picture on its
own (a developer tool, not product code): the embedded local stack on free ports, one
``antt worker``, and ``antt simulate`` sending a month of simulated events up to now; it waits
until the worker has counted them, shoots the full page in headless Chromium, and stops
everything it started.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from streams.screen.browser import Browser

logger = logging.getLogger(__name__)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310 - local worker
        return json.loads(resp.read())


def _child_env(settings: Any) -> dict[str, str]:
    """Environment making an ``antt`` child process load ``settings``."""
    from antt.settings import as_env

    return {**os.environ, **as_env(settings)}


def shoot(url: str, out: Path, *, width: int, lang: str, full_page: bool) -> None:
    """Open the page, wait for live data, save a PNG of it."""
    with Browser(width=width, height=1000) as browser:
        browser.get(url)
        browser.run("try { localStorage.setItem('antt.lang', arguments[0]); } catch (e) {}", lang)
        browser.get(url)
        browser.wait_for("return +(document.body.dataset.updates || 0) >= 2", timeout=60)
        if full_page:
            height = browser.run("return document.documentElement.scrollHeight")
            browser.resize(width, int(height) + 140)  # window chrome of the headless shell
            browser.wait_for("return +(document.body.dataset.updates || 0) >= 4", timeout=20)
        out.parent.mkdir(parents=True, exist_ok=True)
        browser.screenshot(out)
    logger.info("screenshot of %s written to %s", url, out)


def _wait_settled(api: str, timeout: float) -> dict[str, Any]:
    """Wait until the worker answers and its event count has stopped growing for 3 s."""
    deadline = time.monotonic() + timeout
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        try:
            counted = _get_json(api)["freshness"]["events_counted"]
        except (OSError, urllib.error.HTTPError, KeyError):
            counted = -1
        if counted != last:
            last, since = counted, time.monotonic()
        elif counted > 0 and time.monotonic() - since > 3:
            return {"events_counted": counted}
        time.sleep(0.5)
    raise TimeoutError(f"worker did not settle in {timeout} s (last count {last})")


def _run_demo_and_shoot(out: Path, args: argparse.Namespace) -> None:
    from antt.settings import load_settings
    from devstack.stack import Stack

    root = Path(tempfile.mkdtemp(prefix="antt-screenshot-"))
    stack = Stack(root, kafka_port=_free_port(), clickhouse_port=_free_port())
    procs: list[subprocess.Popen[bytes]] = []
    try:
        stack.up()
        settings = load_settings(kafka_bootstrap=stack.kafka_bootstrap,
                                 clickhouse_url=stack.clickhouse_url, stack_dir=root,
                                 worker_data_dir=root / "worker")
        env, port = _child_env(settings), _free_port()
        with open(root / "worker.log", "wb") as log:
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "antt.cli", "worker", "--web-port", str(port),
                 "--id", "screenshot"], env=env, stdout=log, stderr=subprocess.STDOUT))
        base = f"http://127.0.0.1:{port}"
        with open(root / "simulate.log", "wb") as log:
            sim = subprocess.run(
                [sys.executable, "-m", "antt.cli", "simulate", "--via", "kafka",
                 "--as-fast-as-possible", "--rate", str(args.events / 10), "--duration", "10",
                 "--seed", "1"], env=env, stdout=log, stderr=subprocess.STDOUT, check=False)
        if sim.returncode != 0:
            raise RuntimeError(f"antt simulate failed, see {root / 'simulate.log'}")
        logger.info("worker settled: %s", _wait_settled(base + "/api/v1/live/national", 180))
        shoot(base + "/", out, width=args.width, lang=args.lang, full_page=not args.viewport)
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
        stack.down()
        shutil.rmtree(root, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m streams.screen.screenshot",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="PNG file to write, e.g. docs/screen.png")
    parser.add_argument("--url", help="shoot this running page instead of starting a demo")
    parser.add_argument("--events", type=int, default=20_000, help="simulated events (demo)")
    parser.add_argument("--width", type=int, default=1600)
    parser.add_argument("--lang", choices=["vi", "en"], default="vi")
    parser.add_argument("--viewport", action="store_true", help="first screen only")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    if args.url:
        shoot(args.url, args.out, width=args.width, lang=args.lang, full_page=not args.viewport)
    else:
        _run_demo_and_shoot(args.out, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
