"""``antt demo`` (what ``make run`` runs): the whole pipeline on one machine.

Starts the embedded stack, creates topics and ClickHouse tables, runs a worker, a sink and the
simulator as child processes, and prints the national figures every few seconds until Ctrl-C,
which stops everything it started.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from contextlib import suppress
from pathlib import Path
from typing import Any

from antt.settings import Settings

SIMULATION_ROUND_S = 60


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser(
        "demo",
        help="run the whole pipeline locally with simulated events (make run)",
        description="Start the local stack, a worker, a sink and the simulator; print live "
        "figures until Ctrl-C, which stops everything started here.",
    )
    parser.add_argument("--rate", type=float, default=300.0, help="simulated events per second")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=0, help="stop after N s (0: until Ctrl-C)")
    parser.set_defaults(func=run)


def _spawn(args: list[str], log_path: str) -> subprocess.Popen[bytes]:
    with open(log_path, "ab") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "antt.cli", *args], stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True, env=os.environ.copy(),
        )


def _simulate(args: argparse.Namespace, seed: int, logs: Path) -> subprocess.Popen[bytes]:
    """One round of simulated traffic (the simulator works in finite rounds)."""
    argv = ["simulate", "--rate", str(args.rate), "--seed", str(seed),
            "--duration", str(SIMULATION_ROUND_S)]
    return _spawn(argv, str(logs / "simulate.log"))


def _get_json(url: str) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 - local URL
            return json.loads(resp.read())  # type: ignore[no-any-return]
    except (OSError, ValueError):
        return None


def _clickhouse_rows(settings: Settings) -> int | None:
    query = urllib.parse.quote(f"SELECT count() FROM {settings.clickhouse_database}.events_raw")
    try:
        with urllib.request.urlopen(f"{settings.clickhouse_url}/?query={query}", timeout=2) as r:  # noqa: S310
            return int(r.read())
    except (OSError, ValueError):
        return None


def _report(settings: Settings, started: float) -> str:
    live = _get_json(f"http://127.0.0.1:{settings.worker_web_port}/api/v1/live/national")
    rows = _clickhouse_rows(settings)
    if not live:
        return f"[{time.monotonic() - started:5.0f}s] worker starting... clickhouse rows={rows}"
    today = live["periods"]["today"]["figures"]
    month = live["periods"]["month"]["figures"]
    return (
        f"[{time.monotonic() - started:5.0f}s] received today={today['received']} "
        f"month={month['received']} | resolved month={month['resolved']} "
        f"| open={live['backlog']['open']} overdue={live['backlog']['overdue']} "
        f"| clickhouse rows={rows} | screen http://127.0.0.1:{settings.worker_web_port}/"
    )


def run(args: argparse.Namespace, settings: Settings) -> int:
    from devstack.stack import Stack, StackError

    stack = Stack(settings.stack_dir, settings.stack_kafka_port, settings.stack_clickhouse_port)
    try:
        stack.up()
    except StackError as exc:
        print(f"antt demo: {exc}", file=sys.stderr)
        return 1
    logs = stack.root / "logs"
    children: list[subprocess.Popen[bytes]] = []
    stop = False

    def _stop(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, _stop)
    try:
        subprocess.run([sys.executable, "-m", "antt.cli", "db", "migrate"], check=True)  # noqa: S603
        children.append(_spawn(["worker"], str(logs / "worker.log")))
        children.append(_spawn(["sink"], str(logs / "sink.log")))
        children.append(_simulate(args, args.seed, logs))
        print(f"antt demo: logs in {logs}; Ctrl-C stops everything", flush=True)
        started = time.monotonic()
        while not stop:
            if args.seconds and time.monotonic() - started > args.seconds:
                break
            simulator = children[-1]
            if simulator.poll() == 0:  # a round finished: start the next one
                children[-1] = _simulate(args, args.seed + len(children), logs)
            dead = [c for c in children if c.poll() is not None]
            if dead:
                print(f"antt demo: a process exited ({dead[0].args!r}); see {logs}",
                      file=sys.stderr)
                return 1
            print(_report(settings, started), flush=True)
            time.sleep(3)
    except KeyboardInterrupt:
        pass
    finally:
        for child in children:
            with suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
        stack.down()
        print("antt demo: stopped", flush=True)
    return 0
