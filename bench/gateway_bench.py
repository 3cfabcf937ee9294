"""Gateway throughput and latency: one gateway process, a real Tansu broker, 500-event requests.

    python bench/gateway_bench.py [--quick] [--clients 8] [--seconds 10] [--runs 3]

1. Throughput: ``--clients`` keep-alive connections send 500-event JSON arrays (34 province
   tokens, round robin) as fast as the gateway answers; events/s accepted (every request must
   be a 200), median of ``--runs`` runs.
2. Latency: an open-loop load at half the target (10,000 events/s = 20 requests/s), plus half
   the measured throughput; p50/p99 request latency.
Targets (issue #6): >= 20,000 events/s; p99 <= 100 ms at half load. The load generator runs
in this process and shares the 2 cores with the gateway (and with other engineers' work).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from antt.kafka import ensure_topics  # noqa: E402
from antt.settings import load_settings  # noqa: E402
from devstack.stack import Server, _http_ping, _tcp_answers, free_port, tansu_binary  # noqa: E402
from ingest.simulate import generate  # noqa: E402
from ingest.tokens import add_token  # noqa: E402

TARGET_EVENTS_S = 20_000
EVENTS_PER_REQUEST = 500


def build_bodies(count: int) -> list[tuple[str, bytes]]:
    """``count`` request bodies of 500 valid events of one province each (simulated stream)."""
    sim = generate(42, n_events=count * EVENTS_PER_REQUEST + 20_000, now=datetime.now(UTC))
    by_province: dict[str, list[dict]] = {}
    for item in sim.items:
        by_province.setdefault(item.province, []).append(item.value)
    bodies: list[tuple[str, bytes]] = []
    while len(bodies) < count:
        progressed = False
        for province, events in by_province.items():
            if len(events) >= EVENTS_PER_REQUEST and len(bodies) < count:
                chunk, by_province[province] = events[:EVENTS_PER_REQUEST], events[
                    EVENTS_PER_REQUEST:]
                bodies.append((province, orjson.dumps(chunk)))
                progressed = True
        if not progressed:
            break
    return bodies


async def post(session: aiohttp.ClientSession, url: str, token: str, body: bytes) -> float:
    started = time.perf_counter()
    async with session.post(url, data=body, headers={
            "Authorization": f"Bearer {token}", "Content-Type": "application/json"}) as resp:
        await resp.read()
        if resp.status != 200:
            raise RuntimeError(f"gateway answered {resp.status}")
    return time.perf_counter() - started


async def throughput(url: str, tokens: dict[str, str], bodies: list[tuple[str, bytes]],
                     clients: int, seconds: float) -> float:
    connector = aiohttp.TCPConnector(limit=clients)
    sent = 0
    deadline = time.perf_counter() + seconds
    async with aiohttp.ClientSession(connector=connector) as session:
        async def worker(offset: int) -> None:
            nonlocal sent
            i = offset
            while time.perf_counter() < deadline:
                province, body = bodies[i % len(bodies)]
                await post(session, url, tokens[province], body)
                sent += EVENTS_PER_REQUEST
                i += clients
        started = time.perf_counter()
        await asyncio.gather(*(worker(c) for c in range(clients)))
        return sent / (time.perf_counter() - started)


async def latency(url: str, tokens: dict[str, str], bodies: list[tuple[str, bytes]],
                  events_s: float, seconds: float) -> tuple[float, float, int]:
    """Open loop: requests start on schedule whatever the answers; (p50 ms, p99 ms, n)."""
    interval = EVENTS_PER_REQUEST / events_s
    n = max(20, int(seconds / interval))
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=200)) as session:
        started = time.perf_counter()
        tasks = []
        for i in range(n):
            delay = started + i * interval - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            province, body = bodies[i % len(bodies)]
            tasks.append(asyncio.create_task(post(session, url, tokens[province], body)))
        times = sorted(await asyncio.gather(*tasks))
    p50 = times[len(times) // 2] * 1000
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))] * 1000
    return p50, p99, len(times)


def start_servers(tmp: Path) -> tuple[Server, subprocess.Popen, str, dict[str, str]]:
    kafka_port, gw_port = free_port(), free_port()
    listener = f"tcp://127.0.0.1:{kafka_port}"
    broker = Server("tansu", kafka_port, tmp / "tansu.log",
                    [str(tansu_binary()), "broker", "--listener-url", listener,
                     "--advertised-listener-url", listener, "--storage-engine",
                     "memory://tansu/"], _tcp_answers)
    broker.start()
    env = {**os.environ, "ANTT_KAFKA_BOOTSTRAP": f"127.0.0.1:{kafka_port}",
           "ANTT_GATEWAY_TOKENS_FILE": str(tmp / "tokens.json"),
           "ANTT_GATEWAY_PORT": str(gw_port), "ANTT_GATEWAY_RATE_PER_TOKEN": "1000",
           "ANTT_EVENTS_TOPIC": "antt.events.bench.v1", "ANTT_DLQ_TOPIC": "antt.dlq.bench.v1"}
    settings = load_settings(kafka_bootstrap=env["ANTT_KAFKA_BOOTSTRAP"],
                             events_topic=env["ANTT_EVENTS_TOPIC"],
                             dlq_topic=env["ANTT_DLQ_TOPIC"])
    ensure_topics(settings)
    from schemas.units import PROVINCES

    tokens = {p: add_token(tmp / "tokens.json", p, label="bench")[0] for p in PROVINCES}
    log = open(tmp / "gateway.log", "wb")  # noqa: SIM115 - closed with the process
    gateway = subprocess.Popen([sys.executable, "-m", "antt.cli", "gateway", "serve"], env=env,
                               stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    deadline = time.monotonic() + 30
    while not _http_ping(gw_port) and time.monotonic() < deadline:
        time.sleep(0.2)
    return broker, gateway, f"http://127.0.0.1:{gw_port}/api/v1/events", tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short runs (smoke test)")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    seconds = 3.0 if args.quick else args.seconds
    bodies = build_bodies(60 if args.quick else 200)
    with tempfile.TemporaryDirectory(prefix="antt-gw-bench-") as tmp:
        broker, gateway, url, tokens = start_servers(Path(tmp))
        try:
            asyncio.run(throughput(url, tokens, bodies, args.clients, 1.0))  # warm up
            rates = [asyncio.run(throughput(url, tokens, bodies, args.clients, seconds))
                     for _ in range(args.runs)]
            best = statistics.median(rates)
            half_target = asyncio.run(latency(url, tokens, bodies, TARGET_EVENTS_S / 2, seconds))
            half_measured = asyncio.run(latency(url, tokens, bodies, best / 2, seconds))
        finally:
            gateway.terminate()
            gateway.wait(timeout=15)
            broker.stop()
    load = os.getloadavg()
    print(f"conditions: {os.cpu_count()} CPUs, load average {load[0]:.1f}/{load[1]:.1f}/"
          f"{load[2]:.1f} (shared machine); gateway = 1 process, Tansu memory broker, "
          f"{EVENTS_PER_REQUEST}-event JSON requests, {args.clients} client connections, "
          f"load generator in the bench process")
    print(f"throughput: median {best:,.0f} events/s over {args.runs} runs of {seconds:g} s "
          f"({', '.join(f'{r:,.0f}' for r in rates)}); target >= {TARGET_EVENTS_S:,}")
    for label, (p50, p99, n), rate in (("half target", half_target, TARGET_EVENTS_S / 2),
                                       ("half measured", half_measured, best / 2)):
        print(f"latency at {label} ({rate:,.0f} events/s, {n} requests): p50 {p50:.1f} ms, "
              f"p99 {p99:.1f} ms; target p99 <= 100 ms")


if __name__ == "__main__":
    main()
