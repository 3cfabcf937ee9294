"""Faust's aiokafka transport, with two changes for the worker.

**A configurable fetch wait.** Faust hard-codes ``fetch_max_wait_ms=1500`` for the worker
consumer. Brokers such as the local Tansu hold a fetch for that long when little data is
waiting (measured: 400 ms median delivery delay at 1500 ms, 23 ms at 100 ms), which would
dominate the event-to-API latency. Kafka itself answers as soon as ``fetch_min_bytes`` are
there, so a short wait costs little.

**No "last read offset" for the events topic.** Faust's fetch loop keeps, per partition, the
offset of the last record it handed over, and (1) drops any record below it, (2) records
the offsets it jumped over as *gaps*, which count as acknowledged when it commits. After a
seek back (the worker's hole check and re-checks, ``streams/agents/delivery.py``), the
records of the batch Faust was still handing over raise that offset again, so (1) the
records fetched again from the seek are dropped (the partition stalls: seen in CI, and
reproduced by ``test_a_record_lost_mid_stream_is_fetched_again_at_once``), and (2) the
offsets between the seek and those records count as acknowledged, so a commit could run
ahead of the checkpoint. For the events topic the worker follows the offsets itself
(``delivery.in_sequence``: replays are skipped by position), so there Faust's last read
offset always reads as unknown: every fetched record reaches the agent, and no gap is ever
committed. Other topics (the changelog) keep Faust's behaviour.
"""

from __future__ import annotations

from typing import Any

import faust
from faust.transport.drivers import aiokafka as driver


class ReadOffsets(dict[Any, Any]):
    """Faust's ``Consumer._read_offset``, read as ``None`` (unknown) for ``topics``."""

    def __init__(self, topics: set[str]):
        super().__init__()
        self.topics = topics

    def __getitem__(self, tp: Any) -> Any:
        if tp.topic in self.topics:
            return None
        return self.get(tp)  # (Faust's is a defaultdict of None)


def fast_fetch_app(fetch_max_wait_ms: int, *args: Any, own_offsets: str = "",
                   **kwargs: Any) -> faust.App:
    """A ``faust.App`` whose worker consumer waits at most ``fetch_max_wait_ms`` per fetch,
    and has no last read offset for the topic ``own_offsets`` (see the module docstring)."""

    class FastFetchThread(driver.AIOKafkaConsumerThread):
        def _create_worker_consumer(self, transport: Any) -> Any:
            consumer = super()._create_worker_consumer(transport)
            consumer._fetch_max_wait_ms = fetch_max_wait_ms  # read when the fetcher starts
            return consumer

    class FastFetchConsumer(driver.Consumer):
        def __init__(self, *a: Any, **kw: Any) -> None:
            super().__init__(*a, **kw)
            if own_offsets:
                self._read_offset = ReadOffsets({own_offsets})

        def _new_consumer_thread(self) -> Any:
            return FastFetchThread(self, loop=self.loop, beacon=self.beacon)

    class FastFetchTransport(driver.Transport):
        Consumer = FastFetchConsumer

    class FastFetchApp(faust.App):
        def _new_transport(self) -> Any:
            return FastFetchTransport(self.conf.broker_consumer, self)

    return FastFetchApp(*args, **kwargs)
