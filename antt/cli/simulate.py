"""``antt simulate``: a realistic national stream, sent through Kafka or the gateway,
with its ground truth written to ``--truth FILE``."""

from __future__ import annotations

import argparse
import logging
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import orjson

from antt.settings import Settings


def _share(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError("a share between 0 and 1")
    return value


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser(
        "simulate",
        help="send a simulated national stream and write its ground truth",
        description="Generates report -> triage -> resolution flows, clearances and "
        "administrative sanctions for the 34 provinces and 3,321 communes (simulated mixes), "
        "sends them at --rate events/s for --duration s, and writes the exact figures the "
        "live API must then show to --truth (shaped like its answers).",
    )
    parser.add_argument("--rate", type=float, default=200.0, help="events per second")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of stream")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--duplicates", type=_share, default=0.0, help="share resent")
    parser.add_argument("--out-of-order", type=_share, default=0.0, help="share displaced")
    parser.add_argument("--late", type=_share, default=0.0, help="share arriving days late")
    parser.add_argument("--malformed", type=_share, default=0.0, help="share of bad events")
    parser.add_argument("--corrections", type=_share, default=None,
                        help="share of events later corrected (default 0.03)")
    parser.add_argument("--truth", type=Path, default=None, help="write the truth JSON here")
    parser.add_argument("--out", type=Path, default=None,
                        help="also write the stream as NDJSON (replayable with antt send)")
    parser.add_argument("--via", choices=["kafka", "gateway", "none"], default="kafka")
    parser.add_argument("--gateway-url", default=None,
                        help="default http://ANTT_GATEWAY_HOST:ANTT_GATEWAY_PORT")
    parser.add_argument("--tokens", type=Path, default=None,
                        help='JSON {"01": "token", ...}; default: mint tokens in the token file')
    parser.add_argument("--as-fast-as-possible", action="store_true", help="ignore --rate pacing")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    logging.getLogger("kafka").setLevel(logging.WARNING)  # its INFO lines are noise here
    from ingest.simulate import Knobs, generate

    knobs = Knobs(duplicates=args.duplicates, out_of_order=args.out_of_order, late=args.late,
                  malformed=args.malformed,
                  **({} if args.corrections is None else {"corrections": args.corrections}))
    now = datetime.now(UTC)
    sim = generate(args.seed, duration=args.duration, rate=args.rate, knobs=knobs, now=now,
                   stat_start_day=settings.statistical_month_start_day)
    if args.truth:
        args.truth.parent.mkdir(parents=True, exist_ok=True)
        args.truth.write_bytes(orjson.dumps(sim.truth))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with args.out.open("wb") as out:
            for record in sim.records:  # in send order; unparseable records as they are
                items = orjson.loads(record.value) if record.count else [record.value]
                for item in items:
                    out.write((item if isinstance(item, bytes) else orjson.dumps(item)) + b"\n")
    stats = sim.stats
    print(f"generated {stats['distinct_valid_events']} events ({stats['corrections']} "
          f"corrections), {stats['sent_items']} items in {stats['records']} records: "
          f"{stats['duplicates']} duplicates, {stats['late']} late, {stats['out_of_order']} "
          f"out of order, {stats['malformed_events']} malformed, {stats['garbage_records']} "
          "unparseable records", file=sys.stderr)
    if args.via == "none":
        return 0
    rate = None if args.as_fast_as_possible else args.rate
    outcome = _send(args, settings, sim.records, rate)
    print(f"sent via {args.via} in {outcome.seconds:.1f} s: {outcome.accepted} events "
          f"accepted, {outcome.rejected} refused, {outcome.failed_records} records failed"
          + (f"; truth in {args.truth}" if args.truth else ""))
    if outcome.failed_records and outcome.statuses:
        print(f"gateway answers (status: records): {outcome.statuses}", file=sys.stderr)
    return 1 if outcome.failed_records else 0


def _send(args: argparse.Namespace, settings: Settings, records: list, rate: float | None):  # noqa: ANN202
    import asyncio

    from ingest.simulate import run as runner

    if args.via == "kafka":
        from antt.kafka import ensure_topics

        try:  # a dev/test tool: create the topics with the configured partitions if missing
            ensure_topics(settings)
        except Exception as exc:  # noqa: BLE001 - sending reports the broker problem itself
            logging.getLogger(__name__).warning("could not check the topics: %s", exc)
        return runner.send_kafka(settings, records, rate=rate)
    url = args.gateway_url or f"http://{settings.gateway_host}:{settings.gateway_port}"
    if args.tokens:
        tokens = orjson.loads(args.tokens.read_bytes())
        return asyncio.run(runner.send_gateway(url, tokens, records, rate=rate))
    label = f"simulator-{uuid.uuid4().hex[:8]}"  # this run's tokens, revoked at the end
    provinces = sorted({r.key.decode() for r in records})
    tokens = runner.mint_tokens(settings, provinces, label)
    try:
        return asyncio.run(runner.send_gateway(url, tokens, records, rate=rate))
    finally:
        runner.revoke_minted(settings, label)
