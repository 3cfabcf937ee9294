"""Why the worker seeks through Faust's consumer thread: aiokafka's ``seek`` is not thread-safe.

    python bench/seek_race.py [--seconds 30] [--safe]

Faust runs the aiokafka consumer in its own thread with its own event loop, and Faust's
``Consumer.seek`` calls aiokafka's ``seek`` directly from the app's thread. That changes the
fetcher's buffers while the consumer thread reads them. This script consumes a topic in a
thread (as Faust does) while the main thread seeks at random: without ``--safe`` the seeks
are made from the main thread and the consumer thread fails (``KeyError`` in aiokafka's
``Fetcher.fetched_records``) within seconds, after which nothing is fetched; with ``--safe``
each seek is handed to the consumer thread's loop (what ``seek_wait`` does) and consuming
goes on. Measured 2026-11-22 (Tansu, 4 partitions, 4,000 records of 2 KB): cross-thread,
failure after 3,100 and 3,686 seeks; handed over, 5,733 seeks in 30 s, no failure.
Starts its own Tansu broker on a free port.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from stream_bench import start_broker

from antt.kafka import ensure_topics
from antt.settings import load_settings

TOPIC = "seek.race.v1"
N_RECORDS = 4000


def fill(bootstrap: str) -> None:
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    for i in range(N_RECORDS):
        producer.send(TOPIC, key=b"k", value=b"x" * 2000, partition=i % 4)
    producer.flush()
    producer.close()


def consume_in_thread(bootstrap: str, state: dict[str, Any]) -> asyncio.AbstractEventLoop:
    from aiokafka import AIOKafkaConsumer, TopicPartition

    loop = asyncio.new_event_loop()

    async def consume() -> None:
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                    max_partition_fetch_bytes=64 * 1024)
        await consumer.start()
        consumer.assign([TopicPartition(TOPIC, p) for p in range(4)])
        await consumer.seek_to_beginning()
        state["consumer"] = consumer
        try:
            while True:
                batch = await consumer.getmany(timeout_ms=200, max_records=50)
                for messages in batch.values():
                    state["seen"] += len(messages)
                    state["last"] = time.monotonic()
        except Exception as exc:
            state["error"] = exc

    threading.Thread(target=lambda: loop.run_until_complete(consume()), daemon=True).start()
    return loop


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--safe", action="store_true", help="seek in the consumer's thread")
    args = parser.parse_args()
    from aiokafka import TopicPartition

    broker = start_broker(Path(tempfile.mkdtemp(prefix="antt-seek-race-")))
    try:
        bootstrap = f"127.0.0.1:{broker.port}"
        ensure_topics(load_settings(kafka_bootstrap=bootstrap, events_topic=TOPIC,
                                    dlq_topic=TOPIC + ".dlq"))
        fill(bootstrap)
        state: dict[str, Any] = {"consumer": None, "seen": 0, "last": time.monotonic()}
        loop = consume_in_thread(bootstrap, state)
        while state["consumer"] is None:
            time.sleep(0.05)
        consumer, rng, seeks = state["consumer"], random.Random(1), 0
        started = time.monotonic()
        while time.monotonic() - started < args.seconds:
            tp, offset = TopicPartition(TOPIC, rng.randrange(4)), rng.randrange(N_RECORDS // 4)
            if args.safe:
                loop.call_soon_threadsafe(consumer.seek, tp, offset)
            else:
                consumer.seek(tp, offset)  # from this thread, as Faust's Consumer.seek does
            seeks += 1
            time.sleep(rng.uniform(0, 0.01))
            if "error" in state or time.monotonic() - state["last"] > 5:
                print(f"consumer failed after {seeks} seeks ({state['seen']:,} records "
                      f"read): {state.get('error')!r}")
                return 1
        print(f"no failure: {seeks} seeks in {args.seconds:.0f} s, {state['seen']:,} "
              f"records read")
        return 0
    finally:
        broker.stop()


if __name__ == "__main__":
    sys.exit(main())
