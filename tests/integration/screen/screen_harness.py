"""Helpers of the screen's browser tests: settings for child processes, the worker process.

The worker is ``antt worker`` in a child process (what ``make run`` starts), on a free web
port; it can be stopped and started again on the same port.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from antt.settings import Settings
from devstack.stack import free_port

READY_TIMEOUT_S = 90.0


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that makes a child process load exactly ``settings``."""
    env = dict(os.environ)
    for name in type(settings).model_fields:
        value: Any = getattr(settings, name)
        if value is None:
            continue
        if hasattr(value, "get_secret_value"):
            value = value.get_secret_value()
        if isinstance(value, list | dict | tuple | set):
            value = json.dumps(sorted(value) if isinstance(value, set) else value)
        env[f"ANTT_{name.upper()}"] = str(value)
    return env


def get_json(url: str, timeout: float = 5.0) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 - local worker
        return json.loads(resp.read())


class Worker:
    """One ``antt worker`` child process; can be stopped and started again on the same port."""

    def __init__(self, settings: Settings, log_dir: Path) -> None:
        self.settings = settings
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_dir = log_dir
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        log = open(self.log_dir / f"worker-{self.starts}.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "antt.cli", "worker", "--web-port", str(self.port),
             "--id", "screen-test"],
            env=settings_env(self.settings), stdout=log, stderr=subprocess.STDOUT,
        )
        log.close()

    def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> dict[str, Any]:
        """Wait until the live API answers for the whole country."""
        deadline = time.monotonic() + timeout
        last: object = None
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"worker exited with {self.proc.returncode}: {self.tail()}")
            try:
                return get_json(f"{self.url}/api/v1/live/national")  # type: ignore[no-any-return]
            except (OSError, urllib.error.HTTPError) as exc:
                last = exc
            time.sleep(0.3)
        raise AssertionError(f"worker not ready in {timeout} s ({last!r}): {self.tail()}")

    def stop(self, timeout: float = 30.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)

    def tail(self, lines: int = 30) -> str:
        path = self.log_dir / f"worker-{self.starts}.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])
