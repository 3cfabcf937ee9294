"""``antt worker``: run the streams worker (Faust) in the foreground; Ctrl-C stops it cleanly."""

from __future__ import annotations

import argparse
import gc
import logging
import os
import socket

from antt.settings import Settings

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser(
        "worker",
        help="run a streams worker: validate, dedup, live counters and the live API",
        description="Consumes ANTT_EVENTS_TOPIC in consumer group ANTT_WORKER_ID, dead-letters "
        "bad events to ANTT_DLQ_TOPIC, keeps the live counters and serves the live API "
        "(docs/live-api.md). Start several with different --id/--web-port to scale out.",
    )
    parser.add_argument("--web-port", type=int, default=None,
                        help="live API port (default ANTT_WORKER_WEB_PORT, 6066)")
    parser.add_argument("--id", dest="instance_id", default=None,
                        help="name of this worker instance (state directory, logs); "
                        "default <hostname>-<pid>")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from faust.worker import Worker

    from antt.kafka import ensure_topics
    from antt.perf import fix_malloc_thresholds
    from streams.app import create_app

    # Before the state grows: large transient blocks (records, chunks) in their own mmaps,
    # not in the brk heap between long-lived objects (antt/perf.py, docs/operations.md).
    fix_malloc_thresholds(settings.worker_malloc_threshold)

    # The live state is millions of small long-lived objects: with the default thresholds the
    # cyclic GC rescans them so often that it halves throughput (bench/stream_bench.py).
    gc.set_threshold(100_000, 50, 100)
    instance_id = args.instance_id or f"{socket.gethostname()}-{os.getpid()}"
    ensure_topics(settings)
    (settings.worker_data_dir / instance_id).mkdir(parents=True, exist_ok=True)
    live_app = create_app(settings, instance_id=instance_id, web_port=args.web_port)
    log.info("worker %s: group %s, topic %s, live API on %s", instance_id, settings.worker_id,
             settings.events_topic, live_app.app.conf.canonical_url)
    worker = Worker(
        live_app.app,
        loglevel="DEBUG" if getattr(args, "verbose", False) else "INFO",
        quiet=True,
        redirect_stdouts=False,
    )
    try:
        worker.execute_from_commandline()
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0
