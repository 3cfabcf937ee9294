"""Start and stop the server as a child process (for tests, benchmarks and the dev stack)."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

_LISTENING_RE = re.compile(rb"listening on (\S+):(\d+)")


class ServerStartError(RuntimeError):
    """The server process exited or did not report its port in time."""


@dataclass
class ServerProcess:
    proc: subprocess.Popen[bytes]
    host: str
    port: int
    log_file: Path

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stop(self, timeout: float = 20.0) -> int:
        """SIGTERM, wait for a clean exit (chDB closed); SIGKILL only if it hangs."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout)
        return self.proc.returncode


def start_server(
    path: Path,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    users: Path | None = None,
    log_file: Path | None = None,
    timeout: float = 60.0,
) -> ServerProcess:
    """Run ``python -m devstack.chserver`` and wait until it logs the port it listens on."""
    log_file = log_file or path.parent / f"{path.name}.chserver.log"
    log_file.parent.mkdir(parents=True, exist_ok=True)
    log_file.write_bytes(b"")
    cmd = [
        sys.executable,
        "-m",
        "devstack.chserver",
        "--host",
        host,
        "--port",
        str(port),
        "--path",
        str(path),
        "--log-file",
        str(log_file),
    ]
    if users is not None:
        cmd += ["--users", str(users)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        match = _LISTENING_RE.search(log_file.read_bytes())
        if match:
            return ServerProcess(proc, host, int(match.group(2)), log_file)
        if proc.poll() is not None:
            raise ServerStartError(
                f"chserver exited with {proc.returncode}: "
                f"{log_file.read_text(errors='replace')[-2000:]}"
            )
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    raise ServerStartError(f"chserver did not start within {timeout}s")
