"""``antt send FILE``: validate a file of events and produce it to Kafka (kafka-python).

Exit codes: 0 every event valid and acknowledged; 1 some events not acknowledged by the
broker; 2 some events invalid (the valid ones were still sent); 3 the file is unreadable.
"""

from __future__ import annotations

import argparse
import functools
import logging
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from antt.settings import Settings

SHOW_REJECTIONS = 20


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser(
        "send",
        help="validate a file of events and produce it to Kafka",
        description="Reads FILE (a JSON array or NDJSON, gzip allowed), validates every event, "
        "sends the valid ones to ANTT_EVENTS_TOPIC in batches (key = province) with acks=all, "
        "and counts only what the broker acknowledged. For systems that reach Kafka directly; "
        "others use the HTTP gateway (docs/integrators.md).",
    )
    parser.add_argument("file", type=Path, help="events file (.json, .ndjson, optionally .gz)")
    parser.add_argument("--province", default=None,
                        help="refuse events of any other (2025) province")
    parser.add_argument("--topic", default=None, help="default: ANTT_EVENTS_TOPIC")
    parser.add_argument("--dry-run", action="store_true", help="validate only")
    parser.add_argument("--timeout", type=float, default=30.0,
                        help="seconds to wait for acknowledgements per round")
    parser.add_argument("--rounds", type=int, default=3, help="send rounds for failed batches")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


class ProgressBar:
    """A one-line progress bar on stderr (only drawn on a terminal unless forced)."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.total = max(total, 1)
        self.enabled = enabled
        self._last = 0.0

    def __call__(self, acked: int, _failed: int) -> None:
        now = time.monotonic()
        if not self.enabled or (now - self._last < 0.1 and acked < self.total):
            return
        self._last = now
        width = 30
        filled = int(width * min(acked, self.total) / self.total)
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {acked}/{self.total} "
                         "events acknowledged")
        sys.stderr.flush()

    def done(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")


def run(args: argparse.Namespace, settings: Settings) -> int:
    logging.getLogger("kafka").setLevel(logging.WARNING)  # its INFO lines are noise here
    from ingest.files import EventFileError, check_items, read_items
    from ingest.send import KafkaSender
    from schemas import validate_batch

    try:
        items = read_items(args.file)
    except (OSError, EventFileError) as exc:
        print(f"antt send: {exc}", file=sys.stderr)
        return 3
    validate = functools.partial(validate_batch,
                                 future_tolerance_s=settings.future_tolerance_s)
    checked = check_items(items, validate, now=datetime.now(UTC),
                          expected_province=args.province)
    for refusal in checked.rejected[:SHOW_REJECTIONS]:
        print(f"invalid #{refusal.index} ({refusal.event_id or '-'}): {refusal.reason}",
              file=sys.stderr)
    if len(checked.rejected) > SHOW_REJECTIONS:
        print(f"... and {len(checked.rejected) - SHOW_REJECTIONS} more invalid events",
              file=sys.stderr)
    records = checked.records()
    acked = failed = 0
    if records and not args.dry_run:
        bar = ProgressBar(len(checked.valid), not args.no_progress and sys.stderr.isatty())
        with KafkaSender(settings, topic=args.topic, timeout_s=args.timeout,
                         rounds=args.rounds) as sender:
            result = sender.send(records, progress=bar)
        bar.done()
        acked, failed = result.acked_events, result.failed_events
        for error in result.errors[:5]:
            print(f"broker error: {error}", file=sys.stderr)
    print(f"{checked.total} events read, {len(checked.valid)} valid, "
          f"{len(checked.rejected)} invalid, {acked} acknowledged by the broker, "
          f"{failed} not acknowledged" + (" (dry run)" if args.dry_run else ""))
    if failed:
        return 1
    return 2 if checked.rejected else 0
