"""The one Faust app of antt: topics, the checkpoint table, the agent, the live API.

Build it with :func:`create_app` (settings are passed in, never read here from the
environment). The monitoring page (``streams/screen/``) plugs in through
``streams.screen.views.register_views(live_app)`` when that module exists.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import faust

from antt.kafka import ssl_context
from antt.settings import Settings
from streams import live
from streams.compat import check_internals
from streams.logic.calendar import LocalCalendar
from streams.runtime import Runtime
from streams.snapshots import Policy
from streams.transport import fast_fetch_app

log = logging.getLogger(__name__)

CHECKPOINT_TABLE = "live_facts_by_province"


@dataclass
class LiveApp:
    """The Faust app plus the objects its agent, timers and views share."""

    settings: Settings
    app: faust.App
    runtime: Runtime
    cal: LocalCalendar
    events_topic: Any
    dlq_topic: Any
    table: Any
    instance_id: str
    started_at: float = field(default_factory=time.time)
    # True between Faust's "rebalance complete" (table recovered, streams about to resume)
    # and the next revocation; state is only restored from the table while it holds.
    ready: bool = False
    # partition -> the task rebuilding it now (see restore_assigned)
    restoring: dict[int, asyncio.Future[None]] = field(default_factory=dict)
    revocations: dict[int, int] = field(default_factory=dict)  # partition -> times revoked
    extras: dict[str, Any] = field(default_factory=dict)

    def assigned_partitions(self) -> set[int]:
        topic = self.settings.events_topic
        return {tp.partition for tp in self.app.assignor.assigned_actives() if tp.topic == topic}

    def restore_assigned(self) -> None:
        """Start rebuilding the assigned partitions not loaded (nor being rebuilt) yet, after
        table recovery. The rebuild runs as a task, in steps (:meth:`_restore`): the event
        loop keeps serving the other partitions and the live API meanwhile."""
        if not self.ready:
            return
        missing = self.assigned_partitions() - self.runtime.loaded - set(self.restoring)
        if missing:
            task = asyncio.ensure_future(self._restore(missing))
            self.restoring.update(dict.fromkeys(missing, task))

    async def _restore(self, partitions: set[int]) -> None:
        """Rebuild ``partitions`` off to the side, then make them this worker's at once
        (``Runtime.adopt``): a partition is counted into and answered for only whole. One
        revoked meanwhile is left out (what was built for it is dropped)."""
        started = time.monotonic()
        seen = {p: self.revocations.get(p, 0) for p in partitions}
        try:
            restored = await self.runtime.restore_async(partitions, self.table.items(),
                                                        time.time())
        except Exception:
            log.exception("restoring partitions %s failed (tried again shortly)",
                          sorted(partitions))
            return
        finally:
            for partition in partitions:
                self.restoring.pop(partition, None)
        keep = {p for p in partitions if self.revocations.get(p, 0) == seen[p]}
        replayed = self.runtime.adopt(restored, keep)  # (frozen for the GC: restore_async)
        log.info(
            "restored partitions %s of %s: %d facts replayed in %.2f s%s",
            sorted(keep), self.settings.events_topic, replayed, time.monotonic() - started,
            f" (revoked meanwhile, dropped: {sorted(partitions - keep)})"
            if partitions - keep else "",
        )


def create_app(settings: Settings, instance_id: str = "w1", web_port: int | None = None) -> LiveApp:
    check_internals()  # fail now, naming the versions, rather than quietly mid-stream
    port = web_port if web_port is not None else settings.worker_web_port
    host = settings.worker_web_host
    app = fast_fetch_app(
        settings.worker_fetch_max_wait_ms,
        settings.worker_id,
        own_offsets=settings.events_topic,
        broker=_broker_urls(settings),
        broker_credentials=_credentials(settings),
        store=settings.worker_store,
        datadir=str(settings.worker_data_dir / instance_id),
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=settings.topic_replication,
        table_standby_replicas=0,
        consumer_auto_offset_reset="earliest",
        stream_wait_empty=False,  # unacked records are replayed after a restart: no need to wait
        web_host=host,
        web_port=port,
        web_bind=host,
        canonical_url=f"http://{host}:{port}",
        producer_max_request_size=4 * 1024 * 1024,
        broker_max_poll_records=500,
        broker_session_timeout=settings.worker_session_timeout_s,
        broker_heartbeat_interval=min(1.0, settings.worker_session_timeout_s / 5),
        broker_rebalance_timeout=max(20.0, settings.worker_session_timeout_s * 2),
        autodiscover=False,
        web_enabled=True,
    )
    cal = LocalCalendar(settings.timezone, settings.statistical_month_start_day)
    runtime = Runtime(
        cal,
        settings.events_topic,
        future_tolerance_s=settings.future_tolerance_s,
        flush_interval_s=settings.live_flush_interval_s,
        policy=Policy(
            window_days=settings.acceptance_window_days,
            every_chunks=settings.worker_snapshot_every_chunks,
            min_facts=settings.worker_snapshot_min_facts,
            part_bytes=settings.worker_snapshot_part_bytes,
        ),
    )
    events_topic = app.topic(
        settings.events_topic, key_type=bytes, value_type=bytes,
        key_serializer="raw", value_serializer="raw",
        partitions=settings.topic_partitions,
    )
    dlq_topic = app.topic(
        settings.dlq_topic, key_type=bytes, value_type=bytes,
        key_serializer="raw", value_serializer="raw",
    )
    table = app.Table(
        CHECKPOINT_TABLE, key_type=str, value_type=bytes,
        partitions=settings.topic_partitions, default=None,
    )
    live_app = LiveApp(settings, app, runtime, cal, events_topic, dlq_topic, table, instance_id)
    _wire(live_app)
    return live_app


def _wire(live_app: LiveApp) -> None:
    from streams import web
    from streams.agents import count_events, delivery

    count_events.register(live_app)
    web.register(live_app)
    app = live_app.app

    # Signal handlers have mode's shape (SignalHandlerT): the sender positional-only, the
    # signal's arguments as *args (mode calls receiver(sender, *args, signal=..., **kwargs)).
    @app.on_rebalance_complete.connect
    async def on_rebalance_complete(sender: Any, /, *args: Any, **kwargs: Any) -> None:
        live_app.ready = True
        live_app.extras["ready_at"] = time.monotonic()
        count = live_app.app.consumer.topic_partitions(live_app.settings.events_topic)
        if count:
            live_app.runtime.partition_count = count
        live_app.restore_assigned()
        live_app.extras["recheck"] = asyncio.ensure_future(
            delivery.recheck_positions(live_app)
        )

    @app.on_partitions_revoked.connect
    async def on_revoked(sender: Any, /, *args: Any, **kwargs: Any) -> None:
        (revoked,) = args  # the signal's one argument: the revoked TopicPartitions
        live_app.ready = False
        topic = live_app.settings.events_topic
        gone = {tp.partition for tp in revoked if tp.topic == topic}
        for partition in gone:  # a restore under way drops what it built for these
            live_app.revocations[partition] = live_app.revocations.get(partition, 0) + 1
        if gone:
            live_app.runtime.drop(gone)
            count_events.forget(live_app, gone)
            log.info("partitions %s revoked: state dropped", sorted(gone))

    @app.timer(0.5, name="restore_assigned")
    async def restore_assigned() -> None:
        live_app.restore_assigned()

    @app.timer(live_app.settings.worker_stall_check_s, name="stall_check")
    async def stall_check() -> None:
        try:
            await delivery.check(live_app, live_app.settings.worker_stall_check_s)
        except Exception as exc:  # (e.g. a rebalance under way: the next check will do)
            log.warning("stall check skipped: %r", exc)

    flush_idle = count_events.idle_flusher(live_app)

    @app.timer(live_app.settings.live_flush_interval_s, name="flush_idle")
    async def flush_idle_timer() -> None:
        await flush_idle()

    live.install(live_app)
    _register_screen(live_app)


def _register_screen(live_app: LiveApp) -> None:
    try:
        module = importlib.import_module("streams.screen.views")
    except ModuleNotFoundError as exc:
        if exc.name not in ("streams.screen", "streams.screen.views"):
            raise
        return
    register = getattr(module, "register_views", None)
    if register is not None:
        register(live_app)


def _broker_urls(settings: Settings) -> list[str]:
    return [f"kafka://{server.strip()}" for server in settings.kafka_bootstrap.split(",")]


def _credentials(settings: Settings) -> Any:
    """Faust broker credentials: SASL (over TLS for SASL_SSL) or TLS alone, from the settings."""
    context = ssl_context(settings)
    if not settings.kafka_sasl_mechanism:
        return faust.SSLCredentials(context) if context is not None else None
    password = settings.kafka_sasl_password
    return faust.SASLCredentials(
        username=settings.kafka_sasl_username,
        password=password.get_secret_value() if password else None,
        mechanism=settings.kafka_sasl_mechanism,
        ssl_context=context,
    )