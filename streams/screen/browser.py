"""A small WebDriver client for Debian's headless Chromium (chromium + chromium-driver).

Used by the screen's browser tests and by the screenshot command: it starts ``chromedriver``
on a free port and speaks W3C WebDriver over HTTP with :mod:`urllib`, so nothing beyond the
two Debian packages is needed (``deploy/local/install-browser.sh`` installs them).
"""

from __future__ import annotations

import base64
import json
import logging
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

logger = logging.getLogger(__name__)

CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM_CANDIDATES = ("/usr/lib/chromium/chromium", "/usr/bin/chromium")
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
)


class BrowserError(RuntimeError):
    """The browser or chromedriver failed, or a WebDriver command returned an error."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def find_chromium() -> str:
    """The Chromium binary to drive (the real one, not Debian's shell wrapper)."""
    for path in CHROMIUM_CANDIDATES:
        if Path(path).exists():
            return path
    raise BrowserError("chromium not found: run deploy/local/install-browser.sh")


class Browser:
    """One headless Chromium session; use as a context manager."""

    def __init__(self, *, width: int = 1600, height: int = 1200, lang: str = "vi-VN") -> None:
        self.width, self.height, self.lang = width, height, lang
        self._driver: subprocess.Popen[bytes] | None = None
        self._profile: str | None = None
        self._base = ""
        self._session = ""

    def __enter__(self) -> Browser:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def start(self) -> None:
        if not Path(CHROMEDRIVER).exists():
            raise BrowserError("chromedriver not found: run deploy/local/install-browser.sh")
        port = _free_port()
        self._driver = subprocess.Popen(
            [CHROMEDRIVER, f"--port={port}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        self._base = f"http://127.0.0.1:{port}"
        self._wait_driver()
        self._profile = tempfile.mkdtemp(prefix="antt-chromium-")
        args = [*CHROMIUM_FLAGS, f"--user-data-dir={self._profile}",
                f"--window-size={self.width},{self.height}", f"--lang={self.lang}"]
        caps = {"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": find_chromium(), "args": args},
            "goog:loggingPrefs": {"browser": "ALL"},
        }}}
        value = self._call("POST", "/session", caps)
        self._session = value["sessionId"]

    def _wait_driver(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self._call("GET", "/status").get("ready"):
                    return
            except (OSError, BrowserError):
                pass
            time.sleep(0.1)
        raise BrowserError(f"chromedriver not ready after {timeout} s")

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(  # noqa: S310 - the local chromedriver
            self._base + path, data=data, method=method,
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:  # noqa: S310 - local driver
                payload = json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")[:500]
            raise BrowserError(f"{method} {path}: HTTP {exc.code}: {detail}") from exc
        return payload.get("value")

    def _cmd(self, method: str, path: str, body: Any = None) -> Any:
        return self._call(method, f"/session/{self._session}{path}", body)

    def get(self, url: str) -> None:
        """Open ``url`` and wait for the document to load."""
        self._cmd("POST", "/url", {"url": url})

    def run(self, script: str, *args: Any) -> Any:
        """Run JavaScript in the page (``return ...`` gives the value back)."""
        return self._cmd("POST", "/execute/sync", {"script": script, "args": list(args)})

    def wait_for(self, script: str, *args: Any, timeout: float = 20.0,
                 every: float = 0.2) -> Any:
        """Poll ``script`` until it returns something truthy; raise TimeoutError otherwise."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.run(script, *args)
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"browser condition not met in {timeout} s: {script[:120]}")
            time.sleep(every)

    def resize(self, width: int, height: int) -> None:
        """Resize the window (the viewport follows in headless mode)."""
        self._cmd("POST", "/window/rect", {"width": width, "height": height})

    def console(self) -> list[dict[str, Any]]:
        """Browser console entries since the last call (level, message, timestamp)."""
        return list(self._cmd("POST", "/se/log", {"type": "browser"}) or [])

    def screenshot(self, path: Path | None = None) -> bytes:
        """PNG of the viewport; written to ``path`` when given."""
        png = base64.b64decode(self._cmd("GET", "/screenshot"))
        if path is not None:
            Path(path).write_bytes(png)
        return png

    def close(self) -> None:
        if self._session:
            try:
                self._cmd("DELETE", "")
            except (OSError, BrowserError):
                logger.warning("browser: could not end the WebDriver session cleanly")
            self._session = ""
        if self._driver is not None:
            self._driver.terminate()
            try:
                self._driver.wait(10)
            except subprocess.TimeoutExpired:
                self._driver.kill()
                self._driver.wait(5)
            self._driver = None
        if self._profile:
            shutil.rmtree(self._profile, ignore_errors=True)
            self._profile = None
