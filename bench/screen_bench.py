"""Benchmark the screen's push channel: 50 screens on one worker under load.

    python bench/screen_bench.py [--quick] [--clients 50] [--events N] [--rounds R]

Starts the embedded stack and one ``antt worker`` (child process), then alternates phases
with 0 and with ``--clients`` Server-Sent-Events clients on the national stream (the heaviest:
34 provinces, every period). In each phase it sends ``--events`` current events to Kafka as
fast as it can (records of 500 events of one province) and times the worker from the first
send until its live API counts them all. Reported: worker throughput (events/s, median over
rounds) with 0 vs N clients and the ratio; per client, snapshots received per second and the
longest gap between two snapshots while the worker was busy.

The SSE clients run in a child process of their own (in production the screens are other
machines, but here they share this machine's 2 cores with the worker: a pessimistic setup).
Other engineers load the CPU on shared machines: read the load average printed first.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

BATCH = 500
STREAM = "/api/v1/live/stream/national?view=screen"


# ---- SSE clients (child process) -------------------------------------------------------

async def _client(url: str, stats: dict[str, Any], ready: asyncio.Event, stop: asyncio.Event,
                  started: list[int]) -> None:
    import aiohttp

    times: list[float] = stats["times"]
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None)) as session:
        async with session.get(url) as resp:
            buf = b""
            while not stop.is_set():
                chunk = await resp.content.readany()
                if not chunk:
                    stats["ended"] = True
                    return
                buf += chunk
                frames = buf.split(b"\n\n")
                buf = frames.pop()
                for frame in frames:
                    if frame.startswith(b"id:") or b"event: snapshot" in frame:
                        times.append(time.monotonic())
                        stats["bytes"] += len(frame)
                if times and not stats["counted"]:
                    stats["counted"] = True
                    started[0] += 1
                    if started[0] == stats["n_clients"]:
                        ready.set()


async def _clients_main(url: str, n: int) -> None:
    ready, stop = asyncio.Event(), asyncio.Event()
    started = [0]
    stats = [{"times": [], "bytes": 0, "counted": False, "n_clients": n, "ended": False}
             for _ in range(n)]
    tasks = [asyncio.create_task(_client(url, s, ready, stop, started)) for s in stats]
    await asyncio.wait_for(ready.wait(), 60)
    print("ready", flush=True)
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    window = json.loads(await loop.run_in_executor(None, sys.stdin.readline))
    stop.set()
    for task in tasks:
        task.cancel()
    lo, hi = window["from"], window["to"]
    out = []
    for s in stats:
        inside = [t for t in s["times"] if lo <= t <= hi]
        gaps = [b - a for a, b in zip(inside, inside[1:], strict=False)]
        out.append({"rate": len(inside) / max(hi - lo, 1e-9), "max_gap": max(gaps, default=None),
                    "bytes": s["bytes"], "frames": len(s["times"]), "ended": s["ended"]})
    print(json.dumps(out), flush=True)


# ---- load and measurement ----------------------------------------------------------------

def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return json.loads(resp.read())


#: Event mix per 100 events: reports are a minority nationally (tens of thousands a month
#: against 10^5-10^6 events, shared/domain.md); most reports get resolved, so the open backlog
#: stays realistic instead of growing with every event sent.
MIX = (("report_received", 15), ("report_resolved", 12), ("offence_cleared", 10),
       ("suspects_apprehended", 10), ("admin_violation_sanctioned", 53))


def _province_events(rng: random.Random, n: int, communes: list[str],
                     now: datetime) -> list[dict[str, Any]]:
    """``n`` events of one province in time order; resolutions close earlier reports."""
    from schemas.examples import make_event

    kinds = [k for k, weight in MIX for _ in range(weight)]
    times = sorted(now - timedelta(seconds=rng.uniform(5, 20 * 3600)) for _ in range(n))
    open_reports: list[str] = []
    events = []
    for occurred in times:
        kind = rng.choice(kinds)
        extra: dict[str, Any] = {}
        if kind == "report_resolved":
            if not open_reports:
                kind = "report_received"
            else:
                extra["incident_id"] = open_reports.pop(rng.randrange(len(open_reports)))
        event = make_event(kind, commune_code=rng.choice(communes), occurred_at=occurred,
                           recorded_at=occurred + timedelta(seconds=2), **extra)
        if kind == "report_received":
            open_reports.append(event["incident_id"])
        events.append(event)
    return events


def _records(n: int, seed: int) -> list[tuple[bytes, bytes]]:
    """``n`` valid current events as Kafka records (key = province, value = JSON array of
    up to BATCH events), provinces interleaved, each province's events in time order."""
    import orjson

    from schemas import units

    rng = random.Random(seed)
    now = datetime.now(UTC)
    per_province = {p: 0 for p in units.PROVINCES}
    for _ in range(n):
        per_province[rng.choice(units.PROVINCES)] += 1
    chunks: list[list[tuple[bytes, bytes]]] = []
    for province, count in per_province.items():
        events = _province_events(rng, count, units.communes_of(province), now)
        chunks.append([(province.encode(), orjson.dumps(events[i:i + BATCH]))
                       for i in range(0, len(events), BATCH)])
    records = []
    for i in range(max(len(c) for c in chunks)):
        records.extend(c[i] for c in chunks if i < len(c))
    return records


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _counted(base: str) -> int:
    try:
        return int(_get_json(base + "/api/v1/live/national")["freshness"]["events_counted"])
    except OSError:
        return -1


def _phase(settings: Any, base: str, records: list[tuple[bytes, bytes]], n_events: int,
           clients: int, worker_pid: int) -> dict[str, Any]:
    from kafka import KafkaProducer

    from antt.kafka import client_config

    proc = None
    if clients:
        proc = subprocess.Popen(
            [sys.executable, __file__, "--clients-only", base + STREAM, str(clients)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None and proc.stdin is not None
        line = proc.stdout.readline().strip()
        if line != "ready":
            raise RuntimeError(f"SSE clients did not start: {line!r}")
    before = _counted(base)
    producer = KafkaProducer(**client_config(settings), linger_ms=20, batch_size=1 << 20,
                             max_request_size=8 << 20, acks=1)
    started, cpu0 = time.monotonic(), _cpu_seconds(worker_pid)
    for key, value in records:
        producer.send(settings.events_topic, key=key, value=value)
    producer.flush(60)
    sent = time.monotonic()
    while _counted(base) < before + n_events:
        if time.monotonic() - started > 600:
            raise TimeoutError("worker did not count the phase's events in 600 s")
        time.sleep(0.2)
    done, cpu1 = time.monotonic(), _cpu_seconds(worker_pid)
    producer.close(5)
    result: dict[str, Any] = {"clients": clients, "events_per_s": n_events / (done - started),
                              "events_per_cpu_s": n_events / max(cpu1 - cpu0, 1e-9),
                              "worker_cpu_share": (cpu1 - cpu0) / (done - started),
                              "send_s": sent - started, "total_s": done - started}
    if proc is not None:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(json.dumps({"from": started, "to": done}) + "\n")
        proc.stdin.flush()
        per_client = json.loads(proc.stdout.readline())
        proc.wait(30)
        rates = [c["rate"] for c in per_client]
        gaps = [c["max_gap"] for c in per_client if c["max_gap"] is not None]
        result.update(min_updates_per_s=min(rates), median_updates_per_s=statistics.median(rates),
                      kib_per_push=per_client[0]["bytes"] / 1024 / max(1, per_client[0]["frames"]),
                      max_gap_s=max(gaps, default=None),
                      clients_ended=sum(c["ended"] for c in per_client))
    return result


def _child_env(settings: Any) -> dict[str, str]:
    """Environment making an ``antt`` child process load ``settings``."""
    from antt.settings import as_env

    return {**os.environ, **as_env(settings)}


def _start_worker(settings: Any, root: Path) -> tuple[subprocess.Popen[bytes], str]:
    from devstack.stack import free_port

    port = free_port()
    with open(root / "worker.log", "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "antt.cli", "worker", "--web-port", str(port), "--id", "b1"],
            env=_child_env(settings), stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while _counted(base) < 0:
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"worker did not start, see {root / 'worker.log'}")
        time.sleep(0.3)
    return proc, base


def run(args: argparse.Namespace) -> None:
    from antt.settings import load_settings
    from devstack.stack import Stack, free_port

    load = os.getloadavg()
    print(f"conditions: {os.cpu_count()} CPUs, load average {load[0]:.1f}/{load[1]:.1f}/"
          f"{load[2]:.1f} at start (other engineers share this machine); {args.events} events "
          f"per phase in records of {BATCH}; {args.rounds} rounds of 0 vs {args.clients} "
          f"SSE clients on {STREAM} (what the page opens)", flush=True)
    with tempfile.TemporaryDirectory(prefix="antt-screen-bench-") as tmp:
        root = Path(tmp)
        stack = Stack(root, kafka_port=free_port(), clickhouse_port=free_port())
        stack.up()
        worker = None
        try:
            settings = load_settings(kafka_bootstrap=stack.kafka_bootstrap,
                                     clickhouse_url=stack.clickhouse_url, stack_dir=root,
                                     worker_data_dir=root / "worker")
            worker, base = _start_worker(settings, root)
            _phase(settings, base, _records(2000, 0), 2000, 0, worker.pid)  # warm-up
            size = len(urllib.request.urlopen(base + "/api/v1/live/national").read())
            print(f"national snapshot: {size / 1024:.0f} KiB as the API answers it", flush=True)
            results: dict[int, list[dict[str, Any]]] = {0: [], args.clients: []}
            for r in range(args.rounds):
                for clients in (0, args.clients) if r % 2 == 0 else (args.clients, 0):
                    records = _records(args.events, seed=100 * r + clients + 1)
                    res = _phase(settings, base, records, args.events, clients, worker.pid)
                    results[clients].append(res)
                    print(json.dumps({k: round(v, 3) if isinstance(v, float) else v
                                      for k, v in res.items()}), flush=True)
            _report(results, args.clients)
        finally:
            if worker is not None:
                worker.send_signal(signal.SIGTERM)
                try:
                    worker.wait(30)
                except subprocess.TimeoutExpired:
                    worker.kill()
            stack.down()


def _report(results: dict[int, list[dict[str, Any]]], clients: int) -> None:
    base = statistics.median(r["events_per_s"] for r in results[0])
    loaded = statistics.median(r["events_per_s"] for r in results[clients])
    cpu_base = statistics.median(r["events_per_cpu_s"] for r in results[0])
    cpu_loaded = statistics.median(r["events_per_cpu_s"] for r in results[clients])
    print(f"worker CPU cost, median: {cpu_base:,.0f} events per worker CPU-second with 0 "
          f"clients, {cpu_loaded:,.0f} with {clients} clients: "
          f"{100 * (cpu_loaded / cpu_base - 1):+.1f}% (what a dedicated core would give)")
    rates = [r["min_updates_per_s"] for r in results[clients]]
    gaps = [r["max_gap_s"] for r in results[clients] if r["max_gap_s"] is not None]
    print(f"worker wall-clock throughput, median: {base:,.0f} events/s with 0 clients, "
          f"{loaded:,.0f} events/s with {clients} clients: {100 * (loaded / base - 1):+.1f}%")
    print(f"per client while the worker was busy: at least {min(rates):.2f} snapshots/s "
          f"(slowest client, worst round); longest gap {max(gaps, default=float('nan')):.2f} s")


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--clients-only":
        asyncio.run(_clients_main(sys.argv[2], int(sys.argv[3])))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller load, one round")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--events", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=None)
    args = parser.parse_args()
    args.events = args.events or (30_000 if args.quick else 150_000)
    args.rounds = args.rounds or (1 if args.quick else 3)
    run(args)


if __name__ == "__main__":
    main()
